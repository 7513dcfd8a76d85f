import json

import pytest

from hcvae import notebook


def test_parse_value():
    assert notebook.parse_value("3") == 3
    assert notebook.parse_value("0.02") == 0.02
    assert notebook.parse_value('["digits"]') == ["digits"]
    assert notebook.parse_value("paper") == "paper"
    assert notebook.parse_value("None") is None


def test_every_chapter_has_literal_parameters_with_profile_and_seed():
    import jupytext

    chapters = notebook.chapters()
    assert chapters, "no chapters found"
    for stem in chapters:
        params = notebook.parameter_defaults(jupytext.read(notebook.NOTEBOOKS / f"{stem}.md"))
        assert params["profile"] == "quick" and isinstance(params["seed"], int)


@pytest.mark.parametrize("argv, message", [
    (["99-nothing"], "no chapter '99-nothing'; available: 01-phase-transition"),
    (["01-phase-transition", "-p", "epochs", "3"], "unknown parameter(s) epochs for 01-phase-transition; allowed: profile, seed"),
    (["01-phase-transition", "-p", "profile", "full"], "unknown profile 'full'; allowed values: quick, paper"),
])
def test_bad_invocations_fail_before_running(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message.replace("(", r"\(").replace(")", r"\)")):
        notebook.main([*argv, "--output-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_rerun_with_parameters_writes_executed_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVAE_PROFILE", "paper")  # an explicit -p profile must win over the book override
    out = notebook.main(["01-phase-transition", "-p", "profile", "quick", "-p", "datasets", '["digits"]',
                         "--output-dir", str(tmp_path)])
    assert out.parent == tmp_path and out.exists()
    nb = json.loads(out.read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "datasets = [\"digits\"]" in "".join(injected[0]["source"])
    text = json.dumps(nb)
    assert "`quick`" in text and "synthetic" not in "".join(
        o.get("text", "") for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("name") == "stdout")
