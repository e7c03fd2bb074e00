"""Reference scores: the per-pixel-mean model and the Parzen-window estimator."""

import numpy as np
import pytest
from scipy.special import logsumexp

from tfae import metrics


def _direct_parzen(samples, points, sigma):
    squared = ((points[:, None, :] - samples[None]) ** 2).sum(-1)
    dims = samples.shape[1]
    return (logsumexp(-squared / (2 * sigma**2), axis=1) - np.log(len(samples))
            - 0.5 * dims * np.log(2 * np.pi * sigma**2))


def test_parzen_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    samples, test = rng.uniform(size=(53, 9)), rng.uniform(size=(31, 9))
    result = metrics.parzen_log_likelihood(samples, test, sigma=0.25, batch_size=7)
    np.testing.assert_allclose(result.per_example, _direct_parzen(samples, test, 0.25), rtol=1e-6)
    assert result.mean == pytest.approx(result.per_example.mean())
    assert result.stderr == pytest.approx(result.per_example.std(ddof=1) / np.sqrt(31))


def test_parzen_chooses_sigma_on_validation_data():
    rng = np.random.default_rng(1)
    samples, valid, test = (rng.normal(size=(n, 4)) for n in (300, 100, 100))
    candidates = [0.05, 0.3, 0.6, 5.0]
    result = metrics.parzen_log_likelihood(samples, test, valid_data=valid, sigmas=candidates)
    best = max(candidates, key=lambda s: _direct_parzen(samples, valid, s).mean())
    assert result.sigma == best
    assert result.sigma_scores[best] == pytest.approx(_direct_parzen(samples, valid, best).mean())


def test_parzen_refuses_bad_input():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="valid_data"):
        metrics.parzen_log_likelihood(x, x)
    with pytest.raises(ValueError, match="shape"):
        metrics.parzen_log_likelihood(x, np.zeros((5, 4)), sigma=0.1)
    with pytest.raises(ValueError, match="non-finite"):
        metrics.parzen_log_likelihood(x, np.full((2, 3), np.nan), sigma=0.1)
    with pytest.raises(ValueError, match="sigma"):
        metrics.parzen_log_likelihood(x, x, sigma=0.0)


def test_pixel_mean_nll_is_laplace_smoothed_bernoulli():
    train = np.array([[1, 0], [1, 0], [0, 0]], "float32")
    test = np.array([[1, 1]], "float32")
    p = np.array([3 / 5, 1 / 5])  # (count + 1) / (N + 2)
    expected = -np.log(p).sum()
    assert metrics.pixel_mean_nll(train, test)[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.pixel_mean_nll(train, test * 3)


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(2)
    data = (rng.uniform(size=(37, 12)) < 0.5).astype("float32")
    queries = np.concatenate([data[[5, 30]], (rng.uniform(size=(9, 12)) < 0.5)]).astype("float32")
    indices, distances = metrics.nearest_neighbours(queries, data, batch_size=8)
    squared = ((queries[:, None] - data[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, squared.min(axis=1), atol=1e-9)
    assert indices[0] == 5 and indices[1] == 30 and distances[0] == 0
    np.testing.assert_array_equal(squared[np.arange(len(queries)), indices], squared.min(axis=1))
