"""Rerun a chapter of the book with new parameters: ``python -m hcvae.notebook NAME -p KEY VALUE ...``.

The chapter's Jupytext markdown is converted in memory and executed by papermill
(which cannot read markdown itself); the executed notebook is written to
``runs/`` (outside git) unless ``--output-dir`` says otherwise, under a temporary
name until it succeeds (a failed run is kept as ``*.failed.ipynb``). Every value is
checked against the chapter's declared parameters (:mod:`hcvae.book.chapter_params`)
before a kernel starts; the notebook's first cell makes the same checks.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from hcvae.book.chapter_params import check_parameters
from hcvae.chapters.base import ParameterError
from hcvae.chapters.pages import params_of
from hcvae.core import device
from hcvae.runs.profiles import PROFILES
from hcvae.runs.store import ResultStore, StoreError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def chapters() -> list[str]:
    """Names of the chapters (notebooks/NN-*.md), in book order."""
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.md"))


def find_chapter(name: str) -> Path:
    """The chapter named ``name``: its stem, or an unambiguous prefix of it (``01``, ``04-hist``)."""
    stem = Path(name).name.removesuffix(".md")
    matches = [c for c in chapters() if c == stem] or [c for c in chapters() if c.startswith(stem)]
    if len(matches) != 1:
        what = "is ambiguous" if matches else "matches no chapter"
        raise SystemExit(f"error: {name!r} {what}; available: {', '.join(chapters())}")
    return NOTEBOOKS / f"{matches[0]}.md"


def parameter_defaults(nb) -> dict:
    """The names and literal values of the cell tagged ``parameters``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {
                target.id: ast.literal_eval(node.value)
                for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)
            }
    raise SystemExit("error: the notebook has no cell tagged 'parameters'")


def parse_value(text: str):
    """JSON where it parses (numbers, lists, true/false/null), Python's None/True/False, else the text itself."""
    if text in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def output_name(stem: str, params: dict) -> str:
    """``STEM_key-value_...ipynb``, with every character outside [A-Za-z0-9.,-] of a value dropped."""
    def clean(value) -> str:
        return re.sub(r"[^A-Za-z0-9.,-]", "", json.dumps(value))
    return stem + "".join(f"_{k}-{clean(v)}" for k, v in sorted(params.items())) + ".ipynb"


def execute(path: Path, params: dict, out_dir: Path, name: str | None = None) -> Path:
    """Execute the Jupytext notebook ``path`` with papermill and ``params``; return the executed notebook.

    It is written under a temporary name and renamed only on success, so a failed or interrupted run never
    stands where a good one would (or overwrites an earlier good one): a failure is kept as
    ``NAME.failed.ipynb`` with the error in its metadata, and the error is raised.
    """
    import jupytext
    import nbformat
    import papermill

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / (name or output_name(path.stem, params))
    tmp_out = out.with_name(f".{out.stem}.running-{os.getpid()}.ipynb")
    failed = out.with_name(out.stem + ".failed.ipynb")
    nb = jupytext.read(path)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{path.stem}.ipynb"
        nbformat.write(nb, src)
        try:
            papermill.execute_notebook(str(src), str(tmp_out), parameters=params, kernel_name="python3",
                                       cwd=str(path.parent), progress_bar=sys.stderr.isatty())
        except BaseException as err:
            if tmp_out.exists():
                done = nbformat.read(tmp_out, as_version=4)
                done.metadata.setdefault("hcvae", {})["error"] = f"{type(err).__name__}: {err}"[:4000]
                done.metadata.setdefault("papermill", {})["exception"] = True
                nbformat.write(done, failed)
                tmp_out.unlink()
            raise
    os.replace(tmp_out, out)
    failed.unlink(missing_ok=True)
    return out


def check_environment() -> None:
    """The environment overrides a chapter's kernel inherits, checked before one starts: ``$HCVAE_PROFILE`` (one of
    the profiles), ``$HCVAE_RESULTS`` (a writable folder) and ``$HCVAE_DEVICE``; raises SystemExit with one line."""

    profile = os.environ.get("HCVAE_PROFILE")
    if profile and profile not in PROFILES:
        raise SystemExit(f"error: $HCVAE_PROFILE is {profile!r}; allowed values: {', '.join(PROFILES)} (or unset)")
    try:
        ResultStore(reference=None).check_writable()
        device.resolve(None)
    except (StoreError, ValueError, device.DeviceError) as err:
        raise SystemExit(f"error: {err}") from None


def main(argv: list[str] | None = None) -> int:
    """The command line; returns 0 after a successful run (``run`` returns the executed notebook's path)."""
    run(argv)
    return 0


def run(argv: list[str] | None = None) -> Path | None:
    """Parse ``argv``, check every value and the environment, execute the chapter; the executed notebook's path
    (None for ``--list``)."""
    parser = argparse.ArgumentParser(prog="python -m hcvae.notebook", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="chapter, e.g. 01-phase-transition")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    parser.add_argument("-o", "--output-dir", default=str(ROOT / "runs"))
    parser.add_argument("--list", action="store_true", help="list the chapters and their parameters")
    parser.add_argument("--device", default=None, help="where runs compute: cpu (default, or $HCVAE_DEVICE), cuda, "
                        "cuda:N or mps")
    args = parser.parse_args(argv)

    try:
        device.resolve(args.device)
    except (ValueError, device.DeviceError) as err:
        raise SystemExit(f"error: {err}") from None
    if args.device:
        os.environ["HCVAE_DEVICE"] = args.device  # the kernel papermill starts inherits it

    if args.list or not args.name:
        for stem in chapters():
            print(stem)
            print("\n".join(params_of(stem).listing()))
        return None
    path = find_chapter(args.name)
    declared = [f.name for f in params_of(path.stem).declared()]
    params = {k: parse_value(v) for k, v in args.parameter}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise SystemExit(f"error: unknown parameter(s) {', '.join(unknown)} for {path.stem}; allowed: {', '.join(declared)}")

    try:  # the checks the notebook's first cell makes, before papermill starts a kernel
        check_parameters(path.stem, params, partial=True)
    except ParameterError as err:
        raise SystemExit(f"error: {err}") from None
    if "profile" in params:
        os.environ.pop("HCVAE_PROFILE", None)  # an explicit parameter beats the book-build override
    check_environment()

    out = execute(path, params, Path(args.output_dir))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    sys.exit(main())
