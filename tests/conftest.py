import os
import tempfile

# One BLAS/OpenMP thread per process: the quick book builds in a second process while the unit tests run (see
# pytest_collection_modifyitems), and two processes with a thread per core each slow each other down many times
# on a small machine. Stored runs compute on one thread whatever this says (hcvae.core.train.one_thread).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

# Unit tests never draw progress bars and never touch the repository's result store or its shipped reference
# (a test that needs a reference makes its own).
os.environ.setdefault("HCVAE_PROGRESS", "0")
os.environ.setdefault("HCVAE_REFERENCE", "")
# ... nor the image data `make data` prepares: tests build small files of their own, and the quick book builds the
# same whether or not this machine ran `make data`
os.environ["HCVAE_DATA_DIR"] = tempfile.mkdtemp(prefix="hcvae-no-image-data-")

ROOT = Path(__file__).resolve().parent.parent
BOOK_TIMEOUT_S = 1800
_build: dict = {}


@pytest.fixture
def store(tmp_path):
    from hcvae.runs.store import ResultStore

    return ResultStore(tmp_path / "results")


def _uses_the_book(item) -> bool:
    return "quick_book" in getattr(item, "fixturenames", ())


def _start_quick_book() -> None:
    """Start the quick book in the background (tests/quick_book.py: nbval executes every page once, the strict
    build renders them): it reads its runs from the shipped reference, so it costs one core for a few minutes,
    which the unit tests (on the other core) no longer wait for."""
    out = Path(tempfile.mkdtemp(prefix="hcvae-quick-book-"))
    # the pages read the shipped reference (book/reference/quick: no training when it is current) and log where
    # each run came from (tests/test_book.py checks that none was computed)
    env = {**os.environ, "HCVAE_PROFILE": "quick", "HCVAE_REFERENCE": str(ROOT / "book" / "reference"),
           "HCVAE_RUN_LOG": str(out / "runs.log")}
    log = open(out / "build.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "quick_book.py"), str(out)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    _build.update(out=out, proc=proc, log=log)


def pytest_collection_modifyitems(session, config, items):
    """Tests that read the built book run last, and the build starts now, beside the unit tests."""
    items.sort(key=_uses_the_book)  # stable: each group keeps its order
    if any(_uses_the_book(i) for i in items) and not os.environ.get("HCVAE_QUICK_BOOK") and not _build:
        _start_quick_book()


def pytest_sessionfinish(session, exitstatus):
    proc = _build.get("proc")
    if proc is not None and proc.poll() is None:  # interrupted before the book was needed
        proc.kill()
        proc.wait()
    if _build:
        _build["log"].close()
        if exitstatus == 0:
            shutil.rmtree(_build["out"], ignore_errors=True)
        else:
            print(f"\nthe quick book build is kept in {_build['out']} (build.log there)")


@pytest.fixture(scope="session")
def quick_book():
    """The book built once per test session, strictly (-W -n) in the quick profile, for tests/test_book.py,
    tests/test_notebooks.py and tests/test_reader.py: a namespace with ``html`` (the built site), ``log``,
    ``returncode``, ``runs_log`` (the build's ``$HCVAE_RUN_LOG``), ``nbval`` (nbval's JUnit report of the one
    execution of every page) and ``executed`` (the notebooks nbval executed, by page path).

    The build starts in a second process as soon as the tests are collected (``pytest_collection_modifyitems``),
    and this fixture waits for it. ``$HCVAE_QUICK_BOOK`` may name the --path-output folder of an existing quick
    build instead (to iterate on the reader's test); its log is read from ``build.log`` there, and the build test
    skips without one."""
    prebuilt = os.environ.get("HCVAE_QUICK_BOOK")
    if prebuilt:
        out = Path(prebuilt)
        log_file = out / "build.log"
        return SimpleNamespace(html=out / "_build" / "html", returncode=0, runs_log=out / "runs.log",
                               log=log_file.read_text() if log_file.exists() else None, nbval=out / "nbval.xml",
                               executed=out / "executed")
    if not _build:  # the fixture was requested in a way collection did not see
        _start_quick_book()
    proc, out = _build["proc"], _build["out"]
    try:
        returncode = proc.wait(timeout=BOOK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        returncode = proc.wait()
    _build["log"].flush()
    log = (out / "build.log").read_text()
    return SimpleNamespace(html=out / "_build" / "html", returncode=returncode, log=log, runs_log=out / "runs.log",
                           nbval=out / "nbval.xml", executed=out / "executed")
