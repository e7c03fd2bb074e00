"""Ancestral sampling from a mixture: z ~ Categorical(pi), then x ~ N(mu_z, Sigma_z).

A draw is a function of its noise (``from_noise``): a uniform u in [0, 1) picks the
component whose interval of cumulative weights holds it, as NumPy's
``choice(K, p=pi)`` does, and a standard normal eps gives x = mu_z + A_z eps with
A_z A_z^T = Sigma_z (the Cholesky factor). ``draw`` draws that noise from a NumPy
generator, in the order ``choice`` and ``standard_normal`` draw it, so that a
seeded ``GaussianMixture.sample`` gives the same samples as a file exported with
``tfae.export`` (part ``"sampler"``) fed the same noise.
"""

from __future__ import annotations

import numpy as np

from tfae.mixture.parameters import scale_tril


def cumulative_weights(weights: np.ndarray) -> np.ndarray:
    """The right ends of the components' intervals of u, float64 (K,), the last 1.

    Computed as NumPy's ``choice(K, p=weights / weights.sum())`` computes them (the
    cumulative sum of p, divided by its last entry), bit for bit.
    """
    weights = np.asarray(weights, np.float64)
    cdf = (weights / weights.sum()).cumsum()
    cdf /= cdf[-1]
    return cdf


def components(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The component of each uniform u in [0, 1): the first k with u < cdf_k, int64.

    ``searchsorted(cdf, u, side="right")``, which is how NumPy's ``choice`` with
    ``p`` turns its uniforms into choices.
    """
    return np.searchsorted(cumulative_weights(weights), u, side="right").astype(np.int64)


def boundary_gap(weights: np.ndarray, u, chosen, expected) -> np.ndarray:
    """How far each u lies from the boundaries between two picks, float64 (n, ...).

    0 where ``chosen == expected``; elsewhere the largest |u - cdf_j| over the
    boundaries j between the two components, the distance that rounding the
    cumulative weights (in a float32 or float16 file) would have to move one of them
    for u to land in ``chosen``. For the checks of exported samplers.

    Args:
        weights: array (K,), pi.
        u: array of uniforms, broadcastable against ``chosen`` and ``expected``.
        chosen, expected: int arrays of components in [0, K).
    """
    cdf = cumulative_weights(weights)
    low, high = np.minimum(chosen, expected), np.maximum(chosen, expected)
    u = np.asarray(u, np.float64)
    # cdf is increasing: the largest |u - cdf_j|, low <= j < high, is at an end.
    far = np.maximum(np.abs(u - cdf[low]), np.abs(u - cdf[np.maximum(high - 1, 0)]))
    return np.where(low == high, 0.0, far)


def from_noise(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
               covariance_type: str, u, eps) -> tuple[np.ndarray, np.ndarray]:
    """Draws of (x, z) made from given noise: z = the component of u, x = mu_z + A_z eps.

    Args:
        weights: array (K,), pi.
        means: array (K, d), mu.
        covariances: array, Sigma, shaped for ``covariance_type``.
        covariance_type: ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.
        u: array (n,) of uniforms in [0, 1), one per draw.
        eps: array (n, d) of standard normals, one row per draw.

    Returns:
        (x, z): arrays (n, d) in the means' dtype and (n,) int64.

    Raises:
        ValueError: u is not (n,) in [0, 1), or eps is not (n, d).
    """
    d = means.shape[1]
    u = np.asarray(u, np.float64)
    eps = np.asarray(eps, np.float64)
    if u.ndim != 1:
        raise ValueError(f"u must be a 1-D array (n,) of uniforms, got shape {u.shape}.")
    if eps.shape != (len(u), d):
        raise ValueError(f"eps must have shape (n, d) = {(len(u), d)} to go with u, got "
                         f"{eps.shape}.")
    if len(u) and not (np.all(u >= 0.0) and np.all(u < 1.0)):
        raise ValueError(f"u must lie in [0, 1), got values in [{u.min():g}, {u.max():g}]; "
                         f"draw it with rng.random(n).")
    z = components(weights, u)
    return locate(means, covariances, covariance_type, z, eps).astype(means.dtype), z


def locate(means: np.ndarray, covariances: np.ndarray, covariance_type: str, z: np.ndarray,
           eps: np.ndarray) -> np.ndarray:
    """x = mu_z + A_z eps for given components z (n,) int and normals eps (n, d), float64."""
    k, d = means.shape
    eps = np.asarray(eps, np.float64)
    scale = scale_tril(covariances, covariance_type, k, d)  # Sigma_k = A_k A_k^T
    x = np.empty_like(eps)
    for component in np.unique(z):  # one matmul per component that was drawn
        chosen = z == component
        x[chosen] = means[component] + eps[chosen] @ scale[component].T
    return x


def draw(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
         covariance_type: str, n_samples: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` draws of (x, z), in the order drawn.

    The uniforms are drawn first (``rng.random(n_samples)``, as ``rng.choice`` with
    ``p`` does), then the normals (``rng.standard_normal((n_samples, d))``).

    Args:
        weights: array (K,), pi.
        means: array (K, d), mu.
        covariances: array, Sigma, shaped for ``covariance_type``.
        covariance_type: ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.
        n_samples: int >= 1.
        rng: a NumPy generator (``tfae.mixture.settings.random_generator``): a
            ``Generator``, a ``RandomState`` or the ``numpy.random`` module.

    Returns:
        (x, z): arrays (n_samples, d) in the means' dtype and (n_samples,) int64.
    """
    u = rng.random(n_samples)
    eps = rng.standard_normal((n_samples, means.shape[1]))
    return from_noise(weights, means, covariances, covariance_type, u, eps)
