"""A dense layer whose kernel is masked by one of K fixed binary masks in each forward pass."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import activations, constraints, initializers, ops, regularizers

from tfae import _checks
from tfae.choices import MASK_OPS


@keras.saving.register_keras_serializable(package="tfae")
class MaskedDense(keras.layers.Layer):
    """A ``Dense`` layer computing ``activation(x @ (kernel * masks[k]) + bias)``.

    The layer holds ``num_masks`` binary masks in one non-trainable weight of shape
    ``(num_masks, input_dim, units)``, saved with the model, and each call picks one
    with ``mask_index``: ``layer(x, mask_index=k)``. The masks are data: set once,
    eagerly, with ``set_masks``; a call never changes them, so the same layer serves
    any mask inside one compiled function (``tfae.MADE`` cycles through its masks,
    one per minibatch, by passing a different index). They start as all ones, a
    plain dense layer, until ``set_masks`` is called.

    The mask is applied inside the computation (``masked_kernel``), so a masked
    weight has no effect on the output and receives a gradient of exactly zero,
    whatever the optimizer does to it.

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
        num_masks: int, the number K of masks the layer holds. Defaults to 1.
        mask_op: how the mask is applied, one of ``MASK_OPS``: ``"multiply"``
            computes ``kernel * mask`` with a float mask, ``"select"`` computes
            ``where(mask, kernel, 0)`` with a boolean mask (a quarter of the memory).
            Same values and gradients; the speed differs: in a 784-500-784 training
            step on CPU the product is the faster without XLA and the select with
            XLA (``benchmarks/made_mask_ops.py``, ``docs/benchmarks.md``). Defaults
            to ``"multiply"``.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> layer = MaskedDense(2, num_masks=2)
        >>> layer.build((None, 3))
        >>> layer.set_masks(np.array([[[1, 0], [1, 1], [0, 1]],
        ...                           [[1, 1], [0, 1], [0, 0]]]))
        >>> bool((layer.masked_kernel(1).numpy()[2] == 0).all())  # input 2 is cut off
        True
        >>> layer(np.ones((4, 3), "float32"), mask_index=1).shape
        TensorShape([4, 2])

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
        num_masks: int = 1,
        mask_op: str = "multiply",
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _checks.check_positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = _checks.check_bool(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.num_masks = _checks.check_positive_int(num_masks, "num_masks")
        self.mask_op = check_mask_op(mask_op)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"MaskedDense needs to know the input width to build its masks; got input "
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
        self.masks = self.add_weight(
            name="masks", shape=(self.num_masks, input_dim, self.units), initializer="ones",
            dtype="bool" if self.mask_op == "select" else self.variable_dtype,
            trainable=False,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def set_masks(self, masks) -> None:
        """Replaces the masks; 1 (True) keeps a weight, 0 (False) removes it.

        Called eagerly, once (``tfae.MADE`` does it when it builds its layers): the
        masks are data, and a compiled function picks one with ``mask_index``.

        Args:
            masks: array of 0/1 (or bool) values, shape ``(num_masks, input_dim,
                units)``; for one mask, ``mask[None]``.

        Raises:
            ValueError: the layer is not built, the shape is wrong, a value is
                neither 0 nor 1, or the call is inside a compiled function.
        """
        if not self.built:
            raise ValueError(
                f"{self.name} is not built, so it has no masks yet; call "
                "layer.build((None, input_dim)) (or the layer on a batch) first."
            )
        if not tf.executing_eagerly():
            raise ValueError(
                f"{self.name}.set_masks was called inside a compiled function; set the "
                "masks once, eagerly, and choose one per call with layer(x, mask_index=k)."
            )
        if masks is None or isinstance(masks, (str, bytes)):
            raise TypeError(f"masks must be an array of 0/1 (or bool) values, got {masks!r}.")
        values = np.asarray(masks)
        if not (values.dtype == bool or np.issubdtype(values.dtype, np.integer)
                or np.issubdtype(values.dtype, np.floating)):
            raise TypeError(
                f"masks must hold 0/1 (or bool) values, got an array of dtype {values.dtype}.")
        expected = tuple(self.masks.shape)
        if values.shape != expected:
            raise ValueError(
                f"{self.name} needs masks of shape {expected} (num_masks, input_dim, units), "
                f"got {values.shape}."
            )
        if not ((values == 0) | (values == 1)).all():
            raise ValueError(
                f"masks hold only 0 and 1 (or False and True); {self.name} got values "
                f"such as {np.setdiff1d(values, (0, 1))[:3].tolist()}."
            )
        self.masks.assign(values.astype(self.masks.dtype))

    def masked_kernel(self, mask_index=0):
        """Returns the kernel with mask ``mask_index`` applied: the weights the forward
        pass uses (``kernel * mask`` or ``where(mask, kernel, 0)``, see ``mask_op``).

        Args:
            mask_index: int, or a scalar integer tensor (e.g. computed in a compiled
                function), in ``[0, num_masks)``. A Python int (or a constant) slices
                its mask out statically; a computed tensor gathers it. Defaults to 0.

        Raises:
            TypeError: ``mask_index`` is not an integer.
            ValueError: it is out of range, or not a scalar.
        """
        mask = self._mask(mask_index)
        if self.mask_op == "select":
            return ops.where(mask, self.kernel, ops.zeros_like(self.kernel))
        return self.kernel * mask

    def _mask(self, mask_index):
        if not hasattr(mask_index, "dtype") or isinstance(mask_index, np.generic):
            return self.masks[check_mask_index(mask_index, self.num_masks)]  # static slice
        index = tf.convert_to_tensor(mask_index)
        if not index.dtype.is_integer or index.shape.rank != 0:
            raise TypeError(
                f"mask_index must be an int or a scalar integer tensor, got a tensor of "
                f"dtype {index.dtype.name} and shape {index.shape}."
            )
        static = tf.get_static_value(index)
        if static is not None:  # a constant: checked, then sliced like an int
            return self.masks[check_mask_index(static.item(), self.num_masks)]
        # Computed in-graph (tfae.MADE's step counter): gathered, not checked.
        return ops.take(self.masks, ops.cast(index, "int32"), axis=0)

    def call(self, inputs, mask_index=0):
        dtype = tf.as_dtype(inputs.dtype)
        if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
            raise TypeError(
                f"{self.name} needs inputs of real numbers, got dtype {dtype.name}.")
        inputs = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.masked_kernel(mask_index), self.compute_dtype)
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
            num_masks=self.num_masks,
            mask_op=self.mask_op,
        )
        return config

    # ------------------------------------------------------------------ deprecated

    def set_mask(self, mask) -> None:
        """Deprecated: use ``set_masks(mask[None])`` (a layer of one mask)."""
        warnings.warn("MaskedDense.set_mask is deprecated; use set_masks(masks), masks of "
                      "shape (num_masks, input_dim, units): set_masks(mask[None]) for one "
                      "mask.", DeprecationWarning, stacklevel=2)
        self.set_masks(np.asarray(mask)[None])

    @property
    def mask(self):
        """Deprecated: use ``masks[mask_index]`` (``masks[0]`` for a layer of one mask)."""
        warnings.warn("MaskedDense.mask is deprecated; use masks[mask_index], the masks "
                      "being one weight of shape (num_masks, input_dim, units).",
                      DeprecationWarning, stacklevel=2)
        return self.masks[0]

    def effective_kernel(self):
        """Deprecated: use ``masked_kernel(mask_index)``."""
        warnings.warn("MaskedDense.effective_kernel is deprecated; use "
                      "masked_kernel(mask_index).", DeprecationWarning, stacklevel=2)
        return self.masked_kernel(0)


def check_mask_op(mask_op) -> str:
    """Returns ``mask_op`` after checking that it is one of ``MASK_OPS``."""
    if not isinstance(mask_op, str) or mask_op not in MASK_OPS:
        raise ValueError(
            f"mask_op must be one of {MASK_OPS} (kernel * mask, or where(mask, kernel, 0)), "
            f"got {mask_op!r}."
        )
    return mask_op


def check_mask_index(mask_index, num_masks: int, name: str = "mask_index") -> int:
    """Returns ``mask_index`` as an int after checking that it is in ``[0, num_masks)``."""
    if isinstance(mask_index, (bool, np.bool_)) or not isinstance(mask_index,
                                                                  (int, np.integer)):
        raise TypeError(f"{name} must be an int or a scalar integer tensor, got "
                        f"{mask_index!r}.")
    if not 0 <= mask_index < num_masks:
        raise ValueError(
            f"{name}={mask_index} is out of range: there are {num_masks} mask(s), so use "
            f"0 <= {name} < {num_masks}."
        )
    return int(mask_index)
