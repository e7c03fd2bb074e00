"""The Gaussian mixture: the lecture's shallow latent variable model, fitted by EM.

The generative process has a discrete latent z and a Gaussian per value of z:

    z ~ Categorical(pi_1, ..., pi_K),    x | z = k ~ N(mu_k, Sigma_k),

so that the likelihood of one example is a sum over the latent,

    p(x) = sum_z p(z) p(x | z) = sum_k pi_k N(x; mu_k, Sigma_k).

The parameters maximise sum_x log p(x) by expectation-maximisation (EM):

- E-step: the posterior over the latent, the responsibilities
  r_nk = p(z = k | x_n) = pi_k N(x_n; mu_k, Sigma_k) / p(x_n), in log space.
- M-step: closed-form weighted estimates, with N_k = sum_n r_nk,
  pi_k = N_k / N,  mu_k = sum_n r_nk x_n / N_k,
  Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar I.

Each EM iteration is one compiled TensorFlow call. It streams over blocks of rows
so that memory stays bounded for large N, and it evaluates every component with one
large matrix product instead of a Python loop over components.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks

tfd = tfp.distributions
tfb = tfp.bijectors

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INITS = ("kmeans", "k-means++", "random")
DTYPES = ("float64", "float32")

#: The largest intermediate tensor of one block of rows, in elements: (rows, K, d) for
#: full and tied covariances. 2**21 float64 values are 16 MiB; larger blocks were no
#: faster on a 2-core CPU (see benchmarks/gaussian_mixture.py).
_BLOCK_ELEMENTS = 2**21

#: Lloyd's k-means, as in scikit-learn's KMeans: at most 300 iterations, stop when the
#: centres move by less than 1e-4 of the mean per-feature variance (squared distance).
_KMEANS_MAX_ITER = 300
_KMEANS_TOL = 1e-4

#: The file format written by ``GaussianMixture.save``.
_FORMAT = "tfae.GaussianMixture/1"


# --------------------------------------------------------------------------- the model's maths
#
# The functions below take and return tensors; they are traced into the compiled EM
# iteration. Shapes: x (n, d), weights (K,), means (K, d); the covariance parameters
# depend on the covariance type:
#   full: (K, d, d)   tied: (d, d)   diag: (K, d)   spherical: (K,).


def _estimate_log_prob(x, means, precisions_cholesky, covariance_type):
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
        # expansion accurate (see GaussianMixture.fit).
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


def _log_joint(x, weights, means, precisions_cholesky, covariance_type):
    """log p(x_n, z = k) = log pi_k + log N(x_n; mu_k, Sigma_k), shape (n, K)."""
    return (_estimate_log_prob(x, means, precisions_cholesky, covariance_type)
            + tf.math.log(weights))


def _e_step(x, weights, means, precisions_cholesky, covariance_type):
    """The E-step: log p(x_n) and the log responsibilities log p(z = k | x_n).

    Returns:
        (log_prob_norm, log_resp): shapes (n,) and (n, K), with
        log p(x_n) = logsumexp_k [log pi_k + log N(x_n; mu_k, Sigma_k)].
    """
    log_joint = _log_joint(x, weights, means, precisions_cholesky, covariance_type)
    log_prob_norm = tf.reduce_logsumexp(log_joint, axis=1)
    return log_prob_norm, log_joint - log_prob_norm[:, None]


def _statistics(x, resp, covariance_type):
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


def _m_step(nk, sum_x, sum_xx, reg_covar, covariance_type):
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
    return weights, means, covariances, _precision_cholesky(covariances, covariance_type)


def _precision_cholesky(covariances, covariance_type):
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


def _sum_over_blocks(function, blocks, tail):
    """sum_b function(block_b) over the row blocks of the data, as a graph loop.

    Args:
        function: maps a structure of row blocks to a structure of tensors to add up.
        blocks: a structure of tensors (B, rows, ...): B full blocks of rows.
        tail: the same structure of tensors (r, ...): the remaining r < rows rows,
            possibly none; ``function`` of zero rows gives the zeros the sum starts from.
    """
    total = function(tail)
    count = tf.shape(tf.nest.flatten(blocks)[0])[0]

    def body(i, total):
        block = tf.nest.map_structure(lambda t: t[i], blocks)
        return i + 1, tf.nest.map_structure(tf.add, total, function(block))

    _, total = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), total))
    return total


def _em_iteration(blocks, tail, weights, means, precisions_cholesky, sum_xx_tied, reg_covar,
                  covariance_type):
    """One EM iteration over all the data: E-step, then M-step.

    Returns:
        (lower_bound, (weights, means, covariances, precisions_cholesky)): the mean
        log-likelihood of the parameters that went in, and the new parameters.
    """

    def block_statistics(x):
        log_prob_norm, log_resp = _e_step(x, weights, means, precisions_cholesky,
                                          covariance_type)
        return (tf.reduce_sum(log_prob_norm),
                *_statistics(x, tf.exp(log_resp), covariance_type))

    log_likelihood, nk, sum_x, sum_xx = _sum_over_blocks(block_statistics, blocks, tail)
    if covariance_type == "tied":
        sum_xx = sum_xx_tied
    n = tf.shape(blocks)[0] * tf.shape(blocks)[1] + tf.shape(tail)[0]
    lower_bound = log_likelihood / tf.cast(n, log_likelihood.dtype)
    return lower_bound, _m_step(nk, sum_x, sum_xx, reg_covar, covariance_type)


def _m_step_from_resp(blocks, tail, resp_blocks, resp_tail, sum_xx_tied, reg_covar,
                      covariance_type):
    """The M-step from given responsibilities (the initialisation), split like the data."""
    nk, sum_x, sum_xx = _sum_over_blocks(
        lambda block: _statistics(*block, covariance_type), (blocks, resp_blocks),
        (tail, resp_tail),
    )
    if covariance_type == "tied":
        sum_xx = sum_xx_tied
    return _m_step(nk, sum_x, sum_xx, reg_covar, covariance_type)


def _second_moment(blocks, tail):
    """X^T X, for the tied covariance."""
    return _sum_over_blocks(lambda x: tf.matmul(x, x, transpose_a=True), blocks, tail)


# --------------------------------------------------------------------------- k-means


def _squared_distances(x, centers):
    """||x_n - c_j||^2 up to the constant ||x_n||^2, shape (n, J): enough for an argmin."""
    return tf.reduce_sum(tf.square(centers), axis=1) - 2.0 * x @ tf.transpose(centers)


def _kmeans_plusplus(x, n_clusters, seed):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), as in scikit-learn.

    Each new centre is the best of 2 + log(K) candidates drawn with probability
    proportional to the squared distance to the nearest centre so far: the one that
    most reduces the sum of those distances.
    """
    n = tf.shape(x)[0]
    trials = 2 + int(math.log(n_clusters))
    squared_norms = tf.reduce_sum(tf.square(x), axis=1)
    first = tf.random.stateless_uniform([], seed, 0, n, dtype=tf.int32)
    centers = tf.tensor_scatter_nd_update(
        tf.zeros([n_clusters, tf.shape(x)[1]], x.dtype), [[0]], x[first][None]
    )
    closest = tf.reduce_sum(tf.square(x - x[first]), axis=1)

    def body(j, centers, closest):
        draw = tf.random.stateless_uniform(
            [trials], tf.random.experimental.stateless_fold_in(seed, j), dtype=x.dtype
        )
        cumulative = tf.cumsum(closest)
        candidates = tf.searchsorted(cumulative, draw * cumulative[-1])
        # Rounding can put a draw past the last cumulative sum: that is the last point.
        candidates = tf.minimum(candidates, n - 1)
        chosen = tf.gather(x, candidates)
        distances = (tf.gather(squared_norms, candidates)[:, None] + squared_norms
                     - 2.0 * chosen @ tf.transpose(x))
        # (trials, n) distances by expansion; rounding can leave tiny negatives: floor at 0.
        distances = tf.minimum(closest, tf.maximum(distances, 0.0))
        best = tf.argmin(tf.reduce_sum(distances, axis=1))
        centers = tf.tensor_scatter_nd_update(
            centers, tf.reshape(j, [1, 1]), x[candidates[best]][None]
        )
        return j + 1, centers, distances[best]

    _, centers, _ = tf.while_loop(
        lambda j, *_: j < n_clusters, body, (tf.constant(1), centers, closest)
    )
    return centers


def _lloyd(x, centers, max_iter, tol):
    """Lloyd's k-means from ``centers``; returns the labels of the final centres.

    A cluster that loses all its points moves to the point farthest from its own centre
    (the next farthest for the next empty cluster), as in scikit-learn.
    """
    n_clusters = centers.shape[0]

    def update(centers):
        distances = _squared_distances(x, centers)
        labels = tf.argmin(distances, axis=1, output_type=tf.int32)
        sums = tf.math.unsorted_segment_sum(x, labels, n_clusters)
        counts = tf.math.unsorted_segment_sum(tf.ones_like(x[:, 0]), labels, n_clusters)
        empty = counts == 0
        own = tf.gather(distances, labels, batch_dims=1) + tf.reduce_sum(tf.square(x), 1)
        _, farthest = tf.math.top_k(own, k=n_clusters)
        rank = tf.cumsum(tf.cast(empty, tf.int32)) - 1
        relocated = tf.gather(x, tf.gather(farthest, tf.maximum(rank, 0)))
        means = sums / tf.maximum(counts, 1.0)[:, None]
        return tf.where(empty[:, None], relocated, means)

    def body(i, centers, shift):
        new = update(centers)
        return i + 1, new, tf.reduce_sum(tf.square(new - centers))

    _, centers, _ = tf.while_loop(
        lambda i, _, shift: (i < max_iter) & (shift > tol),
        body,
        (tf.constant(0), centers, tf.constant(np.inf, x.dtype)),
    )
    return tf.argmin(_squared_distances(x, centers), axis=1, output_type=tf.int32)


def _kmeans_labels(x, n_clusters, seed, max_iter):
    """k-means++ seeding, then ``max_iter`` Lloyd iterations at most; the labels (n,)."""
    tol = _KMEANS_TOL * tf.reduce_mean(tf.math.reduce_variance(x, axis=0))
    return _lloyd(x, _kmeans_plusplus(x, n_clusters, seed), max_iter, tol)


@functools.cache
def _compiled_kmeans(n_clusters: int):
    """``_kmeans_labels`` for K clusters as a tf.function (never XLA: it runs once per
    initialisation, compiling would cost more). K fixes shapes, so each K is traced
    once; one function per K keeps a loop over K (choosing it by BIC) free of TF's
    "excessive retracing" warnings."""
    return tf.function(functools.partial(_kmeans_labels, n_clusters=n_clusters),
                       reduce_retracing=True)


@functools.cache
def _compiled(function, jit_compile: bool):
    """``function`` as a tf.function, traced once per covariance type and shapes."""
    return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)


# --------------------------------------------------------------------------- checks


def _as_array(x, dtype: str, name: str) -> np.ndarray:
    # In the model's precision: float64 keeps parity with scikit-learn.
    if isinstance(x, tf.Tensor):
        x = x.numpy()
    return _checks.as_float_array(x, name, dtype=dtype)


def _check_data(x, dtype: str, name: str = "x") -> np.ndarray:
    """Returns ``x`` as a finite (n_samples, n_features) array of ``dtype``."""
    array = _as_array(x, dtype, name)
    if array.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got a 1-D array of shape "
            f"{array.shape}; reshape it with {name}.reshape(-1, 1) if it holds one feature, "
            f"or {name}.reshape(1, -1) if it is one example."
        )
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}; flatten "
            f"each example, e.g. {name}.reshape(len({name}), -1)."
        )
    _checks.check_not_empty(array, name)
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {array.shape}); pass at least one.")
    _checks.check_finite(array, name)
    return array


def _check_choice(value, name: str, choices: tuple) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


def _check_dtype(dtype) -> str:
    try:
        name = tf.as_dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}.")
    return name


def _optional_array(value, name: str) -> np.ndarray | None:
    if value is None:
        return None
    array = _as_array(value, "float64", name)
    _checks.check_finite(array, name)
    return array


def _block_rows(n: int, n_components: int, n_features: int, covariance_type: str) -> int:
    """Rows per block so that the largest intermediate has about _BLOCK_ELEMENTS values.

    The blocks are balanced (n = B * rows + tail with a small tail).
    """
    if covariance_type in ("full", "tied"):
        per_row = n_components * n_features  # the whitened (rows, K, d) tensor
    else:
        per_row = max(n_components, n_features)
    rows = max(1, min(n, _BLOCK_ELEMENTS // per_row))
    return math.ceil(n / math.ceil(n / rows))


class _Data(NamedTuple):
    """The centred data, as EM consumes it."""

    x: np.ndarray  # (N, d)
    rows: int  # rows per block
    blocks: tf.Tensor  # (B, rows, d): the first B * rows rows
    tail: tf.Tensor  # (N - B * rows, d)
    sum_xx_tied: tf.Tensor | None  # X^T X for the tied covariance, else None


def _split_rows(array: np.ndarray, rows: int):
    """(blocks, tail): the array cut into (B, rows, ...) full blocks of rows and the rest."""
    full = len(array) - len(array) % rows
    blocks = tf.reshape(array[:full], (full // rows, rows, *array.shape[1:]))
    return blocks, tf.constant(array[full:])


# --------------------------------------------------------------------------- the model


@keras.saving.register_keras_serializable(package="tfae")
class GaussianMixture:
    """A Gaussian mixture fitted by expectation-maximisation, with scikit-learn's interface.

    The lecture's shallow latent variable model: z ~ Categorical(pi),
    x | z = k ~ N(mu_k, Sigma_k), so that

        p(x) = sum_k p(z = k) N(x; mu_k, Sigma_k).

    ``fit`` maximises the log-likelihood sum_n log p(x_n) by EM in TensorFlow: the
    E-step computes the responsibilities r_nk = p(z = k | x_n) with a log-sum-exp,
    the M-step re-estimates pi, mu and Sigma in closed form, and log densities use the
    Cholesky factor of each precision. The iteration is compiled (``tf.function``) and
    streams over blocks of rows, so memory does not grow with N beyond the data and
    the (N, K) responsibilities. Given the same initial parameters it follows
    scikit-learn's ``GaussianMixture`` iteration for iteration (same stopping rule:
    the change of the mean log-likelihood below ``tol``).

    Args:
        n_components: int, K, the number of mixture components.
        covariance_type: str, the form of Sigma_k: ``"full"`` (one full matrix per
            component), ``"tied"`` (one full matrix shared by all), ``"diag"`` (one
            diagonal per component) or ``"spherical"`` (one variance per component).
            Defaults to ``"full"``.
        max_iter: int, the most EM iterations per initialisation. Defaults to 100.
        tol: float, EM stops when the mean log-likelihood per example changes by less
            than ``tol`` nats between iterations. Defaults to 1e-3.
        reg_covar: float >= 0, added to the diagonal of every covariance so that a
            component that collapses onto a few points keeps a positive-definite
            covariance. Defaults to 1e-6.
        init: str, how the responsibilities are initialised: ``"kmeans"`` (k-means++
            seeding then Lloyd's k-means, hard assignments), ``"k-means++"`` (each
            point assigned to its nearest k-means++ seed) or ``"random"`` (uniform
            random responsibilities, normalised). Defaults to ``"kmeans"``.
        n_init: int, the number of initialisations; the one with the highest final
            lower bound is kept. Defaults to 1.
        seed: int or None, seeds the initialisation and ``sample``. Defaults to None
            (a different draw each run).
        dtype: ``"float64"`` or ``"float32"`` (or the NumPy / TensorFlow dtype).
            float32 is faster; float64 matches scikit-learn to rounding.
            Defaults to ``"float64"``.
        weights_init: array (K,) or None, initial pi (non-negative, summing to 1).
        means_init: array (K, d) or None, initial mu.
        precisions_init: array or None, initial precisions Sigma^-1, shaped like
            ``covariances_``. The three ``*_init`` override the parameters ``init``
            produces, as in scikit-learn; ``init`` is skipped when all three are given.
        jit_compile: bool, compile the EM iteration with XLA. Defaults to False: on a
            2-core CPU XLA was no faster per iteration and its compilation adds seconds
            to every fit of a new shape (benchmarks/gaussian_mixture.py).

    Attributes:
        weights_: array (K,), pi.
        means_: array (K, d), mu.
        covariances_: array, Sigma: (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
        precisions_cholesky_: array shaped like ``covariances_``, L with L L^T = Sigma^-1
            (1 / sigma for diag and spherical).
        converged_: bool, whether the kept initialisation stopped by ``tol``.
        n_iter_: int, EM iterations of the kept initialisation.
        lower_bound_: float, the last entry of ``lower_bounds_``.
        lower_bounds_: list of float, for each EM iteration of the kept initialisation,
            the mean log-likelihood (1/N) sum_n log p(x_n) of the parameters that
            iteration started from (as in scikit-learn; ``score(x)`` gives that of the
            final parameters).
        n_features_in_: int, d.

    Raises:
        ValueError: an invalid setting (the message names it and the accepted values).
        TypeError: a setting of the wrong type.

    Example:
    >>> import numpy as np, tfae
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])
    >>> gmm = tfae.GaussianMixture(n_components=2, seed=0).fit(x)
    >>> np.sort(gmm.means_[:, 0]).round(0)
    array([-3.,  3.])
    >>> gmm.distribution.log_prob(x[:3]).shape
    TensorShape([3])

    References:
        Bishop, "Pattern Recognition and Machine Learning", section 9.2 (2006).
        Dempster, Laird, Rubin, "Maximum likelihood from incomplete data via the EM
        algorithm", JRSS B 39 (1977).
        Pedregosa et al., "Scikit-learn: machine learning in Python", JMLR 12 (2011).
    """

    def __init__(
        self,
        n_components: int = 1,
        covariance_type: str = "full",
        max_iter: int = 100,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        init: str = "kmeans",
        n_init: int = 1,
        seed: int | None = None,
        dtype="float64",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        jit_compile: bool = False,
    ):
        self.n_components = _checks.check_positive_int(n_components, "n_components")
        self.covariance_type = _check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)
        self.max_iter = _checks.check_positive_int(max_iter, "max_iter")
        self.tol = _checks.check_number(tol, "tol")
        self.reg_covar = _checks.check_number(reg_covar, "reg_covar")
        self.init = _check_choice(init, "init", INITS)
        self.n_init = _checks.check_positive_int(n_init, "n_init")
        if seed is not None:
            seed = _checks.check_positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.dtype = _check_dtype(dtype)
        self.weights_init = _optional_array(weights_init, "weights_init")
        self.means_init = _optional_array(means_init, "means_init")
        self.precisions_init = _optional_array(precisions_init, "precisions_init")
        if not isinstance(jit_compile, (bool, np.bool_)):
            raise TypeError(f"jit_compile must be True or False, got {jit_compile!r}.")
        self.jit_compile = bool(jit_compile)
        self._rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ fitting

    def fit(self, x, y=None) -> GaussianMixture:
        """Estimates pi, mu and Sigma by EM, keeping the best of ``n_init`` runs.

        Args:
            x: array (N, d) of finite numbers, N >= ``n_components``.
            y: ignored (scikit-learn's signature).

        Returns:
            The fitted model itself.

        Raises:
            ValueError: x is not 2-D, empty, has NaN or inf, fewer rows than
                components or a feature count that the ``*_init`` arrays do not match;
                or a covariance stopped being positive definite during EM (a component
                collapsed onto too few points; increase ``reg_covar`` or reduce
                ``n_components``).
            TypeError: x does not hold real numbers.

        Warns:
            RuntimeWarning: EM stopped at ``max_iter`` before the change fell below ``tol``.
        """
        del y
        x = _check_data(x, self.dtype)
        n, d = x.shape
        if n < self.n_components:
            raise ValueError(
                f"n_components={self.n_components} is larger than the number of samples "
                f"({n}); pass at least {self.n_components} samples or reduce n_components."
            )
        initial = self._checked_initial_parameters(d)

        # EM is translation-equivariant: fitting the centred data and shifting the means
        # back gives the same model, and keeps x^2 - 2 x mu + mu^2 expansions and second
        # moments accurate (in float32 especially) when the data sit far from the origin.
        shift = x.mean(axis=0, dtype=np.float64)
        centred = (x - shift).astype(self.dtype)
        rows = _block_rows(n, self.n_components, d, self.covariance_type)
        blocks, tail = _split_rows(centred, rows)
        sum_xx_tied = None
        if self.covariance_type == "tied":
            sum_xx_tied = self._call(_second_moment, blocks, tail)
        data = _Data(centred, rows, blocks, tail, sum_xx_tied)

        # A fresh generator from the seed: fitting twice gives the same model.
        rng = np.random.default_rng(self.seed)
        best = None
        for _ in range(self.n_init):
            run = self._run_em(data, self._initial_parameters(data, initial, shift, rng))
            if best is None or run["lower_bounds"][-1] > best["lower_bounds"][-1]:
                best = run

        weights, means, covariances, precisions_cholesky = (
            np.asarray(p) for p in best["parameters"]
        )
        self.weights_ = weights
        self.means_ = (means + shift).astype(self.dtype)
        self.covariances_ = covariances
        self.precisions_cholesky_ = precisions_cholesky
        self.converged_ = best["converged"]
        self.n_iter_ = len(best["lower_bounds"])
        self.lower_bounds_ = best["lower_bounds"]
        self.lower_bound_ = best["lower_bounds"][-1]
        self.n_features_in_ = d
        if not self.converged_:
            warnings.warn(
                f"EM did not converge in max_iter={self.max_iter} iterations: the mean "
                f"log-likelihood still changed by {self._last_change(best):.3g} > "
                f"tol={self.tol:g}. Increase max_iter or tol.",
                RuntimeWarning,
                stacklevel=2,
            )
        return self

    @staticmethod
    def _last_change(run) -> float:
        bounds = run["lower_bounds"]
        return abs(bounds[-1] - bounds[-2]) if len(bounds) > 1 else math.inf

    def _call(self, function, *args, **kwargs):
        return _compiled(function, self.jit_compile)(*args, **kwargs)

    def _run_em(self, data: _Data, parameters) -> dict:
        """EM from ``parameters`` until the lower bound changes by less than tol."""
        weights, means, _, precisions_cholesky = parameters
        reg_covar = tf.constant(self.reg_covar, self.dtype)
        lower_bounds, converged = [], False
        for _ in range(self.max_iter):
            lower_bound, parameters = self._call(
                _em_iteration, data.blocks, data.tail, weights, means, precisions_cholesky,
                data.sum_xx_tied, reg_covar, covariance_type=self.covariance_type,
            )
            lower_bound = float(lower_bound)
            if not np.isfinite(lower_bound):
                raise ValueError(
                    f"The log-likelihood became {lower_bound} at EM iteration "
                    f"{len(lower_bounds) + 1}: some covariance is numerically singular. "
                    f"Increase reg_covar (now {self.reg_covar:g}), reduce n_components, "
                    "rescale the data or use dtype='float64'."
                )
            self._check_positive_definite(parameters[3], len(lower_bounds) + 1)
            weights, means, _, precisions_cholesky = parameters
            lower_bounds.append(lower_bound)
            if len(lower_bounds) > 1 and abs(lower_bounds[-1] - lower_bounds[-2]) < self.tol:
                converged = True
                break
        return {"parameters": parameters, "lower_bounds": lower_bounds, "converged": converged}

    def _check_positive_definite(self, precisions_cholesky, iteration) -> None:
        if not np.all(np.isfinite(precisions_cholesky)):
            raise ValueError(
                f"EM failed at iteration {iteration}: a covariance is not positive definite "
                "although reg_covar was added to its diagonal (a component collapsed onto a "
                "point or a lower-dimensional set, or a feature is constant within it). "
                f"Increase reg_covar (now {self.reg_covar:g}), reduce n_components "
                f"(now {self.n_components}), rescale the data"
                + (" or use dtype='float64'." if self.dtype == "float32" else ".")
            )

    def _initial_parameters(self, data: _Data, initial, shift, rng):
        """(weights, means, covariances, precisions_cholesky) to start EM from, centred.

        As in scikit-learn, ``init`` gives responsibilities, the M-step turns them into
        parameters, and the ``*_init`` arrays then replace their counterparts.
        """
        weights_init, means_init, precisions_cholesky_init = initial
        if all(p is not None for p in initial):
            parameters = (None, None, None, None)
        else:
            resp_blocks, resp_tail = _split_rows(self._initial_responsibilities(data.x, rng),
                                                 data.rows)
            parameters = self._call(
                _m_step_from_resp, data.blocks, data.tail, resp_blocks, resp_tail,
                data.sum_xx_tied,
                tf.constant(self.reg_covar, self.dtype), covariance_type=self.covariance_type,
            )
            self._check_positive_definite(parameters[3], 0)
        weights, means, covariances, precisions_cholesky = parameters
        if weights_init is not None:
            weights = weights_init
        if means_init is not None:
            means = means_init - shift
        if precisions_cholesky_init is not None:
            precisions_cholesky = precisions_cholesky_init
        return tuple(None if p is None else tf.constant(np.asarray(p), self.dtype)
                     for p in (weights, means, covariances, precisions_cholesky))

    def _initial_responsibilities(self, x, rng) -> np.ndarray:
        """The (N, K) responsibilities that ``init`` starts EM from."""
        seed = tf.constant(rng.integers(0, 2**31 - 1, size=2), tf.int64)
        if self.init == "random":
            resp = tf.random.stateless_uniform([len(x), self.n_components], seed, dtype=self.dtype)
            return (resp / tf.reduce_sum(resp, axis=1, keepdims=True)).numpy()
        max_iter = _KMEANS_MAX_ITER if self.init == "kmeans" else 0
        labels = _compiled_kmeans(self.n_components)(tf.constant(x), seed=seed,
                                                     max_iter=tf.constant(max_iter))
        return tf.one_hot(labels, self.n_components, dtype=self.dtype).numpy()

    def _checked_initial_parameters(self, d: int):
        """(weights, means, precisions_cholesky) from the ``*_init`` arrays, checked for d."""
        k = self.n_components
        weights, means, precisions = self.weights_init, self.means_init, self.precisions_init
        if weights is not None:
            if weights.shape != (k,):
                raise ValueError(f"weights_init must have shape ({k},), got {weights.shape}.")
            if weights.min() < 0 or abs(weights.sum() - 1.0) > 1e-6:
                raise ValueError(
                    "weights_init must be non-negative and sum to 1, got values in "
                    f"[{weights.min():g}, {weights.max():g}] summing to {weights.sum():.8g}; "
                    "normalise them: w / w.sum()."
                )
        if means is not None and means.shape != (k, d):
            raise ValueError(
                f"means_init must have shape (n_components, n_features) = ({k}, {d}), got "
                f"{means.shape}."
            )
        precisions_cholesky = None
        if precisions is not None:
            precisions_cholesky = self._precisions_cholesky_from_precisions(precisions, d)
        return weights, means, precisions_cholesky

    def _precisions_cholesky_from_precisions(self, precisions, d: int) -> np.ndarray:
        k, kind = self.n_components, self.covariance_type
        shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[kind]
        if precisions.shape != shape:
            raise ValueError(
                f"precisions_init must have shape {shape} for covariance_type={kind!r}, "
                f"got {precisions.shape}."
            )
        if kind in ("diag", "spherical"):
            if precisions.min() <= 0:
                raise ValueError("precisions_init must be positive.")
            return np.sqrt(precisions)
        if not np.allclose(precisions, np.swapaxes(precisions, -1, -2)):
            raise ValueError("precisions_init must hold symmetric matrices.")
        try:
            return np.linalg.cholesky(precisions)
        except np.linalg.LinAlgError:
            raise ValueError("precisions_init must hold positive-definite matrices.") from None

    # ------------------------------------------------------------------ the fitted model

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise ValueError(
                "This GaussianMixture is not fitted yet; call fit(x) or GaussianMixture.load "
                "first."
            )

    def log_joint(self, x) -> np.ndarray:
        """log p(x_n, z = k) = log pi_k + log N(x_n; mu_k, Sigma_k) for every n and k.

        The lecture's p(x, z), whose sum over z is p(x): ``score_samples(x)`` is its
        log-sum-exp over k and ``predict_proba(x)`` the normalised exp.

        Args:
            x: array (n, d) of finite numbers.

        Returns:
            Array (n, K) in the model's dtype, in nats.

        Raises:
            ValueError: the model is not fitted, or x is not a finite (n, d) array.
        """
        self._check_fitted()
        x = _check_data(x, self.dtype)
        _checks.check_example_shape(x, (self.n_features_in_,), "x")
        # Centre on the mixture's mean for the same accuracy as in fit.
        shift = self.weights_ @ self.means_
        weights, means, precisions_cholesky = (
            tf.constant(p) for p in (self.weights_, self.means_ - shift,
                                     self.precisions_cholesky_)
        )
        rows = _block_rows(len(x), self.n_components, self.n_features_in_,
                           self.covariance_type)
        return np.concatenate([
            self._call(_log_joint, tf.constant(x[start:start + rows] - shift), weights, means,
                       precisions_cholesky, covariance_type=self.covariance_type).numpy()
            for start in range(0, len(x), rows)
        ])

    def score_samples(self, x) -> np.ndarray:
        """log p(x_n) = logsumexp_k [log pi_k + log N(x_n; mu_k, Sigma_k)], shape (n,)."""
        log_joint = self.log_joint(x)
        return tf.reduce_logsumexp(log_joint, axis=1).numpy()

    def score(self, x, y=None) -> float:
        """The mean log-likelihood (1/n) sum_n log p(x_n), in nats per example."""
        del y
        return float(np.mean(self.score_samples(x)))

    def predict_proba(self, x) -> np.ndarray:
        """The responsibilities p(z = k | x_n), shape (n, K), each row summing to 1."""
        return tf.nn.softmax(self.log_joint(x), axis=1).numpy()

    def predict(self, x) -> np.ndarray:
        """The most probable component argmax_k p(z = k | x_n), int64 array (n,)."""
        return np.argmax(self.log_joint(x), axis=1)

    def sample(self, n_samples: int = 1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draws from the generative process: z ~ Categorical(pi), x ~ N(mu_z, Sigma_z).

        Unlike scikit-learn, which returns the samples grouped by component, they are
        returned in the order drawn.

        Args:
            n_samples: int >= 1.
            seed: int or None. None draws from the model's own random stream (seeded by
                the constructor's ``seed``), so that successive calls differ; an int
                makes this call reproducible on its own.

        Returns:
            (x, z): arrays (n_samples, d) in the model's dtype and (n_samples,) int64.
        """
        self._check_fitted()
        n_samples = _checks.check_positive_int(n_samples, "n_samples")
        rng = self._rng if seed is None else np.random.default_rng(
            _checks.check_positive_int(seed, "seed", minimum=0))
        weights = self.weights_.astype(np.float64)
        z = rng.choice(self.n_components, size=n_samples, p=weights / weights.sum())
        noise = rng.standard_normal((n_samples, self.n_features_in_))
        scale = self._scale_tril().astype(np.float64)  # (K, d, d): Sigma_k = A_k A_k^T
        x = np.empty_like(noise)
        for k in np.unique(z):  # one matmul per component that was drawn
            chosen = z == k
            x[chosen] = self.means_[k] + noise[chosen] @ scale[k].T
        return x.astype(self.dtype), z.astype(np.int64)

    def _scale_tril(self) -> np.ndarray:
        """A_k, lower triangular with A_k A_k^T = Sigma_k, shape (K, d, d)."""
        k, d = self.means_.shape
        cov = self.covariances_.astype(np.float64)
        if self.covariance_type == "full":
            return np.linalg.cholesky(cov)
        if self.covariance_type == "tied":
            return np.broadcast_to(np.linalg.cholesky(cov), (k, d, d))
        if self.covariance_type == "diag":
            return np.sqrt(cov)[:, :, None] * np.eye(d)
        return np.sqrt(cov)[:, None, None] * np.eye(d)

    def _n_parameters(self) -> int:
        """The free parameters: K d means, K - 1 weights and the covariances."""
        k, d = self.means_.shape
        covariance = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2,
                      "diag": k * d, "spherical": k}[self.covariance_type]
        return covariance + k * d + k - 1

    def bic(self, x) -> float:
        """The Bayesian information criterion -2 log L + p log n (lower is better).

        log L = sum_n log p(x_n) and p is the number of free parameters; the same
        formula as scikit-learn's ``GaussianMixture.bic``.
        """
        log_prob = self.score_samples(x)
        return -2.0 * log_prob.sum() + self._n_parameters() * math.log(len(log_prob))

    def aic(self, x) -> float:
        """The Akaike information criterion -2 log L + 2 p (lower is better); see ``bic``."""
        return -2.0 * self.score_samples(x).sum() + 2.0 * self._n_parameters()

    @property
    def distribution(self) -> tfd.MixtureSameFamily:
        """The fitted p(x) as a TFP ``MixtureSameFamily``, with trainable parameters.

        The mixture is Categorical(logits = log pi) over ``MultivariateNormalTriL``
        components (full, tied) or ``MultivariateNormalDiag`` / a scaled identity
        (diag, spherical). Each access builds a new distribution whose parameters are
        new ``tf.Variable``s set to the fitted values (scales through positive
        bijectors), so it can be used as a prior or fine-tuned by gradient on its
        ``trainable_variables`` without changing this object.

        Returns:
            ``tfd.MixtureSameFamily`` with batch shape () and event shape (d,).
        """
        self._check_fitted()
        dtype = self.dtype
        mixture = tfd.Categorical(logits=tf.Variable(np.log(self.weights_), name="logits"))
        loc = tf.Variable(self.means_, name="loc")
        cov = self.covariances_
        if self.covariance_type in ("full", "tied"):
            scale_tril = tfp.util.TransformedVariable(
                np.linalg.cholesky(cov.astype(np.float64)).astype(dtype),
                tfb.FillScaleTriL(diag_shift=None), name="scale_tril",
            )
            components = tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
        elif self.covariance_type == "diag":
            scale = tfp.util.TransformedVariable(np.sqrt(cov), tfb.Softplus(), name="scale_diag")
            components = tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
        else:
            scale = tfp.util.TransformedVariable(np.sqrt(cov), tfb.Softplus(), name="scale")
            identity = tf.linalg.LinearOperatorScaledIdentity(self.n_features_in_, scale)
            components = tfd.MultivariateNormalLinearOperator(loc=loc, scale=identity)
        return tfd.MixtureSameFamily(mixture, components, name="GaussianMixture")

    # ------------------------------------------------------------------ saving

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serialisable (arrays as nested lists)."""

        def listed(array):
            return None if array is None else array.tolist()

        return {
            "n_components": self.n_components,
            "covariance_type": self.covariance_type,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "reg_covar": self.reg_covar,
            "init": self.init,
            "n_init": self.n_init,
            "seed": self.seed,
            "dtype": self.dtype,
            "weights_init": listed(self.weights_init),
            "means_init": listed(self.means_init),
            "precisions_init": listed(self.precisions_init),
            "jit_compile": self.jit_compile,
        }

    @classmethod
    def from_config(cls, config: dict) -> GaussianMixture:
        """An unfitted model with the settings of ``get_config()``."""
        return cls(**config)

    def save(self, path) -> Path:
        """Writes the fitted model (settings and parameters) to one ``.npz`` file.

        The file is written next to its destination and then renamed onto it, so that
        a crash never leaves a partial file at ``path``.

        Args:
            path: str or Path ending in ``.npz``.

        Returns:
            The path written.

        Raises:
            ValueError: the model is not fitted or the path does not end in ``.npz``.
        """
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in .npz, got {str(path)!r}.")
        arrays = {
            "format": np.array(_FORMAT),
            "config": np.array(json.dumps(self.get_config())),
            "weights": self.weights_,
            "means": self.means_,
            "covariances": self.covariances_,
            "precisions_cholesky": self.precisions_cholesky_,
            "lower_bounds": np.array(self.lower_bounds_, np.float64),
            "converged": np.array(self.converged_),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path) -> GaussianMixture:
        """Reads a model written by ``save``; it predicts and samples like the original.

        Raises:
            ValueError: the file is not a model written by ``GaussianMixture.save``.
        """
        with np.load(Path(path), allow_pickle=False) as data:
            if "format" not in data or str(data["format"]) != _FORMAT:
                raise ValueError(
                    f"{str(path)!r} is not a GaussianMixture file (expected format {_FORMAT!r}); "
                    "write one with GaussianMixture.save."
                )
            model = cls.from_config(json.loads(str(data["config"])))
            model.weights_ = data["weights"]
            model.means_ = data["means"]
            model.covariances_ = data["covariances"]
            model.precisions_cholesky_ = data["precisions_cholesky"]
            model.lower_bounds_ = data["lower_bounds"].tolist()
            model.converged_ = bool(data["converged"])
        model.lower_bound_ = model.lower_bounds_[-1]
        model.n_iter_ = len(model.lower_bounds_)
        model.n_features_in_ = model.means_.shape[1]
        return model

    def __repr__(self) -> str:
        defaults = GaussianMixture().get_config()
        changed = {key: value for key, value in self.get_config().items()
                   if value != defaults[key] and not key.endswith("_init")}
        return f"GaussianMixture({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
