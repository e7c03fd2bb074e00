"""The vanilla autoencoder of the lecture: h = f(x), r = g(h), loss -log p(x | g(f(x)))."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfae import _checks, likelihoods
from tfae.models import builders
from tfae.models.base import UnsupervisedModel


@keras.saving.register_keras_serializable(package="tfae")
class Autoencoder(UnsupervisedModel):
    """An undercomplete autoencoder trained on the negative log-likelihood of x.

    The encoder maps x to a code h = f(x) narrower than x; the decoder outputs the
    parameters of p(x | h) (``tfae.likelihoods``), and training minimises

        l(x) = -log p(x | h = f(x)),

    which for binary data and a Bernoulli likelihood is the lecture's cross-entropy
    sum_d -x_d log x^_d - (1 - x_d) log(1 - x^_d), reported in nats per example.

    Metrics given to ``compile(metrics=...)`` compare x with its reconstruction
    r = g(f(x)), the mean of p(x | h = f(x)) (what ``model(x)`` and ``predict``
    return), e.g. ``metrics=["mae"]`` reports the mean absolute reconstruction error.

    This is not a generative model: exp(-l(x)) does not sum to 1 over x (a perfect
    autoencoder scores every training point with probability 1), so ``l`` is a
    reconstruction loss, not a likelihood of the data.

    With ``hidden_units=()`` and ``latent_activation="sigmoid"`` the model is the
    lecture's one-layer autoencoder h(x) = sigmoid(b + W x), x^ = sigmoid(c + V h(x)).

    Args:
        input_shape: tuple of int, the shape of one example, e.g. ``(28, 28, 1)``
            or ``(784,)``.
        latent_dim: int, the size of the code h; must be smaller than the number
            of values in one example (an undercomplete bottleneck).
        hidden_units: tuple of int or None, widths of the hidden Dense layers
            (``"dense"``) or filters of the stride-2 convolutions (``"conv"``) of
            the encoder, mirrored in the decoder. ``()`` means no hidden layer: with
            ``"dense"`` the encoder is one affine map to the code (then
            ``latent_activation``) and the decoder one affine map to the parameters
            of p(x | h). Defaults to (256, 128) for dense and (32, 64) for conv.
        likelihood: str, dict or ``tfae.likelihoods.Likelihood``, the decoder
            likelihood: ``"bernoulli"`` (data in [0, 1]) or ``"gaussian"``, or a
            configured head such as ``Gaussian(scale="learned")``.
            Defaults to ``"bernoulli"``.
        architecture: str, ``"dense"`` or ``"conv"`` (images shaped (H, W, C)).
            Defaults to ``"dense"``.
        activation: str, activation of the hidden layers; ``"glu"`` makes them gated
            linear units a * sigmoid(b) (``tfae.models.builders``). Defaults to ``"relu"``.
        latent_activation: str or None, activation of the code layer; None is
            linear. Defaults to None.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Examples:
        >>> import tfae, keras
        >>> x = tfae.datasets.load("digits", binarize="threshold")
        >>> model = tfae.Autoencoder(input_shape=(8, 8, 1), latent_dim=16)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> history = model.fit(x, epochs=2, batch_size=64, verbose=0)
        >>> model.reconstruct(x[:5]).shape
        TensorShape([5, 8, 8, 1])

    References:
        Goodfellow, Bengio, Courville, "Deep Learning", chapter 14 (2016).
    """

    def __init__(
        self,
        input_shape,
        latent_dim: int,
        hidden_units=None,
        likelihood="bernoulli",
        architecture: str = "dense",
        activation: str = "relu",
        latent_activation: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape = builders.check_event_shape(input_shape)
        self.latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
        self._check_bottleneck()
        builders.check_architecture(architecture, self.event_shape)
        self.architecture = architecture
        self.hidden_units = builders.resolve_hidden_units(hidden_units, architecture)
        self.likelihood = likelihoods.get(likelihood)
        self.activation = activation
        self.latent_activation = latent_activation
        self.encoder = builders.build_encoder(
            self.event_shape, self.latent_dim, self.hidden_units, architecture,
            activation, latent_activation,
        )
        self.decoder = builders.build_decoder(
            self.latent_dim, self.event_shape, self.hidden_units,
            self.likelihood.params_per_value, architecture, activation,
        )
        self.built = True

    def _check_bottleneck(self) -> None:
        size = math.prod(self.event_shape)
        if self.latent_dim >= size:
            raise ValueError(
                f"latent_dim={self.latent_dim} is not smaller than the {size} values of one "
                "example: an overcomplete plain autoencoder can learn the identity. Choose "
                f"latent_dim < {size}, or use a denoising autoencoder."
            )

    # ------------------------------------------------------------------ the lecture's maps

    def encode(self, x):
        """Returns the code h = f(x), shape (batch, latent_dim).

        Raises:
            ValueError: x is not a non-empty batch of finite examples of the model's
                shape that the likelihood can score (e.g. values outside [0, 1] for a
                Bernoulli likelihood).
        """
        return self.encoder(self._traced_input(self._checked_if_array(x, "x", scored=False)))

    def decode(self, h):
        """Returns p(x | h) as a TFP distribution with one event per example.

        Raises:
            ValueError: h is not a non-empty (batch, latent_dim) array of finite values.
        """
        if self._is_user_array(h):
            h = self.check_code(h, self.latent_dim, "h")
        return self.likelihood.distribution(self.decoder(tf.cast(h, self.compute_dtype)))

    def reconstruct(self, x):
        """Returns r = g(f(x)), the mean of p(x | f(x)), with the shape of x (the checks
        of ``encode``)."""
        h = self.encode(x)
        return self.likelihood.distribution(self.decoder(h)).mean()

    def _params_given_code(self, x, training=False):
        """The decoder's parameters of p(x | h), h = f(x)."""
        return self.decoder(self.encoder(x, training=training), training=training)

    def _p_x_given_code(self, x, training=False):
        return self.likelihood.distribution(self._params_given_code(x, training))

    def _output(self, x, training=False):
        return self._p_x_given_code(x, training).mean()

    def loss_terms(self, x, training=False):
        return {"loss": -self._p_x_given_code(x, training).log_prob(x)}

    def reconstruction_loss(self, x):
        """Returns -log p(x | g(f(x))) per example, in nats, shape (batch,)."""
        x = self._traced_input(self._checked_if_array(x, "x"))
        return self.loss_terms(x)["loss"]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_shape=list(self.event_shape),
            latent_dim=self.latent_dim,
            hidden_units=list(self.hidden_units),
            likelihood=likelihoods.serialize(self.likelihood),
            architecture=self.architecture,
            activation=self.activation,
            latent_activation=self.latent_activation,
        )
        return config
