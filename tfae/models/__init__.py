"""The models of the lecture, one file each."""

from tfae.models.autoencoder import Autoencoder
from tfae.models.base import UnsupervisedModel
from tfae.models.denoising_autoencoder import DenoisingAutoencoder

__all__ = ["Autoencoder", "DenoisingAutoencoder", "UnsupervisedModel"]
