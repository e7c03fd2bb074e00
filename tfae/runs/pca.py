"""Principal components in NumPy: the space a run's Gaussian mixture is fitted in.

scikit-learn's PCA would do, but scikit-learn is not a runtime dependency of tfae,
and this is one SVD.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class PrincipalComponents:
    """x ~= mean + z @ components: the top principal directions of some data.

    A Gaussian mixture on raw 784-pixel images needs 784 x 784 covariances per
    component; ``tfae train gmm`` fits it on the top ``pca_dim`` directions instead.

    Attributes:
        mean: array (D,), the mean of the data.
        components: array (dims, D), orthonormal rows, in decreasing order of the
            variance of the data along them.

    Examples:
        >>> x = np.random.default_rng(0).normal(size=(100, 5))
        >>> pca = PrincipalComponents.fit(x, 2)
        >>> pca.project(x).shape, pca.reconstruct(pca.project(x)).shape
        ((100, 2), (100, 5))
    """

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, dims: int) -> PrincipalComponents:
        """The top ``dims`` principal components of ``x`` (N, D).

        Raises:
            ValueError: ``dims`` is not in [1, min(N, D)].
        """
        if not 1 <= dims <= min(x.shape):
            raise ValueError(f"pca_dim must be in [1, {min(x.shape)}] for data of shape "
                             f"{x.shape}, got {dims}.")
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        return cls(mean, vt[:dims])

    def project(self, x: np.ndarray) -> np.ndarray:
        """The coordinates z (N, dims) of ``x`` along the components."""
        return (x - self.mean) @ self.components.T

    def reconstruct(self, z: np.ndarray) -> np.ndarray:
        """The points mean + z @ components (N, D) of coordinates ``z``."""
        return self.mean + z @ self.components

    def save(self, path) -> None:
        """Writes the mean and the components to an ``.npz`` file."""
        np.savez(path, mean=self.mean, components=self.components)

    @classmethod
    def load(cls, path) -> PrincipalComponents:
        """Reads what ``save`` wrote."""
        with np.load(Path(path)) as arrays:
            return cls(arrays["mean"], arrays["components"])
