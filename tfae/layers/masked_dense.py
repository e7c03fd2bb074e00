"""A dense layer whose kernel is multiplied by a binary mask in every forward pass."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import activations, constraints, initializers, ops, regularizers

from tfae import _checks


@keras.saving.register_keras_serializable(package="tfae")
class MaskedDense(keras.layers.Layer):
    """A ``Dense`` layer computing ``activation(x @ (kernel * mask) + bias)``.

    The mask is applied inside the computation, so a masked weight has no effect on
    the output and receives a zero gradient, whatever the optimizer does to it. The
    mask is a non-trainable variable of shape ``(input_dim, units)``: it is saved
    with the model, and ``set_mask`` swaps it (also inside a compiled function, as
    ``tfae.MADE`` does at every minibatch) without retracing. It starts as all ones,
    a plain dense layer, until ``set_mask`` is called.

    Args:
        units: int, the output width.
        activation: str, callable or None, applied to the output. Defaults to None
            (linear).
        use_bias: bool, whether to add a bias. Defaults to True.
        kernel_initializer: initializer of the kernel. Defaults to
            ``"glorot_uniform"``.
        bias_initializer: initializer of the bias. Defaults to ``"zeros"``.
        kernel_regularizer: regularizer of the kernel (it sees the unmasked kernel).
            Defaults to None.
        bias_regularizer: regularizer of the bias. Defaults to None.
        activity_regularizer: regularizer of the output. Defaults to None.
        kernel_constraint: constraint on the kernel. Defaults to None.
        bias_constraint: constraint on the bias. Defaults to None.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = MaskedDense(2)
        >>> layer.build((None, 3))
        >>> layer.set_mask(np.array([[1, 0], [1, 1], [0, 1]]))
        >>> layer.effective_kernel().numpy()[2, 0]
        0.0

    References:
        Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for
        Distribution Estimation", ICML 2015, equations 10-11.
    """

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _checks.check_positive_int(units, "units")
        self.activation = activations.get(activation)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}.")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)
        # How effective_kernel applies the mask; tfae.MADE sets it while Keras traces an
        # XLA-compiled step (see effective_kernel). Not part of the config: same result.
        self.mask_by_select = False

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"MaskedDense needs to know the input width to build its mask; got input "
                f"shape {tuple(input_shape)}. Give the last axis a fixed size."
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
            )
        self.mask = self.add_weight(
            name="mask", shape=(input_dim, self.units), initializer="ones", trainable=False,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def set_mask(self, mask) -> None:
        """Replaces the mask; 1 keeps a weight, 0 removes it.

        Args:
            mask: array or tensor of 0/1 (or bool) values, shape ``(input_dim, units)``.
                A symbolic tensor (inside a ``tf.function``) is assigned as is; a
                concrete one is checked first.

        Raises:
            ValueError: the layer is not built, the shape is wrong, or a value is
                neither 0 nor 1.
        """
        if not self.built:
            raise ValueError(
                f"{self.name} is not built, so it has no mask yet; call "
                "layer.build((None, input_dim)) (or the layer on a batch) first."
            )
        expected = tuple(self.mask.shape)
        symbolic = isinstance(mask, tf.Tensor) and not tf.executing_eagerly()
        if not symbolic:
            values = np.asarray(mask)
            if values.shape != expected:
                raise ValueError(
                    f"{self.name} needs a mask of shape {expected} (input_dim, units), got "
                    f"{values.shape}."
                )
            if not np.isin(values, (0, 1)).all():
                raise ValueError(
                    f"a mask holds only 0 and 1 (or False and True); {self.name} got values "
                    f"such as {np.setdiff1d(values, (0, 1))[:3].tolist()}."
                )
        elif tuple(mask.shape) != expected:
            raise ValueError(f"{self.name} needs a mask of shape {expected}, got {mask.shape}.")
        self.mask.assign(ops.cast(mask, self.mask.dtype))

    def effective_kernel(self):
        """Returns ``kernel * mask``, the weights the forward pass uses.

        With ``mask_by_select`` the same weights come from ``where(mask > 0, kernel, 0)``:
        under XLA on CPU the select and its gradient run faster than the product and
        its gradient (a fused 784-500-784 training step: 7% slower than the unmasked
        one against 21%, ``benchmarks/made_mask_ops.py``); without XLA the product is
        the faster. The gradient with respect to a masked weight is exactly zero
        either way.
        """
        if self.mask_by_select:
            return ops.where(self.mask > 0, self.kernel, ops.zeros_like(self.kernel))
        return self.kernel * self.mask

    def call(self, inputs):
        kernel = ops.cast(self.effective_kernel(), self.compute_dtype)
        outputs = ops.matmul(inputs, kernel)
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
        )
        return config
