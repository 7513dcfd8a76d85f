import numpy as np
import pytest
import torch

from hcvae.core import theory
from hcvae.core.data import covariance_spectrum
from hcvae.core.metrics import evaluate
from hcvae.core.models import GaussianVAE
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import train


def test_closed_form_values():
    opt = theory.linear_vae_optimum([4.0, 2.0, 0.5], 1.0, latent_dim=4)
    np.testing.assert_array_equal(opt["active"], [True, True, False, False])
    np.testing.assert_allclose(opt["posterior_var"], [0.25, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(opt["var_mean"], [0.75, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(opt["kl_per_dim"], [0.5 * np.log(4), 0.5 * np.log(2), 0, 0])
    assert theory.linear_vae_kl_curve([4.0, 2.0, 0.5], np.array([1.0, 8.0]), 4) == pytest.approx([opt["kl"], 0.0])


def test_collapse_condition():
    assert theory.collapse_predicted(2.0, 1.0) and not theory.collapse_predicted(0.5, 1.0)
    with pytest.raises(ValueError, match="sigma2_decoder"):
        theory.collapse_predicted(0.0, 1.0)


def test_trained_linear_vae_reaches_the_closed_form():
    # Gaussian data with a known spectrum; two of three latent dims should survive sigma'^2 = 1.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    x = (rng.normal(size=(4000, 6)) * np.sqrt([5.0, 3.0, 0.6, 0.3, 0.2, 0.1])) @ q.T
    x = x.astype(np.float32)
    spectrum = covariance_spectrum(x)
    torch.manual_seed(0)
    model = GaussianVAE(6, 3, 1.0, architecture="linear")
    train(model, x, epochs=80, batch_size=200, lr=1e-2, lr_schedule="cosine",
          loss_fn=lambda m, xb, **_: negative_elbo(m, xb, recon_estimator="analytic"))
    m = evaluate(model, x)
    opt = theory.linear_vae_optimum(spectrum, 1.0, 3)
    assert m["kl"] == pytest.approx(opt["kl"], abs=0.01)
    np.testing.assert_allclose(np.sort(m["var_mean_per_dim"])[::-1], opt["var_mean"], atol=0.02)
    np.testing.assert_allclose(np.sort(m["posterior_var_per_dim"]), np.sort(opt["posterior_var"]), atol=0.02)
    assert m["active_burda"] == opt["active_units"] == 2
