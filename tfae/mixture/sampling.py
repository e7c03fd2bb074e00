"""Ancestral sampling from a mixture: z ~ Categorical(pi), then x ~ N(mu_z, Sigma_z)."""

from __future__ import annotations

import numpy as np

from tfae.mixture.parameters import scale_tril


def draw(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
         covariance_type: str, n_samples: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` draws of (x, z), in the order drawn.

    Args:
        weights: array (K,), pi.
        means: array (K, d), mu.
        covariances: array, Sigma, shaped for ``covariance_type``.
        covariance_type: ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.
        n_samples: int >= 1.
        rng: a NumPy generator (``tfae.mixture.settings.random_generator``).

    Returns:
        (x, z): arrays (n_samples, d) in the means' dtype and (n_samples,) int64.
    """
    k, d = means.shape
    weights = weights.astype(np.float64)
    z = rng.choice(k, size=n_samples, p=weights / weights.sum())
    noise = rng.standard_normal((n_samples, d))
    scale = scale_tril(covariances, covariance_type, k, d)  # Sigma_k = A_k A_k^T
    x = np.empty_like(noise)
    for component in np.unique(z):  # one matmul per component that was drawn
        chosen = z == component
        x[chosen] = means[component] + noise[chosen] @ scale[component].T
    return x.astype(means.dtype), z.astype(np.int64)
