"""Reference scores to compare models against."""

from __future__ import annotations

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

    Example:
    >>> x = tfae.datasets.load("digits", binarize="threshold")
    >>> float(pixel_mean_nll(x, x).mean()) > 0
    True
    """
    head = likelihoods.get(likelihood)
    train = _checks.as_float_array(x_train, "x_train").astype(np.float64)
    test = _checks.as_float_array(x_test, "x_test").astype(np.float64)
    for array, name in ((train, "x_train"), (test, "x_test")):
        _checks.check_not_empty(array, name)
        head.check_data(array, name)
    _checks.check_example_shape(test, train.shape[1:], "x_test")

    if isinstance(head, likelihoods.Bernoulli):
        probs = (train.sum(axis=0) + 1.0) / (train.shape[0] + 2.0)
        per_value = tfd.Bernoulli(probs=probs, dtype=tf.float64)
    else:
        per_value = tfd.Normal(loc=train.mean(axis=0), scale=train.std(axis=0) + head.min_scale)
    model = tfd.Independent(per_value, reinterpreted_batch_ndims=train.ndim - 1)
    return -model.log_prob(test).numpy()
