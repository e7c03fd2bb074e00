"""tfae: the autoencoders of the lecture as Keras 3 models with TFP likelihoods.

The package follows the lecture's table of contents:

- ``tfae.Autoencoder``: the vanilla autoencoder h = f(x), r = g(h).
- ``tfae.DenoisingAutoencoder``: trained on corrupted x~ ~ C(x~|x); samples by a Markov chain.
- ``tfae.corruption``: the corruption processes C(x~ | x).
- ``tfae.MADE``, ``tfae.layers.MaskedDense``, ``tfae.masks``: masked autoencoders, an exact
  autoregressive likelihood.
- ``tfae.GaussianMixture``, ``tfae.estimators``: a latent variable model fitted by EM, and the
  naive Monte Carlo likelihood.
- ``tfae.VAE``: the variational autoencoder, trained on the ELBO; importance-weighted
  log p(x), samples, interpolations, active units.
- ``tfae.likelihoods``: decoder likelihoods p(x | h) as TFP distributions.
- ``tfae.datasets``: the embedded digits, tensorflow-datasets images, .npz files.
- ``tfae.metrics``: reference scores such as the per-pixel-mean baseline.
- ``tfae.export``: encoders and decoders as SavedModel and LiteRT files.
"""

from tfae import (
    corruption,
    datasets,
    estimators,
    export,
    layers,
    likelihoods,
    masks,
    metrics,
    plotting,
)
from tfae.models import MADE, VAE, Autoencoder, DenoisingAutoencoder, GaussianMixture

__version__ = "0.1.0"

__all__ = [
    "MADE",
    "VAE",
    "Autoencoder",
    "DenoisingAutoencoder",
    "GaussianMixture",
    "estimators",
    "layers",
    "masks",
    "corruption",
    "datasets",
    "export",
    "likelihoods",
    "metrics",
    "plotting",
    "__version__",
]
