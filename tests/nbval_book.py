"""A pytest plugin for the quick book's one execution: nbval runs every page, and this keeps what it ran.

Loaded with ``-p tests.nbval_book --nb-executed DIR`` beside ``--nbval-lax``. For every notebook nbval executes,
each cell's outputs and execution count (what nbval received from the kernel) and the state of the widgets the
kernel created (nbval does not keep comm messages; the explorers need them to work in the static book) are written
to ``DIR/<path relative to the repository>.ipynb`` when the notebook's last cell has run.
:mod:`tests.quick_book` then renders the book from those notebooks instead of executing them again.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import nbval.plugin

ROOT = Path(__file__).resolve().parent.parent
_widgets: dict = {}  # IPyNbFile -> {comm_id: {"state": {...}, "buffers": {path: buffer}}}


def pytest_addoption(parser):
    parser.addoption("--nb-executed", default=None, help="write every notebook nbval executed, with its outputs")


def _record_comm(nbfile, msg) -> None:
    """Keep a widget's state from its comm messages, as nbclient does for Jupyter's saved widget state."""
    content = msg.get("content", {})
    data = content.get("data", {})
    if "state" not in data:
        return
    entry = _widgets.setdefault(nbfile, {}).setdefault(content["comm_id"], {"state": {}, "buffers": {}})
    entry["state"].update(data["state"])
    for path, buffer in zip(data.get("buffer_paths", []), msg.get("buffers", [])):
        entry["buffers"][tuple(path)] = {"data": base64.b64encode(bytes(buffer)).decode(), "encoding": "base64",
                                         "path": path}


_get_message = nbval.plugin.IPyNbFile.get_kernel_message


def _get_kernel_message(self, timeout=None, stream="iopub"):
    msg = _get_message(self, timeout=timeout, stream=stream)
    if stream == "iopub" and msg.get("msg_type") in ("comm_open", "comm_msg"):
        _record_comm(self, msg)
    return msg


nbval.plugin.IPyNbFile.get_kernel_message = _get_kernel_message


def _widget_metadata(nbfile) -> dict | None:
    state = {comm_id: {"model_name": e["state"].get("_model_name"), "model_module": e["state"].get("_model_module"),
                       "model_module_version": e["state"].get("_model_module_version"), "state": e["state"],
                       **({"buffers": list(e["buffers"].values())} if e["buffers"] else {})}
             for comm_id, e in _widgets.get(nbfile, {}).items() if "_model_name" in e["state"]}
    if not state:
        return None
    return {"application/vnd.jupyter.widget-state+json": {"state": state, "version_major": 2, "version_minor": 0}}


def pytest_runtest_teardown(item, nextitem):
    if not isinstance(item, nbval.plugin.IPyNbCell):
        return
    out_dir = item.config.getoption("--nb-executed")
    nbfile = item.parent
    if item.test_outputs is not None:
        item.cell.outputs = item.test_outputs
        nbfile._hcvae_count = getattr(nbfile, "_hcvae_count", 0) + 1
        item.cell.execution_count = nbfile._hcvae_count
        for out in item.cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = item.cell.execution_count
    if out_dir and (nextitem is None or nextitem.parent is not nbfile):
        widgets = _widget_metadata(nbfile)
        if widgets:
            nbfile.nb.metadata["widgets"] = widgets
        target = Path(out_dir) / Path(str(nbfile.fspath)).resolve().relative_to(ROOT).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbfile.nb, target)
