"""Monte Carlo estimates of the likelihood p(x) of a latent variable model.

A latent variable model defines p(x) by summing or integrating the joint over z,

    p(x) = sum_z p(x, z)        or        p(x) = integral p(x, z) dz.

Writing the sum or integral as an expectation under a distribution q(z) that is easy
to sample from,

    p(x) = E_{z ~ q} [ p(x, z) / q(z) ],

gives the Monte Carlo estimate p^(x) = (1/S) sum_s p(x, z_s) / q(z_s), z_s ~ q. It
is unbiased for every q that is positive wherever p(x, z) is.

- ``tfae.estimators.naive``: proposals that ignore x (uniform over a discrete z, or
  the prior), with their standard errors (``naive_monte_carlo_log_prob``).
- ``tfae.estimators.importance``: a proposal q(z | x) from an encoder, as in a VAE:
  the importance-weighted estimate of log p(x) and the ELBO
  (``importance_weighted_log_prob``, ``elbo``), in bounded memory for any number of
  samples.
"""

from tfae.estimators.importance import (
    LatentVariableModel,
    decoder_log_likelihood,
    decoder_values_per_draw,
    elbo,
    importance_weighted_log_prob,
    monte_carlo_kl,
    posterior_log_prob,
)
from tfae.estimators.naive import (
    MonteCarloEstimate,
    estimate_from_log_weights,
    naive_monte_carlo_log_prob,
)

__all__ = [
    "LatentVariableModel",
    "MonteCarloEstimate",
    "decoder_log_likelihood",
    "decoder_values_per_draw",
    "elbo",
    "estimate_from_log_weights",
    "importance_weighted_log_prob",
    "monte_carlo_kl",
    "naive_monte_carlo_log_prob",
    "posterior_log_prob",
]
