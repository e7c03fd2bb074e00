"""The models of the lecture, one file each."""

from tfae.models.autoencoder import Autoencoder
from tfae.models.base import UnsupervisedModel

__all__ = ["Autoencoder", "UnsupervisedModel"]
