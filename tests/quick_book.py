"""The quick book of ``make test``, every page executed once, by nbval: ``python tests/quick_book.py OUT``.

1. nbval runs every notebook page (the chapters, the reproduction report, how the book was computed) in the quick
   profile, ``--nbval-lax`` (a cell fails by raising), writing its results to ``OUT/nbval.xml`` (its output to
   ``OUT/nbval.log``) and, through
   :mod:`tests.nbval_book`, each executed notebook to ``OUT/executed/``;
2. the executed notebooks fill a jupyter-cache in ``OUT/jupyter_cache``, keyed by their code as Jupyter Book keys
   them;
3. the strict build (``-W -n``) renders the book from that cache (``execute_notebooks: cache``): it executes
   nothing again, and a page nbval could not execute cannot render.

The exit status is the build's; nbval's outcome is in ``OUT/nbval.xml``, which ``tests/test_notebooks.py`` reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.md")),
         "book/reproduction-report.md", "book/computed.md"]


def run_nbval(out: Path, env: dict) -> int:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.nbval_book", "--nbval-lax",
           "--nbval-cell-timeout", "1800", "--nb-executed", str(out / "executed"), f"--junitxml={out / 'nbval.xml'}",
           "-o", "junit_family=xunit1", "-q", "--rootdir", str(ROOT), *PAGES]
    with open(out / "nbval.log", "w") as log:  # kept apart: the build's log is checked for Sphinx's warnings
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def fill_cache(out: Path) -> int:
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(out / "jupyter_cache"))
    n = 0
    for page in PAGES:
        executed = out / "executed" / Path(page).with_suffix(".ipynb")
        if executed.exists():
            cache.cache_notebook_bundle(CacheBundleIn(nbformat.read(executed, as_version=4), str(ROOT / page)),
                                        check_validity=False, overwrite=True)
            n += 1
    return n


def build(out: Path, env: dict) -> int:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"] = {**config.get("execute", {}), "execute_notebooks": "cache",
                         "cache": str(out / "jupyter_cache")}
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "-W", "-n", "--keep-going", "--path-output", str(out), "--config",
           str(out / "_config.yml"), str(ROOT)]
    # the pages' .ipynb downloads are nbval's executed notebooks (hcvae.book.downloads)
    return subprocess.run(cmd, cwd=ROOT, env={**env, "HCVAE_EXECUTED_DIR": str(out / "executed")}).returncode


def main(out: str) -> int:
    out = Path(out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    status = run_nbval(out, env)
    print(f"nbval: exit status {status}; {fill_cache(out)} executed pages cached", flush=True)
    return build(out, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
