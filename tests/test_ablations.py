import pytest

from hcvae.chapters import ablations


def _results(param, values_by_reading):
    return [{"config": {param: v, "reading": reading, "xhat": "sample", "seed": s}, "metrics": {"kl": kl + 0.001 * s}}
            for reading, pairs in values_by_reading.items() for v, kl in pairs for s in (0, 1)]


def test_summarise_groups_by_reading_and_averages_seeds():
    results = _results("beta", {"min_k": [(2.0, 1.0), (0.5, 0.2)]})
    results += [{**r, "config": {**r["config"], "xhat": "mean"}, "metrics": {"kl": 0.0}} for r in results]
    summary = ablations.summarise(results, "beta")
    assert set(summary) == {"min_k, x̂ sample", "min_k, x̂ mean"}  # one curve per reading of l_C and of x_hat
    curve = summary["min_k, x̂ sample"]
    assert curve["values"] == [0.5, 2.0]
    assert curve["mean"] == pytest.approx([0.2005, 1.0005]) and curve["n"] == [2, 2]
    assert ablations.summarise(results, "beta", group="reading")["min_k"]["n"] == [4, 4]


@pytest.mark.parametrize("param, pairs, expected", [
    ("beta", [(0.5, 0.1), (2.0, 1.0), (8.0, 0.5)], "reproduced: best beta 2"),
    ("beta", [(0.5, 0.1), (2.0, 0.5), (8.0, 1.0)], "not reproduced: best beta 8"),
    ("beta", [(0.5, 0.001), (2.0, 0.002)], "every point collapsed"),
    ("epsilon", [(1e-5, 0.5), (1e-4, 0.5), (1e-3, 0.5)], "no effect"),
    ("epsilon", [(1e-5, 0.9), (1e-4, 0.5), (1e-3, 0.4)], "reproduced: best epsilon 1e-05"),
    ("keep_ratio", [(1 / 3, 0.9), (0.5, 0.5), (2 / 3, 0.4)], "not reproduced: best ratio 0.333"),
    ("r0", [(2, 0.2), (4, 0.5), (8, 0.8)], "not testable"),
    ("r0", [(2, 0.2), (16, 1.0), (32, 1.05)], "reproduced: KL(2)"),
    ("r0", [(2, 0.2), (16, 1.0), (32, 2.0)], "not reproduced: KL(2)"),
    ("r_min", [(0.5, 1.0), (1.0, 2.0)], "no numerical claim"),
])
def test_verdict_rules(param, pairs, expected):
    curve = ablations.summarise(_results(param, {"r": pairs}), param)["r, x̂ sample"]
    assert ablations.verdict(param, curve).startswith(expected) or expected in ablations.verdict(param, curve)


def test_ablation_curves_layout_and_axes():
    from hcvae.book import plots

    panels = {"R0": ("r0", ablations.summarise(_results("r0", {"min_k": [(2, 0.1), (8, 0.2), (32, 0.3)]}), "r0")),
              "kept": ("keep_ratio", ablations.summarise(_results("keep_ratio", {"min_k": [(1 / 3, 0.1), (2 / 3, 0.2)]}),
                                                         "keep_ratio"))}
    fig = plots.ablation_curves(panels)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(fig.axes) == 2  # no empty panel
    r0_ax, kept_ax = visible
    assert r0_ax.get_xscale() == "log" and kept_ax.get_xscale() == "linear"  # geometric grids on a log axis
    assert [t.get_text() for t in r0_ax.get_xticklabels()] == ["2", "8", "32"]  # ticks at the grid values
    four = plots.ablation_curves({f"p{i}": panels["R0"] for i in range(4)})
    assert len(four.axes) == 4 and all(ax.get_visible() for ax in four.axes)
