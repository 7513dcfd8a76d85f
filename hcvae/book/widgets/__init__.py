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

The machinery every explorer shares is :mod:`~hcvae.book.widgets.frames` (controls, frames, Stacks, the live
route), with :mod:`~hcvae.book.widgets.results` to index stored results into a grid; each kind of explorer has its
module: :mod:`~hcvae.book.widgets.phase` (chapter 01), :mod:`~hcvae.book.widgets.region` (03),
:mod:`~hcvae.book.widgets.hct` (04), :mod:`~hcvae.book.widgets.penalty` (05), :mod:`~hcvae.book.widgets.ablation`
(07). Every public name is importable from here, as ``hcvae.book.widgets.<name>``.
"""

from hcvae.book.widgets.ablation import ABLATION_PARAMS, KL_FLOOR, ablation_explorer
from hcvae.book.widgets.frames import (FRAME_DPI, FRAME_WORKERS_ENV, LIVE_ENV, MAX_FRAMES, Control, figure_png,
                                       frame_at, frame_class, frame_workers, live_explorer, live_mode,
                                       static_explorer)
from hcvae.book.widgets.hct import hct_explorer
from hcvae.book.widgets.penalty import penalty_explorer
from hcvae.book.widgets.phase import SIGMA2_RATIOS, phase_run_explorer, sigma2_explorer
from hcvae.book.widgets.region import SHELL_RADII, feasible_region_explorer

__all__ = ["ABLATION_PARAMS", "FRAME_DPI", "FRAME_WORKERS_ENV", "KL_FLOOR", "LIVE_ENV", "MAX_FRAMES", "SHELL_RADII",
           "SIGMA2_RATIOS", "Control", "ablation_explorer", "feasible_region_explorer", "figure_png", "frame_at",
           "frame_class", "frame_workers", "hct_explorer", "live_explorer", "live_mode", "penalty_explorer",
           "phase_run_explorer", "sigma2_explorer", "static_explorer"]
