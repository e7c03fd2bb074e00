"""Priors p(z) of the VAE.

- Fixed priors (``tfae.priors.distributions``): TFP distributions over z, the standard
  normal by default, such as a ``tfae.GaussianMixture(...).fit(z).distribution``; saved in
  the VAE's config (``serialize`` / ``deserialize``).
- Learned priors, trained with the model: ``MixturePrior`` (a mixture of K Gaussians whose
  weights, means and scales are weights of the model) and ``VampPrior`` (the mixture of the
  posteriors q(z | u_k) at K learned pseudo-inputs u_k). Both are Keras layers saved with
  the model; a VAE with one uses the Monte Carlo KL.
"""

import keras

from tfae.priors.distributions import (
    DISTRIBUTIONS,
    LINEAR_OPERATORS,
    analytic_kl,
    check,
    deserialize,
    has_analytic_kl,
    log_prob,
    serialize,
    standard_normal,
    standard_normal_kl,
)
from tfae.priors.learned import LearnedPrior, diagonal_mixture
from tfae.priors.mixture_prior import MixturePrior
from tfae.priors.vamp_prior import VampPrior


def from_config(config: dict):
    """Builds a prior from a config written by a VAE's ``get_config``: a learned prior
    (a Keras-serialized ``MixturePrior`` or ``VampPrior``, ``{"class_name": ...,
    "config": {...}}``) or a fixed distribution (``serialize``'s dict).

    Raises:
        ValueError: the config describes neither.
    """
    if isinstance(config, dict) and "class_name" in config:
        if config["class_name"] in LEARNED and "module" not in config:  # written by hand
            return LEARNED[config["class_name"]].from_config(dict(config.get("config", {})))
        prior = keras.saving.deserialize_keras_object(config)
        if not isinstance(prior, LearnedPrior):
            raise ValueError(f"a learned prior config describes a tfae.priors.LearnedPrior "
                             f"such as {sorted(LEARNED)}, got {type(prior).__name__}.")
        return prior
    return deserialize(config)


#: The learned priors, by class name.
LEARNED = {cls.__name__: cls for cls in (MixturePrior, VampPrior)}

__all__ = [
    "DISTRIBUTIONS",
    "LEARNED",
    "LINEAR_OPERATORS",
    "LearnedPrior",
    "MixturePrior",
    "VampPrior",
    "analytic_kl",
    "check",
    "deserialize",
    "from_config",
    "diagonal_mixture",
    "has_analytic_kl",
    "log_prob",
    "serialize",
    "standard_normal",
    "standard_normal_kl",
]
