"""The ``quick`` and ``paper`` profiles: which configs each chapter runs.

A profile only chooses configs; every setting that changes a result is part of
the config itself, which the result store hashes. So this table is kept out of
the store's code hash: editing one chapter's profile never invalidates another
chapter's stored runs.
"""

from __future__ import annotations

import os

from hcvae.core import user_data
from hcvae.core.validation import check_choice

PROFILES = ("quick", "paper")
USER = "user"  # the settings a user's own data set (user-<hash>, hcvae.core.user_data) trains with


class _ByDataset(dict):
    """Settings per data set (or per (data set, architecture)); a user's data set takes the ``"user"`` entry."""

    def __missing__(self, key):
        if user_data.is_name(key):
            return self[USER]
        if isinstance(key, tuple) and key and user_data.is_name(key[0]):
            return self[(USER, *key[1:])]
        raise KeyError(key)
# the papers' image data sets and the readings of their sizes (hcvae.core.image_data): each is trained with the
# synthetic data's settings (v1 Appendix B gives one optimiser, batch 512 and HCT's schedule for all of them)
IMAGE_SETS = ("mnist", "fashion_mnist", "fashion_mnist_train", "cifar10", "cifar10_train")

# Per profile: seeds, the sigma'^2 / lambda_max grid, and training settings per
# (data set, architecture). The MLP uses v1 Appendix B's optimiser (Adam, lr 3e-3;
# batch 512 on the synthetic data). The linear VAE is the theory check, not a
# method of the paper: it gets the larger learning rate and longer training it
# needs to reach its closed-form optimum (see the phase-transition section).
_PROFILE_SETTINGS = {
    "quick": {
        "seeds": (0,),
        "ratios": (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0),
        # chapter 01's section on the papers' image sets (none here: `make test` has no image data), on the first
        # n_seeds of the sweep's seeds
        "phase_images": dict(datasets=(), n_seeds=1),
        # chapters 02's and 03's sections on the papers' image sets (none here)
        "barrier_images": (),
        "region_images": (),
        # the sweep's ratios x seeds of one (data set, architecture) train as one stack (hcvae.core.stacked)
        ("synthetic", "mlp"): dict(n_samples=5_000, epochs=20, batch_size=128, lr=3e-3, trainer="stacked"),
        ("synthetic", "linear"): dict(n_samples=5_000, epochs=60, batch_size=128, lr=1e-2, trainer="stacked"),
        ("digits", "mlp"): dict(n_samples=None, epochs=60, batch_size=128, lr=3e-3, trainer="stacked"),
        ("digits", "linear"): dict(n_samples=None, epochs=300, batch_size=128, lr=3e-2, trainer="stacked"),
        **{(name, arch): dict(n_samples=5_000, epochs=20 if arch == "mlp" else 60, batch_size=128,
                              lr=3e-3 if arch == "mlp" else 1e-2, trainer="stacked")
           for name in IMAGE_SETS for arch in ("mlp", "linear")},
        **{(USER, arch): dict(n_samples=None, epochs=20 if arch == "mlp" else 60, batch_size=128,
                              lr=3e-3 if arch == "mlp" else 1e-2, trainer="stacked") for arch in ("mlp", "linear")},
        # theorem-bound chapters: R0 EM clusterings (v1 §5.5.1 uses 16) on how many samples
        "clusterings": dict(r0=8, n_samples={"synthetic": 5_000, "digits": None, USER: None,
                                              **{name: 5_000 for name in IMAGE_SETS}}),
        # Historical Consensus Training (v1 Algorithm 1) and its controls, per data set
        "hct": {
            "synthetic": dict(n_samples=5_000, r0=8, epochs_per_round=5, max_refine_epochs=10, final_epochs=5, batch_size=128),
            "digits": dict(n_samples=None, r0=8, epochs_per_round=10, max_refine_epochs=20, final_epochs=10, batch_size=128),
            **{name: dict(n_samples=5_000, r0=8, epochs_per_round=5, max_refine_epochs=10, final_epochs=5,
                          batch_size=128) for name in IMAGE_SETS},
            USER: dict(n_samples=None, r0=8, epochs_per_round=5, max_refine_epochs=10, final_epochs=5, batch_size=128),
            # chapter 04's section on the papers' image sets (none here: `make test` has no image data): Algorithm 1
            # and its controls on these seeds, under these x̂
            "image_datasets": (),
            "image_seeds": (0,),
            "image_xhats": ("sample",),
        },
        # chapter 04's sensitivity check: v1 Appendix B's MLP (1024, 512, 256; 48 latents) at a reduced scale
        "hct_appendix_b": dict(n_samples=2_000, r0=4, epochs_per_round=3, max_refine_epochs=4, final_epochs=3,
                               batch_size=128, latent_dim=48, hidden=(1024, 512, 256), seeds=(0,)),
        # the baselines of v1 Table 1 (§5.1.2): training settings per data set, the EM-type inner loop, beta grid, seeds
        "baselines": {
            "synthetic": dict(n_samples=5_000, epochs=10, batch_size=128, lr=3e-3, warmup_epochs=5),
            "digits": dict(n_samples=None, epochs=20, batch_size=128, lr=3e-3, warmup_epochs=10),
            **{name: dict(n_samples=5_000, epochs=10, batch_size=128, lr=3e-3, warmup_epochs=5) for name in IMAGE_SETS},
            USER: dict(n_samples=None, epochs=10, batch_size=128, lr=3e-3, warmup_epochs=5),
            "em_type": dict(encoder_steps_max=10, encoder_check_every=5, em_epochs=3),
            "betas": (1, 2, 4, 8),
            "seeds": (0,),
            # chapter 06: the sigma'^2 / lambda_max of its tables (the main one first) and of its KL-against-ratio
            # sweep; seeds away from the main ratio and of the conv table, per kind of run (at the main ratio:
            # "seeds" above for the baselines, chapter 04's seeds for HCT, chapter 05's for the Spherical VAE)
            "table_ratios": (2.0, 5.0),
            "sweep_ratios": (0.5, 2.0, 5.0),
            "other_seeds": dict(baseline=(0,), hct=(0,), spherical=(0,)),
            "conv_seeds": dict(baseline=(0,), hct=(0,)),
            # chapter 06's image columns (none here: `make test` has no image data) and their ratios
            "image_datasets": (),
            "image_table_ratios": (2.0,),
            "image_readings": ("min_k",),
            "image_xhats": ("sample",),
            "image_seeds": None,  # the image columns' seeds: None for the tables' own, n for their first n
            "image_reading_seeds": None,  # an ℓ_C other than min_k there: None for the column's seeds, n for their first n
            "image_xhat_seeds": None,  # an x̂ other than the sample there (both methods): likewise
            # the image tables away from the main ratio: their first n_seeds seeds (None: all), HCT's readings, x̂
            "image_other_tables": dict(n_seeds=None, readings=("min_k",), xhats=("sample",)),
        },
        # the Spherical VAE (v4 §3.3, §4.1): training settings per data set, seeds, the lambda_1 grid of its sweep
        "spherical": {
            "synthetic": dict(n_samples=5_000, epochs=20, batch_size=128, lr=3e-3),
            "digits": dict(n_samples=None, epochs=40, batch_size=128, lr=3e-3),
            **{name: dict(n_samples=5_000, epochs=20, batch_size=128, lr=3e-3) for name in IMAGE_SETS},
            USER: dict(n_samples=None, epochs=20, batch_size=128, lr=3e-3),
            "seeds": (0,),
            "lambda_boundary_grid": (0.0, 10.0, 100.0, 1000.0),
            # chapter 05's section on the papers' image sets (none here: `make test` has no image data) and its seeds
            "image_datasets": (),
            "image_seeds": (0,),
        },
    },
    "paper": {
        "seeds": (0, 1, 2),
        "ratios": (0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 5.0),
        # chapter 01 on the papers' image sets: both models over the whole grid, on the first seed (66 runs; on one
        # core the linear VAE took under 2 minutes, the MLP 3.5 to 7.5)
        "phase_images": dict(datasets=("mnist", "fashion_mnist", "cifar10"), n_seeds=1),
        # chapter 02 on the papers' image sets: the R0 EM fits at K = 10 that HCT starts from (default EM start only:
        # each set's 16 fits took 10 to 70 minutes on one core); chapter 03: every transform and K of the curves
        "barrier_images": ("mnist", "fashion_mnist", "cifar10"),
        "region_images": ("mnist", "fashion_mnist", "cifar10"),
        ("synthetic", "mlp"): dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3),
        ("synthetic", "linear"): dict(n_samples=None, epochs=60, batch_size=512, lr=1e-2),
        ("digits", "mlp"): dict(n_samples=None, epochs=400, batch_size=128, lr=3e-3),
        ("digits", "linear"): dict(n_samples=None, epochs=600, batch_size=128, lr=1e-2),
        **{(name, arch): dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3 if arch == "mlp" else 1e-2)
           for name in (*IMAGE_SETS, USER) for arch in ("mlp", "linear")},
        "clusterings": dict(r0=16, n_samples={"synthetic": None, "digits": None, USER: None,
                                               **{name: None for name in IMAGE_SETS}}),
        # v1 Appendix B: E = 30, epsilon 1e-4, beta 1 -> 4 annealed, batch 512 (digits: 128, it has 1,797 rows);
        # R0 = 16 (§5.5.1; Appendix B's 24 cannot halve to 2). Refinement capped at 100 epochs.
        "hct": {
            "synthetic": dict(n_samples=None, r0=16, epochs_per_round=30, max_refine_epochs=100, final_epochs=30, batch_size=512),
            "digits": dict(n_samples=None, r0=16, epochs_per_round=30, max_refine_epochs=100, final_epochs=30, batch_size=128),
            **{name: dict(n_samples=None, r0=16, epochs_per_round=30, max_refine_epochs=100, final_epochs=30,
                          batch_size=512) for name in (*IMAGE_SETS, USER)},
            # chapter 04 on the image sets at K = 10: HCT and its controls on the first seed, under both x̂ (HCT's
            # runs are chapter 06's; each control trains HCT's whole epoch budget, 10 to 20 minutes on one core)
            "image_datasets": ("mnist", "fashion_mnist", "cifar10"),
            "image_seeds": (0,),
            "image_xhats": ("sample", "mean"),
        },
        # v1 Appendix B's MLP at chapter 07's ablation scale (10,000 synthetic samples, its shortened schedule)
        "hct_appendix_b": dict(n_samples=10_000, r0=16, epochs_per_round=10, max_refine_epochs=30, final_epochs=10,
                               batch_size=128, latent_dim=48, hidden=(1024, 512, 256), seeds=(0, 1)),
        # the baselines at v1 Appendix B's optimiser (batch 512, lr 3e-3; digits batch 128), linear KL warm-up over
        # the first third (synthetic) / quarter (digits), He et al. (2019)'s inner loop for EM-type; v1 averages 5 runs
        "baselines": {
            "synthetic": dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3, warmup_epochs=20),
            "digits": dict(n_samples=None, epochs=400, batch_size=128, lr=3e-3, warmup_epochs=100),
            **{name: dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3, warmup_epochs=20)
               for name in (*IMAGE_SETS, USER)},
            # EM-type alternates for the first 5 epochs only (He et al. stop aggressive training early): each
            # alternating epoch costs about 40 plain ones, so the whole run would not fit the chapter's budget
            "em_type": dict(encoder_steps_max=100, encoder_check_every=15, em_epochs=5),
            "betas": (1, 2, 4, 8),
            "seeds": (0, 1, 2, 3, 4),
            "table_ratios": (2.0, 5.0),
            "sweep_ratios": (0.5, 1.0, 2.0, 5.0),
            "other_seeds": dict(baseline=(0, 1, 2), hct=(0,), spherical=(0, 1, 2)),
            "conv_seeds": dict(baseline=(0, 1, 2), hct=(0,)),
            # v1 Table 1's image columns at the table's own ratio, 2 lambda_max (with v1 Table 2 on CIFAR-10's conv
            # VAE), and v4 Table 1's at 5 lambda_max: the data sets whose runs the shipped reference holds
            "image_datasets": ("mnist", "fashion_mnist", "cifar10"),
            "image_table_ratios": (2.0, 5.0),
            "image_readings": ("min_k", "own_centre"),  # ℓ_C through min_k (v1 eq. 8) and the own centre (v4 eq. 7)
            "image_xhats": ("sample", "mean"),  # x̂ sampled from the decoder (v1) and its mean
            "image_seeds": 5,  # the image columns' seeds: None for the tables' own, n for their first n
            "image_reading_seeds": None,  # an ℓ_C other than min_k there: None for the column's seeds, n for their first n
            "image_xhat_seeds": None,  # an x̂ other than the sample there (both methods): likewise
            # at 5 lambda_max (v4 Table 1's second block): the first seed of each kind, both readings of ℓ_C and
            # both x̂; the main ratio's five seeds would quintuple its cost
            "image_other_tables": dict(n_seeds=1, readings=("min_k", "own_centre"), xhats=("sample", "mean")),
        },
        # the Spherical VAE at the paper's scale: 50,000 x 32 synthetic samples, batch 512 (v1 Appendix B's optimiser)
        "spherical": {
            "synthetic": dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3),
            "digits": dict(n_samples=None, epochs=400, batch_size=128, lr=3e-3),
            **{name: dict(n_samples=None, epochs=60, batch_size=512, lr=3e-3) for name in (*IMAGE_SETS, USER)},
            "seeds": (0, 1, 2),
            "lambda_boundary_grid": (0.0, 10.0, 100.0, 1000.0),
            # chapter 05 on the image sets, each at the K that opens its region (chapter 06's), on the first seed:
            # the whole chapter is 16 runs per set and seed beyond chapter 06's, 1 to 3 minutes each on one core
            "image_datasets": ("mnist", "fashion_mnist", "cifar10"),
            "image_seeds": (0,),
        },
    },
}


# The diffusion chapter (v1 §7), per profile: how much data, how big a denoiser, how long each model trains, which
# models (names of hcvae.runs.diffusion.MODEL_SPECS), how many samples each sampling run draws, how many unseen
# random schedules join the four published ones at sampling time, and the grid of the x_0-gain probe. ``quick``
# must run the whole chapter in well under a minute on one core.
_DIFFUSION_QUICK_MODELS = ("DDPM, timestep", "DDPM, noise level", "DDPM, t + noise level", "DDPM, all R schedules",
                           "Algorithm 2")
_PROFILE_SETTINGS["quick"]["diffusion"] = dict(
    n_samples={"synthetic": 3000, "digits": None}, T=1000, hidden=64, depth=2, batch_size=128, lr=3e-3, R=4,
    epochs_per_round=20, models=_DIFFUSION_QUICK_MODELS, n_generated=300, unseen_schedules=0, gain_points=200,
    gain_grid=25)
_PROFILE_SETTINGS["paper"]["diffusion"] = dict(
    n_samples={"synthetic": 6000, "digits": None}, T=1000, hidden=128, depth=2, batch_size=256, lr=2e-3, R=8,
    epochs_per_round=30, models=(*_DIFFUSION_QUICK_MODELS, "Algorithm 2, timestep only"), n_generated=600,
    unseen_schedules=2, gain_points=500, gain_grid=60)


def _by_dataset(settings: dict) -> dict:
    """The profile's settings, with every per-data-set table resolving a user's data set to its ``"user"`` entry."""
    out = _ByDataset(settings)
    for name in ("hct", "baselines", "spherical"):
        out[name] = _ByDataset(settings[name])
    out["clusterings"] = {**settings["clusterings"], "n_samples": _ByDataset(settings["clusterings"]["n_samples"])}
    return out


_PROFILE_SETTINGS = {name: _by_dataset(settings) for name, settings in _PROFILE_SETTINGS.items()}


def resolve_profile(profile: str) -> str:
    """The profile to run: ``$HCVAE_PROFILE`` when set (``make book`` sets it to ``paper``), else ``profile``."""
    chosen = os.environ.get("HCVAE_PROFILE") or profile
    check_choice("profile", chosen, PROFILES)
    return chosen


def profile_settings(profile: str) -> dict:
    """Seeds, the ratio grid and per-(data set, architecture) training settings of a profile."""
    check_choice("profile", profile, PROFILES)
    return _PROFILE_SETTINGS[profile]
