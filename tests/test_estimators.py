"""Monte Carlo estimates of p(x): naive ones within their standard error, degrading as dim z
grows; importance-weighted ones and the ELBO against the closed form of a linear Gaussian."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import estimators, priors
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
    gmm = GaussianMixture(n_components=4, random_state=0, jit_compile=False).fit(data)
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


# ------------------------------------------------------------------ importance weighting


@pytest.fixture(scope="module")
def linear_model():
    """z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3), and q(z | x) with the exact posterior
    means, but no correlation and 1.5 times its standard deviations: the ELBO is below
    log p(x)."""
    rng = np.random.default_rng(1)
    w, b, s = rng.normal(size=(3, 2)), rng.normal(size=3), 0.5
    covariance = np.linalg.inv(np.eye(2) + w.T @ w / s**2)  # of p(z | x)
    gain = (covariance @ w.T / s**2).astype("float32")
    scale = 1.5 * np.sqrt(np.diag(covariance)).astype("float32")
    b32, w32 = b.astype("float32"), w.astype("float32")

    def posterior(x):
        loc = tf.matmul(x - b32, gain, transpose_b=True)
        return loc, tf.broadcast_to(scale, tf.shape(loc))

    def log_likelihood(x, z):
        return tfd.Independent(tfd.Normal(tf.einsum("dm,sbm->sbd", w32, z) + b32, s), 1
                               ).log_prob(x)

    prior = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    marginal = tfd.MultivariateNormalTriL(b, np.linalg.cholesky(w @ w.T + s**2 * np.eye(3)))
    x = marginal.sample(10, seed=(1, 2)).numpy().astype("float32")  # stateless: any order
    model = estimators.LatentVariableModel(posterior, log_likelihood, prior)
    return model, x, marginal.log_prob(x).numpy()


def test_importance_weighting_tightens_the_elbo_towards_the_exact_log_prob(linear_model):
    model, x, exact = linear_model
    elbo = estimators.elbo(model, x, num_samples=4000, seed=0)
    iw = {k: np.mean([estimators.importance_weighted_log_prob(model, x, k, seed=seed)
                      for seed in range(5)], axis=0) for k in (10, 1000)}
    assert np.all(elbo < exact - 0.1)  # a proper bound with this q
    assert elbo.mean() < iw[10].mean() - 0.1 and iw[10].mean() < iw[1000].mean()
    np.testing.assert_allclose(iw[1000], exact, atol=0.02)
    analytic = estimators.elbo(model, x, num_samples=4000, seed=0,
                               kl=lambda loc, scale: priors.analytic_kl(loc, scale, model.prior))
    np.testing.assert_allclose(analytic, elbo, atol=0.02)
    # One draw: both are log w at the same z.
    np.testing.assert_allclose(estimators.importance_weighted_log_prob(model, x, 1, seed=3),
                               estimators.elbo(model, x, 1, seed=3), rtol=1e-6)


def test_chunks_and_batches_change_nothing_but_the_draws(linear_model):
    """The chunked loop over the draws of the documented seeds equals a direct computation
    of the same draws at once."""
    model, x, _ = linear_model
    num_samples, batch_size, chunk_size, seed = 10, 4, 3, 7
    chunked = estimators.importance_weighted_log_prob(model, x, num_samples, seed, batch_size,
                                                      chunk_size)
    elbo = estimators.elbo(model, x, num_samples, seed, batch_size, chunk_size)
    log_w = []
    for index, start in enumerate(range(0, len(x), batch_size)):
        batch = x[start:start + batch_size]
        batch_seed = tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64),
                                                              index)
        eps = tf.concat([tf.random.stateless_normal(
            [chunk_size, len(batch), 2], tf.random.experimental.stateless_fold_in(batch_seed, c))
            for c in range(4)], axis=0)[:num_samples]
        loc, scale = model.posterior(batch)
        z = loc + scale * eps
        q = tfd.MultivariateNormalDiag(loc, scale)
        log_w.append(model.log_likelihood(batch, z) + model.prior.log_prob(z) - q.log_prob(z))
    log_w = tf.concat(log_w, axis=1).numpy().astype(np.float64)
    np.testing.assert_allclose(
        chunked, np.logaddexp.reduce(log_w, axis=0) - np.log(num_samples), rtol=1e-5)
    np.testing.assert_allclose(elbo, log_w.mean(axis=0), rtol=1e-5)
    # Another chunk size draws other z: the same estimate only on average.
    whole = estimators.importance_weighted_log_prob(model, x, num_samples, seed, batch_size)
    assert not np.array_equal(whole, chunked)


def test_the_monte_carlo_kl_estimates_the_closed_form(linear_model):
    model, x, _ = linear_model
    loc, scale = model.posterior(x)
    estimate = estimators.monte_carlo_kl(loc, scale, model.prior, num_samples=20000, seed=0)
    np.testing.assert_allclose(estimate, priors.analytic_kl(loc, scale, model.prior), atol=0.02)
    np.testing.assert_allclose(priors.standard_normal_kl(loc, scale),
                               priors.analytic_kl(loc, scale, model.prior), rtol=1e-5)


def test_bad_importance_sampling_arguments_are_refused(linear_model):
    model, x, _ = linear_model
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        estimators.importance_weighted_log_prob(model, x, num_samples=0)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        estimators.elbo(model, x, chunk_size=0)
    with pytest.raises(ValueError, match="empty"):
        estimators.elbo(model, x[:0])
    with pytest.raises(TypeError, match="kl must be a callable"):
        estimators.elbo(model, x, kl="analytic")
    with pytest.raises(TypeError, match="posterior must be callable"):
        estimators.LatentVariableModel(None, model.log_likelihood, model.prior)
    with pytest.raises(TypeError, match="prior must be a TFP distribution"):
        estimators.LatentVariableModel(model.posterior, model.log_likelihood, "normal")

