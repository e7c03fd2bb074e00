"""A mixture's covariance parameters in their several forms, in NumPy.

Shapes by covariance type: full (K, d, d), tied (d, d), diag (K, d), spherical (K,).
The precision Cholesky factor L has L L^T = Sigma^-1 (1 / sigma for diag and
spherical); a scale A has A A^T = Sigma.
"""

from __future__ import annotations

import numpy as np


def covariance_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
    """The shape of the covariances (and precisions) of K components in d dimensions."""
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def precisions_from_cholesky(precisions_cholesky: np.ndarray, covariance_type: str) -> np.ndarray:
    """Sigma^-1 = L L^T, shaped like the covariances."""
    if covariance_type in ("full", "tied"):
        return precisions_cholesky @ np.swapaxes(precisions_cholesky, -1, -2)
    return np.square(precisions_cholesky)


def cholesky_from_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    """L with L L^T = ``precisions`` (lower triangular), checking that they are precisions.

    Raises:
        ValueError: the precisions are not positive, or not symmetric positive definite.
    """
    if covariance_type in ("diag", "spherical"):
        if precisions.min() <= 0:
            raise ValueError("precisions_init must be positive.")
        return np.sqrt(precisions)
    if not np.allclose(precisions, np.swapaxes(precisions, -1, -2)):
        raise ValueError("precisions_init must hold symmetric matrices.")
    try:
        return np.linalg.cholesky(precisions)
    except np.linalg.LinAlgError:
        raise ValueError("precisions_init must hold positive-definite matrices.") from None


def scale_tril(covariances: np.ndarray, covariance_type: str, k: int, d: int) -> np.ndarray:
    """A_k, lower triangular with A_k A_k^T = Sigma_k, shape (K, d, d), in float64."""
    covariances = covariances.astype(np.float64)
    if covariance_type == "full":
        return np.linalg.cholesky(covariances)
    if covariance_type == "tied":
        return np.broadcast_to(np.linalg.cholesky(covariances), (k, d, d))
    if covariance_type == "diag":
        return np.sqrt(covariances)[:, :, None] * np.eye(d)
    return np.sqrt(covariances)[:, None, None] * np.eye(d)


def n_parameters(covariance_type: str, k: int, d: int) -> int:
    """The free parameters: K d means, K - 1 weights and the covariances."""
    covariance = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2,
                  "diag": k * d, "spherical": k}[covariance_type]
    return covariance + k * d + k - 1
