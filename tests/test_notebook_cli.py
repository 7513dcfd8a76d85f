import json

import pytest

from hcvae import notebook


def test_parse_value():
    assert notebook.parse_value("3") == 3
    assert notebook.parse_value("0.02") == 0.02
    assert notebook.parse_value('["digits"]') == ["digits"]
    assert notebook.parse_value("paper") == "paper"
    assert notebook.parse_value("None") is None


def test_every_chapter_has_literal_parameters_that_papermill_parses():
    import jupytext
    from papermill.translators import PythonTranslator

    chapters = notebook.chapters()
    assert chapters, "no chapters found"
    for stem in chapters:
        nb = jupytext.read(notebook.NOTEBOOKS / f"{stem}.md")
        params = notebook.parameter_defaults(nb)
        assert params["profile"] == "quick", stem  # the tests and CI run the quick profile
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert [p.name for p in PythonTranslator.inspect(cell)] == list(params), stem


@pytest.mark.parametrize("argv, message", [
    (["99-nothing"], "no chapter '99-nothing'; available: 01-phase-transition"),
    (["01-phase-transition", "-p", "epochs", "3"], "unknown parameter(s) epochs for 01-phase-transition; allowed: profile, seed"),
    (["01-phase-transition", "-p", "profile", "full"], "unknown profile 'full'; allowed values: quick, paper"),
])
def test_bad_invocations_fail_before_running(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message.replace("(", r"\(").replace(")", r"\)")):
        notebook.main([*argv, "--output-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_output_name_is_filesystem_safe():
    assert notebook.output_name("01-x", {"profile": "paper", "datasets": ["digits"], "seed": 3}) == \
        "01-x_datasets-digits_profile-paper_seed-3.ipynb"


def test_rerun_with_parameters_writes_executed_notebook(tmp_path, monkeypatch, caplog):
    import nbformat

    monkeypatch.setenv("HCVAE_PROFILE", "paper")  # an explicit -p profile must win over the book override
    out = notebook.main(["01-phase-transition", "-p", "profile", "quick", "-p", "datasets", '["digits"]',
                         "--output-dir", str(tmp_path)])
    assert out == tmp_path / "01-phase-transition_datasets-digits_profile-quick.ipynb" and out.exists()
    assert "Unable to parse" not in caplog.text  # papermill understood every line of the parameters cell
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'datasets = ["digits"]' in injected[0].source
    stdout = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("name") == "stdout")
    assert "'digits'" in stdout and "'synthetic'" not in stdout  # ran on digits alone
    assert "`quick`" in json.dumps(nb)  # the quick profile, despite HCVAE_PROFILE=paper
