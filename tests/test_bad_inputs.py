"""Every bad value a user can type is refused before any work, with a message naming it and what is allowed.

The table goes through the command lines (``python -m hcvae.notebook``, ``hcvae.runs.sweep``, ``hcvae.runs.store``,
``hcvae.book.reference``) and the configs; each case must fail before a kernel starts or a run could begin.
"""

import pytest

from hcvae.book import notebook

NB = [
    # (argv, part of the message)
    (["01", "-p", "kl_bound", "abc"], "'kl_bound' must be a number > 0; got 'abc'"),
    (["01", "-p", "seed", "abc"], "'seed' must be an integer >= 0; got 'abc'"),
    (["01", "-p", "seed", "7.5"], "'seed' must be an integer >= 0; got 7.5 (not a whole number)"),
    (["01", "-p", "seed", "7.0"], "write it without a decimal point"),
    (["01", "-p", "seed", "-1"], "'seed' must be an integer >= 0; got -1"),
    (["01", "-p", "datasets", "[]"], "(the list is empty)"),
    (["01", "-p", "datasets", "digits"], "a list is written ['digits']"),
    (["01", "-p", "datasets", '["mnist"]'], "mnist.npz is absent; run `make data`"),
    (["06", "-p", "datasets", '["mnist"]'], "mnist is one of the papers' image sets: name it in 'image_datasets'"),
    (["01", "-p", "datasets", '["digits", "digits"]'], "(values repeat)"),
    (["01", "-p", "probe_epochs_factor", "0"], "'probe_epochs_factor' must be an integer >= 1"),
    (["01", "-p", "kl_atol", "-0.1"], "'kl_atol' must be a number >= 0"),
    (["01", "-p", "profile", "full"], "'profile' must be one of quick, paper; got 'full'"),
    (["01", "-p", "profile", "true"], "'profile' must be one of quick, paper; got True"),
    (["01", "-p", "epochs", "3"], "unknown parameter(s) epochs for 01-phase-transition"),
    (["99"], "'99' matches no chapter"),
    (["0"], "'0' is ambiguous"),
    (["02", "-p", "n_components", '{"synthetic": 0}'], "must map data sets"),
    (["02", "-p", "ari_same", "1.5"], "'ari_same' must be a number > 0 and <= 1"),
    (["02", "-p", "init_alternative", "spectral"], "'init_alternative' must be one of kmeans"),
    (["03", "-p", "shells", '[["minmax", 2.0, 1.0]]'], "0 <= r_min < r_max"),
    (["03", "-p", "k_values", "[2, 0]"], "'k_values' must be a non-empty list, each an integer >= 1"),
    (["04", "-p", "sigma2_ratio", "abc"], "'sigma2_ratio' must be a number > 0; got 'abc'"),
    (["04", "-p", "sigma2_ratio", "0"], "'sigma2_ratio' must be a number > 0; got 0"),
    (["04", "-p", "seeds", "[2.7]"], "'seeds' must be a non-empty list, each an integer >= 0, or None"),
    (["04", "-p", "xhats", '["median"]'], "'xhats' must be a non-empty list, each one of sample, mean"),
    (["04", "-p", "epsilons", "[0]"], "'epsilons' must be a non-empty list, each a number > 0"),
    (["04", "-p", "appendix_b", "yes"], "'appendix_b' must be True or False; got 'yes'"),
    (["05", "-p", "boundary_reading", "per_epoch"], "'boundary_reading' must be one of per_sample, per_batch"),
    (["05", "-p", "lambda_norm", "-1"], "'lambda_norm' must be a number >= 0"),
    (["06", "-p", "n_workers", "0"], "'n_workers' must be an integer >= 1"),
    (["06", "-p", "scheduler", "localhost"], "must be a Dask scheduler address"),
    (["06", "-p", "image_datasets", '["imagenet"]'], "'image_datasets' must be a list, each one of mnist"),
    (["07", "-p", "grid_dir", "/no/such/folder"], "is not a folder"),
    (["08", "-p", "schedules", '["exponential"]'], "'schedules' must be a non-empty list, each one of linear"),
    (["08", "-p", "settings", '{"epochs": 3}'], "unknown setting(s) epochs"),
    (["08", "-p", "independence_tol", "2"], "'independence_tol' must be a number > 0 and <= 1"),
]


@pytest.fixture(scope="module", autouse=True)
def _imported():
    """The libraries a check may import, loaded once."""
    import jupytext  # noqa: F401

    import hcvae.runs.diffusion  # noqa: F401
    import hcvae.chapters.hct_report  # noqa: F401


@pytest.mark.parametrize("argv, message", NB, ids=[" ".join(a) for a, _ in NB])
def test_bad_notebook_parameters_fail_at_once(argv, message, tmp_path, monkeypatch):
    from hcvae.runs import runner

    monkeypatch.setattr(notebook, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a run was started"))
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path.parent / f"{tmp_path.name}-no-data"))  # image sets absent
    with pytest.raises(SystemExit) as err:
        notebook.main([*argv, "--output-dir", str(tmp_path)])
    assert message in str(err.value), str(err.value)
    assert not list(tmp_path.iterdir())  # no notebook written, no kernel started


def test_the_table_is_long_enough():
    assert len(NB) >= 30


def test_bad_sweep_and_store_command_lines(tmp_path, capsys):
    from hcvae.book import reference
    from hcvae.runs import audit, sweep

    with pytest.raises(SystemExit):
        sweep.main(["notebooks/grids/quick/hct_r0.toml", "--workers", "0"])
    assert "--workers must be an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        audit.main(["audit", "--sample", "0"])
    assert "--sample must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        audit.main(["audit", "--kind", "gan"])
    assert "invalid choice: 'gan'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reference.main(["record", "42"])
    assert "unknown chapter '42'" in capsys.readouterr().err


@pytest.mark.parametrize("make, message", [
    (lambda: __import__("hcvae.runs.hct", fromlist=["HCTConfig"]).HCTConfig(xhat="median"),
     "unknown xhat 'median'; allowed values: sample, mean"),
    (lambda: __import__("hcvae.runs.spherical_runs", fromlist=["x"]).SphericalConfig(xhat="mode"),
     "unknown xhat 'mode'; allowed values: sample, mean"),
    (lambda: __import__("hcvae.runs.spherical_runs", fromlist=["x"]).SphericalConfig(method="pull"),
     "unknown method 'pull'; allowed values: spherical, cluster_pull"),
    (lambda: __import__("hcvae.runs.experiments", fromlist=["x"]).VAEConfig(architecture="linear", hidden=(64,)),
     "hidden sizes the 'mlp' architecture only"),
    (lambda: __import__("hcvae.runs.experiments", fromlist=["x"]).VAEConfig(hidden=(64, 0)),
     "hidden must be a non-empty list of integers >= 1"),
])
def test_bad_config_options_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("'", "'")):
        make()
