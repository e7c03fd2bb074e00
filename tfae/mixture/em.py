"""The maths of EM for a Gaussian mixture, as pure tensor functions.

The model: z ~ Categorical(pi_1, ..., pi_K), x | z = k ~ N(mu_k, Sigma_k), so that
p(x) = sum_k pi_k N(x; mu_k, Sigma_k). One EM iteration:

- E-step: the responsibilities r_nk = p(z = k | x_n) = pi_k N(x_n; mu_k, Sigma_k) / p(x_n),
  in log space.
- M-step: closed-form weighted estimates, with N_k = sum_n r_nk,
  pi_k = N_k / N,  mu_k = sum_n r_nk x_n / N_k,
  Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar I.

The functions are traced into compiled TensorFlow calls (``compiled``). Shapes: x
(n, d), weights (K,), means (K, d); the covariance parameters depend on the
covariance type: full (K, d, d), tied (d, d), diag (K, d), spherical (K,). Every
component is evaluated with one large matrix product instead of a loop over K.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from tfae.mixture.blocks import sum_over_blocks


def estimate_log_prob(x, means, precisions_cholesky, covariance_type):
    """log N(x_n; mu_k, Sigma_k) for every example and component, shape (n, K).

    With the precision Sigma_k^-1 = L_k L_k^T (``precisions_cholesky``),

        log N(x; mu_k, Sigma_k) = -d/2 log(2 pi) + log det L_k - 1/2 ||L_k^T (x - mu_k)||^2.
    """
    dtype = x.dtype
    d = tf.shape(x)[1]
    k = tf.shape(means)[0]
    if covariance_type == "full":
        # x @ [L_1 | ... | L_K]: one (n, d) @ (d, K d) matmul whitens x for all components.
        stacked = tf.reshape(tf.transpose(precisions_cholesky, [1, 0, 2]), [d, k * d])
        projected_means = tf.einsum("kd,kde->ke", means, precisions_cholesky)
        y = tf.reshape(x @ stacked, [-1, k, d]) - projected_means
        squared = tf.reduce_sum(tf.square(y), axis=-1)
        log_det = tf.reduce_sum(tf.math.log(tf.linalg.diag_part(precisions_cholesky)), axis=-1)
    elif covariance_type == "tied":
        y = (x @ precisions_cholesky)[:, None, :] - means @ precisions_cholesky
        squared = tf.reduce_sum(tf.square(y), axis=-1)
        log_det = tf.reduce_sum(tf.math.log(tf.linalg.diag_part(precisions_cholesky)))
    else:
        # Diagonal precisions P_k: sum_d P_kd (x_d - mu_kd)^2 expanded into two (n, d) @ (d, K)
        # products, as scikit-learn does; the data are centred first, which keeps the
        # expansion accurate (see tfae.mixture.data).
        if covariance_type == "diag":
            precisions = tf.square(precisions_cholesky)
            log_det = tf.reduce_sum(tf.math.log(precisions_cholesky), axis=-1)
        else:  # spherical: one precision per component
            precisions = tf.square(precisions_cholesky)[:, None] * tf.ones([1, d], dtype)
            log_det = tf.cast(d, dtype) * tf.math.log(precisions_cholesky)
        squared = (
            tf.square(x) @ tf.transpose(precisions)
            - 2.0 * x @ tf.transpose(means * precisions)
            + tf.reduce_sum(tf.square(means) * precisions, axis=-1)
        )
    return -0.5 * (tf.cast(d, dtype) * math.log(2.0 * math.pi) + squared) + log_det


def log_joint(x, weights, means, precisions_cholesky, covariance_type):
    """log p(x_n, z = k) = log pi_k + log N(x_n; mu_k, Sigma_k), shape (n, K)."""
    return (estimate_log_prob(x, means, precisions_cholesky, covariance_type)
            + tf.math.log(weights))


def e_step(x, weights, means, precisions_cholesky, covariance_type):
    """The E-step: log p(x_n) and the log responsibilities log p(z = k | x_n).

    Returns:
        (log_prob_norm, log_resp): shapes (n,) and (n, K), with
        log p(x_n) = logsumexp_k [log pi_k + log N(x_n; mu_k, Sigma_k)].
    """
    joint = log_joint(x, weights, means, precisions_cholesky, covariance_type)
    log_prob_norm = tf.reduce_logsumexp(joint, axis=1)
    return log_prob_norm, joint - log_prob_norm[:, None]


def statistics(x, resp, covariance_type):
    """The sufficient statistics of one block: N_k, sum_n r_nk x_n and the second moments.

    The second moments are sum_n r_nk x_n x_n^T (K, d, d) for full covariances,
    sum_n r_nk x_n^2 (K, d) for diagonal and spherical ones, and nothing (an empty
    tensor) for the tied covariance, whose second moment X^T X does not depend on r.
    """
    nk = tf.reduce_sum(resp, axis=0)
    sum_x = tf.matmul(resp, x, transpose_a=True)
    if covariance_type == "full":
        # sum_n r_nk x_n x_n^T for all k as one (K d, n) @ (n, d) matmul.
        k, d = tf.shape(resp)[1], tf.shape(x)[1]
        weighted = tf.reshape(resp[:, :, None] * x[:, None, :], [-1, k * d])
        sum_xx = tf.reshape(tf.matmul(weighted, x, transpose_a=True), [k, d, d])
    elif covariance_type == "tied":
        sum_xx = tf.zeros([0], x.dtype)
    else:
        sum_xx = tf.matmul(resp, tf.square(x), transpose_a=True)
    return nk, sum_x, sum_xx


def m_step(nk, sum_x, sum_xx, reg_covar, covariance_type):
    """The M-step: pi, mu and Sigma from the sufficient statistics, and Sigma's precision Cholesky.

    For the tied covariance, ``sum_xx`` is X^T X. Like scikit-learn, 10 machine epsilons are
    added to N_k so that an empty component gives a finite mean (0) instead of 0 / 0.
    """
    dtype = sum_x.dtype
    nk = nk + 10.0 * np.finfo(dtype.as_numpy_dtype).eps
    means = sum_x / nk[:, None]
    if covariance_type == "full":
        # sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k = sum_n r_nk x_n x_n^T / N_k - mu_k mu_k^T
        covariances = sum_xx / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        covariances = 0.5 * (covariances + tf.linalg.matrix_transpose(covariances))
        covariances += reg_covar * tf.eye(tf.shape(means)[1], dtype=dtype)
    elif covariance_type == "tied":
        between = tf.einsum("k,kd,ke->de", nk, means, means)
        covariances = (sum_xx - between) / tf.reduce_sum(nk)
        covariances = 0.5 * (covariances + tf.transpose(covariances))
        covariances += reg_covar * tf.eye(tf.shape(means)[1], dtype=dtype)
    else:
        covariances = sum_xx / nk[:, None] - tf.square(means) + reg_covar
        if covariance_type == "spherical":
            covariances = tf.reduce_mean(covariances, axis=1)
    weights = nk / tf.reduce_sum(nk)
    return weights, means, covariances, precision_cholesky(covariances, covariance_type)


def precision_cholesky(covariances, covariance_type):
    """L with L L^T = Sigma^-1, from Sigma = C C^T: L = C^-T (upper triangular).

    A covariance that is not positive definite gives NaN (TensorFlow's Cholesky does not
    raise); the caller checks for it.
    """
    if covariance_type in ("full", "tied"):
        cholesky = tf.linalg.cholesky(covariances)
        identity = tf.eye(tf.shape(covariances)[-1], dtype=covariances.dtype)
        if covariance_type == "full":
            identity = tf.broadcast_to(identity, tf.shape(covariances))
        inverse = tf.linalg.triangular_solve(cholesky, identity, lower=True)
        return tf.linalg.matrix_transpose(inverse)
    return tf.math.rsqrt(covariances)  # diag and spherical: 1 / sigma


def em_iteration(blocks, tail, weights, means, precisions_cholesky, sum_xx_tied, reg_covar,
                 covariance_type):
    """One EM iteration over all the data, given in row blocks: E-step, then M-step.

    Returns:
        (lower_bound, (weights, means, covariances, precisions_cholesky)): the mean
        log-likelihood of the parameters that went in, and the new parameters.
    """

    def block_statistics(x):
        log_prob_norm, log_resp = e_step(x, weights, means, precisions_cholesky,
                                         covariance_type)
        return (tf.reduce_sum(log_prob_norm),
                *statistics(x, tf.exp(log_resp), covariance_type))

    log_likelihood, nk, sum_x, sum_xx = sum_over_blocks(block_statistics, blocks, tail)
    if covariance_type == "tied":
        sum_xx = sum_xx_tied
    n = tf.shape(blocks)[0] * tf.shape(blocks)[1] + tf.shape(tail)[0]
    lower_bound = log_likelihood / tf.cast(n, log_likelihood.dtype)
    return lower_bound, m_step(nk, sum_x, sum_xx, reg_covar, covariance_type)


def m_step_from_resp(blocks, tail, resp_blocks, resp_tail, sum_xx_tied, reg_covar,
                     covariance_type):
    """The M-step from given responsibilities (the initialisation), split like the data."""
    nk, sum_x, sum_xx = sum_over_blocks(
        lambda block: statistics(*block, covariance_type), (blocks, resp_blocks),
        (tail, resp_tail),
    )
    if covariance_type == "tied":
        sum_xx = sum_xx_tied
    return m_step(nk, sum_x, sum_xx, reg_covar, covariance_type)


def second_moment(blocks, tail):
    """X^T X, for the tied covariance."""
    return sum_over_blocks(lambda x: tf.matmul(x, x, transpose_a=True), blocks, tail)


@functools.cache
def compiled(function, jit_compile: bool):
    """``function`` as a tf.function, traced once per covariance type and shapes."""
    return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)
