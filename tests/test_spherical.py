import numpy as np
import pytest

from hcvae.methods.spherical import ShellTransform

TOL = 1e-5  # the output is float32
READINGS = ["minmax", "clip"]


def spread_data(n=300, dim=4, seed=0):
    """Centred norms spread over about [0, 4] (so some lie below, inside and above a [1, 2] shell)."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    x = directions * rng.uniform(0.05, 4.0, size=(n, 1))
    return x - x.mean(0) + np.array([3.0, -1.0, 0.5, 10.0, 2.0])[:dim]  # an offset the fit must remove


def centred_of(x, t):
    return np.asarray(x, np.float64) - t.mean_


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("r_min, r_max", [(1.0, 2.0), (0.0, 0.5), (3.0, 7.5)])
def test_every_norm_lies_in_the_shell(reading, r_min, r_max):
    x = spread_data()
    t = ShellTransform(r_min, r_max, reading)
    out = t.fit_transform(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    norms = np.linalg.norm(out.astype(np.float64), axis=1)
    assert norms.min() >= r_min - TOL and norms.max() <= r_max + TOL
    np.testing.assert_allclose(t.mean_, np.asarray(x, np.float64).mean(0))


@pytest.mark.parametrize("reading", READINGS)
def test_directions_are_preserved(reading):
    x = spread_data()
    t = ShellTransform(1.0, 2.0, reading).fit(x)
    out = t.transform(x).astype(np.float64)
    centred = centred_of(x, t)
    cosine = (out * centred).sum(1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(centred, axis=1))
    np.testing.assert_allclose(cosine, 1.0, atol=1e-6)


def test_minmax_maps_the_norm_range_affinely_onto_the_shell():
    x = spread_data()
    t = ShellTransform(1.0, 2.0, "minmax").fit(x)
    norms_in = np.linalg.norm(centred_of(x, t), axis=1)
    norms_out = np.linalg.norm(t.transform(x).astype(np.float64), axis=1)
    assert norms_out[np.argmin(norms_in)] == pytest.approx(1.0, abs=TOL)
    assert norms_out[np.argmax(norms_in)] == pytest.approx(2.0, abs=TOL)
    assert t.norm_min_ == pytest.approx(norms_in.min()) and t.norm_max_ == pytest.approx(norms_in.max())
    order = np.argsort(norms_in)
    assert np.all(np.diff(norms_out[order]) >= -TOL)  # monotone in the norm
    expected = 1.0 + (norms_in - norms_in.min()) / (norms_in.max() - norms_in.min())
    np.testing.assert_allclose(norms_out, expected, atol=TOL)


def test_minmax_clips_norms_outside_the_fitted_range():
    x = spread_data()
    t = ShellTransform(1.0, 2.0, "minmax").fit(x)
    far = t.mean_ + np.array([[100.0, 0, 0, 0], [0, -50.0, 0, 0]])
    np.testing.assert_allclose(np.linalg.norm(t.transform(far), axis=1), [2.0, 2.0], atol=TOL)
    np.testing.assert_allclose(t.transform(far)[0], [2.0, 0, 0, 0], atol=TOL)


def test_clip_keeps_norms_inside_the_shell_and_clips_the_others():
    x = spread_data()
    t = ShellTransform(1.0, 2.0, "clip").fit(x)
    centred = centred_of(x, t)
    norms_in = np.linalg.norm(centred, axis=1)
    out = t.transform(x).astype(np.float64)
    norms_out = np.linalg.norm(out, axis=1)
    inside, below, above = (norms_in >= 1) & (norms_in <= 2), norms_in < 1, norms_in > 2
    assert inside.sum() > 10 and below.sum() > 10 and above.sum() > 10
    np.testing.assert_allclose(out[inside], centred[inside], atol=TOL)  # left alone
    np.testing.assert_allclose(norms_out[below], 1.0, atol=TOL)
    np.testing.assert_allclose(norms_out[above], 2.0, atol=TOL)


@pytest.mark.parametrize("reading", READINGS)
def test_a_row_at_the_centre_goes_on_the_first_axis(reading):
    x = np.array([[0, 0, 0], [3, 0, 0], [-3, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 4], [0, 0, -4]], dtype=np.float64)
    x = x + np.array([1.0, 2.0, 3.0])  # the row at the mean is [1, 2, 3], not 0
    t = ShellTransform(1.5, 2.5, reading).fit(x)
    out = t.transform(x)
    np.testing.assert_allclose(out[0], [1.5, 0, 0], atol=TOL)
    assert np.all(np.isfinite(out))
    # also a new row equal to the fitted mean, after a fit on other (symmetric, float32-exact) data
    d = np.round(np.random.default_rng(0).normal(size=(50, 3)) * 64) / 64
    t = ShellTransform(1.5, 2.5, reading).fit(np.concatenate([d, -d]) + np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(t.mean_, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(t.transform(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]]))[0], [1.5, 0, 0], atol=TOL)


def test_constant_data_all_go_to_r_min():
    t = ShellTransform(1.0, 2.0, "minmax")
    out = t.fit_transform(np.full((5, 3), 7.0))
    np.testing.assert_allclose(out, np.tile([1.0, 0, 0], (5, 1)), atol=TOL)


def test_transform_before_fit_raises():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        ShellTransform().transform(np.zeros((3, 2)))


def test_feature_count_must_match_the_fit():
    t = ShellTransform().fit(spread_data())
    with pytest.raises(ValueError, match="x has 3 features, the transform was fitted on 4"):
        t.transform(np.zeros((5, 3)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(r_min=2.0, r_max=2.0), r"need r_min < r_max; got r_min=2.0, r_max=2.0"),
    (dict(r_min=3.0, r_max=2.0), "need r_min < r_max"),
    (dict(r_min=-0.5, r_max=2.0), "r_min must be a finite number >= 0; got -0.5"),
    (dict(r_min=float("nan")), "r_min must be a finite number >= 0"),
    (dict(r_max=float("inf")), "need r_min < r_max"),
    (dict(reading="sphere"), "unknown reading 'sphere'; allowed values: minmax, clip"),
])
def test_bad_parameters_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShellTransform(**kwargs)


def test_parameters_changed_after_construction_are_checked_at_fit():
    t = ShellTransform()
    t.reading = "sphere"
    with pytest.raises(ValueError, match="allowed values: minmax, clip"):
        t.fit(spread_data())
