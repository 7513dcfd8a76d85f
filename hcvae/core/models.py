"""Gaussian VAE with a fixed decoder variance sigma'^2 (v1 eqs. 2-3).

p(x|z) = N(x; f(z), sigma2_decoder I) with sigma2_decoder a fixed hyper-parameter,
not learned: the phase-transition theory is a statement about it.
q(z|x) = N(z; mu(x), diag(sigma^2(x))), prior N(0, I).

Architectures:

* ``"mlp"``: v1 §5.1.3, encoder hidden layers [256, 128], decoder [128, 256], ReLU.
* ``"linear"``: the linear VAE of Lucas et al. (2019): mu(x) = V x + a, an encoder
  variance that does not depend on x (one learned log-variance per latent
  dimension), and a linear decoder f(z) = W z + b. Its optimum has a closed form
  (:mod:`hcvae.core.theory`).
* ``"conv"``: v1 §5.6's convolutional VAE for image data (:class:`ConvVAE`, below).

Build any of them with :func:`build_vae`.
"""

from __future__ import annotations

import torch
from torch import nn

MLP_ARCHITECTURES = ("mlp", "linear")
IMAGE_ARCHITECTURES = ("conv",)  # they need the data's image shape
ARCHITECTURES = (*MLP_ARCHITECTURES, *IMAGE_ARCHITECTURES)


DEFAULT_HIDDEN = (256, 128)  # v1 §5.1.3; v1 Appendix B's larger MLP is (1024, 512, 256) with 48 latents


def check_hidden(hidden, architecture: str) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive integers; only the MLP has hidden layers to size."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"hidden must be a list of layer widths, e.g. [256, 128]; got {hidden!r}")
    hidden = tuple(hidden)
    if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty list of integers >= 1 (the encoder's layer widths; the decoder "
                         f"mirrors them); got {list(hidden)!r}")
    if architecture != "mlp" and hidden != DEFAULT_HIDDEN:
        raise ValueError(f"hidden sizes the 'mlp' architecture only; leave it at {list(DEFAULT_HIDDEN)} for "
                         f"architecture={architecture!r}")
    return hidden


def build_vae(input_dim: int, latent_dim: int, sigma2_decoder: float, architecture: str = "mlp",
              image_shape: tuple[int, int, int] | None = None, hidden: tuple[int, ...] = DEFAULT_HIDDEN) -> nn.Module:
    """The VAE of ``architecture``; ``"conv"`` needs the data's (channels, height, width) as ``image_shape``;
    ``hidden`` gives the MLP encoder's layer widths (the decoder mirrors them)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; allowed values: {', '.join(ARCHITECTURES)}")
    if architecture in IMAGE_ARCHITECTURES:
        if image_shape is None:
            raise ValueError(f"architecture {architecture!r} needs image data; this data set has no image_shape")
        return ConvVAE(tuple(image_shape), latent_dim, sigma2_decoder)
    hidden = tuple(hidden)
    return GaussianVAE(input_dim, latent_dim, sigma2_decoder, architecture, encoder_hidden=hidden,
                       decoder_hidden=hidden[::-1])


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FixedVarianceVAE(nn.Module):
    """What every VAE of the book shares: a Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), a decoder
    mean f(z) and the fixed decoder variance ``sigma2_decoder`` (a buffer, saved with the weights). A subclass
    builds ``self.encoder`` (to 2 * latent_dim outputs: mean and log-variance) and ``self.decoder``."""

    is_linear = False

    def __init__(self, input_dim: int, latent_dim: int, sigma2_decoder: float):
        super().__init__()
        if int(input_dim) != input_dim or input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer; got {input_dim!r}")
        if int(latent_dim) != latent_dim or latent_dim < 1:
            raise ValueError(f"latent_dim must be an integer >= 1; got {latent_dim!r}")
        if not (isinstance(sigma2_decoder, (int, float)) and sigma2_decoder > 0 and sigma2_decoder < float("inf")):
            raise ValueError(f"sigma2_decoder must be a finite number > 0 (the fixed decoder variance); got {sigma2_decoder!r}")
        self.input_dim, self.latent_dim = int(input_dim), int(latent_dim)
        self.register_buffer("sigma2_decoder", torch.tensor(float(sigma2_decoder)))

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """The rows as the encoder takes them (flattened rows here; images for a conv encoder)."""
        return x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (batch, latent_dim), of rows (batch, input_dim)."""
        mu, logvar = self.encoder(self.encoder_input(x)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder mean f(z), (batch, input_dim)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, sample: bool = True):
        """Return (x_hat, mu, logvar, z); z is a reparameterised sample, or mu if ``sample`` is False."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z), mu, logvar, z


class GaussianVAE(FixedVarianceVAE):
    """The MLP VAE of v1 §5.1.3 (``"mlp"``) or the linear VAE of Lucas et al. (``"linear"``)."""

    def __init__(
        self,
        input_dim: int,
        latent_dim: int = 8,
        sigma2_decoder: float = 1.0,
        architecture: str = "mlp",
        encoder_hidden: tuple[int, ...] = (256, 128),
        decoder_hidden: tuple[int, ...] = (128, 256),
    ):
        if architecture not in MLP_ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; allowed values: {', '.join(MLP_ARCHITECTURES)} "
                             "(build a 'conv' VAE with hcvae.core.models.build_vae)")
        super().__init__(input_dim, latent_dim, sigma2_decoder)
        self.architecture = architecture
        if architecture == "mlp":
            self.encoder = _mlp([self.input_dim, *encoder_hidden, 2 * self.latent_dim])
            self.decoder = _mlp([self.latent_dim, *decoder_hidden, self.input_dim])
        else:
            self.encoder = nn.Linear(self.input_dim, self.latent_dim)
            self.encoder_logvar = nn.Parameter(torch.zeros(self.latent_dim))
            self.decoder = nn.Linear(self.latent_dim, self.input_dim)

    @property
    def is_linear(self) -> bool:
        return self.architecture == "linear"

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (batch, latent_dim); the linear VAE's variance ignores x."""
        if self.is_linear:
            mu = self.encoder(x)
            return mu, self.encoder_logvar.expand_as(mu)
        return super().encode(x)


# ---- the convolutional VAE ----------------------------------------------------------------------------------------

# The convolutional Gaussian VAE of v1 §5.6 (CIFAR-10 at 8x8 grayscale; also MNIST at 14x14, digits at 8x8).
#
# v1 §5.1.3: "Convolutional encoder (two Conv+ReLU layers) and transposed
# convolutional decoder". Appendix B lists three layers (32, 64, 128 channels,
# mirrored in the decoder); the default here follows §5.1.3 with Appendix B's
# first two widths, ``channels=(32, 64)``, and any list can be passed.
#
# Every layer is a 4x4 kernel, stride 2, padding 1, so each halves the height and
# width (rounding down): 8x8 -> 4x4 -> 2x2 and 14x14 -> 7x7 -> 3x3. A linear layer
# maps the last feature map to the posterior mean and log-variance. The decoder
# mirrors it: a linear layer with ReLU back to the last feature map, then
# transposed convolutions whose ``output_padding`` restores each odd size exactly
# (3 -> 7 -> 14). The decoder's output is the mean f(z) of p(x|z) = N(f(z),
# sigma'^2 I) with no squashing nonlinearity, as for the MLP of
# :mod:`hcvae.core.models`.
#
# Inputs and outputs are flattened rows of (channels x height x width) values, so
# the losses, metrics and training loop of the package apply unchanged.


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
