"""The explorers of hcvae.book.widgets: static frames (nested Stacks driven by jslinked controls), their live
counterparts, and the live route (`make lab`). Results are small fakes of the stored shapes; nothing trains.
The package's modules (shared frames, one per kind of explorer) keep every name importable from the package."""

import json
import math
import shlex
import shutil
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from hcvae.book import widgets  # noqa: E402
from hcvae.book.widgets import frames  # noqa: E402
from hcvae.core.theory import linear_vae_optimum  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def titles(monkeypatch):
    """Frames carry their figure's titles instead of a PNG, so a test can read which output a frame holds."""

    def fake_png(fig, dpi=widgets.FRAME_DPI):
        texts = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
        plt.close(fig)
        return " | ".join(t for t in texts if t).encode()

    monkeypatch.setattr(frames, "figure_png", fake_png)  # where every explorer's frames are rendered


def text_of(frame) -> str:
    if isinstance(frame, w.Image):
        return bytes(frame.value).decode()
    assert isinstance(frame, w.HTML)
    return frame.value


def all_indices(box):
    sizes = [len(c.options) for c in box.hcvae_controls]
    return [tuple(ix) for ix in np.ndindex(*sizes)]


def check_structure(box):
    """Every Stack is linked to the control of its level, index to selected_index, and starts where it points."""
    controls = box.hcvae_controls
    assert "hcvae-explorer" in box._dom_classes
    assert all(isinstance(c, (w.Dropdown, w.SelectionSlider)) for c in controls)
    levels = [[box.hcvae_stack]]
    for _ in controls[1:]:
        levels.append([child for s in levels[-1] for child in s.children])
    expected = {(id(c), id(s)) for c, stacks in zip(controls, levels) for s in stacks}
    linked = set()
    for link in box.hcvae_links:
        (src, src_attr), (dst, dst_attr) = link.source, link.target
        assert (src_attr, dst_attr) == ("index", "selected_index")
        linked.add((id(src), id(dst)))
    assert linked == expected
    for c, stacks in zip(controls, levels):
        for s in stacks:
            assert isinstance(s, w.Stack) and len(s.children) == len(c.options) and s.selected_index == c.index
    assert box.hcvae_n_frames == math.prod(len(c.options) for c in controls) == len(box.hcvae_frames)
    for ix in all_indices(box):
        frame = widgets.frame_at(box, *ix)
        assert frame is box.hcvae_frames[ix] and "hcvae-frame" in frame._dom_classes
        labels = [c.options[i][0] for c, i in zip(controls, ix)]  # what the controls show at these indices
        assert widgets.frame_class(labels) in frame._dom_classes
    assert len({widgets.frame_class([c.options[i][0] for c, i in zip(controls, ix)]) for ix in all_indices(box)}) \
        == box.hcvae_n_frames


# ---- fake results --------------------------------------------------------------------------------------------
def phase_results(missing=("digits", "linear", 2.0, 1)):
    rng = np.random.default_rng(0)
    spectra = {"synthetic": np.array([4.0, 2.0, 1.0, 0.5, 0.1]), "digits": np.array([3.0, 1.5, 0.2, 0.1, 0.05])}
    out = []
    for ds, spectrum in spectra.items():
        for arch in ("mlp", "linear"):
            for ratio in (0.25, 0.5, 2.0):
                for seed in (0, 1):
                    if (ds, arch, ratio, seed) == missing:
                        continue
                    kl = np.abs(rng.normal(0.3, 0.2, 4)) * (ratio < 1)
                    out.append({"config": {"kind": "vae", "dataset": ds, "architecture": arch, "sigma2_ratio": ratio,
                                           "seed": seed, "latent_dim": 4, "epochs": 60 if arch == "mlp" else 300},
                                "metrics": {"kl": float(kl.sum()), "kl_per_dim": kl.tolist(),
                                            "active_burda": int((kl > 0.01).sum()), "active_paper": int((kl > 0.02).sum())},
                                "data": {"spectrum": spectrum.tolist()}, "sigma2_decoder": ratio * spectrum[0]})
    return out


def hct_record(r0=4, epochs=6):
    history = [{"epoch": e, "stage": "select" if e < 3 else "refine" if e < 5 else "final", "eval_kl": 0.1 / (e + 1),
                "ell": [0.01 * (c + 1) / (e + 1) for c in range(r0)]} for e in range(epochs)]
    rounds = [{"round": 0, "set": list(range(r0)), "scores": [0.1] * r0, "kept": [0, 1]}]
    return {"history": history, "rounds": rounds, "sizes": [r0, 2]}


def hct_results(epsilons=(1e-4,)):
    out = []
    for ds in ("synthetic", "digits"):
        for method in ("hct", "vanilla"):
            for reading in ("min_k", "own_centre"):
                for xhat in ("sample", "mean"):
                    for seed in (0, 1):
                        for eps in epsilons:
                            if (ds, reading, xhat, seed) == ("digits", "own_centre", "mean", 1):
                                continue
                            out.append({"config": {"kind": "hct", "dataset": ds, "method": method, "reading": reading,
                                                   "xhat": xhat, "seed": seed, "epsilon": eps,
                                                   "n_samples": 2000 if ds == "synthetic" else 1797},
                                        "record": hct_record(), "metrics": {"kl": 0.02 * (seed + 1)}})
    return out


def spherical_results():
    grids = {"synthetic": (0.0, 10.0, 100.0), "digits": (0.0, 10.0)}
    return {ds: [{"config": {"lambda_boundary": lam, "seed": seed},
                  "metrics": {"kl": 0.1 + lam / 100 + seed * 0.01, "neg_elbo": 50 + lam / 10 - seed}}
                 for lam in grid for seed in (0, 1, 2)] for ds, grid in grids.items()}


def ablation_results():
    values = {"r0": (4, 8, 16), "epsilon": (1e-5, 1e-4, 1e-3), "keep_ratio": (0.25, 0.5), "beta": (0.5, 1.0, 4.0)}
    out = {}
    for param, grid in values.items():
        out[param] = [{"config": {param: v, "seed": s, "reading": reading, "xhat": "sample"},
                       "metrics": {"kl": 0.005 * (i + 1) * (s + 1)}}
                      for i, v in enumerate(grid) for s in (0, 1)
                      for reading in (("min_k", "own_centre") if param != "beta" else ("min_k",))]
    return out


# ---- the generic machinery ------------------------------------------------------------------------------------
def test_every_public_name_is_importable_from_the_package_and_every_module_is_short():
    """Other chapters' pages call ``widgets.X``: each name the one module used to define is still there."""
    names = ["ABLATION_PARAMS", "FRAME_DPI", "FRAME_WORKERS_ENV", "KL_FLOOR", "LIVE_ENV", "MAX_FRAMES", "SHELL_RADII",
             "SIGMA2_RATIOS", "Control", "ablation_explorer", "feasible_region_explorer", "figure_png", "frame_at",
             "frame_class", "frame_workers", "hct_explorer", "live_explorer", "live_mode", "penalty_explorer",
             "phase_run_explorer", "sigma2_explorer", "static_explorer"]
    assert sorted(widgets.__all__) == sorted(names) and all(hasattr(widgets, n) for n in names)
    for path in Path(widgets.__file__).parent.glob("*.py"):
        assert len(path.read_text().splitlines()) < 600, path.name


def test_static_explorer_nests_one_stack_level_per_control_and_links_each(titles):
    open_before = plt.get_fignums()

    def draw(letter, number):
        if (letter, number) == ("b", 3):
            return "no such pair"
        fig, ax = plt.subplots()
        ax.set_title(f"{letter}{number}")
        return fig

    controls = [widgets.Control("letter", "letter", [("A", "a"), ("B", "b")]),
                widgets.Control("number", "n", [("1", 1), ("2", 2), ("3", 3)], kind="slider", initial=1)]
    box = widgets.static_explorer(controls, draw)
    check_structure(box)
    assert isinstance(box.hcvae_controls[1], w.SelectionSlider) and box.hcvae_controls[1].index == 1
    assert text_of(widgets.frame_at(box, 0, 2)) == "a3"
    assert text_of(widgets.frame_at(box, 1, 0)) == "b1"
    assert "no such pair" in text_of(widgets.frame_at(box, 1, 2))  # a message frame, not a figure
    assert plt.get_fignums() == open_before  # every figure it drew was closed once rendered


def test_static_frames_are_small_pngs():
    spectra = {"a": [4.0, 2.0, 1.0, 0.5], "b": [1.0, 0.9, 0.1]}
    box = widgets.sigma2_explorer(spectra, latent_dim=3, ratios=(0.3, 2.0), live=False)
    check_structure(box)
    pngs = [bytes(f.value) for f in box.hcvae_frames.values()]
    assert all(p.startswith(PNG) for p in pngs)
    assert len(set(pngs)) == len(pngs) == 4  # every frame is its own picture
    assert max(len(p) for p in pngs) < 60_000  # ~20 kB at FRAME_DPI: a chapter's state stays a few MB


def test_frames_drawn_by_worker_processes_are_the_frames_drawn_here(monkeypatch):
    def draw(letter, number):
        if (letter, number) == ("b", 3):
            return "no such pair"
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, number], [0, ord(letter)])
        ax.set_title(f"{letter}{number}")
        return fig

    controls = [widgets.Control("letter", "letter", [("A", "a"), ("B", "b"), ("C", "c")]),
                widgets.Control("number", "n", [(str(i), i) for i in range(1, 5)])]
    here = widgets.static_explorer(controls, draw, workers=1)
    forked = widgets.static_explorer(controls, draw, workers=2)

    def content(box):
        return {k: (type(f).__name__, bytes(f.value) if isinstance(f, w.Image) else f.value)
                for k, f in box.hcvae_frames.items()}

    assert content(here) == content(forked) and len(content(here)) == 12
    assert "no such pair" in text_of(widgets.frame_at(forked, 1, 2))
    monkeypatch.setenv(widgets.FRAME_WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="HCVAE_FRAME_WORKERS must be an integer >= 1"):
        widgets.frame_workers()
    monkeypatch.setenv(widgets.FRAME_WORKERS_ENV, "3")
    assert widgets.frame_workers() == 3


def test_grids_too_large_and_bad_controls_are_refused():
    big = [widgets.Control(f"c{i}", "c", [(str(j), j) for j in range(10)]) for i in range(3)]
    with pytest.raises(ValueError, match="max_frames"):
        widgets.static_explorer(big, lambda **kw: "x")
    with pytest.raises(ValueError, match="no options"):
        widgets.Control("x", "x", [])
    with pytest.raises(ValueError, match="kind"):
        widgets.Control("x", "x", [("a", 1)], kind="knob")
    with pytest.raises(ValueError, match="distinct"):
        widgets.static_explorer([widgets.Control("x", "x", [("a", 1)])] * 2, lambda **kw: "x")


def test_live_mode_follows_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(widgets.LIVE_ENV, raising=False)
    assert widgets.live_mode(None) is False and widgets.live_mode(True) is True
    monkeypatch.setenv(widgets.LIVE_ENV, "1")
    assert widgets.live_mode(None) is True and widgets.live_mode(False) is False
    box = widgets.ablation_explorer(ablation_results())  # live by the environment
    assert isinstance(box, w.interactive)


# ---- chapter 01 ----------------------------------------------------------------------------------------------
def test_sigma2_explorer_static_grid_and_live_free_slider(titles, capsys):
    spectra = {"synthetic": [4.0, 2.0, 1.0, 0.5], "digits": [2.0, 1.0, 0.1]}
    box = widgets.sigma2_explorer(spectra, latent_dim=3, ratios=(0.1, 0.5, 1.5), live=False)
    check_structure(box)
    assert [c.description for c in box.hcvae_controls] == ["data", "σ'²/λmax"]
    assert box.hcvae_controls[1].index == 1  # starts at 0.5
    assert "synthetic, σ'²/λmax = 0.5: 1 of 3 dims active" in text_of(widgets.frame_at(box, 0, 1))
    assert "digits, σ'²/λmax = 1.5: 0 of 3 dims active" in text_of(widgets.frame_at(box, 1, 2))
    live = widgets.sigma2_explorer(spectra, latent_dim=3, live=True)
    assert isinstance(live, w.interactive)
    slider = next(c for c in live.kwargs_widgets if c.description == "σ'²/λmax")
    assert isinstance(slider, w.FloatLogSlider) and slider.min == -1.5 and slider.max == 1  # off-grid values


def test_phase_run_explorer_one_frame_per_run_beside_the_closed_form(titles):
    results = phase_results()
    box = widgets.phase_run_explorer(results, live=False)
    check_structure(box)
    controls = box.hcvae_controls
    assert [c.description for c in controls] == ["data", "model", "σ'²/λmax", "seed"]  # epochs follow the model
    assert [c.label for c in [controls[2]]] == ["0.5"]  # starts at ratio 0.5
    assert [o[0] for o in controls[0].options] == ["digits", "synthetic"]
    for ix in all_indices(box):
        ds, arch = controls[0].options[ix[0]][0], controls[1].options[ix[1]][0]
        ratio, seed = float(controls[2].options[ix[2]][0]), int(controls[3].options[ix[3]][0])
        text = text_of(widgets.frame_at(box, *ix))
        match = [r for r in results if (r["config"]["dataset"], r["config"]["architecture"], r["config"]["sigma2_ratio"],
                                        r["config"]["seed"]) == (ds, arch, ratio, seed)]
        if not match:
            assert (ds, arch, ratio, seed) == ("digits", "linear", 2.0, 1) and text.startswith("<p")
            assert "No stored run" in text
            continue
        r = match[0]
        closed = linear_vae_optimum(r["data"]["spectrum"], r["sigma2_decoder"], 4)
        assert f"{ds}, {arch}, σ'²/λmax = {ratio:g}, seed {seed}" in text
        assert f"KL {r['metrics']['kl']:.3g} nats (closed form {closed['kl']:.3g})" in text
        assert f"active units {r['metrics']['active_burda']} (Var E[z] > 0.01), {r['metrics']['active_paper']}" in text
        assert f"closed form {closed['active_units']}" in text
    assert isinstance(widgets.phase_run_explorer(results, live=True), w.interactive)


def test_phase_run_explorer_draws_each_runs_decoder_views_or_says_why_not(titles):
    results = [dict(r, key=f"k{i}") for i, r in enumerate(phase_results(missing=None))]
    d = 5
    shown = {"x": np.zeros((6, d)), "recon": np.zeros((6, d)), "dims": np.array([2, 0]), "traversal": np.zeros((2, 7, d)),
             "steps": np.linspace(-2.5, 2.5, 7), "image_shape": np.array([0])}
    views = {r["key"]: (shown if i % 2 == 0 else None) for i, r in enumerate(results)}
    box = widgets.phase_run_explorer(results, live=False, views=views)
    controls = box.hcvae_controls
    by_run = {(r["config"]["dataset"], r["config"]["architecture"], r["config"]["sigma2_ratio"], r["config"]["seed"]): r
              for r in results}
    drawn = 0
    for ix in all_indices(box):
        r = by_run[(controls[0].options[ix[0]][0], controls[1].options[ix[1]][0],
                    float(controls[2].options[ix[2]][0]), int(controls[3].options[ix[3]][0]))]
        text = text_of(widgets.frame_at(box, *ix))
        if views[r["key"]] is not None:
            assert "f(μ(x))" in text and "rows: j = 3, 1 (largest KL first)" in text, text
            drawn += 1
        else:
            assert "f(μ(x))" not in text  # the panels say why they are empty, in the figure, without titles
    assert drawn == sum(v is not None for v in views.values())


def test_phase_run_explorer_adds_a_control_for_a_key_that_separates_runs(titles):
    results = phase_results(missing=None)
    extra = [dict(r, config={**r["config"], "lr": 0.1}) for r in results[:2]]
    box = widgets.phase_run_explorer(results + extra, live=False)
    assert [c.description for c in box.hcvae_controls][-1] == "lr"


# ---- chapter 03 ----------------------------------------------------------------------------------------------
def test_feasible_region_explorer_offers_only_valid_radii(titles, capsys):
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(size=(120, 3)) + np.repeat(np.eye(3) * 4, 40, axis=0), "b": rng.normal(size=(90, 4))}
    box = widgets.feasible_region_explorer(data, ks=(2, 3, 4), n_points=80, radii=((0.5, 2.0), (1.0, 1.1)),
                                           marks={"a": 3}, live=False)
    check_structure(box)
    assert [c.description for c in box.hcvae_controls] == ["data", "shell reading", "[r_min, r_max]"]
    assert [o[0] for o in box.hcvae_controls[2].options] == ["[0.5, 2]", "[1, 1.1]"]
    assert box.hcvae_n_frames == 2 * 2 * 2
    text = text_of(widgets.frame_at(box, 0, 1, 1))
    assert "a, clip shell [1, 1.1]" in text and "K = 3: WCSS" in text  # the marked K's numbers
    assert "K = 3" not in text_of(widgets.frame_at(box, 1, 0, 0))  # no mark for b
    for bad in [((2.0, 1.0),), ((1.0, 1.0),), ((-0.5, 1.0),)]:
        with pytest.raises(ValueError, match="r_min < r_max"):
            widgets.feasible_region_explorer(data, ks=(2, 3), radii=bad, live=False)
    live = widgets.feasible_region_explorer(data, ks=(2, 3, 4), n_points=80, live=True)
    assert isinstance(live, w.interactive)
    assert {c.description for c in live.kwargs_widgets} >= {"r_min", "r_max", "K"}
    live.f(dataset="a", reading="minmax", r_min=2.0, r_max=1.0, k=3)  # an invalid pair: a message, no figure
    assert "must be below r_max" in capsys.readouterr().out


# ---- chapter 04 ----------------------------------------------------------------------------------------------
def test_hct_explorer_one_frame_per_hct_run(titles):
    box = widgets.hct_explorer(hct_results(), live=False)
    check_structure(box)
    controls = box.hcvae_controls
    assert [c.description for c in controls] == ["data", "ℓ_C reading", "x̂", "seed"]  # vanilla runs left out
    assert box.hcvae_n_frames == 2 * 2 * 2 * 2
    text = text_of(widgets.frame_at(box, 1, 0, 1, 1))  # synthetic, min_k, x̂ sample, seed 1
    assert "synthetic, min_k reading, x̂ sample, seed 1: final KL 0.04 nats" in text
    assert "retained" in text  # the survival panel of plots.hct_trajectories
    assert "No HCT run stored" in text_of(widgets.frame_at(box, 0, 1, 0, 1))  # digits, own_centre, mean, seed 1


def test_hct_explorer_separates_runs_by_any_other_varying_key(titles):
    results = [r for r in hct_results(epsilons=(1e-4, 1e-5))
               if r["config"]["dataset"] == "synthetic" and r["config"]["reading"] == "min_k"]
    box = widgets.hct_explorer(results, live=False)
    assert [c.description for c in box.hcvae_controls][-1] == "epsilon"
    assert box.hcvae_n_frames == 2 * 2 * 2
    assert "synthetic, min_k reading, x̂ mean, seed 0, epsilon 1e-05" in text_of(widgets.frame_at(box, 0, 0, 0, 0, 0))
    with pytest.raises(ValueError, match="no HCT runs"):
        widgets.hct_explorer([r for r in hct_results() if r["config"]["method"] != "hct"], live=False)


def test_hct_explorer_draws_real_pngs():
    results = [r for r in hct_results() if r["config"]["dataset"] == "synthetic" and r["config"]["seed"] == 0]
    box = widgets.hct_explorer(results[:2], live=False)
    assert all(bytes(f.value).startswith(PNG) for f in box.hcvae_frames.values())


# ---- chapter 05 ----------------------------------------------------------------------------------------------
def test_penalty_explorer_highlights_the_chosen_lambda(titles):
    sweeps = spherical_results()
    box = widgets.penalty_explorer(sweeps, references={"synthetic": {"plain VAE": (60.0, 0.001)}}, live=False)
    check_structure(box)
    assert isinstance(box.hcvae_controls[1], w.SelectionSlider)
    assert [o[0] for o in box.hcvae_controls[1].options] == ["0", "10", "100"]
    text = text_of(widgets.frame_at(box, 0, 1))  # synthetic, lambda 10
    kl = np.array([0.2, 0.21, 0.22])
    assert f"synthetic, λ₁ = 10: KL {kl.mean():.3g}" in text and "(3 seed(s)" in text
    assert "No run on digits at λ₁ = 100" in text_of(widgets.frame_at(box, 1, 2))  # not on digits' grid
    assert isinstance(widgets.penalty_explorer(sweeps, live=True), w.interactive)


# ---- chapter 07 ----------------------------------------------------------------------------------------------
def test_ablation_explorer_one_frame_per_grid_and_reading(titles):
    box = widgets.ablation_explorer(ablation_results(), live=False)
    check_structure(box)
    assert [o[0] for o in box.hcvae_controls[0].options] == ["r0", "epsilon", "keep_ratio", "beta"]
    assert [o[0] for o in box.hcvae_controls[1].options] == ["min_k, x̂ sample", "own_centre, x̂ sample"]
    assert "r0 grid, own_centre, x̂ sample: 6 runs, 2 seed(s)" in text_of(widgets.frame_at(box, 0, 1))
    assert "no run under the reading" in text_of(widgets.frame_at(box, 3, 1))  # beta ran under min_k only
    with pytest.raises(ValueError, match="no ablation"):
        widgets.ablation_explorer({"r0": []}, live=False)


# ---- the live route: `make lab` ------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_command_line_is_well_formed():
    """`make lab` is never started here; its command line is checked: jupyter lab runs from .venv with those
    arguments (--version makes it exit at once), jupytext's server extension is enabled, and the default-viewer
    override it writes is valid JSON."""
    out = subprocess.run(["make", "-n", "-s", "lab"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    lines = out.replace("\\\n", " ").splitlines()  # continuation lines joined
    lab = [line for line in lines if " lab " in line and "jupyter" in line]
    assert len(lab) == 1, lines
    words = shlex.split(lab[0])
    n_env = next(i for i, word in enumerate(words) if "=" not in word)
    assert "HCVAE_LIVE_WIDGETS=1" in words[:n_env]
    assert words[n_env:n_env + 2] == [".venv/bin/jupyter", "lab"]
    assert words[-1] == "notebooks/01-phase-transition.md" and (ROOT / words[-1]).exists()
    proc = subprocess.run(["env", *words, "--version"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip()[0].isdigit(), proc.stdout + proc.stderr
    override = next(line for line in lines if "overrides.json" in line)
    settings = json.loads(shlex.split(override)[1])
    assert settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["markdown"] == "Jupytext Notebook"
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"  # no news requests
    ext = subprocess.run([str(ROOT / ".venv/bin/jupyter"), "server", "extension", "list"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert "jupyterlab_jupytext" in ext.stdout + ext.stderr
