"""tfae: the autoencoders of the lecture as Keras 3 models with TFP likelihoods.

The package follows the lecture's table of contents:

- ``tfae.Autoencoder``: the vanilla autoencoder h = f(x), r = g(h).
- ``tfae.DenoisingAutoencoder``: trained on corrupted x~ ~ C(x~|x); samples by a Markov chain.
- ``tfae.corruption``: the corruption processes C(x~ | x).
- ``tfae.MADE``, ``tfae.layers.MaskedDense``, ``tfae.masks``: masked autoencoders, an exact
  autoregressive likelihood.
- ``tfae.GaussianMixture`` (``tfae.mixture``), ``tfae.estimators``: a latent variable model
  fitted by EM, and Monte Carlo estimates of p(x) (naive, importance-weighted, the ELBO).
- ``tfae.VAE``: the variational autoencoder, trained on the ELBO (or the importance-weighted
  bound); importance-weighted log p(x), samples, interpolations, active units.
- ``tfae.priors``: priors p(z) of a VAE, fixed or learned (a trained mixture, the
  VampPrior), their KL terms, and how they are saved.
- ``tfae.flows``: inverse autoregressive flows built from MADE, for a VAE's posterior.
- ``tfae.likelihoods``: decoder likelihoods p(x | h) as TFP distributions.
- ``tfae.datasets``: the embedded digits, tensorflow-datasets images, .npz files.
- ``tfae.metrics``: reference scores such as the per-pixel-mean baseline.
- ``tfae.export``: encoders and decoders as SavedModel and LiteRT files.

``import tfae`` imports the models (and so TensorFlow): Keras finds the classes of a
``.keras`` file only among the classes registered by imported modules, so
``keras.models.load_model`` of a tfae model works in any process that imported tfae.
"""

from tfae import (
    choices,
    corruption,
    datasets,
    estimators,
    export,
    flows,
    layers,
    likelihoods,
    masks,
    metrics,
    mixture,
    plotting,
    priors,
)
from tfae.mixture import GaussianMixture
from tfae.models import MADE, VAE, Autoencoder, DenoisingAutoencoder

__version__ = "0.1.0"

__all__ = [
    "MADE",
    "VAE",
    "Autoencoder",
    "DenoisingAutoencoder",
    "GaussianMixture",
    "choices",
    "corruption",
    "datasets",
    "estimators",
    "export",
    "flows",
    "layers",
    "likelihoods",
    "masks",
    "metrics",
    "mixture",
    "plotting",
    "priors",
    "__version__",
]
