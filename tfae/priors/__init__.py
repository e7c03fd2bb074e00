"""Priors p(z) of the VAE.

- Fixed priors (``tfae.priors.distributions``): TFP distributions over z, the standard
  normal by default, such as a ``tfae.GaussianMixture(...).fit(z).distribution``; saved in
  the VAE's config (``serialize`` / ``deserialize``).
- Learned priors, trained with the model: ``MixturePrior`` (a mixture of K Gaussians whose
  weights, means and scales are weights of the model) and ``VampPrior`` (the mixture of the
  posteriors q(z | u_k) at K learned pseudo-inputs u_k). Both are Keras layers saved with
  the model; a VAE with one uses the Monte Carlo KL.
"""

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

__all__ = [
    "DISTRIBUTIONS",
    "LINEAR_OPERATORS",
    "LearnedPrior",
    "MixturePrior",
    "VampPrior",
    "analytic_kl",
    "check",
    "deserialize",
    "diagonal_mixture",
    "has_analytic_kl",
    "log_prob",
    "serialize",
    "standard_normal",
    "standard_normal_kl",
]
