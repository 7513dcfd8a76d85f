"""Your own data through the book: a .npy/.npz file as a chapter's data set, checked before any work, keyed by its
content (hcvae.core.user_data, hcvae.chapters.user_sets)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hcvae.book import notebook
from hcvae.core import user_data


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVAE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _array(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d))


def _glued(path) -> dict:
    import nbformat

    out = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for o in cell.get("outputs", []):
            md = o.get("metadata", {}).get("scrapbook", {})
            if md.get("name"):
                data = {k.replace(md.get("mime_prefix", ""), ""): v for k, v in o["data"].items()}
                out[md["name"]] = data.get("text/markdown", data.get("text/plain"))
    return out


def test_chapter_01_runs_on_your_array_and_shows_its_lambda_max(data_dir):
    """Through the command line a user types: the page names the file, its hash and shape, and glues λ_max,
    which is numpy's largest eigenvalue of the (1/n) covariance of the float32 array."""
    x = _array()
    np.save(data_dir / "x.npy", x)
    env = {**os.environ, "HCVAE_RESULTS": str(data_dir / "results"), "HCVAE_RUN_LOG": str(data_dir / "runs.log")}
    proc = subprocess.run([sys.executable, "-m", "hcvae.notebook", "01", "-p", "datasets",
                           json.dumps([str(data_dir / "x.npy")]), "--output-dir", str(data_dir / "out")],
                          capture_output=True, text=True, env=env, cwd=notebook.ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    glued = _glued(proc.stdout.strip().splitlines()[-1].removeprefix("wrote "))
    name = user_data.register(data_dir / "x.npy")
    xc = x.astype(np.float32).astype(np.float64)
    xc -= xc.mean(0)
    expected = np.linalg.eigvalsh(xc.T @ xc / len(xc))[-1]
    assert float(glued[f"lambda_max_{name}"]) == pytest.approx(expected, rel=1e-9)
    assert "x.npy" in glued["about_data"] and name.removeprefix("user-") in glued["about_data"]
    assert "400 × 6" in glued["about_data"]
    rows = [json.loads(line) for line in (data_dir / "runs.log").read_text().splitlines()]
    assert rows and all(r["config"]["dataset"] == name for r in rows)


def test_the_same_file_computes_nothing_again_and_a_changed_one_is_a_new_data_set(data_dir, monkeypatch):
    from hcvae.chapters import phase
    from hcvae.runs import store as store_mod

    monkeypatch.setenv("HCVAE_RESULTS", str(data_dir / "results"))
    x = _array(n=300, d=4, seed=1)
    np.save(data_dir / "a.npy", x)

    def sources(path):
        log = data_dir / f"runs-{path.stem}.log"
        monkeypatch.setenv("HCVAE_RUN_LOG", str(log))
        phase.chapter.clear()
        phase.chapter("quick", datasets=[str(path)], store=store_mod.ResultStore(data_dir / "results", reference=None))
        return store_mod.summary(log)

    first = sources(data_dir / "a.npy")
    assert first["computed"] > 0
    (data_dir / "elsewhere").mkdir()
    np.save(data_dir / "elsewhere" / "b.npy", x)  # the same content under another name and folder
    assert sources(data_dir / "elsewhere" / "b.npy") == {"reference": 0, "local": first["computed"], "computed": 0}
    x[0, 0] += 1.0
    np.save(data_dir / "c.npy", x)
    assert sources(data_dir / "c.npy")["computed"] == first["computed"]


@pytest.mark.parametrize("name, content, message", [
    ("rank.npy", np.zeros((5, 4, 3)), "x must be a 2-D array (N samples x D features); got 3 dimension(s)"),
    ("nan.npy", np.array([[0.0, np.nan], [1.0, 2.0]] * 100), "x contains NaN or infinite values in 100 row(s)"),
    ("inf.npy", np.array([[0.0, np.inf], [1.0, 2.0]] * 100), "x contains NaN or infinite values in 100 row(s)"),
    ("int.npy", np.ones((300, 3), dtype=np.uint8), "x is an integer array (uint8) and the file states no scale"),
    ("junk.npy", b"not numpy", "not a numpy .npy file"),
    ("nox.npz", {"y": np.ones((300, 2))}, "the .npz holds y; it needs an 'x' array"),
    ("small.npy", np.ones((50, 3)), "50 samples is fewer than the batch size 128"),
])
def test_a_bad_file_is_refused_in_one_line_before_any_work(data_dir, monkeypatch, name, content, message):
    from hcvae.runs import runner

    path = data_dir / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    else:
        np.save(path, content)
    monkeypatch.setattr(notebook, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("a run was started"))
    with pytest.raises(SystemExit) as err:
        notebook.main(["01", "-p", "datasets", json.dumps([str(path)]), "--output-dir", str(data_dir / "out")])
    text = str(err.value)
    assert text.startswith("error: ") and message in text and str(path) in text and "\n" not in text, text
    assert not (data_dir / "data" / "user").exists()  # nothing registered


def test_an_integer_array_with_a_scale_and_labels_is_a_data_set(data_dir):
    np.savez(data_dir / "img.npz", x=np.arange(600, dtype=np.uint8).reshape(200, 3), scale=1 / 255,
             labels=np.arange(200) % 4)
    name = user_data.register(data_dir / "img.npz")
    ds = user_data.load(name)
    assert ds.x.dtype == np.float32 and ds.x.max() <= 1.0 and ds.meta["has_labels"] and ds.labels.max() == 3
    assert user_data.register(data_dir / "img.npz") == name  # idempotent


def test_fewer_samples_than_k_is_refused():
    with pytest.raises(user_data.UserDataError, match="8 samples is fewer than K = 10 clusters"):
        user_data.check_size("x.npy", 8, k=10)
