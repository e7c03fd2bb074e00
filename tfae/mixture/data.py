"""The data as EM consumes them: checked, centred and cut into blocks of rows.

Data to score are centred and cut into blocks likewise (``log_joint_in_blocks``).

EM is translation-equivariant: fitting the centred data and shifting the means back
gives the same model, and keeps x^2 - 2 x mu + mu^2 expansions and second moments
accurate (in float32 especially) when the data sit far from the origin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.mixture import em
from tfae.mixture.blocks import block_rows, split_rows


class Data(NamedTuple):
    """The centred data x - shift, whole and in blocks of rows."""

    x: np.ndarray  # (N, d)
    shift: np.ndarray  # (d,) float64, the mean of the data
    rows: int  # rows per block
    blocks: tf.Tensor  # (B, rows, d): the first B * rows rows
    tail: tf.Tensor  # (N - B * rows, d)
    sum_xx_tied: tf.Tensor | None  # X^T X for the tied covariance, else None


def check_data(x, dtype: str, name: str = "x") -> np.ndarray:
    """Returns ``x`` as a finite (n_samples, n_features) array of ``dtype``.

    Raises:
        ValueError: x is not 2-D, is empty, has no features or holds NaN or inf.
        TypeError: x does not hold real numbers.
    """
    array = _checks.as_float_array(x, name, dtype=dtype)
    if array.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got a 1-D array of shape "
            f"{array.shape}; reshape it with {name}.reshape(-1, 1) if it holds one feature, "
            f"or add a batch axis, e.g. {name}[None], if it is one example."
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


def prepare(x: np.ndarray, n_components: int, covariance_type: str,
            jit_compile: bool) -> Data:
    """Centres checked data (``check_data``) and cuts them into blocks for EM."""
    n, d = x.shape
    shift = x.mean(axis=0, dtype=np.float64)
    centred = (x - shift).astype(x.dtype)
    rows = block_rows(n, n_components, d, covariance_type)
    blocks, tail = split_rows(centred, rows)
    sum_xx_tied = None
    if covariance_type == "tied":
        sum_xx_tied = em.compiled(em.second_moment, jit_compile)(blocks, tail)
    return Data(centred, shift, rows, blocks, tail, sum_xx_tied)


def log_joint_in_blocks(x: np.ndarray, weights: np.ndarray, means: np.ndarray,
                        precisions_cholesky: np.ndarray, covariance_type: str,
                        jit_compile: bool) -> np.ndarray:
    """log p(x_n, z = k) for checked data (``check_data``), shape (n, K), in blocks of rows.

    The data and the means are centred on the mixture's mean sum_k pi_k mu_k first,
    for the same accuracy as in fitting.
    """
    shift = weights @ means
    weights, means, precisions_cholesky = (
        tf.constant(p) for p in (weights, means - shift, precisions_cholesky))
    k, d = means.shape
    rows = block_rows(len(x), k, d, covariance_type)
    function = em.compiled(em.log_joint, jit_compile)
    return np.concatenate([
        function(tf.constant(x[start:start + rows] - shift), weights, means,
                 precisions_cholesky, covariance_type=covariance_type).numpy()
        for start in range(0, len(x), rows)
    ])
