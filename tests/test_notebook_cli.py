import json

import pytest

from hcvae.book import notebook


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
    (["99-nothing"], "'99-nothing' matches no chapter; available: 01-phase-transition"),
    (["01-phase-transition", "-p", "epochs", "3"], "unknown parameter(s) epochs for 01-phase-transition; allowed: profile, seed"),
    (["01-phase-transition", "-p", "profile", "full"], "parameter 'profile' must be one of quick, paper; got 'full'"),
])
def test_bad_invocations_fail_before_running(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message.replace("(", r"\(").replace(")", r"\)")):
        notebook.main([*argv, "--output-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_output_name_is_filesystem_safe():
    assert notebook.output_name("01-x", {"profile": "paper", "datasets": ["digits"], "seed": 3}) == \
        "01-x_datasets-digits_profile-paper_seed-3.ipynb"


def test_rerun_with_parameters_writes_executed_notebook_and_exits_0(tmp_path):
    """Through the command line a user types: it exits 0 (so `... && next-step` runs) and says where it wrote."""
    import os
    import subprocess
    import sys

    import nbformat

    # HCVAE_PROFILE=paper: an explicit -p profile must win over the book override. The quick runs are read from
    # the shipped reference: the test is about the command line, and must neither train nor write into results/
    env = {**os.environ, "HCVAE_PROFILE": "paper", "HCVAE_REFERENCE": str(notebook.ROOT / "book" / "reference"),
           "HCVAE_RESULTS": str(tmp_path / "results")}
    proc = subprocess.run([sys.executable, "-m", "hcvae.notebook", "01-phase-transition", "-p", "profile", "quick",
                           "-p", "datasets", '["digits"]', "--output-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=notebook.ROOT)
    out = tmp_path / "01-phase-transition_datasets-digits_profile-quick.ipynb"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"wrote {out}" and out.exists()
    assert "Unable to parse" not in proc.stderr  # papermill understood every line of the parameters cell
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'datasets = ["digits"]' in injected[0].source
    stdout = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("name") == "stdout")
    assert "'digits'" in stdout and "'synthetic'" not in stdout  # ran on digits alone
    assert "`quick`" in json.dumps(nb)  # the quick profile, despite HCVAE_PROFILE=paper
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize("variable, value, message", [
    ("HCVAE_PROFILE", "fast", "$HCVAE_PROFILE is 'fast'; allowed values: quick, paper (or unset)"),
    ("HCVAE_RESULTS", "/etc/hostname", "the result store /etc/hostname is not a folder (it is a file); point "
                                       "$HCVAE_RESULTS at a writable folder"),
    ("HCVAE_DEVICE", "gpu", "unknown device 'gpu'"),
])
def test_bad_environment_overrides_fail_before_a_kernel_starts(variable, value, message, tmp_path, monkeypatch):
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(notebook, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    with pytest.raises(SystemExit) as err:
        notebook.main(["02", "--output-dir", str(tmp_path)])
    assert str(err.value).startswith("error: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value) and not list(tmp_path.iterdir())


def test_a_store_root_that_is_a_file_is_refused_in_one_line(tmp_path):
    from hcvae.runs import store as store_mod

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(store_mod.StoreError, match="is not a folder"):
        store_mod.ResultStore(not_a_folder)


def _injected(tmp_path, *args):
    """The parameters papermill's own command line injects into chapter 04 (prepared, not executed)."""
    import subprocess
    import sys
    from pathlib import Path

    import jupytext
    import nbformat

    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(jupytext.read(notebook.NOTEBOOKS / "04-historical-consensus.md"), src)
    papermill = Path(sys.executable).with_name("papermill")
    subprocess.run([str(papermill), str(src), str(out), "--prepare-only", *args], check=True, capture_output=True)
    cell = next(c for c in nbformat.read(out, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", []))
    namespace = {}
    exec(cell.source, namespace)
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def test_papermill_list_parameters_pass_with_yaml_and_are_refused_as_text(tmp_path):
    from hcvae.book.chapter_params import check_parameters
    from hcvae.chapters.base import ParameterError

    values = _injected(tmp_path, "-y", "datasets: [digits]", "-p", "sigma2_ratio", "3")
    assert check_parameters("04", values, partial=True) == {"datasets": ["digits"], "sigma2_ratio": 3.0}
    values = _injected(tmp_path, "-p", "datasets", '["digits"]')
    assert values["datasets"] == '["digits"]'  # papermill's -p hands over text
    with pytest.raises(ParameterError, match=r'give lists with -y "datasets: \[\.\.\.\]"'):
        check_parameters("04", values, partial=True)
