"""The approximate posterior q(z | x) of a ``tfae.VAE``: the encoder's Gaussian, and with
``posterior_flow_steps`` > 0 an inverse autoregressive flow on top of it.

The encoder gives, per example, the mean mu(x), the unconstrained scales and (with a
flow) a context h(x). Then

    z_0 = mu(x) + sigma(x) * eps,    eps ~ N(0, I),    sigma = softplus(.) + min_scale,
    z = f(z_0; h(x))    (the flow; z = z_0 without one),
    log q(z | x) = log N(z_0; mu, sigma^2) - log |det df/dz_0|.

The ``VAE`` methods ``posterior_parameters``, ``posterior_center``, ``posterior_sample``
and ``encode`` call these functions.

References:
    Kingma, Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling, "Improved Variational
    Inference with Inverse Autoregressive Flow", NeurIPS 2016.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks

tfd = tfp.distributions


def values_per_example(latent_dim: int, flow_steps: int) -> int:
    """The encoder's outputs per example: mu and the raw scales, then h(x) with a flow."""
    return (3 if flow_steps else 2) * latent_dim


def parameters(vae, x, training=False):
    """(loc, scale) of q(z_0 | x), each (batch, latent_dim), then the flow's context h(x)
    when the VAE has a flow: the encoder's output split and the scales made positive."""
    values = tf.split(vae.encoder(x, training=training),
                      vae._posterior_values // vae.latent_dim, axis=-1)
    scale = tf.math.softplus(values[1]) + tf.cast(vae.min_scale, values[1].dtype)
    return (values[0], scale, *values[2:])


def center(vae, params):
    """The posterior's center, z at eps = 0: mu(x), or with a flow f(mu(x); h(x))."""
    if vae.posterior_flow is None:
        return params[0]
    return vae.posterior_flow(params[0], params[2])[0]


def sample(vae, x, num_samples: int = 1, seed: int | None = None):
    """Draws z ~ q(z|x) with log q(z|x) of each draw: shapes (num_samples, batch,
    latent_dim) and (num_samples, batch) (``VAE.posterior_sample``)."""
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    params = parameters(vae, tf.convert_to_tensor(vae.check_inputs(x), vae.compute_dtype))
    eps = tf.random.stateless_normal(
        [num_samples, *params[0].shape], [_checks.resolve_seed(seed), 1],
        dtype=params[0].dtype)
    return vae._latent_model.draw(params, eps)


def gaussian(vae, x):
    """q(z|x) as a ``tfd.MultivariateNormalDiag`` with batch shape (batch,); refused with
    a flow, whose q(z|x) is not a Gaussian (``VAE.encode``)."""
    if vae.posterior_flow is not None:
        raise ValueError("with posterior_flow_steps > 0, q(z|x) is not a Gaussian TFP "
                         "distribution; draw z with its log q(z|x) by "
                         "vae.posterior_sample(x, num_samples, seed).")
    loc, scale = vae.posterior_parameters(x)
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
