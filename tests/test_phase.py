import pytest

from hcvae.book import tables
from hcvae.chapters import phase


@pytest.mark.parametrize("kl, lower, upper, verdict", [
    ([2.0, 0.5, 0.001, 0.0, 0.0], 0.5, 1.0, "consistent"),
    ([2.0, 0.001, 0.001, 0.001, 0.0], 0.25, 0.5, "early"),
    ([2.0, 0.5, 0.1, 0.001, 0.0], 1.0, 2.0, "late"),  # theory: no KL left at ratio 1 itself
    ([0.001, 0.0, 0.0, 0.0, 0.0], None, 0.25, "early"),
    ([2.0, 0.5, 0.1, 0.05, 0.02], 5.0, None, "never"),
    ([0.001, 2.0, 0.001, 0.0, 0.0], 0.5, 1.0, "consistent"),  # a collapsed run below a surviving one does not count
])
def test_measured_threshold(kl, lower, upper, verdict):
    th = phase.measured_threshold([0.25, 0.5, 1.0, 2.0, 5.0], kl, kl_bound=0.01)
    assert (th["lower"], th["upper"], th["verdict"]) == (lower, upper, verdict)
    assert th["consistent_with_theory"] == (verdict == "consistent")


def test_markdown_table():
    text = tables.markdown_table(["a", "b"], [(1.23456, None), ("x", 2)])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.23 | — |", "| x | 2 |"]


def test_longer_training_configs_only_for_early_collapse():
    thresholds = {
        ("digits", "mlp"): {"verdict": "early", "upper": 0.9},
        ("digits", "linear"): {"verdict": "consistent", "upper": 1.0},
    }
    configs = phase.longer_training_configs("quick", thresholds, 4, seeds=[0, 1])
    assert [(c.dataset, c.architecture, c.sigma2_ratio, c.seed) for c in configs] == [
        ("digits", "mlp", 0.9, 0), ("digits", "mlp", 0.9, 1)]
    from hcvae.runs.experiments import VAEConfig
    assert configs[0].epochs == 4 * VAEConfig.from_profile("quick", "digits", "mlp").epochs
    with pytest.raises(ValueError, match="epochs_factor"):
        phase.longer_training_configs("quick", thresholds, 1, seeds=[0])
