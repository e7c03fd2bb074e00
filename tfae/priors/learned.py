"""What a prior trained with the VAE is: a Keras layer whose weights define a mixture
of diagonal Gaussians over z.

A learned prior is a layer, so its weights are trained by the VAE's optimizer and saved in
the VAE's ``.keras`` file. It returns tensors: ``components(posterior)`` gives the mixture's
logits, means and scales, from its own weights (``MixturePrior``) or from the posterior at
its pseudo-inputs (``VampPrior``, which therefore receives the encoder's ``posterior``
function); ``diagonal_mixture`` builds the TFP distribution from them,

    p(z) = sum_{k=1}^K pi_k N(z; mu_k, diag sigma_k^2),

    log p(z) = logsumexp_k [log pi_k + log N(z; mu_k, diag sigma_k^2)].

TFP knows no closed form of KL(q(z|x) || p(z)) for a mixture: a VAE with a learned prior
uses the Monte Carlo estimate log q(z|x) - log p(z) at its draws of z.
"""

from __future__ import annotations

import keras
import tensorflow_probability as tfp

tfd = tfp.distributions


def diagonal_mixture(logits, loc, scale) -> tfd.Distribution:
    """Returns sum_k softmax(logits)_k N(loc_k, diag scale_k^2), one distribution over z.

    Args:
        logits: tensor (K,), the unnormalised log-weights of the components.
        loc: tensor (K, latent_dim), their means.
        scale: tensor (K, latent_dim), their standard deviations (> 0).
    """
    return tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits),
        tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale))


class LearnedPrior(keras.layers.Layer):
    """Base class of priors trained with the VAE (``MixturePrior``, ``VampPrior``).

    A subclass builds its weights in ``build(input_shape)``, where ``input_shape`` is
    that of a batch of z, (None, latent_dim), or of x, (None, *input_shape), as its
    ``build_shape`` says, and returns the mixture's parameters from ``components``. The
    VAE builds it when it receives it (``build_shape`` tells it on which shape).
    """

    def build_shape(self, latent_dim: int, event_shape: tuple) -> tuple:
        """Returns the input shape to build on: z's (None, latent_dim) by default."""
        return (None, latent_dim)

    def components(self, posterior, training=False):
        """Returns (logits (K,), loc (K, latent_dim), scale (K, latent_dim)).

        Args:
            posterior: callable x -> (loc, scale) of q(z|x) (the VAE's encoder), used by
                priors defined through the encoder (``VampPrior``); others ignore it.
            training: bool, passed to the encoder. Defaults to False.
        """
        raise NotImplementedError

    def distribution(self, posterior=None, training=False) -> tfd.Distribution:
        """Returns p(z) from the current weights (``diagonal_mixture`` of ``components``)."""
        return diagonal_mixture(*self.components(posterior, training))

    def call(self, z, posterior=None, training=False):
        """Returns log p(z) of each row of ``z`` (batch, latent_dim), shape (batch,)."""
        return self.distribution(posterior, training).log_prob(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])
