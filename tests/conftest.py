import os

import pytest

# Unit tests never draw progress bars and never touch the repository's result store or its shipped reference
# (a test that needs a reference makes its own).
os.environ.setdefault("HCVAE_PROGRESS", "0")
os.environ.setdefault("HCVAE_REFERENCE", "")


@pytest.fixture
def store(tmp_path):
    from hcvae.runs.store import ResultStore

    return ResultStore(tmp_path / "results")


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """The book built once per test session, strictly (-W -n) in the quick profile, for tests/test_book.py and
    tests/test_reader.py: a namespace with ``html`` (the built site), ``log`` and ``returncode``.

    ``$HCVAE_QUICK_BOOK`` may name the --path-output folder of an existing quick build instead (to iterate on
    the reader's test); its log is read from ``build.log`` there, and the build test skips without one."""
    import subprocess
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    root = Path(__file__).resolve().parent.parent
    prebuilt = os.environ.get("HCVAE_QUICK_BOOK")
    if prebuilt:
        out = Path(prebuilt)
        log_file = out / "build.log"
        return SimpleNamespace(html=out / "_build" / "html", returncode=0,
                               log=log_file.read_text() if log_file.exists() else None)
    out = tmp_path_factory.mktemp("quick-book")
    env = {**os.environ, "HCVAE_PROFILE": "quick"}
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", "--path-output", str(out), str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    (out / "build.log").write_text(log)
    return SimpleNamespace(html=out / "_build" / "html", returncode=proc.returncode, log=log)
