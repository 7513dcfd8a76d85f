"""Chapter 03's explorer: WCSS, L_collapse and the feasible region against K, for a shell reading and radii."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from hcvae.book import plots
from hcvae.book.widgets.frames import Control, live_mode, show_live, static_explorer
from hcvae.methods.feasible import region_at, region_curve
from hcvae.methods.spherical import SHELL_READINGS, ShellTransform

SHELL_RADII = ((0.1, 2.0), (0.5, 2.0), (1.0, 1.1), (1.0, 2.0), (1.0, 3.0), (2.0, 3.0))


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

        return w.interactive(show_live(draw_live), **controls)

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
