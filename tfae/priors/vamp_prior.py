"""The VampPrior: the mixture of the VAE's own posteriors at K learned pseudo-inputs."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.priors.learned import LearnedPrior


@keras.saving.register_keras_serializable(package="tfae")
class VampPrior(LearnedPrior):
    """p(z) = (1/K) sum_k q(z | u_k): the posterior averaged over K pseudo-inputs u_k.

    The prior that maximises the ELBO on N examples is the aggregated posterior
    (1/N) sum_n q(z | x_n); the VampPrior ("variational mixture of posteriors")
    approximates it with K << N pseudo-inputs u_1..u_K, arrays of x's shape that are
    weights of the layer, trained with the encoder and the decoder. Each component is
    the encoder's Gaussian at u_k, N(z; mu(u_k), diag sigma(u_k)^2), so the prior is
    coupled to the encoder: its weights shape both. (With a posterior flow, the
    components are the Gaussians before the flow, q_0(z_0 | u_k).) The KL term is the
    Monte Carlo estimate log q(z|x) - log p(z).

    Every training step runs the encoder on the K pseudo-inputs besides the batch: with
    K = 500 and batches of 100, the encoder's share of a step's cost grows sixfold.

    The pseudo-inputs start uniform in [0, 1] (``seed``); ``adapt(x)`` starts them at K
    examples of the training data instead (drawn without replacement), as Keras
    preprocessing layers are adapted. Nothing constrains them to x's range.

    Args:
        num_pseudo_inputs: int >= 1, the number K of pseudo-inputs (components).
        seed: int or None, seeds their initial values and ``adapt``'s choice of
            examples; None draws one from NumPy's global generator, kept by
            ``get_config``. Defaults to None.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples:
        >>> import numpy as np, tfae
        >>> x = tfae.datasets.load("digits", binarize="threshold")
        >>> prior = tfae.priors.VampPrior(num_pseudo_inputs=10, seed=0)
        >>> vae = tfae.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,),
        ...                prior=prior, seed=0)
        >>> tuple(prior.pseudo_inputs.shape)
        (10, 8, 8, 1)
        >>> bool(np.isin(prior.adapt(x).pseudo_inputs.numpy(), [0.0, 1.0]).all())
        True
        >>> vae.sample(3, seed=0).shape
        TensorShape([3, 8, 8, 1])

    References:
        Tomczak, Welling, "VAE with a VampPrior", AISTATS 2018.
    """

    def __init__(self, num_pseudo_inputs: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_pseudo_inputs = _checks.check_positive_int(num_pseudo_inputs,
                                                            "num_pseudo_inputs")
        self.seed = _checks.resolve_seed(seed)

    def build_shape(self, latent_dim: int, event_shape: tuple) -> tuple:
        """The pseudo-inputs are x's: built on (None, *event_shape)."""
        return (None, *event_shape)

    def build(self, input_shape):
        if any(size is None for size in input_shape[1:]):
            raise ValueError(f"VampPrior is built on x's shape (None, *input_shape) with known "
                             f"sizes; got {tuple(input_shape)}.")
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=(self.num_pseudo_inputs, *input_shape[1:]),
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed))

    def adapt(self, x):
        """Sets the pseudo-inputs to K examples of ``x``, drawn without replacement.

        Args:
            x: array (N >= K, *input_shape), training examples.

        Returns:
            The layer.

        Raises:
            ValueError: the layer is not built (give it to a ``tfae.VAE`` first), ``x``
                has another example shape, fewer than K examples, or non-finite values.
        """
        if not self.built:
            raise ValueError("VampPrior.adapt needs the layer built: give it to a tfae.VAE "
                             "first (tfae.VAE(..., prior=prior)), then call prior.adapt(x).")
        x = _checks.as_float_array(x, "x")
        _checks.check_not_empty(x, "x")
        _checks.check_example_shape(x, tuple(self.pseudo_inputs.shape[1:]), "x")
        _checks.check_finite(x, "x")
        if len(x) < self.num_pseudo_inputs:
            raise ValueError(f"x has {len(x)} examples, fewer than num_pseudo_inputs="
                             f"{self.num_pseudo_inputs}: each pseudo-input starts at its own "
                             "example; pass more examples or use fewer pseudo-inputs (on the "
                             "command line, --prior-components).")
        rows = np.random.default_rng(self.seed).choice(len(x), self.num_pseudo_inputs,
                                                       replace=False)
        self.pseudo_inputs.assign(x[np.sort(rows)].astype(self.pseudo_inputs.dtype))
        return self

    def components(self, posterior, training=False):
        if posterior is None:
            raise ValueError("the VampPrior's components are the posteriors at its "
                             "pseudo-inputs: pass the encoder's posterior function (the "
                             "VAE does; use vae.prior for the distribution).")
        loc, scale = posterior(tf.convert_to_tensor(self.pseudo_inputs), training)[:2]
        return tf.zeros([self.num_pseudo_inputs], loc.dtype), loc, scale

    def get_config(self):
        config = super().get_config()
        config.update(num_pseudo_inputs=self.num_pseudo_inputs, seed=self.seed)
        return config
