"""Reference scores to compare models against."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks, likelihoods

tfd = tfp.distributions


def pixel_mean_nll(x_train, x_test, likelihood="bernoulli") -> np.ndarray:
    """Scores ``x_test`` under the trivial model that ignores every dependency.

    The model is p(x) = prod_d p(x_d; theta_d), one independent distribution per
    value with parameters estimated on ``x_train``: the floor any autoencoder
    must beat.

    - Bernoulli: theta_d = (sum_n x_nd + 1) / (N + 2), the posterior mean under a
      uniform prior (Laplace's rule), so that a value never on in training does
      not get probability 0.
    - Gaussian: the per-value mean and standard deviation, with the head's
      ``min_scale`` added to the deviation (a constant value would otherwise get
      an infinite density).

    Args:
        x_train: array (N, ...), the data the means are estimated on.
        x_test: array (M, ...), the data to score, same example shape.
        likelihood: str, dict or ``tfae.likelihoods.Likelihood``. Defaults to
            ``"bernoulli"``.

    Returns:
        float64 array (M,): -log p(x) of each test example, in nats.

    Raises:
        ValueError: empty, non-finite or mismatched inputs, or data the
            likelihood cannot score.

    Examples:
        >>> from tfae import datasets
        >>> x = datasets.load("digits", binarize="threshold")
        >>> float(pixel_mean_nll(x, x).mean()) > 0
        True
    """
    head = likelihoods.get(likelihood)
    train = _checks.as_float_array(x_train, "x_train").astype(np.float64)
    test = _checks.as_float_array(x_test, "x_test").astype(np.float64)
    for array, name in ((train, "x_train"), (test, "x_test")):
        _check_values(array, name)
        head.check_data(array, name)
    _checks.check_example_shape(test, train.shape[1:], "x_test")

    if isinstance(head, likelihoods.Bernoulli):
        probs = (train.sum(axis=0) + 1.0) / (train.shape[0] + 2.0)
        per_value = tfd.Bernoulli(probs=probs, dtype=tf.float64)
    else:
        per_value = tfd.Normal(loc=train.mean(axis=0), scale=train.std(axis=0) + head.min_scale)
    model = tfd.Independent(per_value, reinterpreted_batch_ndims=train.ndim - 1)
    return -model.log_prob(test).numpy()


@dataclasses.dataclass(frozen=True)
class ParzenResult:
    """The Parzen-window log-likelihood of test data under samples.

    Attributes:
        mean: float, the mean log-likelihood per test example, in nats.
        stderr: float, its standard error over test examples.
        sigma: float, the window width used.
        per_example: float64 array (M,), each test example's log-likelihood.
        sigma_scores: dict, the validation mean log-likelihood of each candidate
            sigma, when sigma was chosen on validation data (else empty).
    """

    mean: float
    stderr: float
    sigma: float
    per_example: np.ndarray
    sigma_scores: dict


def _squared_distance_blocks(points: tf.Tensor, references: tf.Tensor, batch_size: int):
    """Yields (point slice, reference slice, squared distances) block by block.

    ||x - s||^2 = ||x||^2 + ||s||^2 - 2 x.s takes one matmul per block, and memory
    stays at batch_size x batch_size whatever the sizes of the two sets.
    """
    reference_norms = tf.reduce_sum(references**2, axis=1)
    for start in range(0, points.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        batch = points[rows]
        batch_norms = tf.reduce_sum(batch**2, axis=1, keepdims=True)
        for chunk_start in range(0, references.shape[0], batch_size):
            columns = slice(chunk_start, chunk_start + batch_size)
            products = tf.matmul(batch, references[columns], transpose_b=True)
            squared = batch_norms + reference_norms[columns] - 2.0 * products
            yield rows, columns, tf.maximum(squared, 0.0)  # rounding can dip below 0


def _parzen_log_density(samples: tf.Tensor, points: tf.Tensor, sigmas: np.ndarray,
                        batch_size: int) -> np.ndarray:
    """log (1/N) sum_i N(x; s_i, sigma^2 I) for each point x and each sigma: (S, M).

    A running log-sum-exp over blocks of samples replaces the full (M, N) matrix,
    and each block of distances serves every candidate sigma.
    """
    num_samples, dims = samples.shape
    constants = -np.log(num_samples) - 0.5 * dims * np.log(2.0 * np.pi * sigmas**2)
    two_variances = tf.constant(2.0 * sigmas**2, samples.dtype)[:, None, None]
    log_sums = np.full((len(sigmas), points.shape[0]), -np.inf)
    for rows, _, squared in _squared_distance_blocks(points, samples, batch_size):
        block = tf.reduce_logsumexp(-squared[None] / two_variances, axis=2).numpy()
        log_sums[:, rows] = np.logaddexp(log_sums[:, rows], block)
    return log_sums + constants[:, None]


def nearest_neighbours(queries, data, batch_size: int = 1000):
    """Returns, for each query, the index of its nearest example in ``data`` (Euclidean;
    the Hamming distance for binary data) and the squared distance to it.

    Used for the lecture's figure of samples beside their nearest training example:
    a model that copies its training set shows distances of zero.

    Args:
        queries: array (M, ...), e.g. samples of a model.
        data: array (N, ...), e.g. the training set; same example shape.
        batch_size: int, the block size (memory ~ batch_size^2 floats).

    Returns:
        (indices int64 (M,), squared distances float64 (M,)).
    """
    data_array, example_shape = _flat_checked(data, "data")
    query_array, _ = _flat_checked(queries, "queries", example_shape)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    best = np.full(len(query_array), np.inf)
    indices = np.zeros(len(query_array), np.int64)
    for rows, columns, squared in _squared_distance_blocks(
            tf.constant(query_array), tf.constant(data_array), batch_size):
        squared = squared.numpy()
        block_best = squared.argmin(axis=1)
        block_distance = squared[np.arange(len(squared)), block_best]
        better = block_distance < best[rows]
        best[rows] = np.where(better, block_distance, best[rows])
        indices[rows] = np.where(better, block_best + columns.start, indices[rows])
    return indices, best


def parzen_log_likelihood(samples, test_data, sigma=None, valid_data=None,
                          sigmas=None, batch_size: int = 1000) -> ParzenResult:
    """Gaussian Parzen-window estimate of the test log-likelihood of a sampler.

    The samples s_1..s_N define the density
    p(x) = (1/N) sum_i N(x; s_i, sigma^2 I), and each test example is scored
    under it (Breuleux et al. 2011; the estimator of the GSN and GAN papers).

    Known weaknesses (Theis, van den Oord, Bethge, "A note on the evaluation of
    generative models", ICLR 2016): in high dimension the estimate is far from
    the model's true log-likelihood even with many samples; it rewards blurry
    samples near the data mean and memorised training examples; it depends
    strongly on sigma and N; a k-means of the training data can beat real
    models. Report it beside other figures, never alone.

    Args:
        samples: array (N, ...), draws of the model.
        test_data: array (M, ...), same example shape.
        sigma: float or None, the window width; None chooses it on
            ``valid_data`` from ``sigmas`` (the value of largest mean
            validation log-likelihood).
        valid_data: array or None, used only to choose sigma.
        sigmas: iterable of float or None, the candidates; defaults to 20
            values log-spaced in [0.05, 1].
        batch_size: int, the block size of the distance computation (memory
            ~ batch_size^2 floats). Defaults to 1000.

    Returns:
        A ``ParzenResult``.

    Raises:
        ValueError: mismatched, empty or non-finite inputs, neither sigma nor
            valid_data given, or sigma given with valid_data or sigmas (which
            would not be used).
        TypeError: a sigma or sigmas that is not a number.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> samples, x_valid, x_test = (rng.uniform(size=(n, 4)) for n in (200, 50, 50))
        >>> result = parzen_log_likelihood(samples, x_test, valid_data=x_valid)
        >>> result.sigma == max(result.sigma_scores, key=result.sigma_scores.get)
        True
    """
    samples_array, example_shape = _flat_checked(samples, "samples")
    test, _ = _flat_checked(test_data, "test_data", example_shape)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    samples_tensor = tf.constant(samples_array)
    sigma_scores = {}
    if sigma is None:
        if valid_data is None:
            raise ValueError("pass sigma, or valid_data to choose sigma on (never the test data).")
        valid = tf.constant(_flat_checked(valid_data, "valid_data", example_shape)[0])
        candidates = np.geomspace(0.05, 1.0, 20) if sigmas is None else _checked_sigmas(sigmas)
        scores = _parzen_log_density(samples_tensor, valid, candidates, batch_size).mean(axis=1)
        sigma_scores = {float(c): float(v) for c, v in zip(candidates, scores, strict=True)}
        sigma = max(sigma_scores, key=sigma_scores.get)
    else:
        sigma = _checks.check_number(sigma, "sigma", strict=True)
        if valid_data is not None or sigmas is not None:
            raise ValueError(
                "sigma was given, so valid_data and sigmas would not be used; pass sigma "
                "alone, or valid_data (and sigmas) without sigma to choose it.")
    per_example = _parzen_log_density(
        samples_tensor, tf.constant(test), np.array([float(sigma)]), batch_size)[0]
    return ParzenResult(
        mean=float(per_example.mean()),
        stderr=float(per_example.std(ddof=1) / np.sqrt(len(per_example))) if len(per_example) > 1
        else float("nan"),
        sigma=float(sigma),
        per_example=per_example,
        sigma_scores=sigma_scores,
    )


def _check_values(array: np.ndarray, name: str) -> None:
    """Refuses an array without examples, or with examples that hold no values."""
    _checks.check_not_empty(array, name)
    if array.size == 0:
        raise ValueError(
            f"{name} has examples without values (shape {array.shape}); each example "
            "needs at least one value."
        )


def _checked_sigmas(sigmas) -> np.ndarray:
    message = f"sigmas must be a non-empty sequence of finite numbers > 0, got {sigmas!r}."
    if isinstance(sigmas, (str, bytes)) or (isinstance(sigmas, (list, tuple)) and any(
            isinstance(value, (bool, np.bool_)) for value in sigmas)):
        raise TypeError(message)
    try:
        candidates = np.asarray(sigmas)
    except (TypeError, ValueError) as error:
        raise TypeError(message) from error
    if candidates.dtype == bool or not np.issubdtype(candidates.dtype, np.number) \
            or np.iscomplexobj(candidates):
        raise TypeError(message)
    candidates = candidates.astype(float)
    if candidates.ndim != 1 or not len(candidates) or not np.isfinite(candidates).all() \
            or not (candidates > 0).all():
        raise ValueError(message)
    return candidates


def _flat_checked(x, name: str, example_shape: tuple | None = None):
    """Returns ``x`` checked (and of ``example_shape`` when given) as float64 (N, D), and
    the shape of its examples."""
    array = _checks.as_float_array(x, name).astype(np.float64)
    _check_values(array, name)
    if example_shape is not None:
        _checks.check_example_shape(array, example_shape, name)
    _checks.check_finite(array, name)
    return array.reshape(len(array), -1), array.shape[1:]
