"""Corruption processes C(x~ | x) of the denoising autoencoder.

Each process is both a plain function of a tensor and a stateless seed (shape [2]
integers, so the same seed always gives the same corruption, inside or outside a
``tf.function``), and a Keras layer that corrupts in training only, like
``keras.layers.GaussianNoise``:

- ``gaussian_noise`` / ``GaussianNoise(stddev)``: x~ = x + stddev * eps, eps ~ N(0, I).
- ``salt_and_pepper`` / ``SaltAndPepper(rate)``: for binary x, each value is replaced
  with probability ``rate`` by a fair coin flip (so set to 0 or 1 at random).
- ``masking_noise`` / ``MaskingNoise(rate)``: each value is set to 0 with
  probability ``rate``.

A layer's ``seed`` seeds its own stream of draws: those of ``call`` in training, and
inside a ``tfae.DenoisingAutoencoder`` every corruption draw of ``fit`` and
``evaluate`` (the model's ``seed`` then seeds only its other draws). A layer without
a seed leaves the corruption draws of a denoising autoencoder to the model's seed.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.choices import CORRUPTIONS


def check_rate(rate, name: str = "rate") -> float:
    """Returns ``rate`` as a float after checking that it is a probability in [0, 1]."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a probability in [0, 1], got {rate!r}.")
    if not 0.0 <= rate <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"{name} must be a probability in [0, 1], got {rate!r}.")
    return float(rate)


_INT32 = np.iinfo(np.int32)


def as_seed(seed) -> tf.Tensor:
    """Returns a stateless seed (int32 tensor of shape [2]) from an int or a seed tensor.

    Raises:
        ValueError: None, an int outside the int32 range, or a seed not of shape [2].
        TypeError: a seed that is not an integer (a bool, a float, a string).
    """
    if seed is None:
        raise ValueError("a seed is required for a reproducible corruption; pass an int.")
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int or a stateless [2] seed, got {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        if not _INT32.min <= seed <= _INT32.max:
            raise ValueError(
                f"seed={seed} does not fit in int32; pass an int in "
                f"[{_INT32.min}, {_INT32.max}].")
        return tf.constant([int(seed), 0], tf.int32)
    if isinstance(seed, (str, bytes, float, np.floating)):
        raise TypeError(f"seed must be an int or a stateless [2] seed, got {seed!r}.")
    try:
        seed = tf.convert_to_tensor(seed)
    except (TypeError, ValueError) as error:
        raise TypeError(f"seed must be an int or a stateless [2] seed, got {seed!r}.") \
            from error
    if not seed.dtype.is_integer:
        raise TypeError(f"a stateless seed holds integers, got dtype {seed.dtype.name}.")
    if seed.shape != (2,):
        raise ValueError(f"a stateless seed has shape [2], got {seed.shape}; pass an int.")
    return tf.cast(seed, tf.int32)


def _as_input(x, name: str = "x"):
    """Returns ``x`` as a float tensor: NumPy data (and eager tensors) are checked for
    real, finite values; a symbolic tensor is used as it is."""
    if isinstance(x, (tf.Tensor, tf.Variable)) and not tf.executing_eagerly():
        return x if x.dtype.is_floating else tf.cast(x, tf.float32)
    if isinstance(x, (tf.Tensor, tf.Variable)):
        if x.dtype.is_floating:
            _checks.check_finite(x.numpy(), name)
            return x
        if not (x.dtype.is_integer or x.dtype.is_bool):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype.name}.")
        return tf.cast(x, tf.float32)
    array = _checks.as_float_array(x, name)
    _checks.check_finite(array, name)
    return tf.convert_to_tensor(array)


def _check_binary_if_eager(x, name: str = "x") -> None:
    if isinstance(x, np.ndarray) or tf.executing_eagerly():
        values = np.asarray(x)
        if not np.isin(values, (0.0, 1.0)).all():
            raise ValueError(
                f"{name}: salt-and-pepper noise corrupts binary data (values 0 and 1) only; "
                "binarize x first (tfae.datasets.load(..., binarize='threshold')) or use "
                "GaussianNoise or MaskingNoise."
            )


def gaussian_noise(x, stddev: float, seed) -> tf.Tensor:
    """Returns x~ = x + stddev * eps, eps ~ N(0, I).

    Raises:
        ValueError, TypeError: x is not real and finite, stddev is not a finite number
            >= 0, or a bad seed (``as_seed``).
    """
    stddev = _checks.check_number(stddev, "stddev")
    x = _as_input(x)
    noise = tf.random.stateless_normal(tf.shape(x), as_seed(seed), dtype=x.dtype)
    return x + tf.cast(stddev, x.dtype) * noise


def salt_and_pepper(x, rate: float, seed) -> tf.Tensor:
    """Returns binary x with each value replaced, with probability ``rate``, by a coin flip.

    Raises:
        ValueError, TypeError: x is not binary (when it can be checked: NumPy data or
            an eager tensor), rate is not in [0, 1], or a bad seed (``as_seed``).
    """
    rate = check_rate(rate)
    x = _as_input(x)
    _check_binary_if_eager(x)
    replace_seed, coin_seed = tf.unstack(tf.random.experimental.stateless_split(as_seed(seed)))
    replaced = tf.random.stateless_uniform(tf.shape(x), replace_seed) < rate
    coins = tf.cast(tf.random.stateless_uniform(tf.shape(x), coin_seed) < 0.5, x.dtype)
    return tf.where(replaced, coins, x)


def masking_noise(x, rate: float, seed) -> tf.Tensor:
    """Returns x with each value set to 0 with probability ``rate``.

    Raises:
        ValueError, TypeError: x is not real and finite, rate is not in [0, 1], or a
            bad seed (``as_seed``).
    """
    rate = check_rate(rate)
    x = _as_input(x)
    dropped = tf.random.stateless_uniform(tf.shape(x), as_seed(seed)) < rate
    return tf.where(dropped, tf.zeros_like(x), x)


class Corruption(keras.layers.Layer):
    """Base class of corruption layers: ``corrupt(x, seed)`` always corrupts;
    ``call(x, training)`` corrupts in training only (identity at inference), drawing
    its seeds from the layer's own stream (``next_seed``).

    Args:
        seed: int >= 0 or None, seeds the layer's stream (see the module docstring).
            Defaults to None.
        **kwargs: passed to ``keras.layers.Layer``.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None:
            seed = _checks.check_positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def corrupt(self, x, seed) -> tf.Tensor:
        """Returns one draw of x~ ~ C(x~ | x) for a stateless seed (int or [2] tensor)."""
        raise NotImplementedError

    def check_data(self, x: np.ndarray, name: str = "x") -> None:
        """Raises ValueError if this process cannot corrupt ``x``."""
        _checks.check_finite(_checks.as_float_array(x, name), name)

    def next_seed(self) -> tf.Tensor:
        """Returns the next stateless seed of the layer's stream (int32, shape [2])."""
        return tf.cast(self.seed_generator.next(), tf.int32)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        return self.corrupt(inputs, self.next_seed())

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="tfae")
class GaussianNoise(Corruption):
    """Additive Gaussian noise C(x~ | x) = N(x~; x, stddev^2 I), for continuous data.

    Args:
        stddev: float >= 0, the noise standard deviation.
        seed: int or None. Defaults to None.

    Examples:
        >>> GaussianNoise(0.3).corrupt(tf.zeros([2, 3]), seed=0).shape
        TensorShape([2, 3])
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _checks.check_number(stddev, "stddev")

    def corrupt(self, x, seed):
        return gaussian_noise(x, self.stddev, seed)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="tfae")
class SaltAndPepper(Corruption):
    """Salt-and-pepper noise for binary data: each value, with probability ``rate``,
    is replaced by 0 or 1 with equal probability (Vincent et al., 2010).

    Args:
        rate: float in [0, 1], the probability that a value is replaced.
        seed: int or None. Defaults to None.

    Examples:
        >>> SaltAndPepper(0.2).corrupt(tf.ones([2, 5]), seed=0).shape
        TensorShape([2, 5])
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(rate)

    def corrupt(self, x, seed):
        return salt_and_pepper(x, self.rate, seed)

    def check_data(self, x, name="x"):
        super().check_data(x, name)
        _check_binary_if_eager(np.asarray(x), name)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="tfae")
class MaskingNoise(Corruption):
    """Masking noise: each value is set to 0 with probability ``rate``.

    Args:
        rate: float in [0, 1], the probability that a value is zeroed.
        seed: int or None. Defaults to None.

    Examples:
        >>> MaskingNoise(0.5).corrupt(tf.ones([2, 5]), seed=0).shape
        TensorShape([2, 5])
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate(rate)

    def corrupt(self, x, seed):
        return masking_noise(x, self.rate, seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


_BY_NAME = dict(zip(CORRUPTIONS, (SaltAndPepper, MaskingNoise, GaussianNoise), strict=True))


def get(identifier) -> Corruption:
    """Returns a corruption layer from a layer, a Keras config dict, or ``(name, level)``.

    Examples:
        >>> get(("salt_and_pepper", 0.2)).get_config()["rate"]
        0.2
        >>> layer = SaltAndPepper(0.2)
        >>> get(layer) is layer
        True
        >>> type(get(keras.saving.serialize_keras_object(MaskingNoise(0.5)))).__name__
        'MaskingNoise'
    """
    if isinstance(identifier, Corruption):
        return identifier
    if isinstance(identifier, dict):
        try:
            layer = keras.saving.deserialize_keras_object(identifier)
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(
                f"the corruption config {identifier!r} does not describe a tfae.corruption "
                f"layer ({error}); pass keras.saving.serialize_keras_object(layer)."
            ) from error
        if not isinstance(layer, Corruption):
            raise TypeError(f"the corruption config describes a {type(layer).__name__}, not a "
                            "tfae.corruption layer.")
        return layer
    if isinstance(identifier, (tuple, list)) and len(identifier) == 2:
        name, level = identifier
        if not isinstance(name, str) or name not in _BY_NAME:
            raise ValueError(f"Unknown corruption {name!r}; choose one of {CORRUPTIONS}.")
        try:
            return _BY_NAME[name](level)
        except (TypeError, ValueError) as error:
            raise type(error)(f"corruption {identifier!r}: {error}") from error
    raise TypeError(
        "corruption must be a tfae.corruption layer (e.g. SaltAndPepper(0.2)), a config dict, "
        f"or a (name, level) pair such as ('salt_and_pepper', 0.2); got {identifier!r}."
    )
