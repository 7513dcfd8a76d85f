"""nbval reads the book's notebook pages (the report, how the book was computed) the way it reads the chapters
(see notebooks/conftest.py)."""

import importlib.util
from pathlib import Path

import nbval.plugin

_spec = importlib.util.spec_from_file_location("_chapter_conftest", Path(__file__).parent.parent / "notebooks" / "conftest.py")
_chapters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_chapters)  # lets nbval read Jupytext files and selects the quick profile


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and file_path.name in ("reproduction-report.md", "computed.md"):
        return nbval.plugin.IPyNbFile.from_parent(parent, path=file_path)
    return None
