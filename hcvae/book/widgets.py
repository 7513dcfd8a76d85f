"""The book's explorers: ipywidgets that work in the static HTML of the built book *and* in a live kernel.

Every explorer function returns a widget and has two modes, chosen by its ``live`` argument:

* **static** (``live=False``, the default in a book build): every output over the explorer's control grid is
  drawn *when the notebook runs* (matplotlib figures saved as small PNGs, or a short message where a
  combination has no result), each in an :class:`ipywidgets.Image` (or :class:`~ipywidgets.HTML`) frame. The
  frames sit in nested :class:`ipywidgets.Stack` widgets, one nesting level per control, and every control is
  tied to the ``selected_index`` of the Stacks of its level with :func:`ipywidgets.jslink`. The page then
  needs no kernel: the browser swaps frames on its own, from the widget state embedded in the HTML. Controls
  only offer grid values (:class:`~ipywidgets.Dropdown` and :class:`~ipywidgets.SelectionSlider`), so a value
  without a frame cannot be chosen, and invalid combinations are either not offered (chapter 03's radii come
  as valid (r_min, r_max) pairs) or shown as a message frame, never as a stale figure.
* **live** (``live=True``): an :func:`ipywidgets.interactive` whose Python callback redraws from live
  computation. Where the output is computed from the data (:func:`sigma2_explorer`,
  :func:`feasible_region_explorer`) the sliders are free, so values off the static grid can be explored;
  explorers over stored results offer the stored runs. This needs a running kernel (JupyterLab, ``make lab``).

``live=None`` (the default) means live when the environment variable ``HCVAE_LIVE_WIDGETS`` is ``1`` (``make
lab`` sets it for its kernels) and static otherwise, so the same notebook cell gives frames in the book and
live widgets in JupyterLab.

Static explorers are :class:`ipywidgets.VBox` widgets with the CSS class ``hcvae-explorer``; for tests and
introspection they carry ``hcvae_controls`` (the control widgets, outermost first), ``hcvae_stack`` (the top
Stack), ``hcvae_links`` and ``hcvae_n_frames``; :func:`frame_at` returns the frame shown for given control
indices, and every frame has the CSS class :func:`frame_class` of the control labels it was drawn for. Frames
are drawn at :data:`FRAME_DPI` and each explorer keeps its grid to a few dozen frames (chapter 01's run
explorer: one per stored run), so that a chapter page stays a few MB.

Explorers over measured results receive the stored results; nothing here trains.
"""

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
import numpy as np

from hcvae.book import plots
from hcvae.core.theory import linear_vae_optimum
from hcvae.chapters.rules import COLLAPSE_KL  # drawn as a dotted line

FRAME_DPI = 70  # resolution of static frames: small PNGs keep the embedded widget state light
LIVE_ENV = "HCVAE_LIVE_WIDGETS"  # "1": explorers default to live mode (set by `make lab`)
FRAME_WORKERS_ENV = "HCVAE_FRAME_WORKERS"  # processes drawing static frames (see frame_workers)
KL_FLOOR = 1e-5  # log-scale KL axes floor values here, as in hcvae.book.plots
SIGMA2_RATIOS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9, 1.0, 1.1, 1.5, 2.0, 5.0, 10.0)
SHELL_RADII = ((0.1, 2.0), (0.5, 2.0), (1.0, 1.1), (1.0, 2.0), (1.0, 3.0), (2.0, 3.0))
ABLATION_PARAMS = ("r0", "epsilon", "keep_ratio", "beta")
MAX_FRAMES = 400  # static explorers refuse larger grids (about 6 MB of embedded PNGs at ~15 kB a frame)


# ---- the generic machinery ------------------------------------------------------------------------------------
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

    return w.interactive(_show(draw), **{c.name: c.widget(index_values=False) for c in controls})


def _show(draw: Callable[..., Any]):
    def show(**values):
        from IPython.display import display

        out = draw(**values)
        if isinstance(out, str):
            print(out)
        else:
            display(out)
            plt.close(out)

    return show


def _explorer(controls, draw, live, caption=""):
    return live_explorer(controls, draw) if live_mode(live) else static_explorer(controls, draw, caption=caption)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else str(v)


def _index_results(results: Sequence[dict], keys: Sequence[str], key_of: dict | None = None) -> tuple[dict, list]:
    """{tuple of the results' values of ``keys``: result} and the keys: ``keys``, plus any other config key whose
    value differs between results that share the values of ``keys`` (so that every result gets its own tuple;
    keys that merely follow from ``keys``, such as per-data-set epochs, are not added). ``key_of`` maps a key to
    a function of the config dict, for derived keys."""
    key_of = key_of or {}
    results = list(results)
    if not results:
        raise ValueError("no results to explore")

    def get(c, k):
        return key_of[k](c) if k in key_of else c.get(k)

    keys = list(keys)
    groups: dict[tuple, list] = {}
    for r in results:
        groups.setdefault(tuple(_hashable(get(r["config"], k)) for k in keys), []).append(r["config"])
    for k in sorted({k for r in results for k in r["config"]} - set(keys) - {"kind"}):
        if any(len({repr(c.get(k)) for c in group}) > 1 for group in groups.values()):
            keys.append(k)
    index: dict[tuple, dict] = {}
    for r in results:
        t = tuple(_hashable(get(r["config"], k)) for k in keys)
        if t in index:
            raise ValueError(f"two results share {dict(zip(keys, t))}")
        index[t] = r
    return index, keys


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _options(index: dict, position: int, label=_fmt) -> list:
    values = sorted({t[position] for t in index}, key=_sort_key)
    return [(label(v), v) for v in values]


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


# ---- chapter 01: the linear closed form, and the trained runs -------------------------------------------------
def _sigma2_figure(spectrum, dataset: str, ratio: float, latent_dim: int, kl_max: float):
    spectrum = np.asarray(spectrum, float)
    sigma2 = ratio * spectrum[0]
    opt = linear_vae_optimum(spectrum, sigma2, latent_dim)
    fig, (ax_s, ax_k) = plt.subplots(1, 2, figsize=(8.4, 2.9), gridspec_kw={"width_ratios": [2, 1]})
    plots.spectrum_threshold(spectrum, sigma2, latent_dim, ax=ax_s,
                             title=f"{dataset}, σ'²/λmax = {ratio:.3g}: {opt['active_units']} of {latent_dim} dims active")
    ax_s.title.set_fontsize(10)
    ax_k.bar(np.arange(1, latent_dim + 1), opt["kl_per_dim"], color="C3")
    ax_k.set_ylim(0, kl_max)
    ax_k.set_xlabel("latent dimension")
    ax_k.set_ylabel("KL per dim (nats)")
    ax_k.set_title(f"closed-form KL = {opt['kl']:.3f} nats", fontsize=10)
    fig.tight_layout()
    return fig


def sigma2_explorer(spectra: dict, latent_dim: int = 8, ratios: Sequence[float] = SIGMA2_RATIOS,
                    live: bool | None = None):
    """Which latent dimensions the linear VAE's closed form keeps at a given σ'²/λ_max, and their KL.

    ``spectra`` maps a data-set name to its covariance spectrum (largest eigenvalue first). Controls: the data
    set and σ'²/λ_max. Static: one frame per (data set, ratio in ``ratios``); live: a log slider from 10^-1.5
    to 10, any value in between. The KL axis is fixed at the largest KL a dimension can carry on the grid (the
    top direction's, at the smallest ratio), so frames compare.
    """
    names = list(spectra)
    ratios = sorted(float(r) for r in ratios)
    if not names or not ratios or ratios[0] <= 0:
        raise ValueError("need at least one spectrum and positive ratios")
    lo = min(ratios[0], 10 ** -1.5) if live_mode(live) else ratios[0]
    kl_max = 1.05 * 0.5 * math.log(1 / lo) if lo < 1 else 1.0

    def draw(dataset, ratio):
        return _sigma2_figure(spectra[dataset], dataset, ratio, latent_dim, kl_max)

    if live_mode(live):
        import ipywidgets as w

        controls = dict(
            dataset=w.Dropdown(options=names, value=names[0], description="data"),
            ratio=w.FloatLogSlider(value=0.5, base=10, min=-1.5, max=1, step=0.02, description="σ'²/λmax",
                                   readout_format=".3g", continuous_update=False))
        return w.interactive(_show(draw), **controls)
    initial = int(np.argmin(np.abs(np.log(ratios) - math.log(0.5))))
    controls = [Control("dataset", "data", [(n, n) for n in names]),
                Control("ratio", "σ'²/λmax", [(f"{r:g}", r) for r in ratios], kind="slider", initial=initial)]
    return static_explorer(controls, draw)


def phase_run_explorer(results: Sequence[dict], live: bool | None = None, views: dict | None = None):
    """Every trained run of the phase-transition sweep (chapter 01's ``results``): its KL per latent dimension
    (sorted, largest first) beside the linear VAE's closed form for the same spectrum and σ'², with total KL and
    active units (Var_x E[z_j] > 0.01 and E_x σ_j² < 0.99) in the title; with ``views`` (result key -> the run's
    decoder views, :func:`hcvae.runs.views.vae_views`, or None), its reconstructions and latent traversal below.

    Each result needs ``config`` (dataset, architecture, sigma2_ratio, seed), ``metrics`` (kl, kl_per_dim,
    active_burda, active_paper), ``data["spectrum"]`` and ``sigma2_decoder``. Controls: data set, model,
    σ'²/λ_max (the sweep's grid) and seed, plus any other config key that varies. Static: one frame per
    combination (a message where no run is stored); live: the same choices, drawn on demand.
    """
    index, keys = _index_results(results, ("dataset", "architecture", "sigma2_ratio", "seed"))
    closed: dict = {}
    kl_max: dict = {}
    for t, r in index.items():
        latent_dim = len(r["metrics"]["kl_per_dim"])
        closed[t] = linear_vae_optimum(r["data"]["spectrum"], r["sigma2_decoder"], latent_dim)
        top = max(float(np.max(r["metrics"]["kl_per_dim"])), float(np.max(closed[t]["kl_per_dim"])))
        kl_max[t[0]] = max(kl_max.get(t[0], 0.0), top)

    def draw(**values):
        t = tuple(_hashable(values[k]) for k in keys)
        if t not in index:
            return "No stored run for " + ", ".join(f"{k} = {_fmt(values[k])}" for k in keys) + "."
        r, opt = index[t], closed[t]
        m = r["metrics"]
        trained = np.sort(np.asarray(m["kl_per_dim"], float))[::-1]
        dims = np.arange(1, trained.size + 1)
        style = plots.ARCH_STYLE.get(values["architecture"], dict(color="C0", label=values["architecture"]))
        if views is None:
            fig, ax = plt.subplots(figsize=(6.6, 3.0))
        else:
            fig = plt.figure(figsize=(6.6, 5.0))
            grid = fig.add_gridspec(2, 2, height_ratios=(3.0, 2.0))
            ax = fig.add_subplot(grid[0, :])
            plots.decoder_views(fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1]), views.get(r["key"]))
        ax.bar(dims - 0.2, trained, 0.4, color=style["color"], label=f"trained {style['label']} (sorted)")
        ax.bar(dims + 0.2, opt["kl_per_dim"], 0.4, color="0.6", label="linear closed form")
        ax.set_ylim(0, 1.08 * kl_max[values["dataset"]] or 1.0)
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension")
        ax.set_ylabel("KL (nats)")
        ax.set_title(f"{values['dataset']}, {values['architecture']}, σ'²/λmax = {_fmt(values['sigma2_ratio'])}, "
                     f"seed {values['seed']}\nKL {m['kl']:.3g} nats (closed form {opt['kl']:.3g}); active units "
                     f"{m['active_burda']} (Var E[z] > 0.01), {m['active_paper']} (E[σ²] < 0.99), "
                     f"closed form {opt['active_units']}", fontsize=8.5)
        ax.legend(fontsize=7.5, loc="upper right")
        fig.tight_layout()
        return fig

    labels = {"dataset": "data", "architecture": "model", "sigma2_ratio": "σ'²/λmax", "seed": "seed"}
    controls = []
    for i, k in enumerate(keys):
        options = _options(index, i)
        kind = "slider" if k == "sigma2_ratio" and len(options) > 1 else "dropdown"
        initial = 0
        if k == "sigma2_ratio":
            initial = int(np.argmin([abs(math.log(v) - math.log(0.5)) if v > 0 else np.inf for _, v in options]))
        controls.append(Control(k, labels.get(k, k), options, kind=kind, initial=initial))
    return _explorer(controls, draw, live)


# ---- chapter 03: the feasible region ---------------------------------------------------------------------------
def feasible_region_explorer(datasets: dict, ks: Sequence[int] = tuple(range(2, 21)), n_points: int = 2000,
                             seed: int = 0, radii: Sequence[tuple] = SHELL_RADII, readings: Sequence[str] | None = None,
                             marks: dict | None = None, live: bool | None = None):
    """WCSS, L_collapse and the feasible region WCSS < L_collapse against K, for a shell reading and radii.

    ``datasets`` maps a name to its raw (untransformed) data array; the curves are computed on a random subset
    of ``n_points`` samples (seeded by ``seed``) with one K-means start per K, for speed. ``marks`` optionally
    maps a data set to a K to mark (e.g. its true number of clusters).

    Static: controls data set, shell reading and (r_min, r_max), offered only as valid pairs from ``radii``
    (r_min < r_max); each frame shows the whole curve over ``ks``, so K is its x axis. Live: sliders for r_min,
    r_max (any values; an invalid pair prints a message) and a K to mark, recomputed at every change.
    """
    from hcvae.methods.feasible import region_at, region_curve
    from hcvae.methods.spherical import SHELL_READINGS, ShellTransform

    ks = [int(k) for k in ks]
    readings = list(SHELL_READINGS if readings is None else readings)
    rng = np.random.default_rng(seed)
    subsets = {name: x[rng.choice(len(x), size=min(n_points, len(x)), replace=False)] for name, x in datasets.items()}
    if not subsets:
        raise ValueError("no data sets to explore")

    def curve_figure(dataset, reading, r_min, r_max, mark):
        xs = ShellTransform(r_min, r_max, reading).fit_transform(subsets[dataset])
        curve = region_curve(xs, ks, seed=seed, n_init=1)
        label = f"{dataset}, {reading} shell [{r_min:g}, {r_max:g}]"
        fig = plots.feasible_region_vs_k({label: curve}, marks=None if mark is None else {label: mark})
        fig.set_size_inches(6.0, 3.3)
        ax = fig.axes[0]
        first_open = region_at(curve, ks[0])["smallest_open_k"]
        note = "region empty for every K" if first_open is None else f"region open from K = {first_open}"
        if mark is not None and mark in ks:
            at = region_at(curve, mark)
            note += (f"\nK = {mark}: WCSS {at['wcss']:.3g}, L_collapse {at['l_collapse']:.3g} "
                     f"({'open' if at['nonempty'] else 'empty'})")
        ax.set_title(f"{label}\n{note}", fontsize=8.5)
        fig.tight_layout()
        return fig

    if live_mode(live):
        import ipywidgets as w

        controls = dict(
            dataset=w.Dropdown(options=list(subsets), description="data"),
            reading=w.Dropdown(options=readings, description="shell"),
            r_min=w.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.1, description="r_min", continuous_update=False),
            r_max=w.FloatSlider(value=2.0, min=0.1, max=4.0, step=0.1, description="r_max", continuous_update=False),
            k=w.SelectionSlider(options=ks, value=8 if 8 in ks else ks[0], description="K", continuous_update=False),
        )

        def draw_live(dataset, reading, r_min, r_max, k):
            if not r_min < r_max:
                return f"r_min ({r_min:g}) must be below r_max ({r_max:g})"
            return curve_figure(dataset, reading, r_min, r_max, k)

        return w.interactive(_show(draw_live), **controls)

    pairs = []
    for r_min, r_max in radii:
        r_min, r_max = float(r_min), float(r_max)
        if not (math.isfinite(r_min) and math.isfinite(r_max) and 0 <= r_min < r_max):
            raise ValueError(f"every (r_min, r_max) pair needs 0 <= r_min < r_max; got ({r_min:g}, {r_max:g})")
        pairs.append((r_min, r_max))

    def draw(dataset, reading, shell):
        return curve_figure(dataset, reading, *shell, (marks or {}).get(dataset))

    default = pairs.index((1.0, 2.0)) if (1.0, 2.0) in pairs else 0
    controls = [Control("dataset", "data", [(n, n) for n in subsets]),
                Control("reading", "shell reading", [(r, r) for r in readings]),
                Control("shell", "[r_min, r_max]", [(f"[{a:g}, {b:g}]", (a, b)) for a, b in pairs], initial=default)]
    return static_explorer(controls, draw)


# ---- chapter 04: HCT's trajectory ------------------------------------------------------------------------------
def hct_explorer(results: Sequence[dict], live: bool | None = None, size=(11.0, 3.1)):
    """One HCT run at a time (v1 Figures 2 left, 3 and 7, as :func:`hcvae.book.plots.hct_trajectories` draws it): KL
    per epoch with the stages marked, ℓ_C of every clustering per epoch, which clusterings survive each round.

    ``results`` are stored HCT results (chapter 04's ``ch.results``); only those with ``config["method"] ==
    "hct"`` are shown. Each needs ``config`` (dataset, reading, xhat, seed) and ``record`` (history, rounds,
    sizes). Controls: data set, reading of ℓ_C (min_k / own_centre), x̂ (sample / mean) and seed, plus any
    other config key that varies among the runs. Static: one frame per run (a message where a combination has
    no run); live: the same choices, drawn on demand.
    """
    hct = [r for r in results if r["config"].get("method", "hct") == "hct"]
    if not hct:
        raise ValueError("no HCT runs (config['method'] == 'hct') among the results")
    index, keys = _index_results(hct, ("dataset", "reading", "xhat", "seed"),
                                 key_of={"xhat": lambda c: c.get("xhat", "mean")})

    def draw(**values):
        t = tuple(_hashable(values[k]) for k in keys)
        if t not in index:
            return "No HCT run stored for " + ", ".join(f"{k} = {_fmt(values[k])}" for k in keys) + "."
        extra = "".join(f", {k} {_fmt(values[k])}" for k in keys[4:])
        fig = plots.hct_trajectories(index[t]["record"], title=f"{values['dataset']}, {values['reading']} reading, "
                                     f"x̂ {values['xhat']}, seed {values['seed']}{extra}: "
                                     f"final KL {index[t]['metrics']['kl']:.3g} nats", layout=False)
        fig.set_size_inches(*size)
        fig.suptitle(fig.get_suptitle(), fontsize=9.5)
        for ax in fig.axes:
            for item in [ax.title, ax.xaxis.label, ax.yaxis.label]:
                item.set_fontsize(8.5)
        fig.tight_layout()
        return fig

    labels = {"dataset": "data", "reading": "ℓ_C reading", "xhat": "x̂", "seed": "seed"}
    controls = [Control(k, labels.get(k, k), _options(index, i)) for i, k in enumerate(keys)]
    return _explorer(controls, draw, live)


# ---- chapter 05: the λ₁ dial -----------------------------------------------------------------------------------
def penalty_explorer(sweep_results: dict, references: dict | None = None, live: bool | None = None):
    """The λ₁ dial of the Spherical VAE: KL against negative ELBO of every run of a data set, with the runs at
    the chosen λ₁ (the boundary-penalty weight) highlighted and labelled by seed.

    ``sweep_results`` maps a data set to its list of stored Spherical-VAE results (``config["lambda_boundary"]``,
    ``config["seed"]``, ``metrics["kl"]``, ``metrics["neg_elbo"]``); ``references`` optionally maps a data set
    to {label: (negative ELBO, KL)} drawn as stars (e.g. the plain VAE). Controls: data set (dropdown) and λ₁
    (a slider over the values of the grid). Static: one frame per (data set, λ₁), a message where the data set
    has no run at that λ₁; live: the same choices, drawn on demand.
    """
    datasets = [ds for ds, rs in sweep_results.items() if rs]
    if not datasets:
        raise ValueError("no results to explore")
    points = {ds: [(float(r["config"]["lambda_boundary"]), r["config"].get("seed"), float(r["metrics"]["neg_elbo"]),
                    float(r["metrics"]["kl"])) for r in sweep_results[ds]] for ds in datasets}
    lambdas = sorted({p[0] for ps in points.values() for p in ps})

    def draw(dataset, lam):
        pts = points[dataset]
        chosen = [p for p in pts if p[0] == lam]
        if not chosen:
            return f"No run on {dataset} at λ₁ = {lam:g} (its grid: {', '.join(f'{v:g}' for v in sorted({p[0] for p in pts}))})."
        fig, ax = plt.subplots(figsize=(6.2, 3.4))
        others = [p for p in pts if p[0] != lam]
        ax.scatter([p[2] for p in others], [p[3] for p in others], s=16, color="0.7", label="other λ₁")
        means = {}
        for p in pts:
            means.setdefault(p[0], []).append((p[2], p[3]))
        order = sorted(means)
        mx = [np.mean([q[0] for q in means[v]]) for v in order]
        my = [np.mean([q[1] for q in means[v]]) for v in order]
        ax.plot(mx, my, "-", color="0.75", lw=1, zorder=0)
        for v, x, y in zip(order, mx, my):
            ax.annotate(f"{v:g}", (x, y), fontsize=7, color="0.45", xytext=(3, 3), textcoords="offset points")
        ax.scatter([p[2] for p in chosen], [p[3] for p in chosen], s=46, color="C3", edgecolor="k", zorder=3,
                   label=f"λ₁ = {lam:g}")
        for p in chosen:
            ax.annotate(f"seed {p[1]}", (p[2], p[3]), fontsize=7.5, xytext=(4, -9), textcoords="offset points")
        for i, (label, (elbo, kl)) in enumerate((references or {}).get(dataset, {}).items()):
            ax.scatter([elbo], [kl], marker="*", s=110, color=f"C{i}", edgecolor="k", zorder=3, label=label)
        ax.set_xlabel("negative ELBO (nats per sample)")
        ax.set_ylabel("KL (nats)")
        kl = np.array([p[3] for p in chosen])
        elbo = np.array([p[2] for p in chosen])
        ax.set_title(f"{dataset}, λ₁ = {lam:g}: KL {kl.mean():.3g} ± {kl.std():.2g}, −ELBO {elbo.mean():.4g} "
                     f"({len(chosen)} seed(s); grey labels: λ₁ of each mean)", fontsize=8.5)
        ax.legend(fontsize=7.5, loc="best")
        fig.tight_layout()
        return fig

    initial = len(lambdas) // 2
    controls = [Control("dataset", "data", [(ds, ds) for ds in datasets]),
                Control("lam", "λ₁", [(f"{v:g}", v) for v in lambdas], kind="slider" if len(lambdas) > 1 else "dropdown",
                        initial=initial)]
    return _explorer(controls, draw, live)


# ---- chapter 07: the ablation grids ----------------------------------------------------------------------------
def ablation_explorer(results: dict, params: Sequence[str] = ABLATION_PARAMS, live: bool | None = None):
    """One ablation grid at a time: final KL against the swept parameter, each seed a point, the mean a line,
    for one reading of the ambiguous text (as :func:`hcvae.chapters.ablations.reading_of` names it, e.g. "min_k, x̂
    sample"); the dotted line is v1's collapse threshold (0.01 nats).

    ``results`` maps a parameter (one of ``params``: "r0", "epsilon", "keep_ratio", "beta") to its list of
    stored HCT results (``config[param]``, ``config["seed"]``, ``metrics["kl"]``). Controls: the ablation and
    the reading. Static: one frame per (ablation, reading), a message where that grid has no run under the
    reading; live: the same choices, drawn on demand.
    """
    from hcvae.chapters.ablations import reading_of

    params = [p for p in params if results.get(p)]
    if not params:
        raise ValueError("no ablation results to explore")
    readings = sorted({reading_of(r["config"]) for p in params for r in results[p]})

    def draw(param, reading):
        runs = [r for r in results[param] if reading_of(r["config"]) == reading]
        if not runs:
            return f"The {param} grid has no run under the reading “{reading}”."
        by_value: dict = {}
        for r in runs:
            by_value.setdefault(float(r["config"][param]), []).append((r["config"].get("seed"), float(r["metrics"]["kl"])))
        values = sorted(by_value)
        fig, ax = plt.subplots(figsize=(6.0, 3.3))
        for v in values:
            kls = [max(kl, KL_FLOOR) for _, kl in by_value[v]]
            ax.scatter(np.full(len(kls), v), kls, s=18, color="C0", alpha=0.6, zorder=3)
        mean = [max(float(np.mean([kl for _, kl in by_value[v]])), KL_FLOOR) for v in values]
        ax.plot(values, mean, "o-", color="C3", ms=5, lw=1.3, label="mean over seeds")
        ax.scatter([], [], s=18, color="C0", alpha=0.6, label="one seed")
        ax.axhline(COLLAPSE_KL, color="0.5", ls=":", lw=1, label="collapse (0.01 nats)")
        if values[0] > 0 and values[-1] / values[0] >= 10:
            ax.set_xscale("log")
            ax.set_xticks(values, [f"{v:g}" for v in values])
            ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(f"final KL (nats, floored at {KL_FLOOR:g})")
        n_seeds = len({s for v in values for s, _ in by_value[v]})
        ax.set_title(f"{param} grid, {reading}: {len(runs)} runs, {n_seeds} seed(s)", fontsize=9)
        ax.legend(fontsize=7.5, loc="best")
        fig.tight_layout()
        return fig

    controls = [Control("param", "ablation", [(p, p) for p in params]),
                Control("reading", "reading", [(r, r) for r in readings])]
    return _explorer(controls, draw, live)
