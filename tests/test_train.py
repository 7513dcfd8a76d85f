import numpy as np
import pytest
import torch

from hcvae.core.models import GaussianVAE
from hcvae.core.objectives import negative_elbo
from hcvae.core.train import TrainingDiverged, train


def _data(n=256, dim=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32) * np.array([2, 1, 0.5, 0.1], np.float32)


def _model(seed=0):
    torch.manual_seed(seed)
    return GaussianVAE(4, 2, 0.5, encoder_hidden=(16,), decoder_hidden=(16,))


def test_same_seed_same_history_and_weights():
    h1, m1 = None, _model()
    h1 = train(m1, _data(), epochs=3, batch_size=32, seed=5)
    m2 = _model()
    h2 = train(m2, _data(), epochs=3, batch_size=32, seed=5)
    assert h1 == h2
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_training_lowers_the_loss_and_records_callbacks():
    seen = []
    hist = train(_model(), _data(), epochs=30, batch_size=32, lr=3e-3,
                 callbacks=[lambda epoch, model: seen.append(epoch) or {"marker": epoch * 2}])
    assert seen == list(range(30))
    assert [row["marker"] for row in hist] == [2 * e for e in range(30)]
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert {"loss", "nll", "kl", "neg_elbo", "epoch"} <= set(hist[0])


def test_nan_guard_names_epoch_step_and_terms():
    def loss_fn(model, xb, *, idx, epoch, step):
        terms = negative_elbo(model, xb)
        if epoch == 1 and step == 2:
            terms["kl"] = terms["kl"] * float("nan")
        return terms

    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 2 .*kl=nan"):
        train(_model(), _data(), epochs=3, batch_size=32, loss_fn=loss_fn)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=1000), r"batch_size \(1000\) is larger than the data \(256 samples\)"),
    (dict(epochs=0), "epochs must be an integer >= 1"),
    (dict(lr=-1.0), "lr must be a finite number > 0"),
    (dict(lr_schedule="step"), "allowed values: constant, cosine"),
])
def test_bad_training_parameters_fail_before_training(kwargs, message):
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        train(model, _data(), **{"epochs": 1, "batch_size": 32, **kwargs})
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_nan_in_data_is_refused():
    x = _data()
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train(_model(), x, epochs=1, batch_size=32)


def test_loss_fn_sees_the_batch_rows_and_epochs_continue_across_calls():
    x = _data()
    seen = []

    def loss_fn(model, xb, *, idx, epoch, step):
        assert torch.equal(xb, torch.as_tensor(x)[idx])
        seen.append((epoch, idx.clone()))
        return negative_elbo(model, xb)

    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    h1 = train(model, x, epochs=2, batch_size=64, loss_fn=loss_fn, optimizer=opt)
    h2 = train(model, x, epochs=1, batch_size=64, loss_fn=loss_fn, optimizer=opt, first_epoch=2)
    assert [r["epoch"] for r in h1 + h2] == [0, 1, 2]
    assert opt.state  # Adam's moments carry over between calls
    epoch0 = torch.cat([i for e, i in seen if e == 0])
    assert sorted(epoch0.tolist()) == list(range(256))  # an epoch is a permutation of the rows
