"""The models of the lecture, one file each."""

from tfae.mixture import GaussianMixture
from tfae.models.autoencoder import Autoencoder
from tfae.models.base import UnsupervisedModel
from tfae.models.denoising_autoencoder import DenoisingAutoencoder
from tfae.models.made import MADE
from tfae.models.vae import VAE

__all__ = [
    "MADE",
    "VAE",
    "Autoencoder",
    "DenoisingAutoencoder",
    "GaussianMixture",
    "UnsupervisedModel",
]
