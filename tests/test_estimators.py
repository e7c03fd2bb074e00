"""Naive Monte Carlo estimates of p(x): within their standard error, degrading as dim z grows."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfae.estimators import (
    MonteCarloEstimate,
    estimate_from_log_weights,
    naive_monte_carlo_log_prob,
)
from tfae.models.gaussian_mixture import GaussianMixture

tfd = tfp.distributions


def linear_gaussian(latent_dim, data_dim, noise_scale, seed=0):
    """z ~ N(0, I), x | z ~ N(W z + b, s^2 I): p(x) = N(b, W W^T + s^2 I) in closed form.

    Returns (prior, log_likelihood(x) -> (z -> log p(x | z)), marginal p(x), W, b).
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(data_dim, latent_dim)) / math.sqrt(latent_dim)
    b = rng.normal(size=data_dim)
    prior = tfd.MultivariateNormalDiag(loc=tf.zeros(latent_dim, tf.float64))
    marginal = tfd.MultivariateNormalTriL(
        loc=b, scale_tril=np.linalg.cholesky(w @ w.T + noise_scale**2 * np.eye(data_dim))
    )

    def log_likelihood(x):
        # z (S, m) -> log p(x_j | z_s) for every sample s and example j, shape (S, batch).
        def log_prob(z):
            loc = tf.einsum("dm,sm->sd", w, z) + b
            noise = tfd.Independent(tfd.Normal(loc[:, None, :], noise_scale), 1)
            return noise.log_prob(x)

        return log_prob

    return prior, log_likelihood, marginal


def prior_estimate(latent_dim, data_dim, noise_scale, num_samples, num_x=20, seed=0):
    """The naive estimate with z ~ p(z) for num_x points x drawn from the model."""
    prior, log_likelihood, marginal = linear_gaussian(latent_dim, data_dim, noise_scale, seed)
    x = marginal.sample(num_x, seed=seed).numpy()
    estimate = naive_monte_carlo_log_prob(
        lambda z: prior.log_prob(z)[:, None] + log_likelihood(x)(z), prior, num_samples,
        seed=seed + 1,
    )
    return estimate, marginal.log_prob(x).numpy()


# ------------------------------------------------------------------ the lecture's two formulas


def test_uniform_latent_estimate_of_a_gmm_agrees_with_its_exact_likelihood():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0], [0.0, -3.0]])
    data = np.concatenate([c + rng.normal(size=(60, 2)) for c in centres])
    gmm = GaussianMixture(n_components=4, seed=0, jit_compile=False).fit(data)
    x = data[::12]  # 20 points
    table = tf.constant(gmm.log_joint(x).T)  # (K, 20): log p(x, z = k)

    # p(x) = |Z| E_{z ~ Uniform(Z)} p(x, z), with |Z| = 4.
    estimate = naive_monte_carlo_log_prob(
        lambda z: tf.gather(table, z), tfd.Categorical(logits=tf.zeros(4)), 400, seed=0
    )
    exact = gmm.score_samples(x)
    assert estimate.log_prob.shape == (20,) and estimate.num_samples == 400
    error = np.exp(estimate.log_prob) - np.exp(exact)
    z_scores = error / np.exp(estimate.log_standard_error)
    assert np.all(np.abs(z_scores) < 4), z_scores
    # Exact in expectation: the errors are centred on zero (a missing |Z| would be log 4 off).
    assert abs(z_scores.mean()) < 1.0
    assert np.all(np.abs(estimate.log_prob - exact) < 0.2)


def test_prior_estimate_of_a_continuous_latent_agrees_with_the_closed_form():
    estimate, exact = prior_estimate(latent_dim=2, data_dim=3, noise_scale=0.5,
                                     num_samples=20_000)
    # relative_standard_error is the delta-method standard error of log p^(x).
    z_scores = (estimate.log_prob - exact) / estimate.relative_standard_error
    assert np.all(np.abs(z_scores) < 4), z_scores
    assert np.all(estimate.relative_standard_error < 0.1)


def test_the_naive_estimate_degrades_as_the_latent_dimension_grows():
    dims = (1, 4, 16)
    estimates = {m: prior_estimate(latent_dim=m, data_dim=m, noise_scale=0.5, num_samples=2000)
                 for m in dims}
    relative = [np.median(estimates[m][0].relative_standard_error) for m in dims]
    effective = [np.median(estimates[m][0].effective_sample_size) for m in dims]
    assert relative[0] < 0.05 and relative[0] < relative[1] < relative[2]
    assert relative[2] > 10 * relative[0]
    assert effective[0] > effective[1] > effective[2] and effective[2] < 50
    # With most of the weight on a few z, log p^ is far below log p (Jensen's gap).
    gap = [np.mean(estimates[m][0].log_prob - estimates[m][1]) for m in dims]
    assert abs(gap[0]) < 0.01 and gap[2] < -1.0


def test_an_exact_posterior_proposal_gives_a_zero_variance_estimate():
    # z ~ N(0, 1), x | z ~ N(z, s^2): q(z) = p(z | x) makes every weight equal to p(x).
    s2, x = 0.25, np.array([-1.0, 0.3, 2.0])
    prior = tfd.Normal(np.float64(0.0), 1.0)
    posterior = tfd.Normal(x / (1 + s2), math.sqrt(s2 / (1 + s2)))  # batch of 3
    estimate = naive_monte_carlo_log_prob(
        lambda z: prior.log_prob(z) + tfd.Normal(z, math.sqrt(s2)).log_prob(x), posterior, 50,
        seed=0,
    )
    exact = tfd.Normal(np.float64(0.0), math.sqrt(1 + s2)).log_prob(x).numpy()
    np.testing.assert_allclose(estimate.log_prob, exact, rtol=1e-12)
    assert np.all(estimate.relative_standard_error < 1e-12)
    np.testing.assert_allclose(estimate.effective_sample_size, 50)


# ------------------------------------------------------------------ the reduction in log space


def test_estimate_from_log_weights_is_the_sample_mean_and_its_standard_error():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    estimate = estimate_from_log_weights(np.log(weights))
    assert isinstance(estimate, MonteCarloEstimate) and estimate.num_samples == 4
    assert np.exp(estimate.log_prob) == pytest.approx(2.5)
    assert np.exp(estimate.log_standard_error) == pytest.approx(weights.std(ddof=1) / 2)
    assert estimate.effective_sample_size == pytest.approx(10.0**2 / 30.0)


def test_estimate_from_log_weights_does_not_underflow():
    # Weights near e^-1000 (an image's likelihood) are 0 in floating point: log space keeps them.
    log_weights = np.log([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0]]) - 1000.0
    estimate = estimate_from_log_weights(log_weights)
    np.testing.assert_allclose(estimate.log_prob, [np.log(2.5) - 1000.0, -1000.0], rtol=1e-14)
    assert estimate.relative_standard_error[0] == pytest.approx(
        np.std([1, 2, 3, 4], ddof=1) / 2 / 2.5)
    assert estimate.log_standard_error[1] == -np.inf  # equal weights: no spread
    # p(x, z) = 0 for every z is a valid answer: p^(x) = 0.
    zero = estimate_from_log_weights(np.full(3, -np.inf))
    assert zero.log_prob == -np.inf and zero.effective_sample_size == 0


# ------------------------------------------------------------------ bad input


def test_bad_arguments_are_refused():
    prior = tfd.Normal(0.0, 1.0)
    with pytest.raises(TypeError, match="log_joint must be a callable"):
        naive_monte_carlo_log_prob(np.zeros(3), prior, 10)
    with pytest.raises(TypeError, match="tfd.Categorical"):
        naive_monte_carlo_log_prob(prior.log_prob, "uniform", 10)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        naive_monte_carlo_log_prob(prior.log_prob, prior, 1)
    with pytest.raises(ValueError, match=r"samples on axis 0.*got shape \(\)"):
        naive_monte_carlo_log_prob(lambda z: tf.reduce_sum(z), prior, 10)
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        naive_monte_carlo_log_prob(lambda z: z * np.nan, prior, 10)
    with pytest.raises(ValueError, match="at least 2 samples"):
        estimate_from_log_weights([0.0])
