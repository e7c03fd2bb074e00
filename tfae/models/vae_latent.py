"""The latent space of a trained ``tfae.VAE``: interpolations between the codes of two
examples, and the units of z that carry information about x (active units).

``VAE.interpolate`` and ``VAE.active_units`` call these functions.

References:
    Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016
    (active units).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.models import vae_posterior


def interpolate(vae, x_a, x_b, num_steps: int = 10):
    """Decodes the straight line between the posterior means of ``x_a`` and ``x_b``
    (with a posterior flow, its centers: the flow applied to the Gaussian's means).

    Args:
        vae: a ``tfae.VAE``.
        x_a: one example (*input_shape) or a batch (n, *input_shape).
        x_b: the same shape as ``x_a``.
        num_steps: int >= 2, points on the line, both ends included. Defaults to 10.

    Returns:
        The means E[x | z_t] at z_t = (1 - t) E[z | x_a] + t E[z | x_b],
        t = 0, ..., 1: shape (num_steps, *input_shape) for single examples,
        (n, num_steps, *input_shape) for batches.
    """
    num_steps = _checks.check_positive_int(num_steps, "num_steps", minimum=2)
    single = np.ndim(x_a) == len(vae.event_shape)
    ends = [vae.check_mapped_inputs(
        _checks.as_float_array(value, name)[None] if single else value, name)
        for name, value in (("x_a", x_a), ("x_b", x_b))]
    if ends[0].shape != ends[1].shape:
        raise ValueError(f"x_a and x_b must have the same shape, got {ends[0].shape} "
                         f"and {ends[1].shape}.")
    loc_a, loc_b = (vae_posterior.center(
        vae, vae._posterior_parameters(tf.constant(end, vae.compute_dtype))) for end in ends)
    t = tf.linspace(tf.constant(0.0, loc_a.dtype), 1.0, num_steps)[None, :, None]
    z = (1.0 - t) * loc_a[:, None] + t * loc_b[:, None]  # (n, steps, latent)
    means = vae.decode(tf.reshape(z, [-1, vae.latent_dim])).mean()
    means = tf.reshape(means, [-1, num_steps, *vae.event_shape])
    return means[0] if single else means


def active_units(vae, x, threshold: float = 1e-2, batch_size: int = 1000):
    """Counts the active units of z (Burda et al. 2016).

    Unit u is active when A_u = Cov_x(E_{q(u|x)}[u]) > ``threshold``: its
    posterior mean varies with x. An inactive unit has collapsed onto the prior
    and carries no information about x.

    Args:
        vae: a ``tfae.VAE``.
        x: array of examples (batch >= 2, *input_shape), e.g. the test set.
        threshold: float >= 0. Defaults to 1e-2.
        batch_size: int, examples per encoder call. Defaults to 1000.

    Returns:
        ``(count, variances)``: the number of active units (int) and A_u for each
        unit (float64 array (latent_dim,)).
    """
    threshold = _checks.check_number(threshold, "threshold")
    x = vae.check_mapped_inputs(x)
    if len(x) < 2:
        raise ValueError("active_units needs at least 2 examples to measure a variance.")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    loc = np.concatenate([vae._posterior_parameters(tf.constant(
        x[start:start + batch_size], vae.compute_dtype))[0].numpy()
        for start in range(0, len(x), batch_size)])
    variances = np.var(loc.astype(np.float64), axis=0)
    return int((variances > threshold).sum()), variances
