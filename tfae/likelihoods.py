"""Decoder likelihoods p(x | h): heads that turn decoder outputs into TFP distributions.

A decoder network g outputs a tensor of parameters; a likelihood head turns it into
``tfd.Independent`` over every dimension of one example, so that ``log_prob`` is the
log-likelihood of a whole example, in nats. Every model of tfae is trained on the
negative log-likelihood from these distributions:

    loss(x) = -log p(x | g(f(x)))

Parameters sit on the last axis of the decoder output: a head with
``params_per_value = k`` needs ``k * C`` outputs where the data has ``C`` values on
its last axis (channels for images, dimensions for vectors).

Heads are plain serializable objects, not Keras layers: Keras 3 layers return
tensors, and the distribution is built from those tensors here.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks

tfd = tfp.distributions


class Likelihood:
    """Base class of decoder likelihood heads.

    Subclasses set ``params_per_value`` and implement ``distribution``.
    """

    #: How many decoder outputs each data value needs (1 for a logit, 2 for loc and scale).
    params_per_value: int = 1

    def distribution(self, params) -> tfd.Distribution:
        """Returns p(x | params) as a ``tfd.Independent`` over all non-batch axes."""
        raise NotImplementedError

    def check_data(self, x: np.ndarray, name: str = "x") -> None:
        """Raises ValueError if ``x`` cannot be scored by this likelihood."""
        _checks.check_finite(x, name)

    def independent_params(self, x: np.ndarray) -> np.ndarray:
        """The parameters (``params`` of ``distribution``) of the model that draws
        every value independently, fitted to ``x`` (N, D): the per-value model of
        ``tfae.metrics.pixel_mean_nll``, shape (D * params_per_value,)."""
        raise NotImplementedError

    def in_support(self, x):
        """Returns a scalar bool tensor: whether this likelihood can score every finite
        value of ``x``, computed in-graph (also under XLA) on batches that
        ``check_data`` cannot see in advance (datasets, generators)."""
        return tf.constant(True)

    def support_problem(self) -> str:
        """The end of the message for data outside ``in_support``, after its name."""
        return "holds values this likelihood cannot score"

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Likelihood:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _independent(distribution: tfd.Distribution) -> tfd.Independent:
    # Every axis but the batch axis belongs to one example.
    return tfd.Independent(
        distribution, reinterpreted_batch_ndims=distribution.batch_shape.rank - 1
    )


@keras.saving.register_keras_serializable(package="tfae")
class Bernoulli(Likelihood):
    """Bernoulli likelihood for binary data, parameterised by logits.

    p(x | h) = prod_d Bernoulli(x_d; sigmoid(g(h)_d)), so that -log p(x | h) is the
    lecture's cross-entropy l(x) = sum_d -x_d log x^_d - (1 - x_d) log(1 - x^_d),
    computed from logits for numerical stability. Data must lie in [0, 1]; grey
    levels in (0, 1) are scored by the same cross-entropy (no longer a normalised
    likelihood, as is common for grey-level MNIST).

    Examples:
        >>> head = Bernoulli()
        >>> head.distribution(tf.zeros([2, 3])).log_prob(tf.ones([2, 3])).shape
        TensorShape([2])
    """

    params_per_value = 1

    def distribution(self, params) -> tfd.Independent:
        return _independent(tfd.Bernoulli(logits=params, dtype=params.dtype))

    def check_data(self, x: np.ndarray, name: str = "x") -> None:
        super().check_data(x, name)
        _checks.check_unit_interval(x, name)

    def independent_params(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of (sum_n x_nd + 1) / (N + 2) (Laplace's rule: finite also for
        a value never on, or always on, in ``x``)."""
        probs = (np.sum(x, axis=0, dtype=np.float64) + 1.0) / (len(x) + 2.0)
        return np.log(probs) - np.log1p(-probs)

    def in_support(self, x):
        return tf.logical_and(tf.reduce_min(x) >= 0, tf.reduce_max(x) <= 1)

    def support_problem(self) -> str:
        return ("lies outside [0, 1], which a Bernoulli likelihood cannot score; rescale it "
                "(e.g. x / 255) or use likelihood='gaussian'")


@keras.saving.register_keras_serializable(package="tfae")
class Gaussian(Likelihood):
    """Diagonal Gaussian likelihood for continuous data.

    p(x | h) = prod_d N(x_d; mu_d(h), sigma_d^2).

    Args:
        scale: float or ``"learned"``. A positive float fixes sigma for every
            dimension (the decoder outputs only mu). ``"learned"`` makes the
            decoder output mu and an unconstrained s per dimension, with
            sigma = softplus(s) + min_scale. Defaults to 1.0.
        min_scale: float, the floor added to a learned sigma so that the
            likelihood cannot collapse onto a single training point. It is part
            of the parameterisation, not a clip. Defaults to 1e-3.

    Raises:
        TypeError: if ``scale`` is neither a number nor ``"learned"``, or
            ``min_scale`` is not a number (a bool is neither).
        ValueError: if ``scale`` is another string, or either is not a finite
            number > 0.

    Examples:
        >>> head = Gaussian(scale="learned")
        >>> head.params_per_value
        2
    """

    def __init__(self, scale: float | str = 1.0, min_scale: float = 1e-3):
        if isinstance(scale, str):
            if scale != "learned":
                raise ValueError(
                    f"Gaussian scale must be a positive number or 'learned', got {scale!r}."
                )
        elif isinstance(scale, bool) or not isinstance(
                scale, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"Gaussian scale must be a positive number or 'learned', got {scale!r}."
            )
        else:
            scale = _checks.check_number(scale, "Gaussian scale", strict=True)
        self.scale = scale
        self.min_scale = _checks.check_number(min_scale, "min_scale", strict=True)

    @property
    def learned(self) -> bool:
        return self.scale == "learned"

    @property
    def params_per_value(self) -> int:  # type: ignore[override]
        return 2 if self.learned else 1

    def distribution(self, params) -> tfd.Independent:
        if self.learned:
            loc, raw_scale = tf.split(params, 2, axis=-1)
            scale = tf.math.softplus(raw_scale) + tf.cast(self.min_scale, params.dtype)
        else:
            loc, scale = params, tf.cast(self.scale, params.dtype)
        return _independent(tfd.Normal(loc=loc, scale=scale))

    def independent_params(self, x: np.ndarray) -> np.ndarray:
        """The means and, with a learned scale, the s with softplus(s) = the standard
        deviation (so sigma = std + min_scale; a constant value gets s of a deviation of
        1e-6 instead of -inf)."""
        x = np.asarray(x, np.float64)
        mean = x.mean(axis=0)
        if not self.learned:
            return mean
        deviation = np.maximum(x.std(axis=0), 1e-6)
        return np.concatenate([mean, deviation + np.log(-np.expm1(-deviation))])

    def get_config(self) -> dict:
        return {"scale": self.scale, "min_scale": self.min_scale}


_BY_NAME = {"bernoulli": Bernoulli, "gaussian": Gaussian}


def get(identifier) -> Likelihood:
    """Returns a likelihood head from a name, a serialized config, or a head.

    Args:
        identifier: ``"bernoulli"``, ``"gaussian"``, a dict produced by
            ``serialize``, or a ``Likelihood`` instance (returned as is).

    Raises:
        ValueError: the name is not known.
        TypeError: the identifier is of another type.
    """
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(
                f"Unknown likelihood {identifier!r}; choose one of {sorted(_BY_NAME)} "
                "or pass a tfae.likelihoods.Likelihood instance."
            )
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise TypeError(
        "likelihood must be a name, a config dict or a Likelihood, "
        f"got {type(identifier).__name__}."
    )


def serialize(likelihood: Likelihood) -> dict:
    """Returns the Keras-serialized config of a head (the inverse of ``get``)."""
    return keras.saving.serialize_keras_object(likelihood)
