"""Let nbval test the Jupytext markdown notebooks of this folder.

nbval collects only ``.ipynb`` files and reads them with ``nbformat.read``; here
the chapters are MyST markdown, so we collect ``NN-*.md`` too and let jupytext do
the reading (jupytext reads ``.ipynb`` as well). Every chapter runs in the
``quick`` profile.
"""

import os
import re

import jupytext
import nbformat
import nbval.plugin

os.environ["HCVAE_PROFILE"] = "quick"


class _JupytextReader:
    """Stands in for the ``nbformat`` module inside nbval: same API, jupytext's ``read``."""

    def __getattr__(self, name):
        return getattr(nbformat, name)

    @staticmethod
    def read(path, as_version=4):
        return jupytext.read(path, as_version=as_version)


nbval.plugin.nbformat = _JupytextReader()


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and re.fullmatch(r"\d\d-.*\.md", file_path.name):
        return nbval.plugin.IPyNbFile.from_parent(parent, path=file_path)
    return None
