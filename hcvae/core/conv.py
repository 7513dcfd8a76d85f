"""The convolutional Gaussian VAE of v1 §5.6 (CIFAR-10 at 8x8 grayscale; also MNIST at 14x14, digits at 8x8).

v1 §5.1.3: "Convolutional encoder (two Conv+ReLU layers) and transposed
convolutional decoder". Appendix B lists three layers (32, 64, 128 channels,
mirrored in the decoder); the default here follows §5.1.3 with Appendix B's
first two widths, ``channels=(32, 64)``, and any list can be passed.

Every layer is a 4x4 kernel, stride 2, padding 1, so each halves the height and
width (rounding down): 8x8 -> 4x4 -> 2x2 and 14x14 -> 7x7 -> 3x3. A linear layer
maps the last feature map to the posterior mean and log-variance. The decoder
mirrors it: a linear layer with ReLU back to the last feature map, then
transposed convolutions whose ``output_padding`` restores each odd size exactly
(3 -> 7 -> 14). The decoder's output is the mean f(z) of p(x|z) = N(f(z),
sigma'^2 I) with no squashing nonlinearity, as for the MLP of
:mod:`hcvae.core.models`.

Inputs and outputs are flattened rows of (channels x height x width) values, so
the losses, metrics and training loop of the package apply unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from hcvae.core.models import FixedVarianceVAE

KERNEL, STRIDE, PADDING = 4, 2, 1


def _halved(size: int) -> int:
    return (size + 2 * PADDING - KERNEL) // STRIDE + 1


def feature_sizes(height: int, width: int, n_layers: int) -> list[tuple[int, int]]:
    """(height, width) of the input and after each conv layer, or a ValueError if an image is too small."""
    sizes = [(height, width)]
    for _ in range(n_layers):
        h, w = sizes[-1]
        if min(h, w) < 2:
            raise ValueError(f"a {height}x{width} image is too small for {n_layers} stride-2 conv layers; "
                             f"use fewer channels entries or images of at least {2 ** n_layers}x{2 ** n_layers}")
        sizes.append((_halved(h), _halved(w)))
    return sizes


def _check(image_shape, channels) -> tuple[int, int, int]:
    if len(tuple(image_shape)) != 3 or any(int(s) != s or s < 1 for s in image_shape):
        raise ValueError(f"image_shape must be (channels, height, width) of positive integers; got {image_shape!r}")
    if not channels or any(int(c) != c or c < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty list of positive integers; got {channels!r}")
    return tuple(int(s) for s in image_shape)


class ConvVAE(FixedVarianceVAE):
    """Gaussian VAE with a conv encoder, a transposed-conv decoder and fixed decoder variance ``sigma2_decoder``."""

    architecture = "conv"

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int = 8, sigma2_decoder: float = 1.0,
                 channels: tuple[int, ...] = (32, 64)):
        image_shape = _check(image_shape, channels)
        c_in, height, width = image_shape
        super().__init__(c_in * height * width, latent_dim, sigma2_decoder)
        self.image_shape = image_shape
        sizes = feature_sizes(height, width, len(channels))
        widths = [c_in, *map(int, channels)]
        last = widths[-1] * sizes[-1][0] * sizes[-1][1]
        enc: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Conv2d(a, b, KERNEL, STRIDE, PADDING), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(last, 2 * self.latent_dim))
        dec: list[nn.Module] = [nn.Linear(self.latent_dim, last), nn.ReLU(), nn.Unflatten(1, (widths[-1], *sizes[-1]))]
        for i in range(len(channels), 0, -1):  # mirror: widths[i] -> widths[i-1], size sizes[i] -> sizes[i-1]
            (h_out, w_out), (h_in, w_in) = sizes[i - 1], sizes[i]
            pad = (h_out - STRIDE * h_in, w_out - STRIDE * w_in)  # 0 or 1: what the stride-2 transpose misses
            dec.append(nn.ConvTranspose2d(widths[i], widths[i - 1], KERNEL, STRIDE, PADDING, output_padding=pad))
            if i > 1:
                dec.append(nn.ReLU())
        self.decoder = nn.Sequential(*dec, nn.Flatten())

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened rows back to images (batch, channels, height, width); the decoder flattens its output."""
        return x.reshape(-1, *self.image_shape)
