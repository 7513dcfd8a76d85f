"""The diffusion chapter's experiment as stored runs: which models it trains and how, the studies it makes of
them, and :class:`DiffusionChapterConfig`, one data set's run (v1 §7). The methods are :mod:`hcvae.methods.ddpm`
and :mod:`hcvae.methods.sample_metrics`."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import numpy as np

from hcvae.core.train import one_thread
from hcvae.core.validation import Boolean, Integer, Real, check_choice
from hcvae.runs.config import StoredConfig, common
from hcvae.methods.ddpm import DDPM, HistoricalConsensusDiffusion, consensus_epochs, generate_schedules, resolve_schedule, round_sizes, scale_data
from hcvae.methods.sample_metrics import fit_label_classifier, sample_report, sliced_energy_distance
from hcvae.runs.profiles import profile_settings
from hcvae.core.data import check_data, covariance_spectrum, load_dataset
from hcvae.core.theory import NoiseSchedule, SCHEDULES, critical_timestep, gaussian_eps_mmse, noise_schedule, wiener_gain

# ---------------------------------------------------------------------------
# The chapter's experiment: which models, trained how, measured how
# ---------------------------------------------------------------------------

# The models the chapter compares, each trained for as many passes as Algorithm 2 makes in total
# (compute-matched). Single-schedule DDPMs train on ``train_schedule``; "t + noise level" is
# Algorithm 2's own denoiser on one schedule (isolating the consensus from the conditioning), and
# "all R schedules" the same denoiser on Algorithm 2's R schedules at once, without selection
# (isolating the selection from training on several schedules).
MODEL_SPECS = {
    "DDPM, timestep": dict(kind="single", conditioning="timestep"),
    "DDPM, noise level": dict(kind="single", conditioning="noise_level"),
    "DDPM, t + noise level": dict(kind="single", conditioning="timestep_and_noise_level"),
    "DDPM, all R schedules": dict(kind="multi", conditioning="timestep_and_noise_level"),
    "Algorithm 2": dict(kind="consensus", conditioning="timestep_and_noise_level"),
    "Algorithm 2, timestep only": dict(kind="consensus", conditioning="timestep"),
}


def split_rows(n: int, fractions=(0.2, 0.2), seed: int = 0) -> tuple:
    """Seeded disjoint (test, validation, train) row indices; ``fractions`` are the test and validation shares."""
    test_f, val_f = fractions
    if not (0 < test_f and 0 < val_f and test_f + val_f < 1):
        raise ValueError(f"fractions (test, validation) must be > 0 and sum to less than 1; got {fractions!r}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(test_f * n)), int(round(val_f * n))
    return np.sort(perm[:n_test]), np.sort(perm[n_test:n_test + n_val]), np.sort(perm[n_test + n_val:])


def fit_models(x_train, x_val, names, settings: dict, train_schedule: str = "linear", seed: int = 0,
               progress: bool | None = None) -> dict:
    """Fit each model of :data:`MODEL_SPECS` named in ``names`` with a profile's ``settings``."""
    for name in names:
        check_choice("model", name, tuple(MODEL_SPECS))
    common = dict(T=settings["T"], hidden=settings["hidden"], depth=settings["depth"],
                  batch_size=settings["batch_size"], lr=settings["lr"], seed=seed)
    epochs = consensus_epochs(settings["R"], settings["epochs_per_round"])
    models = {}
    for name in names:
        spec = MODEL_SPECS[name]
        if spec["kind"] in ("single", "multi"):
            schedules = (train_schedule if spec["kind"] == "single"
                         else generate_schedules(settings["R"], settings["T"], "families", seed))
            model = DDPM(schedules, conditioning=spec["conditioning"], epochs=epochs, **common)
            models[name] = model.fit(x_train, progress=progress)
        else:
            model = HistoricalConsensusDiffusion(R=settings["R"], conditioning=spec["conditioning"],
                                                 epochs_per_round=settings["epochs_per_round"], **common)
            models[name] = model.fit(x_train, x_val, progress=progress)
    return models


def critical_timestep_rows(data: dict, scalings, schedules) -> list[dict]:
    """t_c of every (data set, scaling, schedule) under both readings; ``data`` maps a name to its rows."""
    rows = []
    for ds, x in data.items():
        for scaling in scalings:
            lam = _lambda_max64(scale_data(x, scaling, np.float64))
            row = {"data": ds, "scaling": scaling, "lambda_max": lam, "eq13": {}, "snr": {}}
            for s in schedules:
                for reading in ("eq13", "snr"):
                    row[reading][s.name] = critical_timestep_of(s, lam, reading)
            rows.append(row)
    return rows


def _lambda_max64(x: np.ndarray) -> float:
    centred = x - x.mean(axis=0)
    return float(np.linalg.eigvalsh(centred.T @ centred / x.shape[0])[-1])


def critical_timestep_of(schedule: NoiseSchedule, lambda_max: float, reading: str = "eq13") -> int | None:
    """:func:`hcvae.core.theory.critical_timestep` of a schedule."""

    return critical_timestep(schedule.alpha_bar, lambda_max, reading)


def gain_study(model, x_train, x_eval, schedule, n_grid: int, seed: int = 0) -> dict:
    """The x_0 gain of a fitted model along the top eigenvector of ``x_train``, on a grid of timesteps
    that includes both critical timesteps, with the Gaussian (Wiener) references and t_c."""

    spectrum = covariance_spectrum(x_train)
    _, vecs = np.linalg.eigh(np.cov(check_data(x_train).T.astype(np.float64), bias=True))
    t_c = {r: critical_timestep_of(schedule, float(spectrum[0]), r) for r in ("eq13", "snr")}
    grid = set(np.linspace(1, schedule.T, n_grid).round().astype(int).tolist())
    grid |= {t for t in t_c.values() if t is not None}
    curve = model.x0_gain(x_eval, sorted(grid), vecs[:, -1], schedule=schedule, seed=seed)
    wiener = wiener_gain(spectrum, schedule.alpha_bar)
    return {"curve": curve, "t_c": t_c, "lambda_max": float(spectrum[0]), "schedule": schedule.name,
            "wiener_top": wiener[:, 0], "wiener_mean": wiener.mean(axis=1)}


def transfer_study(models: dict, schedules, n: int, reference, classifier, seed: int = 0, clip=None,
                   progress: bool | None = None) -> dict:
    """Sample every model with every schedule; ``{model: {schedule name: sample_report}}`` plus the samples."""
    reports, samples = {}, {}
    schedules = [resolve_schedule(s) for s in schedules]
    for name, model in models.items():
        batch = model.sample(n, schedules, seed=seed, clip=clip, progress=progress)
        samples[name] = {s.name: x for s, x in zip(schedules, batch)}
        reports[name] = {s.name: sample_report(x, reference, classifier, seed=seed) for s, x in zip(schedules, batch)}
    return {"reports": reports, "samples": samples}


def own_schedule(model) -> str:
    """The schedule a model is sampled with by default: its training schedule, or Algorithm 2's best survivor."""
    return model.default_schedule_.name


# ---------------------------------------------------------------------------
# One data set of the chapter as a stored run
# ---------------------------------------------------------------------------

_LIST_SEPARATOR = "; "  # model names hold commas; the store compares a config with its JSON, so no tuples
REQUIRED_MODELS = ("DDPM, timestep", "DDPM, t + noise level", "Algorithm 2")  # the gain study and predictions 3-4


@dataclass(frozen=True)
class DiffusionChapterConfig(StoredConfig):
    """One data set of the diffusion chapter (v1 §7): split, fit the models, record Algorithm 2's selection,
    the x_0-gain study and the sampling (transfer) study; what :func:`hcvae.runs.runner.run` stores.

    ``models`` and ``schedules`` (the sampling family) are lists, kept as ``"; "``-joined text so that the
    config equals its stored JSON (:attr:`model_names` and :attr:`schedule_names` give them back); a list
    or tuple is accepted. The stored weights file holds every denoiser's state dict (``"denoisers"``); the
    samples each model draws with its own schedule are stored as arrays beside the result (one per model), so
    the chapter renders from the result and its arrays alone. Runs on one thread (torch and BLAS),
    restored afterwards: small matrices gain nothing from more, and the result does not depend on the core count.
    """

    KIND = "diffusion"  # its small denoisers run on the CPU whatever device is chosen (hcvae.core.device)
    VERSION = 1
    PARAMETER_CONSTRAINTS = {
        **common("dataset"), "n_samples": Integer(10, none="all"),
        **{name: Integer(1) for name in ("hidden", "depth", "batch_size", "epochs_per_round", "n_generated",
                                         "gain_points", "gain_grid")},
        "T": Integer(2), "unseen_schedules": Integer(0), **common("seed"), "lr": Real(0.0), "clip_x0": Boolean()}

    dataset: str = "synthetic"
    n_samples: int | None = 3000
    T: int = 1000
    hidden: int = 64
    depth: int = 2
    batch_size: int = 128
    lr: float = 3e-3
    R: int = 4
    epochs_per_round: int = 20
    models: str = _LIST_SEPARATOR.join(profile_settings("quick")["diffusion"]["models"])
    n_generated: int = 300
    unseen_schedules: int = 0
    gain_points: int = 200
    gain_grid: int = 25
    schedules: str = _LIST_SEPARATOR.join(SCHEDULES)
    train_schedule: str = "linear"
    clip_x0: bool = False
    seed: int = 0

    def __post_init__(self):
        for name in ("models", "schedules"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, _LIST_SEPARATOR.join(value))
            elif not isinstance(value, str):
                raise ValueError(f"{name} must be a list of names; got {value!r}")
        self.validate()
        round_sizes(self.R)
        for name in self.model_names:
            check_choice("model", name, tuple(MODEL_SPECS))
        missing = [m for m in REQUIRED_MODELS if m not in self.model_names]
        if missing:
            raise ValueError(f"models must include {', '.join(REQUIRED_MODELS)} (the chapter compares them); "
                             f"missing {', '.join(missing)}")
        if not self.schedule_names:
            raise ValueError("schedules must name at least one schedule")
        for name in (*self.schedule_names, self.train_schedule):
            check_choice("schedule", name, SCHEDULES)

    @property
    def model_names(self) -> tuple:
        return tuple(self.models.split(_LIST_SEPARATOR)) if self.models else ()

    @property
    def schedule_names(self) -> tuple:
        return tuple(self.schedules.split(_LIST_SEPARATOR)) if self.schedules else ()

    @property
    def settings(self) -> dict:
        """The profile-style settings :func:`fit_models` reads."""
        return dict(T=self.T, hidden=self.hidden, depth=self.depth, batch_size=self.batch_size, lr=self.lr, R=self.R,
                    epochs_per_round=self.epochs_per_round)

    @classmethod
    def from_profile(cls, profile: str, dataset: str, **overrides) -> "DiffusionChapterConfig":
        """``dataset``'s run with ``profile``'s settings (``profile_settings(profile)["diffusion"]``), then
        ``overrides``."""
        chosen = profile_settings(profile)["diffusion"]
        settings = {k: v for k, v in chosen.items() if k != "n_samples"}
        settings["n_samples"] = chosen["n_samples"].get(dataset)
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(f.name for f in fields(cls))}")
        return cls(dataset=dataset, **{**settings, **overrides})

    def compute(self, store=None, progress: bool | None = None) -> tuple[dict, dict, dict]:
        start = time.perf_counter()
        with one_thread():
            result, state, arrays = _chapter_run(self, progress)
        result["wall_time_s"] = time.perf_counter() - start
        return result, state, arrays


def _chapter_run(config: DiffusionChapterConfig, progress) -> tuple[dict, dict, dict]:

    data = load_dataset(config.dataset, config.n_samples, seed=0)  # the same subset for every seed
    test, val, train = split_rows(data.n, seed=config.seed)
    x, seed, T = data.x, config.seed, config.T
    classifier = fit_label_classifier(x[train], data.labels[train], seed)
    models = fit_models(x[train], x[val], config.model_names, config.settings, config.train_schedule, seed, progress)

    # every model's schedules; for Algorithm 2 its rounds, beside the eps-MMSE of an ideal denoiser on Gaussian
    # data with the training rows' spectrum (how hard each schedule is whatever the model)
    spectrum = np.clip(np.linalg.eigvalsh(np.cov(x[train].T, bias=True)), 0, None)
    info = {}
    for name, m in models.items():
        info[name] = {"own_schedule": own_schedule(m), "schedules": [s.name for s in m.schedules_],
                      "history": m.history_}
        if isinstance(m, HistoricalConsensusDiffusion):
            names = [s.name for s in m.schedules_]
            info[name].update(rounds=m.rounds_, survivors=m.survivors_,
                              final_val_loss={names[k]: v for k, v in m.final_val_loss_.items()},
                              gaussian_eps_mmse={s.name: float(gaussian_eps_mmse(spectrum, s.alpha_bar).mean())
                                                 for s in m.schedules_})

    gain = gain_study(models["DDPM, timestep"], x[train], x[test][: config.gain_points],
                      noise_schedule(config.train_schedule, T), config.gain_grid, seed)

    # sampling: the published family, unseen random schedules, and every model's own schedule
    family = [noise_schedule(name, T) for name in config.schedule_names]
    unseen = generate_schedules(config.unseen_schedules, T, "random", seed + 100) if config.unseen_schedules else []
    sampled = family + unseen
    for m in models.values():
        if m.default_schedule_.name not in {s.name for s in sampled}:
            sampled.append(m.default_schedule_)
    n = min(config.n_generated, len(train))
    reference = x[test]
    clip = (float(x[train].min()), float(x[train].max())) if config.clip_x0 else None
    transfer = transfer_study(models, sampled, n, reference, classifier, seed, clip, progress)
    real_rows = x[np.random.default_rng(seed).choice(train, n, replace=False)]

    result = {
        "dataset": config.dataset, "n": data.n, "n_train": len(train), "n_val": len(val), "n_test": len(test),
        "n_generated": n, "models": info, "gain": gain,
        "sampled": [s.name for s in sampled], "unseen": [s.name for s in unseen],
        "reports": transfer["reports"],
        "floor": sliced_energy_distance(real_rows, reference, seed=seed),
        "real": sample_report(real_rows, reference, classifier, seed=seed),
    }
    state = {"denoisers": {name: m.model_.state_dict() for name, m in models.items()}}
    arrays = {name: np.asarray(transfer["samples"][name][own_schedule(m)]) for name, m in models.items()}
    return result, state, arrays
