"""How good and how diverse generated samples are: a sliced energy distance, a k-NN classifier two-sample
test, the label entropy a classifier sees in the samples, and the variance ratio (v1 §7.4's predictions 3-4)."""

from __future__ import annotations

import math

import numpy as np

from hcvae.core.data import check_data
from hcvae.methods.ddpm import check_positive_int

# ---------------------------------------------------------------------------
# Sample quality and diversity, and the verdicts drawn from them
# ---------------------------------------------------------------------------

def sliced_energy_distance(a, b, n_projections: int = 64, seed: int = 0) -> float:
    """Mean over ``n_projections`` random unit directions of scipy's energy distance between the 1-d projections.

    0 for identical distributions; two finite samples of one distribution give a positive
    floor that shrinks with their size, so compare against a real-vs-real value of equal sizes.
    """
    from scipy.stats import energy_distance

    a, b = check_data(a, "a").astype(np.float64), check_data(b, "b").astype(np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of features; got {a.shape[1]} and {b.shape[1]}")
    check_positive_int("n_projections", n_projections)
    u = np.random.default_rng(seed).normal(size=(a.shape[1], n_projections))
    u /= np.linalg.norm(u, axis=0)
    pa, pb = a @ u, b @ u
    return float(np.mean([energy_distance(pa[:, i], pb[:, i]) for i in range(n_projections)]))


def c2st_accuracy(a, b, seed: int = 0, n_neighbors: int = 5, folds: int = 5) -> dict:
    """Classifier two-sample test: cross-validated accuracy of a k-nearest-neighbour classifier told to
    separate rows of ``a`` from rows of ``b`` (equal numbers drawn from each, seeded).

    0.5 means indistinguishable, 1 fully separable; ``se`` is the binomial standard error over the
    2n held-out predictions. Nearest neighbours judge the samples in the full space, where random
    1-d projections (:func:`sliced_energy_distance`) look nearly Gaussian for any distribution.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    a, b = check_data(a, "a"), check_data(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of features; got {a.shape[1]} and {b.shape[1]}")
    n = min(a.shape[0], b.shape[0])
    if n < folds:
        raise ValueError(f"need at least folds={folds} rows in each of a and b; got {n}")
    rng = np.random.default_rng(seed)
    x = np.vstack([a[rng.choice(a.shape[0], n, replace=False)], b[rng.choice(b.shape[0], n, replace=False)]])
    y = np.r_[np.zeros(n), np.ones(n)]
    acc = float(cross_val_score(KNeighborsClassifier(n_neighbors), x, y,
                                cv=StratifiedKFold(folds, shuffle=True, random_state=seed)).mean())
    return {"accuracy": acc, "se": math.sqrt(max(acc * (1 - acc), 1e-12) / (2 * n)), "n": n}


def fit_label_classifier(x, labels, seed: int = 0):
    """A multinomial logistic regression from samples to their mixture component or digit class,
    used to read which modes generated samples fall in."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed).fit(check_data(x), np.asarray(labels))


def label_diversity(classifier, samples, min_share: float = 0.02) -> dict:
    """Mode coverage of ``samples``: the classifier's label shares, their entropy over log(number of labels)
    (1 = every mode equally often, 0 = one mode), and how many labels get at least ``min_share`` of the samples."""
    return _label_stats(classifier.predict(check_data(samples, "samples")), classifier.classes_, min_share)


def _label_stats(predicted: np.ndarray, classes: np.ndarray, min_share: float = 0.02) -> dict:
    shares = np.array([(predicted == c).mean() for c in classes])
    nz = shares[shares > 0]
    return {"shares": shares, "entropy": float(-(nz * np.log(nz)).sum() / math.log(len(classes))),
            "covered": int((shares >= min_share).sum()), "n_labels": int(len(classes))}


def variance_ratio(samples, reference) -> float:
    """trace Cov(samples) / trace Cov(reference): below 1 means less spread than the data."""
    return float(check_data(samples, "samples").var(axis=0).sum() / check_data(reference, "reference").var(axis=0).sum())


def sample_report(samples, reference, classifier, seed: int = 0, n_boot: int = 200) -> dict:
    """Quality and diversity of ``samples`` against ``reference`` rows.

    Quality: sliced energy distance and the classifier two-sample test (:func:`c2st_accuracy`). Diversity: label entropy and modes covered (:func:`label_diversity`)
    and the variance ratio. Entropy and variance ratio come with bootstrap standard errors over the
    samples (``n_boot`` resamples), so that two models can be compared against their sampling noise.
    """
    samples = check_data(samples, "samples")
    predicted = classifier.predict(samples)
    div = _label_stats(predicted, classifier.classes_)
    ref_var = check_data(reference, "reference").var(axis=0).sum()
    rng = np.random.default_rng(seed)
    boot = [rng.integers(0, samples.shape[0], samples.shape[0]) for _ in range(n_boot)]
    ent = [_label_stats(predicted[i], classifier.classes_)["entropy"] for i in boot]
    var = [samples[i].var(axis=0).sum() / ref_var for i in boot]
    c2st = c2st_accuracy(samples, reference, seed=seed)
    return {"energy": sliced_energy_distance(samples, reference, seed=seed), "c2st": c2st["accuracy"],
            "c2st_se": c2st["se"], "entropy": div["entropy"],
            "entropy_se": float(np.std(ent)), "covered": div["covered"], "n_labels": div["n_labels"],
            "variance_ratio": float(samples.var(axis=0).sum() / ref_var), "variance_ratio_se": float(np.std(var))}
