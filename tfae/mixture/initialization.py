"""Where EM starts: the responsibilities of ``init_params`` and the ``*_init`` arrays.

As in scikit-learn, ``init_params`` gives (N, K) responsibilities, an M-step turns
them into parameters (``tfae.mixture.fitting``), and the ``weights_init``,
``means_init`` and ``precisions_init`` arrays then replace their counterparts.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfae.mixture import kmeans
from tfae.mixture.parameters import cholesky_from_precisions, covariance_shape
from tfae.mixture.settings import Settings, stateless_seed


def initial_responsibilities(x: np.ndarray, init_params: str, n_components: int,
                             rng) -> np.ndarray:
    """The (N, K) responsibilities that ``init_params`` starts EM from, in x's dtype.

    - ``"kmeans"``: the one-hot labels of k-means (k-means++ seeding, then Lloyd).
    - ``"k-means++"``: one for each of the K k-means++ seeds in its own component,
      zero elsewhere.
    - ``"random"``: uniform random numbers, each row normalised to sum to 1.
    - ``"random_from_data"``: one for each of K distinct data points drawn uniformly,
      in its own component, zero elsewhere.

    Args:
        x: array (N, d).
        init_params: one of ``tfae.mixture.INIT_PARAMS``.
        n_components: int, K.
        rng: the NumPy generator of ``tfae.mixture.settings.random_generator``.
    """
    n = len(x)
    if init_params == "random":
        resp = rng.uniform(size=(n, n_components)).astype(x.dtype)
        return resp / resp.sum(axis=1, keepdims=True)
    if init_params == "random_from_data":
        indices = rng.choice(n, size=n_components, replace=False)
    else:
        function = kmeans.kmeans_labels if init_params == "kmeans" else kmeans.kmeans_plusplus
        found = kmeans.compiled(function, n_components)(tf.constant(x), stateless_seed(rng))
        if init_params == "kmeans":
            return np.eye(n_components, dtype=x.dtype)[found.numpy()]
        indices = found.numpy()
    resp = np.zeros((n, n_components), x.dtype)
    resp[indices, np.arange(n_components)] = 1.0
    return resp


def check_initial_parameters(settings: Settings, d: int):
    """(weights, means, precisions_cholesky) of the ``*_init`` arrays, None where not given.

    Raises:
        ValueError: an array has the wrong shape for K components in d dimensions, or
            values that are not weights or precisions.
    """
    k = settings.n_components
    weights, means, precisions = (settings.weights_init, settings.means_init,
                                  settings.precisions_init)
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
        shape = covariance_shape(settings.covariance_type, k, d)
        if precisions.shape != shape:
            raise ValueError(
                f"precisions_init must have shape {shape} for covariance_type="
                f"{settings.covariance_type!r}, got {precisions.shape}."
            )
        precisions_cholesky = cholesky_from_precisions(precisions, settings.covariance_type)
    return weights, means, precisions_cholesky
