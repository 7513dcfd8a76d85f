"""The explorers' shared machinery: controls, frames drawn now (in forked workers where that pays), the nested
Stacks that show them without a kernel, and the live counterpart (see :mod:`hcvae.book.widgets`)."""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt

FRAME_DPI = 70  # resolution of static frames: small PNGs keep the embedded widget state light
LIVE_ENV = "HCVAE_LIVE_WIDGETS"  # "1": explorers default to live mode (set by `make lab`)
FRAME_WORKERS_ENV = "HCVAE_FRAME_WORKERS"  # processes drawing static frames (see frame_workers)
MAX_FRAMES = 400  # static explorers refuse larger grids (about 6 MB of embedded PNGs at ~15 kB a frame)


@dataclass
class Control:
    """One control of an explorer: ``name`` is the keyword the draw function receives, ``options`` a list of
    (label, value) pairs (the grid), ``kind`` "dropdown" or "slider" (a SelectionSlider, for ordered numbers)."""

    name: str
    description: str
    options: list = field(default_factory=list)
    kind: str = "dropdown"
    initial: int = 0  # index of the option shown first

    def __post_init__(self):
        if not self.options:
            raise ValueError(f"control {self.name!r} has no options")
        if self.kind not in ("dropdown", "slider"):
            raise ValueError(f"control kind must be 'dropdown' or 'slider'; got {self.kind!r}")
        if not 0 <= self.initial < len(self.options):
            raise ValueError(f"initial index {self.initial} out of range for control {self.name!r}")

    def widget(self, index_values: bool):
        """The ipywidgets control. With ``index_values`` its value is the option's index (static frames, where
        ``index`` is what is linked); otherwise the option's value (live callbacks)."""
        import ipywidgets as w

        options = [(label, i if index_values else value) for i, (label, value) in enumerate(self.options)]
        style = {"description_width": "initial"}
        if self.kind == "slider":
            ctrl = w.SelectionSlider(options=options, index=self.initial, description=self.description,
                                     continuous_update=index_values, style=style, layout=w.Layout(width="420px"))
        else:
            ctrl = w.Dropdown(options=options, index=self.initial, description=self.description, style=style,
                              layout=w.Layout(width="max-content"))
        ctrl.add_class("hcvae-control")
        return ctrl


def live_mode(live: bool | None) -> bool:
    """``live`` itself, or (None) whether ``$HCVAE_LIVE_WIDGETS`` asks for live explorers."""
    if live is None:
        return os.environ.get(LIVE_ENV, "").strip().lower() in ("1", "true", "yes")
    return bool(live)


def figure_png(fig, dpi: int = FRAME_DPI) -> bytes:
    """The figure as PNG bytes; the figure is closed (so a notebook does not also display it)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _rendered(output, dpi: int) -> tuple[str, Any]:
    """A frame's content, detached from matplotlib: ``("message", text)`` or ``("png", bytes)``."""
    return ("message", output) if isinstance(output, str) else ("png", figure_png(output, dpi))


def _frame(rendered: tuple[str, Any]):
    import ipywidgets as w

    kind, payload = rendered
    if kind == "message":
        frame = w.HTML(f"<p class='hcvae-message' style='padding:1em 0.5em'>{html.escape(payload)}</p>")
    else:
        frame = w.Image(value=payload, format="png", layout=w.Layout(max_width="100%", height="auto"))
    frame.add_class("hcvae-frame")
    return frame


def frame_workers() -> int:
    """Processes that draw a static explorer's frames: ``$HCVAE_FRAME_WORKERS``, else one per core (at most 4).
    Drawing is most of a chapter's build time; every process draws the same PNG bytes. Forked workers are used
    on Linux only (elsewhere, and with 1, the frames are drawn in this process)."""
    value = os.environ.get(FRAME_WORKERS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"${FRAME_WORKERS_ENV} must be an integer >= 1; got {value!r}")
        return int(value)
    return max(1, min(4, os.cpu_count() or 1))


_DRAWING: dict = {}  # what forked workers draw: set just before the fork, read by _draw_one in the children


def _draw_one(i: int) -> tuple[str, Any]:
    draw, combos, dpi = _DRAWING["job"]
    return _rendered(draw(**combos[i]), dpi)


def _draw_all(draw: Callable[..., Any], combos: list[dict], dpi: int, workers: int) -> list:
    """Every combination's frame content, in order; in ``workers`` forked processes when that pays."""
    workers = min(workers, len(combos))
    if workers < 2 or len(combos) < 8 or not sys.platform.startswith("linux"):
        return [_rendered(draw(**values), dpi) for values in combos]
    import multiprocessing

    _DRAWING["job"] = (draw, combos, dpi)
    try:
        # fork: the children inherit draw (a closure over the results) without pickling it, and import nothing
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_draw_one, range(len(combos)), chunksize=max(1, len(combos) // (4 * workers)))
    finally:
        _DRAWING.clear()


def static_explorer(controls: Sequence[Control], draw: Callable[..., Any], dpi: int = FRAME_DPI, caption: str = "",
                    max_frames: int = MAX_FRAMES, workers: int | None = None):
    """A kernel-free explorer: ``draw(**values)`` (a matplotlib Figure, or a str shown as a message) is called
    for every combination of the controls' options, now; the frames are put in nested Stacks (the first control
    outermost) whose ``selected_index`` is jslinked to the controls' ``index``.

    Returns a VBox (CSS class ``hcvae-explorer``): the controls in a row, an optional caption, the frames.
    Refuses (ValueError) a grid of more than ``max_frames`` combinations: every frame is embedded in the page.
    ``workers``: processes drawing the frames (default :func:`frame_workers`); the frames do not depend on it.
    """
    import ipywidgets as w

    controls = list(controls)
    if not controls:
        raise ValueError("an explorer needs at least one control")
    names = [c.name for c in controls]
    if len(set(names)) != len(names):
        raise ValueError(f"control names must be distinct; got {names}")
    n = math.prod(len(c.options) for c in controls)
    if n > max_frames:
        raise ValueError(f"{n} frames ({' x '.join(f'{len(c.options)} {c.name}' for c in controls)}) exceed "
                         f"max_frames = {max_frames}: every frame is embedded in the page; pass fewer results or "
                         "use the live explorer (live=True)")
    widgets_ = [c.widget(index_values=True) for c in controls]
    stacks_by_level: list[list] = [[] for _ in controls]
    frames: dict[tuple, Any] = {}
    leaves = list(itertools.product(*(range(len(c.options)) for c in controls)))  # build()'s order
    combos = [{c.name: c.options[i][1] for c, i in zip(controls, leaf)} for leaf in leaves]
    drawn = dict(zip(leaves, _draw_all(draw, combos, dpi, frame_workers() if workers is None else workers)))

    def build(level: int, indices: tuple, labels: tuple):
        if level == len(controls):
            frames[indices] = _frame(drawn[indices])
            frames[indices].add_class(frame_class(labels))
            return frames[indices]
        c = controls[level]
        children = [build(level + 1, indices + (i,), labels + (label,)) for i, (label, _) in enumerate(c.options)]
        stack = w.Stack(children=children, selected_index=c.initial)
        stacks_by_level[level].append(stack)
        return stack

    top = build(0, (), ())
    links = [w.jslink((ctrl, "index"), (stack, "selected_index"))
             for ctrl, stacks in zip(widgets_, stacks_by_level) for stack in stacks]
    parts = [w.HBox(widgets_, layout=w.Layout(flex_flow="row wrap"))]
    if caption:
        parts.append(w.HTML(f"<small>{html.escape(caption)}</small>"))
    box = w.VBox([*parts, top])
    box.add_class("hcvae-explorer")
    box.hcvae_controls = widgets_
    box.hcvae_stack = top
    box.hcvae_links = links
    box.hcvae_frames = frames
    box.hcvae_n_frames = len(frames)
    return box


def frame_class(labels: Sequence[str]) -> str:
    """The CSS class that names a frame by the control labels it was drawn for (outermost first), so a reader's
    test can check that the frame on screen is the one for the values the controls show."""
    return "hcvae-key-" + hashlib.sha1("\x1f".join(labels).encode()).hexdigest()[:12]


def frame_at(explorer, *indices: int):
    """The frame a static explorer shows when its controls (outermost first) are at option ``indices``."""
    node = explorer.hcvae_stack
    if len(indices) != len(explorer.hcvae_controls):
        raise ValueError(f"need {len(explorer.hcvae_controls)} indices, got {len(indices)}")
    for i in indices:
        node = node.children[i]
    return node


def live_explorer(controls: Sequence[Control], draw: Callable[..., Any]):
    """The live counterpart of :func:`static_explorer`: an ``ipywidgets.interactive`` over the same options that
    calls ``draw`` in the kernel at every change (needs a running kernel)."""
    import ipywidgets as w

    return w.interactive(show_live(draw), **{c.name: c.widget(index_values=False) for c in controls})


def show_live(draw: Callable[..., Any]):
    """``draw``'s output shown in the kernel (a figure displayed and closed, a message printed)."""

    def show(**values):
        from IPython.display import display

        out = draw(**values)
        if isinstance(out, str):
            print(out)
        else:
            display(out)
            plt.close(out)

    return show


def explorer(controls, draw, live, caption=""):
    """The live explorer where :func:`live_mode` says so, else the static one."""
    return live_explorer(controls, draw) if live_mode(live) else static_explorer(controls, draw, caption=caption)
