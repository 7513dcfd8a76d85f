"""A researcher's own data file as a chapter's data set: the parameter that takes it, and what the page says of it.

A chapter's ``datasets`` may name a ``.npy`` or ``.npz`` file beside the book's data sets
(:class:`DataSetOrFile`): the file is checked when the parameters are (before any work: an unreadable file, the
wrong rank, NaN or infinite values, an integer array without a scale, each refused in one line naming the file),
and registered under its content name (``user-<hash>``, :mod:`hcvae.core.user_data`) when the chapter runs, so
that its runs are keyed by what the file holds, not where it lives. :func:`about` is the table a page shows at its
top for every such data set: the file's name, the hash, the shape and λ_max.
"""

from __future__ import annotations

import functools

import numpy as np

from hcvae.chapters.base import ParameterError, parameter
from hcvae.core import image_data, user_data
from hcvae.core.data import BUILTIN_DATASETS, TRUE_CLUSTERS, lambda_max, load_dataset
from hcvae.core.validation import ListOf, Options

YOUR_DATA = "your data"  # what a paper column says of a run on a user's data set


class DataSetOrFile(Options):
    """One of the named data sets, one of the papers' image sets that ``make data`` prepares (its files must be
    here: :mod:`hcvae.core.image_data`), or the path of a data file (``.npy``, or ``.npz`` with ``x``)."""

    def problem(self, value):
        if isinstance(value, str) and value in image_data.NAMES:
            return None if image_data.available(value) else f" ({image_data.missing_message(value)})"
        if user_data.is_name(value):  # a file registered before, by its content name
            return None if (user_data.folder() / f"{value}.npz").exists() else \
                f" ({value} is not registered here: give the data file's path)"
        if user_data.is_path(value):
            try:
                user_data.read_file(value)
            except user_data.UserDataError as err:
                return f" ({err})"
            return None
        return super().problem(value)

    def describe(self) -> str:
        return super().describe() + f", an image set of `make data` ({', '.join(image_data.NAMES)}), or a .npy/.npz data file"


def datasets_parameter():
    """The ``datasets`` parameter of every chapter that takes your own data: the book's data sets by default, or
    any of them, an image set of ``make data``, or a data file's path."""
    return parameter(list(BUILTIN_DATASETS), ListOf(DataSetOrFile(*BUILTIN_DATASETS)), "the data sets to run: the "
                     "book's, or the path of your own .npy/.npz file")

def check_image_runs(configs, store) -> None:
    """Before any work: a run on one of the papers' image sets must be stored (the shipped reference holds the
    book's) or computable, its prepared file present; otherwise FileNotFoundError, naming the `make data` command."""
    for c in configs:
        if c.dataset in image_data.NAMES and not image_data.available(c.dataset) and store.lookup(c)[0] is None:
            raise FileNotFoundError(image_data.missing_message(c.dataset))


def resolve(datasets) -> list[str]:
    """The data sets' names: a book data set's as it is, a file's as its registered content name."""
    return [user_data.register(ds) if user_data.is_path(ds) else ds for ds in datasets]


def resolve_params(params, field: str = "datasets", keyed=()) -> None:
    """In a chapter's frozen ``Params.__post_init__``: replace the data files named in ``field`` by their content
    names, and the same files among the keys of the mappings named in ``keyed`` (e.g. K per data set), so that
    everything downstream (configs, tables, the cache key) reads names, never paths."""
    given = list(getattr(params, field))
    object.__setattr__(params, field, resolve(given))
    for name in keyed:
        mapping = getattr(params, name)
        object.__setattr__(params, name, {user_data.register(k) if user_data.is_path(k) else k: v
                                          for k, v in mapping.items()})


@functools.lru_cache(maxsize=32)
def k_by_bic(name: str, ks: tuple = tuple(range(2, 11)), max_rows: int = 5000) -> tuple[int, dict]:
    """For a user's data set without a stated K: the K of ``ks`` whose full-covariance Gaussian mixture has the
    lowest BIC (on at most ``max_rows`` rows of a permutation seeded 0), and every K's BIC."""
    from sklearn.mixture import GaussianMixture

    x = load_dataset(name).x
    x = x[np.random.default_rng(0).permutation(len(x))[:max_rows]]
    ks = tuple(k for k in ks if k < len(x))
    bic = {k: float(GaussianMixture(k, covariance_type="full", random_state=0).fit(x).bic(x)) for k in ks}
    return min(bic, key=bic.get), bic


def k_note(chosen: dict) -> str:
    """The sentence a page prints for the K it picked by BIC: {data set: (K, {K: BIC})}."""
    if not chosen:
        return ""
    return " ".join(f"For {name} no K was given (`n_components`), so K = {k} was chosen by BIC among "
                    f"{min(bic)}–{max(bic)} Gaussian-mixture components." for name, (k, bic) in chosen.items())


def check_sizes(datasets, batch_sizes=(), k: int | None = None, name: str = "datasets") -> None:
    """Refuse, before any work, a user's file with fewer samples than a batch of its runs or than K."""
    for ds in datasets:
        if user_data.is_path(ds):
            n = user_data.read_file(ds)[0].shape[0]
            try:
                for batch in batch_sizes:
                    user_data.check_size(ds, n, batch_size=batch)
                user_data.check_size(ds, n, k=k)
            except user_data.UserDataError as err:
                raise ParameterError(f"parameter {name!r}: {err}") from None


MIN_BIC_SAMPLES = 3  # BIC picks K among 2, 3, ... below the number of samples: it needs at least three


def check_files(datasets, n_components: dict, ks=()) -> None:
    """Refuse, before any work, a data file with fewer samples than its K or than any K of ``ks`` (chapter 03's
    curves), one too small for BIC to choose its K where none is given, and a K given for a file that is not among
    the data sets (it would apply to nothing)."""
    strays = [k for k in n_components if user_data.is_path(k) and k not in datasets]
    if strays:
        raise ParameterError(f"parameter 'n_components' gives a K for {', '.join(strays)}, which is not among "
                             f"'datasets' ({', '.join(map(str, datasets))}); name the file the same way in both")
    for ds in datasets:
        if user_data.is_path(ds):
            given = n_components.get(ds)
            check_sizes([ds], k=max([given or 1, *ks]))
            n = user_data.read_file(ds)[0].shape[0]
            if given is None and n < MIN_BIC_SAMPLES:
                raise ParameterError(f"parameter 'datasets': {ds}: {n} samples is too few to choose K by BIC; give "
                                     "its K in 'n_components'")


class KeyedComponents:
    """The K of chapters 02 and 03, whose ``n_components`` maps each data set to its K: an image set's defaults to
    its ten classes (v1 §5.1.1), your data file's to the K of lowest BIC; a built-in set must be given one."""

    def check_components(self) -> None:
        """Refuse, before any work, a built-in data set that ``n_components`` gives no K."""
        missing = [ds for ds in self.datasets if ds not in self.n_components and not user_data.is_name(ds)
                   and ds not in image_data.NAMES]
        if missing:
            raise ParameterError(f"parameter 'n_components' names no K for {', '.join(missing)}; give one per "
                                 "data set")

    @property
    def k_chosen(self) -> dict:
        """{user data set: (K, {K: BIC})} for your data sets without a K in ``n_components``: picked by BIC."""
        return {ds: k_by_bic(ds) for ds in self.datasets if ds not in self.n_components and user_data.is_name(ds)}

    @property
    def components(self) -> dict:
        """K per data set: ``n_components``'s, the ten classes of an image set, or for your data set without one,
        the K of lowest BIC."""
        chosen = self.k_chosen
        return {ds: chosen[ds][0] if ds in chosen else self.n_components.get(ds, TRUE_CLUSTERS.get(ds))
                for ds in self.datasets}


class SharedComponents:
    """The K of chapters 04 and 05, whose one ``n_components`` serves every user data set (None: BIC picks each
    one's); the book's data sets keep their own K, which their configs name."""

    @property
    def k_chosen(self) -> dict:
        """{user data set: (K, {K: BIC})}: your data sets' K picked by BIC, where ``n_components`` gives none."""
        return k_chosen(self.datasets, self.n_components)

    @property
    def components(self) -> dict:
        """{user data set: K}: ``n_components``, or BIC's choice where it is None."""
        return components(self.datasets, self.n_components)


def k_chosen(datasets, n_components: int | None) -> dict:
    """{user data set: (K, {K: BIC})}: the user data sets' K picked by BIC (:func:`k_by_bic`), where one
    ``n_components`` for all of them gives none (chapters 04 and 05)."""
    if n_components is not None:
        return {}
    return {ds: k_by_bic(ds) for ds in datasets if user_data.is_name(ds)}


def components(datasets, n_components: int | None) -> dict:
    """{user data set: K}: ``n_components``, or BIC's choice where it is None (:func:`k_chosen`)."""
    chosen = k_chosen(datasets, n_components)
    return {ds: chosen[ds][0] if ds in chosen else n_components for ds in datasets if user_data.is_name(ds)}


def about(names) -> tuple[list, list] | None:
    """The page's table of the user data sets among ``names`` (header, rows), or None when there is none."""
    rows = []
    for name in names:
        if user_data.is_name(name):
            ds = load_dataset(name)
            rows.append((ds.meta["source"], name, ds.meta["hash"], f"{ds.n} × {ds.dim}", lambda_max(ds.x)))
    if not rows:
        return None
    return ["file", "data set", "content hash", "shape", "λ_max"], rows


def is_user(name: str) -> bool:
    return user_data.is_name(name)
