"""Encoder f and decoder g networks, written once and shared by every model.

``architecture="dense"`` flattens the input and stacks ``Dense`` layers;
``architecture="conv"`` stacks stride-2 ``Conv2D`` layers (one per entry of
``hidden_units``, each halving height and width) and mirrors them with
``Conv2DTranspose`` in the decoder.

``activation="glu"`` makes every hidden layer a gated linear unit (Dauphin et al.
2017), the "gated dense" layers of Tomczak & Welling's VampPrior VAEs: two parallel
layers a and b of the given width, combined as a * sigmoid(b).
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np

from tfae import _checks
from tfae.choices import ARCHITECTURES

DEFAULT_HIDDEN_UNITS = {"dense": (256, 128), "conv": (32, 64)}
_STRIDED_CONV = functools.partial(keras.layers.Conv2D, kernel_size=3, strides=2, padding="same")
_STRIDED_DECONV = functools.partial(keras.layers.Conv2DTranspose, kernel_size=3, strides=2,
                                    padding="same")


def check_event_shape(input_shape) -> tuple[int, ...]:
    """Returns ``input_shape`` (an int or a sequence of positive ints) as the shape of
    one example, a tuple of ints such as ``(784,)`` or ``(28, 28, 1)``."""
    dims = (input_shape,) if isinstance(input_shape, (int, np.integer)) else input_shape
    try:
        dims = tuple(dims)
    except TypeError:
        dims = ()
    if not dims or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                           and d > 0 for d in dims):
        raise ValueError(
            f"input_shape must be the shape of one example, e.g. (784,) or (28, 28, 1), "
            f"got {input_shape!r}."
        )
    return tuple(int(d) for d in dims)


def check_architecture(architecture: str, event_shape: tuple) -> None:
    """Raises ValueError when ``architecture`` cannot handle examples of ``event_shape``."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose one of {ARCHITECTURES}.")
    if architecture == "conv" and len(event_shape) != 3:
        raise ValueError(
            f"architecture='conv' needs images shaped (height, width, channels), got examples "
            f"of shape {event_shape}; reshape the data (e.g. (784,) -> (28, 28, 1)) or use "
            "architecture='dense'."
        )


def check_activation(activation) -> None:
    """Raises ValueError unless ``activation`` names a Keras activation or ``"glu"``."""
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown activation {activation!r}; use a Keras activation name such as "
            "'relu', 'tanh' or 'elu', or 'glu' for gated linear units a * sigmoid(b)."
        ) from None


def resolve_hidden_units(hidden_units, architecture: str) -> tuple[int, ...]:
    """Returns ``hidden_units`` as a tuple of positive ints: the default of
    ``architecture`` when None, ``()`` (no hidden layer) when empty."""
    if hidden_units is None:
        return DEFAULT_HIDDEN_UNITS[architecture]
    if isinstance(hidden_units, (tuple, list)) and not hidden_units:
        return ()
    return _checks.check_hidden_units(hidden_units)


def given_network(network, name: str):
    """Returns a network given by the user: a Keras model or layer, or its serialized
    config (from ``get_config``)."""
    if isinstance(network, dict):
        network = keras.saving.deserialize_keras_object(network)
    if not isinstance(network, keras.layers.Layer):
        raise TypeError(f"{name} must be a Keras model or layer (or None to build one), got "
                        f"{type(network).__name__}.")
    return network


def check_output_shape(network, input_shape: tuple, expected: tuple, needs: str,
                       dtype="float32") -> None:
    """Raises ValueError (ending with ``needs``) unless ``network`` maps examples of
    ``input_shape`` to outputs of shape ``expected``; one forward pass of a zero batch
    builds the network and shows its shape."""
    shape = tuple(network(keras.ops.zeros((1, *input_shape), dtype)).shape[1:])
    if shape != tuple(expected):
        raise ValueError(f"the {network.name} maps examples of shape {tuple(input_shape)} to "
                         f"{shape}, but {needs}")


def _hidden_layer(make, hidden, units: int, activation: str, name: str):
    """Applies one hidden layer ``make(units, ...)``, gated when ``activation="glu"``."""
    if activation != "glu":
        return make(units, activation=activation, name=name)(hidden)
    linear = make(units, name=f"{name}_linear")(hidden)
    gate = make(units, activation="sigmoid", name=f"{name}_gate")(hidden)
    return keras.layers.Multiply(name=name)([linear, gate])


def _conv_bottom_shape(event_shape: tuple, filters: tuple[int, ...]) -> tuple[int, int, int]:
    height, width, _ = event_shape
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(
            f"architecture='conv' with {len(filters)} stride-2 layers needs height and width "
            f"divisible by {factor}, got {height}x{width}; use fewer hidden_units or pad the "
            "images."
        )
    return height // factor, width // factor, filters[-1] if filters else event_shape[-1]


def build_encoder(
    event_shape: tuple,
    latent_dim: int,
    hidden_units: tuple[int, ...],
    architecture: str = "dense",
    activation: str = "relu",
    latent_activation: str | None = None,
    name: str = "encoder",
) -> keras.Model:
    """Builds the encoder h = f(x) as a functional Keras model.

    Args:
        event_shape: tuple, the shape of one example x.
        latent_dim: int, the size of the code h.
        hidden_units: tuple of int, widths of the hidden Dense layers (dense) or
            filters of the stride-2 Conv2D layers (conv).
        architecture: str, ``"dense"`` or ``"conv"``. Defaults to ``"dense"``.
        activation: str, activation of the hidden layers (``"glu"``: gated linear
            units, see the module docstring). Defaults to ``"relu"``.
        latent_activation: str or None, activation of the code layer (None: linear).
        name: str, the model name. Defaults to ``"encoder"``.
    """
    check_architecture(architecture, event_shape)
    check_activation(activation)
    inputs = keras.Input(shape=event_shape, name="x")
    hidden = inputs
    if architecture == "conv":
        for index, filters in enumerate(hidden_units):
            hidden = _hidden_layer(_STRIDED_CONV, hidden, filters, activation, f"conv_{index}")
    hidden = keras.layers.Flatten(name="flatten")(hidden)
    if architecture == "dense":
        for index, units in enumerate(hidden_units):
            hidden = _hidden_layer(keras.layers.Dense, hidden, units, activation,
                                   f"dense_{index}")
    code = keras.layers.Dense(latent_dim, activation=latent_activation, name="code")(hidden)
    return keras.Model(inputs, code, name=name)


def build_decoder(
    latent_dim: int,
    event_shape: tuple,
    hidden_units: tuple[int, ...],
    params_per_value: int = 1,
    architecture: str = "dense",
    activation: str = "relu",
    name: str = "decoder",
) -> keras.Model:
    """Builds the decoder g(h) as a functional Keras model, mirroring ``build_encoder``.

    The output holds the parameters of p(x | h): shape ``event_shape`` with the last
    axis multiplied by ``params_per_value`` (see ``tfae.likelihoods``). It is linear:
    the likelihood head applies any link function (sigmoid, softplus).

    Args:
        latent_dim: int, the size of the code h.
        event_shape: tuple, the shape of one example x.
        hidden_units: tuple of int, as given to ``build_encoder`` (applied in reverse).
        params_per_value: int, decoder outputs per data value. Defaults to 1.
        architecture: str, ``"dense"`` or ``"conv"``. Defaults to ``"dense"``.
        activation: str, activation of the hidden layers (``"glu"``: gated linear
            units, see the module docstring). Defaults to ``"relu"``.
        name: str, the model name. Defaults to ``"decoder"``.
    """
    check_architecture(architecture, event_shape)
    check_activation(activation)
    output_shape = (*event_shape[:-1], event_shape[-1] * params_per_value)
    inputs = keras.Input(shape=(latent_dim,), name="h")
    hidden = inputs
    if architecture == "dense":
        for index, units in enumerate(reversed(hidden_units)):
            hidden = _hidden_layer(keras.layers.Dense, hidden, units, activation,
                                   f"dense_{index}")
        hidden = keras.layers.Dense(math.prod(output_shape), name="params")(hidden)
        outputs = keras.layers.Reshape(output_shape, name="reshape")(hidden)
    else:
        bottom = _conv_bottom_shape(event_shape, hidden_units)
        hidden = _hidden_layer(keras.layers.Dense, hidden, math.prod(bottom), activation, "dense")
        hidden = keras.layers.Reshape(bottom, name="reshape")(hidden)
        for index, filters in enumerate(reversed(hidden_units)):
            hidden = _hidden_layer(_STRIDED_DECONV, hidden, filters, activation,
                                   f"deconv_{index}")
        outputs = keras.layers.Conv2D(output_shape[-1], 3, padding="same", name="params")(hidden)
    return keras.Model(inputs, outputs, name=name)
