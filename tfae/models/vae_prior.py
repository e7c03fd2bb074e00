"""The prior p(z) of a ``tfae.VAE``: what its ``prior`` argument may be, and what the
model keeps of it.

A **fixed** prior is a TFP distribution over z (None: the standard normal N(0, I)), or
its ``tfae.priors.serialize`` dict. A **learned** prior is a ``tfae.priors.LearnedPrior``
layer (``MixturePrior``, ``VampPrior``) or its Keras config dict: its weights are part of
the model, trained with it, saved with it; ``vae.prior`` is then the distribution of its
current weights. The KL term is analytic only for a fixed prior with a closed form and no
posterior flow; otherwise it is the Monte Carlo estimate log q(z|x) - log p(z).

``VAE.prior`` (the property and its setter), the KL term and ``VAE.get_config`` call
these functions.
"""

from __future__ import annotations

import functools

import keras

from tfae import estimators, priors


def assign(vae, prior) -> None:
    """Sets the VAE's prior (``VAE.prior = ...``; the constructor's ``prior``), checked,
    and the estimators that depend on it.

    Raises:
        ValueError: the VAE was built with a learned prior (it keeps it); a learned
            prior given to a model whose optimizer is built; a prior of another
            dimension or not a distribution over vectors.
    """
    if isinstance(prior, dict):
        prior = priors.from_config(prior)
    learned = isinstance(prior, priors.LearnedPrior)
    if vae.prior_layer is not None and prior is not vae.prior_layer:
        raise ValueError("this VAE was built with a learned prior, whose weights are part "
                         "of the model (and of its saved files): it keeps it. Build another "
                         "tfae.VAE for another prior.")
    if learned and getattr(getattr(vae, "optimizer", None), "built", False):
        raise ValueError("a learned prior's weights are trained with the model: pass it "
                         "to the constructor (tfae.VAE(..., prior=...)), not to a model "
                         "whose optimizer has been built.")
    if learned:
        if not prior.built:
            prior.build(prior.build_shape(vae.latent_dim, vae.event_shape))
        vae.prior_layer, vae._prior = prior, None
        checked = priors.check(distribution(vae), vae.latent_dim)
    else:
        checked = (priors.standard_normal(vae.latent_dim, vae.compute_dtype)
                   if prior is None else priors.check(prior, vae.latent_dim))
        vae.prior_layer, vae._prior = None, checked
    vae._default_prior = prior is None
    vae._analytic_kl = (vae.prior_layer is None and vae.posterior_flow is None and (
        prior is None or priors.has_analytic_kl(checked, vae.latent_dim)))
    # The estimates compile their loop for this prior; Keras' steps are traced again.
    vae._latent_model = estimators.LatentVariableModel(
        vae._posterior_parameters,
        functools.partial(estimators.decoder_log_likelihood, vae.decoder, vae.likelihood),
        vae._prior if vae.prior_layer is None else functools.partial(distribution, vae),
        vae._values_per_draw, flow=vae.posterior_flow)
    vae.train_function = vae.test_function = None


def distribution(vae, training=False):
    """p(z): the fixed distribution, or the learned prior's from its current weights."""
    if vae.prior_layer is None:
        return vae._prior
    return vae.prior_layer.distribution(vae._posterior_parameters, training)


def analytic_kl(vae, loc, scale):
    """KL(q(z|x) || p(z)) in closed form, for a fixed prior that has one."""
    if vae._default_prior:
        return priors.standard_normal_kl(loc, scale)
    return priors.analytic_kl(loc, scale, vae._prior)


def config(vae):
    """The prior as the VAE's config keeps it: None (the standard normal), a learned
    prior's Keras config, or ``tfae.priors.serialize`` of a fixed one (which raises for a
    distribution it cannot write)."""
    if vae.prior_layer is not None:
        return keras.saving.serialize_keras_object(vae.prior_layer)
    return None if vae._default_prior else priors.serialize(vae._prior)
