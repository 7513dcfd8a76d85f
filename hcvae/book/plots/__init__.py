"""Every figure of the book, one module per chapter (or group of chapters); each function draws one figure
from stored results and returns it. ``from hcvae.book import plots; plots.hct_methods(...)`` reaches them all."""

from __future__ import annotations

from hcvae.book.plots.phase import ARCH_STYLE, phase_transition, linear_closed_form, spectrum_threshold, kl_during_training, decoder_views  # noqa: F401
from hcvae.book.plots.barrier import diversity_heatmaps, collapsed_candidates, feasible_region_vs_k  # noqa: F401
from hcvae.book.plots.hct import hct_trajectories, hct_methods, consensus_pairs  # noqa: F401
from hcvae.book.plots.spherical import spherical_ablation, spherical_dynamics, kl_vs_penalty_weight  # noqa: F401
from hcvae.book.plots.baselines import ablation_curves, baseline_table_kl, kl_against_ratio_methods, kl_elbo_tradeoff  # noqa: F401
from hcvae.book.plots.diffusion import noise_variance_critical, x0_gain_curves, consensus_rounds, schedule_transfer, sample_diversity, diffusion_samples  # noqa: F401
from hcvae.book.plots.scoreboard import scoreboard  # noqa: F401
