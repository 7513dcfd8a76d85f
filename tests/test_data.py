import numpy as np
import pytest

from hcvae.core import data


def test_synthetic_is_seeded_and_has_paper_shape():
    a, b = data.make_synthetic(seed=3), data.make_synthetic(seed=3)
    assert a.x.shape == (50_000, 32) and a.x.dtype == np.float32
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, data.make_synthetic(seed=4).x)
    assert set(np.unique(a.labels)) == set(range(8))
    assert a.meta["variances"].max() <= a.meta["variance_threshold"]


def test_synthetic_components_have_the_drawn_means_and_variances():
    ds = data.make_synthetic(n_samples=40_000, n_components=2, dim=3, seed=1)
    for k in range(2):
        xk = ds.x[ds.labels == k]
        np.testing.assert_allclose(xk.mean(0), ds.meta["means"][k], atol=0.02)
        np.testing.assert_allclose(xk.var(0), ds.meta["variances"][k], rtol=0.05)


def test_digits_scaled_to_unit_interval():
    ds = data.load_digits_scaled()
    assert ds.x.shape == (1797, 64)
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0


def test_lambda_max_is_largest_eigenvalue_of_population_covariance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1])
    expected = np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1]
    np.testing.assert_allclose(data.covariance_spectrum(x), expected, rtol=1e-5)
    assert data.lambda_max(x) == pytest.approx(expected[0], rel=1e-5)


def test_subset_is_seeded():
    a = data.load_dataset("digits", n_samples=100, seed=1)
    b = data.load_dataset("digits", n_samples=100, seed=1)
    assert a.n == 100
    np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.zeros(5), "2-D"),
        (np.zeros((2, 3, 4)), "2-D"),
        (np.zeros((1, 3)), "at least 2 samples"),
    ],
)
def test_check_data_rejects_bad_arrays(bad, message):
    with pytest.raises(ValueError, match=message):
        data.check_data(bad)


def test_unknown_dataset_names_the_allowed_values():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*synthetic, digits, mnist, fashion_mnist, cifar10"):
        data.load_dataset("imagenet")


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_components=0), "n_components"),
    (dict(variance_floor=0.5, variance_threshold=0.1), "variance_floor"),
    (dict(mean_scale=-1.0), "mean_scale"),
])
def test_synthetic_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        data.make_synthetic(**kwargs)
