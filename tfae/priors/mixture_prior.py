"""A mixture-of-Gaussians prior whose weights, means and scales are trained with the VAE."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfae import _checks
from tfae.priors.learned import LearnedPrior


@keras.saving.register_keras_serializable(package="tfae")
class MixturePrior(LearnedPrior):
    """p(z) = sum_k pi_k N(z; mu_k, diag sigma_k^2), every parameter trained with the VAE.

    The mixture weights are pi = softmax(a), the scales sigma_k = softplus(s_k) +
    ``min_scale``; a, mu and s are weights of the layer (and of the VAE that holds it),
    trained on the same bound as the encoder and the decoder. The KL term of the ELBO
    is then the Monte Carlo estimate log q(z|x) - log p(z) at the draw of z.

    The components start with equal weights, unit scales and means drawn from
    N(0, ``init_scale``^2 I) (``seed``), so that they start apart and the prior starts
    close to the standard normal.

    Args:
        num_components: int >= 1, the number K of Gaussians.
        min_scale: float > 0, the floor added to every sigma_k. Defaults to 1e-4.
        init_scale: float >= 0, the standard deviation of the initial means.
            Defaults to 0.5.
        seed: int or None, seeds the initial means; None draws one from NumPy's global
            generator, kept by ``get_config``. Defaults to None.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples:
        >>> import numpy as np, tfae
        >>> prior = tfae.priors.MixturePrior(num_components=3, seed=0)
        >>> vae = tfae.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
        ...                prior=prior, seed=0)
        >>> [tuple(w.shape) for w in prior.trainable_weights]
        [(3,), (3, 2), (3, 2)]
        >>> vae.kl_method
        'monte_carlo'
        >>> vae.prior.log_prob(np.zeros((4, 2), "float32")).shape
        TensorShape([4])

    References:
        Tomczak, Welling, "VAE with a VampPrior", AISTATS 2018 (the mixture-of-Gaussians
        prior, section 2.2).
        Dilokthanakul et al., "Deep Unsupervised Clustering with Gaussian Mixture
        Variational Autoencoders", 2016.
    """

    def __init__(self, num_components: int, min_scale: float = 1e-4, init_scale: float = 0.5,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _checks.check_positive_int(num_components, "num_components")
        self.min_scale = _checks.check_number(min_scale, "min_scale", strict=True)
        self.init_scale = _checks.check_number(init_scale, "init_scale")
        self.seed = _checks.resolve_seed(seed)

    def build(self, input_shape):
        latent_dim = input_shape[-1]
        if latent_dim is None:
            raise ValueError(f"MixturePrior is built on z's shape (None, latent_dim); got "
                             f"{tuple(input_shape)}.")
        k = self.num_components
        self.logits = self.add_weight(name="logits", shape=(k,), initializer="zeros")
        self.loc = self.add_weight(
            name="loc", shape=(k, latent_dim),
            initializer=keras.initializers.RandomNormal(stddev=self.init_scale, seed=self.seed))
        # softplus(log(e - 1)) = 1: unit scales.
        self.raw_scale = self.add_weight(
            name="raw_scale", shape=(k, latent_dim),
            initializer=keras.initializers.Constant(math.log(math.e - 1.0)))

    def components(self, posterior=None, training=False):
        scale = tf.math.softplus(self.raw_scale) + tf.cast(self.min_scale, self.raw_scale.dtype)
        return self.logits, tf.convert_to_tensor(self.loc), scale

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, min_scale=self.min_scale,
                      init_scale=self.init_scale, seed=self.seed)
        return config
