"""What every stored config shares: its key's parts, the constraints of the fields all kinds have, their validation.

A stored config is a frozen dataclass with class attributes ``KIND`` and ``VERSION``
(the result store's key, :mod:`hcvae.runs.store`), ``ADDED_FIELDS`` (fields added
since, at the value that reproduces what was computed before them) and
``PARAMETER_CONSTRAINTS``: field name -> constraint (:mod:`hcvae.core.validation`),
declared once per field and checked in one place, in the order declared, by
:meth:`StoredConfig.validate`, so every kind says the same thing about the same
mistake. A kind's ``__post_init__`` calls ``validate()`` and then checks what a single
field cannot say (a rule across fields, a training budget that fits the data).
"""

from __future__ import annotations

from dataclasses import dataclass

from hcvae.core.data import DATASETS, dataset_size, is_dataset
from hcvae.core.validation import Integer, Options, Real, validate_constraints


class DatasetName(Options):
    """A data set of the book by name, or a registered user data set (``user-<hash>``, hcvae.core.user_data)."""

    def __init__(self):
        super().__init__(*DATASETS)

    def problem(self, value):
        return None if is_dataset(value) else ""

    def check(self, name: str, value) -> None:
        if not is_dataset(value):
            super().check(name, value)

# The fields most kinds share, constrained once.
COMMON_CONSTRAINTS = {
    "dataset": DatasetName(),
    "n_samples": Integer(2, none="all"),
    "sigma2_ratio": Real(0.0, what=" (sigma2_decoder / lambda_max)"),
    "latent_dim": Integer(1),
    "seed": Integer(0),
}


def common(*names: str) -> dict:
    """The shared constraints of ``names``, in that order."""
    return {n: COMMON_CONSTRAINTS[n] for n in names}


@dataclass(frozen=True)
class TrainingFields:
    """The model and optimiser fields of every VAE-type run (v1 Appendix B's Adam at 3e-3, batch 512, by default).

    A kind inherits them, and overrides a default by declaring the field again (keeping its place)."""

    architecture: str = "mlp"
    latent_dim: int = 8
    epochs: int = 60
    batch_size: int = 512
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    seed: int = 0


# kind -> its config class: every stored config class registers its KIND when it is defined (hcvae.runs.kinds
# imports them all)
KINDS: dict = {}


class StoredConfig:
    """Base of every stored config (a mixin of frozen dataclasses: it declares no fields of its own)."""

    KIND: str = ""
    VERSION: int = 0
    ADDED_FIELDS: dict = {}
    PARAMETER_CONSTRAINTS: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("KIND")
        if kind:
            known = KINDS.get(kind)
            if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"kind {kind!r} is declared twice: by {known.__module__}.{known.__qualname__} and "
                                f"{cls.__module__}.{cls.__qualname__}")
            KINDS[kind] = cls

    def validate(self) -> None:
        """Every declared constraint, first bad value first."""
        validate_constraints(self, self.PARAMETER_CONSTRAINTS)

    @property
    def data_size(self) -> int:
        """How many samples the run trains on (``n_samples`` of the data set, or all of it)."""
        full = dataset_size(self.dataset)
        return full if self.n_samples is None else min(self.n_samples, full)
