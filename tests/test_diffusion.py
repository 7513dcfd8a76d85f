"""Noise schedules, the critical timestep (v1 eq. 13), the DDPM and v1 Algorithm 2."""

import math

import numpy as np
import pytest
import torch

from hcvae.chapters import diffusion_rules
from hcvae.core import theory
from hcvae.core.train import TrainingDiverged
from hcvae.methods import ddpm, sample_metrics


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small matrices: one thread is faster, and a busy machine does not slow the module down; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- schedules --------------------------------------------------------------

def test_linear_schedule_known_values():
    s = theory.noise_schedule("linear", T=1000)
    assert s.T == 1000 and s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert s.betas[1] == pytest.approx(1e-4 + (0.02 - 1e-4) / 999)
    assert s.alpha_bar[1] == pytest.approx((1 - 1e-4) * (1 - s.betas[1]))
    # sum of betas = 1000 * (1e-4 + 0.02) / 2 = 10.05; abar_T = prod(1 - beta) is a little below exp(-10.05)
    assert math.exp(-10.05 - 0.5 * np.sum(s.betas**2) * 1.1) < s.alpha_bar[-1] < math.exp(-10.05)


def test_cosine_schedule_follows_its_formula_until_the_clip():
    s = theory.noise_schedule("cosine", T=1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert s.alpha_bar[499] == pytest.approx(f(500) / f(0), rel=1e-9)
    assert s.betas[-1] == pytest.approx(0.999)  # clipped: the formula gives 1 at t = T


@pytest.mark.parametrize("name", theory.SCHEDULES)
def test_every_schedule_is_monotone_and_ends_in_noise(name):
    s = theory.noise_schedule(name, T=1000)
    assert np.all((s.betas > 0) & (s.betas < 1))
    assert np.all(np.diff(s.betas) >= -1e-15)
    assert np.all(np.diff(s.alpha_bar) < 0)
    assert s.alpha_bar[0] > 0.999 and s.alpha_bar[-1] < 1e-3


def test_schedules_differ():
    curves = [theory.noise_schedule(n).alpha_bar for n in theory.SCHEDULES]
    for i in range(len(curves)):
        for j in range(i):
            assert np.max(np.abs(curves[i] - curves[j])) > 0.05


@pytest.mark.parametrize("call, message", [
    (lambda: theory.noise_schedule("linear", T=1), "T"),
    (lambda: theory.noise_schedule("linear", T=2.5), "T"),
    (lambda: theory.noise_schedule("exponential"), "schedule 'exponential'; allowed values: linear, cosine, quadratic, sigmoid"),
    (lambda: theory.noise_schedule("linear", beta_start=0.0), "beta_start"),
    (lambda: theory.schedule_from_betas([0.1, 0.05, 0.2]), r"monotone.*beta_2"),
    (lambda: theory.schedule_from_betas([0.0, 0.1]), r"betas must lie in the open interval \(0, 1\); beta_1"),
    (lambda: theory.schedule_from_betas([0.5, 1.0]), r"betas must lie in the open interval \(0, 1\); beta_2"),
    (lambda: theory.schedule_from_betas([0.1]), "T"),
    (lambda: theory.critical_timestep([0.5, 0.6], 0.3), "alpha_bar"),
    (lambda: theory.critical_timestep([0.9, 0.5], -1.0), "lambda_max"),
    (lambda: theory.critical_timestep([0.9, 0.5], 0.3, reading="half"), "reading 'half'; allowed values: eq13, snr"),
])
def test_bad_schedule_input_names_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- critical timestep (v1 eq. 13) --------------------------------------------

ABAR = [0.9, 0.7, 0.5, 0.2]  # noise variance 1 - abar: 0.1, 0.3, 0.5, 0.8


@pytest.mark.parametrize("lam, expected", [(0.05, 1), (0.3, 2), (0.31, 3), (0.5, 3), (0.8, 4), (0.81, None), (7.13, None)])
def test_critical_timestep_eq13_by_hand(lam, expected):
    assert theory.critical_timestep(ABAR, lam) == expected


@pytest.mark.parametrize("lam, expected", [(0.25, 2), (1.0, 3), (4.0, 4), (7.13, None)])
def test_critical_timestep_snr_by_hand(lam, expected):
    # abar * lam <= 1 - abar  <=>  abar <= 1 / (1 + lam): 0.8, 0.5, 0.2, 0.123
    assert theory.critical_timestep(ABAR, lam, "snr") == expected


def test_snr_reading_is_eq13_at_lambda_over_one_plus_lambda():
    ab = theory.noise_schedule("linear").alpha_bar
    for lam in (0.1, 0.699, 7.13):
        assert theory.critical_timestep(ab, lam, "snr") == theory.critical_timestep(ab, lam / (1 + lam))


def test_eq13_has_no_critical_timestep_at_lambda_one_or_more():
    for name in theory.SCHEDULES:
        ab = theory.noise_schedule(name).alpha_bar
        assert theory.critical_timestep(ab, 1.0) is None
        assert 1 < theory.critical_timestep(ab, 0.699) < 1000


def test_wiener_gain_and_eps_mmse():
    g = theory.wiener_gain([4.0, 1.0], [0.8, 0.5])
    np.testing.assert_allclose(g, [[3.2 / 3.4, 0.8], [2 / 2.5, 0.5]])
    np.testing.assert_allclose(theory.gaussian_eps_mmse([4.0, 1.0], [0.8, 0.5]), g.mean(axis=1))


# --- data scalings -------------------------------------------------------------

@pytest.fixture(scope="module")
def correlated():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(3000, 4)) @ rng.normal(size=(4, 4)) * [3.0, 1.0, 0.5, 0.1] + 5.0).astype(np.float32)


def test_scalings_give_their_stated_lambda_max(correlated):
    from hcvae.core.data import covariance_spectrum, lambda_max

    assert np.array_equal(ddpm.scale_data(correlated, "as_loaded"), correlated)
    assert covariance_spectrum(ddpm.scale_data(correlated, "unit_total_variance")).sum() == pytest.approx(1, rel=1e-4)
    assert covariance_spectrum(ddpm.scale_data(correlated, "unit_mean_variance")).mean() == pytest.approx(1, rel=1e-4)
    assert lambda_max(ddpm.scale_data(correlated, "unit_lambda_max")) == pytest.approx(1, rel=1e-4)
    standardised = ddpm.scale_data(correlated, "per_feature")
    np.testing.assert_allclose(standardised.var(axis=0), 1, rtol=1e-4)
    assert lambda_max(standardised) >= 1  # trace = N, so the largest eigenvalue is at least the mean
    pm = ddpm.scale_data(correlated, "minus_one_one")
    assert pm.min() == pytest.approx(-1) and pm.max() == pytest.approx(1)


def test_per_feature_scaling_keeps_constant_features_at_zero():
    x = np.c_[np.arange(10.0), np.full(10, 3.0)]
    assert np.all(ddpm.scale_data(x, "per_feature")[:, 1] == 0)


def test_unknown_scaling():
    with pytest.raises(ValueError, match="scaling 'zscore'; allowed values: as_loaded"):
        ddpm.scale_data(np.ones((3, 2)), "zscore")


# --- Algorithm 2's schedule set ------------------------------------------------

def test_generated_schedules():
    fam = ddpm.generate_schedules(8, T=100)
    assert [s.name for s in fam[:4]] == list(theory.SCHEDULES)
    assert len({tuple(np.round(s.alpha_bar, 9)) for s in fam}) == 8
    a = ddpm.generate_schedules(4, T=100, how="random", seed=3)
    b = ddpm.generate_schedules(4, T=100, how="random", seed=3)
    assert [s.name for s in a] == [s.name for s in b]
    with pytest.raises(ValueError, match="generator 'grid'"):
        ddpm.generate_schedules(4, how="grid")


def test_round_sizes():
    assert ddpm.round_sizes(8) == [8, 4, 2]
    assert ddpm.round_sizes(8, stop_size=1) == [8, 4, 2, 1]
    assert ddpm.consensus_epochs(8, 10) == 10 * (8 + 4)
    assert ddpm.consensus_epochs(4, 10, final_epochs=3) == 40 + 6
    for bad in (6, 2, 1):
        with pytest.raises(ValueError, match="R"):
            ddpm.round_sizes(bad)


# --- sampler and gain against the exact Gaussian denoiser ------------------------

class GaussianOracle(torch.nn.Module):
    """E[eps | x_t] for x_0 ~ N(0, diag(lam)): sqrt(1 - abar) x_t / (abar lam + 1 - abar)."""

    def __init__(self, lam):
        super().__init__()
        self.lam = torch.as_tensor(lam, dtype=torch.float32)
        self.dim = len(lam)

    def forward(self, x_t, t, alpha_bar_t):
        a = alpha_bar_t.repeat_interleave(x_t.shape[0] // alpha_bar_t.shape[0])[:, None]  # one value per group of rows
        return (1 - a).sqrt() * x_t / (a * self.lam + 1 - a)


@pytest.mark.parametrize("schedule, variance", [("linear", "beta"), ("cosine", "posterior")])
def test_ancestral_sampler_with_exact_denoiser_recovers_the_covariance(schedule, variance):
    x = ddpm.ancestral_sample(GaussianOracle([4.0, 0.25]), schedule, 2000, seed=0, variance=variance)
    np.testing.assert_allclose(x.var(axis=0), [4.0, 0.25], rtol=0.1)
    assert abs(x.mean(axis=0)).max() < 0.1


def test_sampling_several_schedules_in_one_pass():
    x = ddpm.ancestral_sample(GaussianOracle([4.0, 0.25]), ["linear", "cosine"], 2000, seed=0)
    assert x.shape == (2, 2000, 2)
    for block in x:
        np.testing.assert_allclose(block.var(axis=0), [4.0, 0.25], rtol=0.1)
    single = ddpm.ancestral_sample(GaussianOracle([4.0, 0.25]), "linear", 500, seed=0)
    np.testing.assert_array_equal(ddpm.ancestral_sample(GaussianOracle([4.0, 0.25]), ["linear"], 500, seed=0)[0], single)


def test_x0_gain_of_exact_denoiser_is_the_wiener_gain():
    lam = [4.0, 0.25]
    s = theory.noise_schedule("linear")
    ts = [1, 200, 400, 800]
    x0 = np.random.default_rng(0).normal(size=(4000, 2)).astype(np.float32) * np.sqrt(lam, dtype=np.float32)
    g = ddpm.x0_gain(GaussianOracle(lam), s, x0, ts, [1.0, 0.0])
    w = theory.wiener_gain(lam, s.alpha_bar)[np.array(ts) - 1]
    np.testing.assert_allclose(g["top"], w[:, 0], atol=1e-5)
    np.testing.assert_allclose(g["mean"], w.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(g["info"], w[:, 0], atol=0.03)  # squared correlation, estimated from 4000 rows
    assert np.all(g["reverse_mean"] > 0.99)  # the one-step reverse mean keeps following x_t


class TwoPointOracle(torch.nn.Module):
    """E[eps | x_t] for x_0 = +-m with equal odds: E[x_0 | x_t] = m tanh(sqrt(abar) m x_t / (1 - abar))."""

    dim = 1

    def forward(self, x_t, t, alpha_bar_t):
        a, m = alpha_bar_t[:, None], 2.0
        return (x_t - a.sqrt() * m * torch.tanh(a.sqrt() * m * x_t / (1 - a))) / (1 - a).sqrt()


def test_x0_gain_info_sees_the_cluster_choice_the_local_gain_misses():
    x0 = np.random.default_rng(0).choice([-2.0, 2.0], size=(2000, 1)).astype(np.float32)
    g = ddpm.x0_gain(TwoPointOracle(), "linear", x0, [200, 999], [1.0])
    assert g["info"][0] > 0.95 and g["top"][0] < 0.1  # x_t still decides the point; locally it is flat
    assert g["info"][1] < 0.05  # at t = 999 nothing of x_0 is left


def test_x0_gain_rejects_bad_direction():
    with pytest.raises(ValueError, match="direction"):
        ddpm.x0_gain(GaussianOracle([1.0, 1.0]), "linear", np.zeros((4, 2)), [1], [0.0, 0.0])


# --- training --------------------------------------------------------------------

def _two_modes(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    side = rng.choice([-2.0, 2.0], size=n)
    return np.c_[side + 0.3 * rng.normal(size=n), 0.3 * rng.normal(size=n)].astype(np.float32)


@pytest.fixture(scope="module")
def fitted_ddpm():
    return ddpm.DDPM("linear", hidden=64, depth=2, epochs=60, batch_size=100, lr=3e-3, seed=0).fit(_two_modes())


def test_ddpm_learns_a_two_mode_mixture(fitted_ddpm):
    x = fitted_ddpm.sample(1000, seed=1)
    right = x[:, 0] > 0
    assert 0.35 < right.mean() < 0.65  # both modes, in about equal shares
    assert np.median(np.abs(x[:, 0])) == pytest.approx(2.0, abs=0.25)  # at the right place
    near = np.abs(np.abs(x[:, 0]) - 2.0) < 0.9
    assert near.mean() > 0.85  # and not smeared between them
    assert np.std(x[near, 1]) == pytest.approx(0.3, abs=0.12)


def test_an_untrained_denoiser_fails_the_same_check():
    x = ddpm.DDPM(epochs=1, batch_size=1000, hidden=8, depth=1).fit(_two_modes()).sample(500, seed=1)
    at_modes = abs(np.median(np.abs(x[:, 0])) - 2.0) <= 0.25 and np.mean(np.abs(np.abs(x[:, 0]) - 2) < 0.9) > 0.85
    assert not at_modes


def test_ddpm_same_seed_same_samples(fitted_ddpm):
    again = ddpm.DDPM("linear", hidden=64, depth=2, epochs=60, batch_size=100, lr=3e-3, seed=0).fit(_two_modes())
    assert [h["loss"] for h in again.history_] == [h["loss"] for h in fitted_ddpm.history_]
    np.testing.assert_array_equal(again.sample(50, seed=2), fitted_ddpm.sample(50, seed=2))
    assert not np.array_equal(fitted_ddpm.sample(50, seed=2), fitted_ddpm.sample(50, seed=3))


def test_non_finite_loss_stops_with_epoch_and_step():
    with pytest.raises(TrainingDiverged, match="epoch 0, step 0"):
        ddpm.DDPM(epochs=2, batch_size=10, hidden=8, depth=1).fit(np.full((20, 2), 1e30, dtype=np.float32))


@pytest.mark.parametrize("kwargs, message", [
    (dict(conditioning="sigma"), "conditioning 'sigma'; allowed values: timestep"),
    (dict(cycling="round"), "cycling 'round'"),
    (dict(schedules="exponential"), "schedule 'exponential'"),
    (dict(epochs=0), "epochs"),
    (dict(T=1), "T"),
])
def test_ddpm_bad_settings_fail_before_training(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ddpm.DDPM(**{"batch_size": 10, **kwargs}).fit(_two_modes(50))


# --- Algorithm 2 -------------------------------------------------------------------

SMALL = dict(T=100, epochs_per_round=1, hidden=16, depth=1, batch_size=50, val_draws=2)


def _alg2(R=8, seed=0, **kwargs):
    return ddpm.HistoricalConsensusDiffusion(R=R, seed=seed, **{**SMALL, **kwargs}).fit(_two_modes(300))


@pytest.fixture(scope="module")
def alg2():
    return _alg2()


def test_algorithm2_halves_the_set_and_keeps_the_smallest_validation_losses(alg2):
    rounds = alg2.rounds_
    assert [len(r["set"]) for r in rounds] == [8, 4] and len(alg2.survivors_) == 2
    assert rounds[1]["set"] == rounds[0]["kept"] and alg2.survivors_ == rounds[1]["kept"]
    for r in rounds:
        order = np.argsort(r["val_loss"])[: len(r["set"]) // 2]
        assert sorted(r["set"][i] for i in order) == r["kept"]
        assert max(r["val_loss"][r["set"].index(k)] for k in r["kept"]) <= \
            min(v for k, v in zip(r["set"], r["val_loss"]) if k not in r["kept"])
    # training uses E passes per schedule in play: 8 + 4 epochs with E = 1
    assert len(alg2.history_) == ddpm.consensus_epochs(8, 1)
    assert {tuple(h["active_set"]) for h in alg2.history_} == {tuple(range(8)), tuple(rounds[0]["kept"])}


def test_algorithm2_records_the_losses_of_the_final_model(alg2):
    x = _two_modes(300)
    perm = np.random.default_rng(0).permutation(300)
    x_val = x[np.sort(perm[:60])]
    last = alg2.rounds_[-1]
    for k, recorded in zip(last["set"], last["val_loss"]):
        assert ddpm.validation_loss(alg2.model_, x_val, alg2.schedules_[k], 2, 0) == pytest.approx(recorded, rel=1e-6)
    assert alg2.default_schedule_ is alg2.schedules_[min(alg2.final_val_loss_, key=alg2.final_val_loss_.get)]


def test_algorithm2_batch_cycling_visits_every_schedule_in_play():
    model = _alg2(R=4, cycling="batch", epochs_per_round=2)
    # 240 training rows / 50 = 4 steps per epoch, cycling through 4 schedules: every epoch uses each once
    assert all(h["schedule"] == pytest.approx(1.5) for h in model.history_)


def test_algorithm2_stop_size_and_final_epochs():
    model = _alg2(R=4, stop_size=1, final_epochs=2)
    assert [len(r["set"]) for r in model.rounds_] == [4, 2] and len(model.survivors_) == 1
    assert len(model.history_) == ddpm.consensus_epochs(4, 1, stop_size=1, final_epochs=2)


def test_algorithm2_same_seed_same_result(alg2):
    again = _alg2()
    assert again.rounds_ == alg2.rounds_
    for p, q in zip(again.model_.parameters(), alg2.model_.parameters()):
        assert torch.equal(p, q)
    other = _alg2(seed=1)
    assert other.rounds_ != alg2.rounds_


@pytest.mark.parametrize("kwargs, message", [
    (dict(R=6), "power of two"),
    (dict(R=2), "power of two larger than stop_size"),
    (dict(generator="grid"), "generator 'grid'"),
    (dict(val_fraction=1.5), "val_fraction"),
    (dict(epochs_per_round=0), "epochs_per_round"),
])
def test_algorithm2_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _alg2(**kwargs)


# --- estimators and verdicts ----------------------------------------------------------

def test_sliced_energy_distance_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    same = sample_metrics.sliced_energy_distance(a, b)
    assert sample_metrics.sliced_energy_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert sample_metrics.sliced_energy_distance(a, b + [1.0, 0, 0]) > 3 * same
    with pytest.raises(ValueError, match="same number of features"):
        sample_metrics.sliced_energy_distance(a, b[:, :2])


def test_c2st_accuracy_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    same = sample_metrics.c2st_accuracy(a, b)
    assert abs(same["accuracy"] - 0.5) < 3 * same["se"] + 0.02
    assert sample_metrics.c2st_accuracy(a, b + [2.0, 0, 0])["accuracy"] > 0.8
    with pytest.raises(ValueError, match="folds"):
        sample_metrics.c2st_accuracy(a[:3], b[:3])


def test_label_diversity():
    x = _two_modes(400)
    clf = sample_metrics.fit_label_classifier(x, (x[:, 0] > 0).astype(int))
    assert sample_metrics.label_diversity(clf, x)["entropy"] > 0.99
    one_mode = sample_metrics.label_diversity(clf, x[x[:, 0] > 0])
    assert one_mode["entropy"] == 0 and one_mode["covered"] == 1
    assert sample_metrics.variance_ratio(x[x[:, 0] > 0], x) < 0.1


def test_independence_verdict_and_degradation():
    curve = {"t": np.array([1, 10, 20, 30]), "info": np.array([1.0, 0.5, 0.08, 0.01])}
    v = diffusion_rules.independence_verdict(curve, 20, 0.1)
    assert v["verdict"] == "independent after t_c" and v["gain_at_t_c"] == pytest.approx(0.08)
    v = diffusion_rules.independence_verdict(curve, 10, 0.1)
    assert v["verdict"] == "still depends on x_t after t_c" and v["t_below_tol"] == 20
    assert diffusion_rules.independence_verdict(curve, None, 0.1)["verdict"] == "no t_c"
    d = diffusion_rules.transfer_degradation({"linear": 0.1, "cosine": 0.3, "sigmoid": 0.12}, "linear", margin=0.05)
    assert d["worst"] == "cosine" and d["excess"] == pytest.approx(0.2) and d["degrades"]
    d = diffusion_rules.transfer_degradation({"linear": 0.1, "cosine": 0.3}, "linear", margin={"cosine": 0.25})
    assert not d["degrades"]
    assert diffusion_rules.compare_verdict(0.9, 0.8, 0.05) == "better"
    assert diffusion_rules.compare_verdict(0.9, 0.8, 0.05, higher_is_better=False) == "worse"
    assert diffusion_rules.compare_verdict(0.82, 0.8, 0.05) == "no measurable difference"
