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


# --- the declared parameters and the chapter's steps ---------------------------------------------------------------

def test_the_notebooks_parameters_cell_is_the_declaration():
    import jupytext

    from hcvae.book import notebook

    path = notebook.NOTEBOOKS / f"{ablations.Params.PAGE}.md"
    cell = notebook.parameter_defaults(jupytext.read(path))
    assert cell == ablations.Params.defaults() and list(cell) == list(ablations.Params.defaults())


@pytest.mark.parametrize("values, message", [
    (dict(grid_dir="/no/such/folder"), "parameter 'grid_dir' must be an existing folder or None; '/no/such/folder' "
                                       "is not a folder"),
    (dict(scheduler="localhost"), "parameter 'scheduler' must be a Dask scheduler address such as "
                                  "'tcp://10.0.0.5:8786', or None for a local cluster; got 'localhost'"),
    (dict(n_workers=0), "parameter 'n_workers' must be an integer >= 1; got 0"),
    (dict(grid_dir=3), "parameter 'grid_dir' must be a name, or None; got 3"),
])
def test_bad_parameters_are_refused_before_any_work(values, message):
    from hcvae.chapters.base import ParameterError

    with pytest.raises(ParameterError) as err:
        ablations.Params.from_values(**values)
    assert str(err.value) == message


def test_the_grid_folder_is_the_profiles_unless_named(tmp_path):
    from hcvae.runs.store import ROOT

    assert ablations.Params.from_values(profile="paper").grid_folder == ROOT / "notebooks" / "grids" / "paper"
    assert ablations.Params.from_values(grid_dir=str(tmp_path)).grid_folder == tmp_path


def _fake_sweep():
    """Results for every grid: v1's under two readings, v4's under none, with the fields the tables read."""
    from types import SimpleNamespace

    values = {"r0": [2, 16, 32], "epsilon": [1e-5, 1e-4], "keep_ratio": [1 / 3, 0.5], "beta": [1.0, 2.0],
              "r_min": [0.5, 1.0], "lambda_boundary": [1.0, 100.0]}
    results = {}
    for param, vs in values.items():
        readings = ("min_k", "own_centre") if param in ablations.V1_PARAMS else (None,)
        results[param] = [
            {"config": {param: v, "seed": s, **({"reading": rd, "xhat": "mean"} if rd else {})},
             "metrics": {"kl": 0.5 + i + 0.01 * s, "coverage": 1.0, "norm_satisfaction": 0.9},
             "record": {"refinement": {"floor": 0.01 * (i + 1), "reached": i == 0}}}
            for rd in readings for i, v in enumerate(vs) for s in (0, 1)]
    hct = SimpleNamespace(data_size=2000, epochs_per_round=2, max_refine_epochs=4)
    grids = {param: [hct] * len(rs) for param, rs in results.items()}
    n = sum(len(r) for r in results.values())
    return ablations.Sweep("grids", grids, results, n, n, n, 0, 0.2)


def test_the_steps_make_the_tables_and_sentences_from_the_same_verdicts():
    points = _fake_sweep()
    curves = ablations.summaries(points.results)
    assert set(curves["r0"]) == {"min_k, x̂ mean", "own_centre, x̂ mean"} and set(curves["r_min"]) == {"-"}
    verdicts = ablations.verdicts(curves)
    assert list(verdicts)[-2:] == [("r_min", "-"), ("lambda_boundary", "-")]
    table = ablations.tables(points.results, curves, verdicts)
    assert [row[-1] for row in table["v1"][1]] == [v for (p, _), v in verdicts.items() if p in ablations.V1_PARAMS]
    assert len(table["eps"][1]) == 4 and len(table["v4"][1]) == 4
    texts, findings = ablations.sentences(ablations.Params.from_values(), points, verdicts)
    assert texts["n_v1_claims"] == 8 and texts["n_v1_reproduced"] == sum(v.startswith("reproduced")
                                                                         for v in verdicts.values())
    assert texts["grid_protocol"] == "2,000 samples, 2 epochs per round and a refinement cap of 4"
    assert texts["findings"] == "\n".join(f"* {line}" for line in findings) and len(findings) == len(verdicts)
    assert texts["sweep_time"] == "0 s" and texts["grid_dir"] == "`grids`"
