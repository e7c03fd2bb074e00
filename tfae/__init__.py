"""tfae: the autoencoders of the lecture as Keras 3 models with TFP likelihoods.

The package follows the lecture's table of contents:

- ``tfae.Autoencoder``: the vanilla autoencoder h = f(x), r = g(h).
- ``tfae.DenoisingAutoencoder``: trained on corrupted x~ ~ C(x~|x); samples by a Markov chain.
- ``tfae.corruption``: the corruption processes C(x~ | x).
- ``tfae.MADE``, ``tfae.layers.MaskedDense``, ``tfae.masks``: masked autoencoders, an exact
  autoregressive likelihood.
- ``tfae.GaussianMixture`` (``tfae.mixture``), ``tfae.estimators``: a latent variable model
  fitted by EM, and Monte Carlo estimates of p(x) (naive, importance-weighted, the ELBO).
- ``tfae.VAE``: the variational autoencoder, trained on the ELBO; importance-weighted
  log p(x), samples, interpolations, active units.
- ``tfae.priors``: priors p(z) of a VAE, their KL terms, and how they are saved.
- ``tfae.likelihoods``: decoder likelihoods p(x | h) as TFP distributions.
- ``tfae.datasets``: the embedded digits, tensorflow-datasets images, .npz files.
- ``tfae.metrics``: reference scores such as the per-pixel-mean baseline.
- ``tfae.export``: encoders and decoders as SavedModel and LiteRT files.

Submodules and models are imported on first use, so ``import tfae`` (and the
command line's ``--help``) does not start TensorFlow until a model or a module that
needs it is touched.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers and the API reference see; imported lazily below
    from tfae import (
        choices,
        corruption,
        datasets,
        estimators,
        export,
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

#: Public name -> the module that defines it (a module itself when the name is one).
_LAZY = {
    "MADE": "tfae.models",
    "VAE": "tfae.models",
    "Autoencoder": "tfae.models",
    "DenoisingAutoencoder": "tfae.models",
    "GaussianMixture": "tfae.mixture",
    **{name: f"tfae.{name}" for name in (
        "choices", "corruption", "datasets", "estimators", "export", "layers", "likelihoods",
        "masks", "metrics", "mixture", "plotting", "priors")},
}

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
    "layers",
    "likelihoods",
    "masks",
    "metrics",
    "mixture",
    "plotting",
    "priors",
    "__version__",
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'tfae' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if _LAZY[name] == f"tfae.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
