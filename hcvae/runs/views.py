"""What a trained VAE's decoder draws, for the book's run explorers: reconstructions and a latent traversal.

A stored result holds numbers, not weights' pictures. These arrays are derived from a run's weights after it
trained (:meth:`hcvae.runs.store.ResultStore.save_derived`, ``views-v<VERSION>.npz`` beside the entry) and
ship in the reference beside its JSON (``<key>.views-v<VERSION>.npz``), which ships no weights. A run whose
weights are not in the local store and whose views are not shipped has none: :func:`vae_views` says so with
``None``.
"""

from __future__ import annotations

import numpy as np
import torch

from hcvae.runs.runner import prepare
from hcvae.runs.store import ResultStore

VERSION = 1  # bump when compute_views draws something else: the stored arrays are named by it, so old ones go unread
VIEWS = f"views-v{VERSION}"
N_POINTS = 6  # inputs shown with their reconstructions
TRAVERSAL = np.linspace(-2.5, 2.5, 7)  # prior standard deviations along one latent coordinate
N_TRAVERSED = 2  # the latent dimensions with the largest KL


def compute_views(config, state_dict: dict) -> dict:
    """The arrays for ``config``'s VAE with weights ``state_dict``.

    ``x`` (N_POINTS, d): fixed inputs (the first rows of a seeded permutation of the run's data);
    ``recon`` (N_POINTS, d): their posterior-mean reconstructions f(μ(x));
    ``dims`` (N_TRAVERSED,): the latent dimensions with the largest KL on those inputs' batch (largest first);
    ``traversal`` (N_TRAVERSED, len(TRAVERSAL), d): f(z) with z = t e_j for t in ``steps`` (the prior's mean
    elsewhere), so a collapsed dimension draws the same row at every step;
    ``steps``: TRAVERSAL; ``image_shape``: the data's image shape, or (0,) for vectors.
    """
    setup = prepare(config)
    data, model = setup.data, setup.model
    model.load_state_dict(state_dict)
    model.eval()
    x_eval = torch.as_tensor(setup.x_eval[:2000])  # the first rows of the run's evaluation permutation
    with torch.no_grad():
        mu, logvar = model.encode(x_eval)
        kl_per_dim = (0.5 * (mu**2 + logvar.exp() - 1.0 - logvar)).mean(0).numpy()
        dims = np.argsort(-kl_per_dim, kind="stable")[:N_TRAVERSED]
        recon = model.decode(mu[:N_POINTS]).numpy()
        z = torch.zeros(len(dims), len(TRAVERSAL), config.latent_dim)
        for i, j in enumerate(dims):
            z[i, :, j] = torch.as_tensor(TRAVERSAL, dtype=z.dtype)
        traversal = model.decode(z.reshape(-1, config.latent_dim)).reshape(len(dims), len(TRAVERSAL), -1).numpy()
    shape = data.meta.get("image_shape") or (0,)
    return {"x": setup.x_eval[:N_POINTS].astype(np.float32), "recon": recon.astype(np.float32),
            "dims": dims.astype(np.int64), "traversal": traversal.astype(np.float32),
            "steps": TRAVERSAL.astype(np.float32), "image_shape": np.asarray(shape, dtype=np.int64)}


def vae_views(config, store=None) -> dict | None:
    """``config``'s views: stored (local store, then the reference), else computed from the run's weights in the
    local store and kept beside it, else None (the reference ships results without weights)."""

    store = store if store is not None else ResultStore()
    views = store.load_derived(config, VIEWS)
    if views is not None:
        return views
    if not store.has_weights(config) or store.lookup(config)[1] != "local":
        return None
    views = compute_views(config, store.load_weights(config))
    store.save_derived(config, VIEWS, views)
    return views
