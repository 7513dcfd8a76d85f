"""A Sphinx extension: every notebook page of the built book offers itself, executed, as ``.ipynb``.

The theme's download menu (the arrow at the top of a page) lists ``.ipynb`` where a page's context names an
``ipynb_source``; this extension names one for every page executed as a notebook and, when the build has finished,
copies the executed notebook to ``_sources/<page>.ipynb``, where that menu entry points. The executed notebooks
come from ``$HCVAE_EXECUTED_DIR/<page>.ipynb`` where it is set (the quick book of ``make test``: nbval's executed
notebooks, with every output) and otherwise from MyST-NB's own ``jupyter_execute/`` (``make book``).

A notebook page whose executed notebook is missing is a build warning (and so, under ``-W``, an error): the menu
would offer a file that is not there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
ENV_DIR = "HCVAE_EXECUTED_DIR"


def _notebook_pages(app) -> list[str]:
    """The pages MyST-NB read as notebooks (a jupytext header makes a .md one)."""
    return sorted(doc for doc in app.env.found_docs
                  if app.env.metadata.get(doc, {}).get("kernelspec") is not None)


def _set_source(app, pagename, templatename, context, doctree) -> None:
    if pagename in _notebook_pages(app):
        context["ipynb_source"] = f"{pagename}.ipynb"


def _executed_dir(app) -> Path:
    given = os.environ.get(ENV_DIR)
    return Path(given) if given else Path(app.outdir).parent / "jupyter_execute"


def _copy(app, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    source_dir = _executed_dir(app)
    for page in _notebook_pages(app):
        executed = source_dir / f"{page}.ipynb"
        if not executed.exists():
            LOGGER.warning(f"no executed notebook for {page} at {executed}: its .ipynb download would be missing")
            continue
        target = Path(app.outdir) / "_sources" / f"{page}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(executed, tmp)
        os.replace(tmp, target)


def setup(app):
    app.connect("html-page-context", _set_source)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
