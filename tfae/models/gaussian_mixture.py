"""``tfae.models.GaussianMixture``: the Gaussian mixture of ``tfae.mixture``, under the
import path of the other models."""

from tfae.mixture import GaussianMixture

__all__ = ["GaussianMixture"]
