"""Faults a rerun must survive without lying or wasting work: concurrent computations of one key, shared stores,
the path a result is computed by, stray worker processes, failed notebook runs, a diverging reference run."""

import json
import multiprocessing
import os
import socket
import stat
import time

import pytest

from hcvae.runs import experiments, store as store_mod
from hcvae.runs.experiments import VAEConfig
from hcvae.runs import runner

TINY = dict(dataset="digits", architecture="linear", epochs=2, batch_size=256, n_samples=600)


def test_two_processes_computing_one_key_do_the_work_once(tmp_path, capsys):
    root = tmp_path / "results"
    cfg = VAEConfig(**{**TINY, "epochs": 40}, seed=11)
    s = store_mod.ResultStore(root, reference=None)
    s.root.mkdir(parents=True)
    # another live process on this host holds the key's lock: we wait for it and read its result
    s.lock_path(cfg).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": time.time()}))
    ctx = multiprocessing.get_context("fork")

    def finish_later():
        time.sleep(1.5)
        other = store_mod.ResultStore(root, reference=None)
        res, state, _ = runner.compute_entry(cfg)
        other.save(cfg, res, state)
        other.lock_path(cfg).unlink()

    p = ctx.Process(target=finish_later)
    p.start()
    got = runner.run(cfg, store=s)
    p.join()
    out = capsys.readouterr().out
    assert f"process {os.getppid()} on {socket.gethostname()} is computing {store_mod.config_key(cfg)}" in out
    assert got["metrics"] == s.load(cfg)["metrics"] and not s.lock_path(cfg).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    s = store_mod.ResultStore(tmp_path / "results", reference=None)
    cfg = VAEConfig(**TINY, seed=12)
    s.root.mkdir(parents=True)
    ctx = multiprocessing.get_context("fork")
    dead = ctx.Process(target=lambda: None)
    dead.start()
    dead.join()
    s.lock_path(cfg).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": time.time()}))
    runner.run(cfg, store=s)  # would wait forever if it trusted the dead owner
    assert not s.lock_path(cfg).exists() and s.load(cfg) is not None


def test_entries_are_readable_by_the_group_and_others(store):
    cfg = VAEConfig(**TINY, seed=13)
    runner.run(cfg, store=store)
    for name in ("result.json", "weights.pt"):
        mode = stat.S_IMODE((store.folder(cfg) / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_a_point_computed_by_a_dask_worker_equals_the_same_point_in_process(tmp_path):
    import torch

    from hcvae.runs.sweep import run_sweep

    cfg = VAEConfig(dataset="synthetic", architecture="mlp", epochs=2, batch_size=128, n_samples=2000, seed=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the calling process may run with any thread count: the run itself uses one
    try:
        here = runner.run(cfg, store=store_mod.ResultStore(tmp_path / "here", reference=None))
    finally:
        torch.set_num_threads(threads)
    there = run_sweep([cfg], store=store_mod.ResultStore(tmp_path / "there", reference=None), n_workers=1,
                      progress=False)
    assert there.n_computed == 1
    assert there.results[0]["metrics"] == here["metrics"] and there.results[0]["history"] == here["history"]
    assert here["provenance"]["threads"] == there.results[0]["provenance"]["threads"] == 1


def test_a_finished_sweep_leaves_nothing_holding_its_output(tmp_path):
    """`python -m hcvae.sweep GRID | cat` ends when the sweep does: no worker process keeps the pipe open."""
    import subprocess
    import sys

    grid = tmp_path / "tiny.toml"
    grid.write_text('kind = "hct"\n[fixed]\ndataset = "digits"\nn_samples = 300\nr0 = 2\nn_components = 3\n'
                    'epochs_per_round = 1\nmax_refine_epochs = 1\nfinal_epochs = 1\nbatch_size = 100\nlatent_dim = 2\n'
                    'collapsed_ratio = 10.0\n[grid]\nseed = [0, 1, 2, 3]\n')
    env = {**os.environ, "HCVAE_RESULTS": str(tmp_path / "results"), "HCVAE_REFERENCE": "", "HCVAE_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "hcvae.runs.sweep", str(grid), "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    summary = None
    for line in proc.stdout:  # read until EOF: every holder of the pipe has gone
        if "points:" in line:
            summary, done_at = line, time.time()
    eof_at = time.time()
    proc.wait(timeout=60)
    assert summary is not None and "4 computed" in summary, summary
    assert eof_at - done_at < 15, f"the output stayed open {eof_at - done_at:.0f} s after the sweep ended"


def test_a_failed_notebook_run_never_stands_where_a_good_one_would(tmp_path):
    import nbformat
    import papermill

    from hcvae.book import notebook

    src = tmp_path / "nb.md"
    src.write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                   "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
                   "```{code-cell} ipython3\n:tags: [parameters]\n\nfail = False\n```\n\n"
                   "```{code-cell} ipython3\nif fail:\n    raise ValueError('boom')\nprint('ok')\n```\n")
    out_dir = tmp_path / "runs"
    good = notebook.execute(src, {}, out_dir, name="nb.ipynb")
    before = good.read_bytes()
    with pytest.raises(papermill.PapermillExecutionError):
        notebook.execute(src, {"fail": True}, out_dir, name="nb.ipynb")
    assert good.read_bytes() == before  # the earlier good run is untouched
    failed = nbformat.read(out_dir / "nb.failed.ipynb", as_version=4)
    assert "boom" in failed.metadata["hcvae"]["error"]
    assert not [p for p in out_dir.iterdir() if "running" in p.name]


def test_a_diverging_collapsed_reference_is_named_as_such(tmp_path, monkeypatch):
    from hcvae.runs.hct import HCTConfig
    from hcvae.core.train import TrainingDiverged

    def diverge(self, store=None, progress=None):
        raise TrainingDiverged("non-finite loss at epoch 0, step 0")

    monkeypatch.setattr(VAEConfig, "compute", diverge)
    cfg = HCTConfig(dataset="digits", n_samples=300, r0=2, n_components=3, epochs_per_round=1, max_refine_epochs=1,
                    final_epochs=1, batch_size=100, latent_dim=2)
    with pytest.raises(TrainingDiverged, match="collapsed reference run of this HCT run diverged.*VAEConfig"):
        runner.run(cfg, store=store_mod.ResultStore(tmp_path, reference=None))
