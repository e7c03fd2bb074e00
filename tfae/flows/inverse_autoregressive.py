"""The inverse autoregressive flow: T MADE-parameterised steps with triangular Jacobians."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfae import _checks, masks
from tfae.layers import MaskedDense


@keras.saving.register_keras_serializable(package="tfae")
class InverseAutoregressiveFlow(keras.layers.Layer):
    """Inverse autoregressive flow (IAF): T invertible steps applied to z ~ q_0(z|x).

    The encoder gives q_0(z_0|x) = N(mu(x), diag sigma(x)^2) and a context h = h(x).
    Each step t = 1..T runs a MADE on z_{t-1}, with h as an unmasked extra input,
    and takes the numerically stable, LSTM-type update of Kingma et al. (2016):

        [m_t, s_t] = AR_t(z_{t-1}, h),    sigma_t = sigmoid(s_t + forget_bias),
        z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t.

    m_{t,i} and s_{t,i} depend only on the z_{t-1,j} before i in step t's ordering,
    so dz_t/dz_{t-1} is triangular with diagonal sigma_t and, exactly,

        log det(dz_T/dz_0) = sum_t sum_i log sigma_{t,i}    (with log_sigmoid),
        log q(z_T|x) = log q_0(z_0|x) - log det(dz_T/dz_0).

    AR_t is a MADE of ``tfae.layers.MaskedDense`` layers: the first hidden layer is
    activation(MaskedDense(H_1)(z) + Dense(H_1, use_bias=False)(h)), further hidden
    layers are masked, and the output MaskedDense(2 D) gives m and then s, both
    under MADE's output mask. Degrees come from ``tfae.masks.made_degrees`` with
    ``hidden_degrees="equal"`` (deterministic): the ordering is natural at steps
    1, 3, ... and reversed at steps 2, 4, ..., as in the paper. ``build`` sets the
    masks (saved as the layers' non-trainable weights), so it must run eagerly: a
    model holding the layer builds it in its ``__init__`` (``build(z_shape,
    context_shape)``) or calls it once before compiling.

    The output layers' kernels start at zero (their biases too), so the untrained
    flow is exactly z_T = sigmoid(forget_bias)^T z_0, whatever h: a known,
    near-identity start (0.73 z_{t-1} per step for forget_bias = 1) from which the
    model departs as the kernels learn; the hidden layers get gradients from the
    first update on.

    Args:
        steps: int >= 1, the number T of steps.
        hidden_units: sequence of int, the hidden widths of every step's MADE.
            Widths of at least D - 1 connect every output to every earlier input.
            Defaults to (320, 320).
        activation: str or callable, the hidden layers' activation. Defaults to
            ``"elu"``.
        forget_bias: float, added to s_t before the sigmoid. Defaults to 1.0.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> flow = InverseAutoregressiveFlow(steps=2, hidden_units=(16,))
        >>> z0 = np.random.default_rng(0).normal(size=(5, 3, 4)).astype("float32")
        >>> h = np.ones((3, 8), "float32")  # the context, (batch, C): broadcast to z
        >>> z, log_det = flow(z0, h)  # z0: (samples, batch, D)
        >>> z.shape, log_det.shape
        (TensorShape([5, 3, 4]), TensorShape([5, 3]))
        >>> bool(np.allclose(z, 0.7310586 ** 2 * z0))  # the untrained flow
        True
        >>> [order.tolist() for order in flow.step_orderings()]
        [[0, 1, 2, 3], [3, 2, 1, 0]]

    References:
        Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling, "Improved
        Variational Inference with Inverse Autoregressive Flow", NeurIPS 2016.
        Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for
        Distribution Estimation", ICML 2015.
    """

    def __init__(self, steps: int, hidden_units=(320, 320), activation="elu",
                 forget_bias: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.steps = _checks.check_positive_int(steps, "steps")
        self.hidden_units = _checks.check_hidden_units(hidden_units)
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError):
            raise ValueError(f"activation must name a Keras activation such as 'elu' or "
                             f"'relu' (or be a callable), got {activation!r}.") from None
        self.forget_bias = _checks.check_number(forget_bias, "forget_bias", minimum=-np.inf)
        self.event_dim = self.context_dim = None
        # Filled by build, T each (hidden: T * (L - 1), step t's at [t*(L-1):(t+1)*(L-1)]).
        self.input_layers, self.context_layers, self.hidden_layers, self.output_layers = (
            [], [], [], [])

    def build(self, z_shape, context_shape=None):
        """Creates every step's layers and sets their masks (eagerly).

        Args:
            z_shape: shape of z, (..., D) with D >= 2.
            context_shape: shape of the context h, (batch, C).

        Raises:
            ValueError: D < 2 or unknown, a missing or ill-shaped context, or a call
                inside a compiled function.
        """
        self._check_shapes(z_shape, context_shape)
        if z_shape[-1] is None or z_shape[-1] < 2:
            raise ValueError(f"z needs a fixed last axis D >= 2, got shape {tuple(z_shape)}: a "
                             "one-dimensional z has no autoregressive structure to exploit.")
        if context_shape[-1] is None:
            raise ValueError(f"context needs a fixed last axis, got {tuple(context_shape)}.")
        if not tf.executing_eagerly():
            raise ValueError(f"{self.name} sets its masks when it is built, which must run "
                             "eagerly: call build(z_shape, context_shape), or the layer on "
                             "data, before compiling (e.g. in the model's __init__).")
        self.event_dim, self.context_dim = int(z_shape[-1]), int(context_shape[-1])
        first, *rest = self.hidden_units
        policy = {"dtype": self.dtype_policy}
        inputs, contexts, hidden, outputs = [], [], [], []
        for t, ordering in enumerate(self._ordering_names()):
            degrees = masks.made_degrees(self.event_dim, self.hidden_units, ordering, "equal")
            layer_masks = masks.made_masks(degrees, outputs_per_dim=2)  # m's outputs, then s's
            inputs.append(MaskedDense(first, name=f"step{t}_input", **policy))
            contexts.append(keras.layers.Dense(first, use_bias=False, name=f"step{t}_context",
                                               **policy))
            step_hidden = [MaskedDense(units, activation=self.activation,
                                       name=f"step{t}_hidden{i}", **policy)
                           for i, units in enumerate(rest, start=2)]
            output = MaskedDense(2 * self.event_dim, kernel_initializer="zeros",
                                 name=f"step{t}_output", **policy)
            masked = [inputs[-1], *step_hidden, output]
            widths = (self.event_dim, *self.hidden_units)
            for layer, width, mask in zip(masked, widths, layer_masks, strict=True):
                layer.build((None, width))
                layer.set_masks(mask[None])
            contexts[-1].build((None, self.context_dim))
            hidden.extend(step_hidden)
            outputs.append(output)
        self.input_layers, self.context_layers = inputs, contexts
        self.hidden_layers, self.output_layers = hidden, outputs

    def _ordering_names(self) -> list[str]:
        return ["natural" if t % 2 == 0 else "reversed" for t in range(self.steps)]

    def step_orderings(self) -> list[np.ndarray]:
        """Returns each step's ordering: the dimensions in the order its MADE takes
        them (m_{t,i}, s_{t,i} depend on the dimensions listed before i). A list of T
        int32 arrays of shape (D,); ``tfae.masks.input_degrees(D, ordering)`` gives
        the degrees (each dimension's position, 1..D).

        Raises:
            ValueError: the layer is not built (D is unknown).
        """
        self._check_built()
        return [masks.generation_order(masks.input_degrees(self.event_dim, name))
                for name in self._ordering_names()]

    def step_parameters(self, step, z, context):
        """Returns (m_t, s_t + forget_bias) of one step at z = z_{t-1}, each of z's
        shape: the shift and the pre-sigmoid gate, sigma_t = sigmoid(s_t + forget_bias).

        Args:
            step: int in [0, steps), the step t - 1 (0-based).
            z: tensor (..., D), the step's input z_{t-1}.
            context: tensor (batch, C), the context h, broadcast against z.

        Raises:
            ValueError: the layer is not built, ``step`` is out of range, or the
                shapes do not fit (see ``call``).
            TypeError: ``step`` is not an int.
        """
        self._check_built()
        step = _checks.check_positive_int(step, "step", minimum=0)
        if step >= self.steps:
            raise ValueError(f"step must be in [0, {self.steps}) (0-based), got {step}.")
        if z is None or context is None:
            raise ValueError(f"{self.name} needs z and its context h (argument context), "
                             f"got {'z' if z is None else 'context'}=None.")
        z, context = ops.cast(z, self.compute_dtype), ops.cast(context, self.compute_dtype)
        self._check_shapes(z.shape, context.shape)
        depth = len(self.hidden_units) - 1
        hidden = self.activation(self.input_layers[step](z) + self.context_layers[step](context))
        for layer in self.hidden_layers[step * depth:(step + 1) * depth]:
            hidden = layer(hidden)
        m, s = ops.split(self.output_layers[step](hidden), 2, axis=-1)
        return m, s + ops.cast(self.forget_bias, self.compute_dtype)

    def step(self, step, z, context):
        """Runs one step alone (arguments as in ``step_parameters``): returns z_t and
        log det dz_t/dz_{t-1} = sum_i log sigma_{t,i}, shapes z.shape and z.shape[:-1]."""
        m, s = self.step_parameters(step, z, context)
        z = ops.cast(z, self.compute_dtype)
        # 1 - sigmoid(s) = sigmoid(-s), without the cancellation when sigma_t is near 1.
        return ops.sigmoid(s) * z + ops.sigmoid(-s) * m, ops.sum(ops.log_sigmoid(s), axis=-1)

    def call(self, z, context, training=False):
        """Returns (z_T, log det dz_T/dz_0), shapes z.shape and z.shape[:-1].

        Args:
            z: tensor (..., D), z_0, e.g. (samples, batch, D) or (batch, D).
            context: tensor (batch, C), the context h, broadcast against z's
                leading axes (its rank is at most z's).
            training: unused (no dropout); accepted for Keras.
        """
        log_det = 0.0
        for t in range(self.steps):
            z, step_log_det = self.step(t, z, context)
            log_det = log_det + step_log_det
        return z, log_det

    def _check_built(self) -> None:
        if not self.built:
            raise ValueError(f"{self.name} is not built; call it on (z, context) or call "
                             "build(z_shape, context_shape) first.")

    def _check_shapes(self, z_shape, context_shape) -> None:
        if context_shape is None:
            raise ValueError(f"{self.name} needs the context h (argument context), an array "
                             "of shape (batch, C), e.g. from the encoder; got None.")
        z_shape, context_shape = tuple(z_shape), tuple(context_shape)
        if not 2 <= len(context_shape) <= len(z_shape):
            raise ValueError(
                f"context must have a batch axis and no more axes than z (shape (batch, C) "
                f"for z of shape (..., batch, D)); got context {context_shape} and z "
                f"{z_shape}.")
        # The leading axes, from the right (context may have fewer).
        pairs = zip(z_shape[-2::-1], context_shape[-2::-1], strict=False)
        if any(c not in (None, 1) and c != a for a, c in pairs):
            raise ValueError(f"context's leading axes {context_shape[:-1]} do not broadcast to "
                             f"z's {z_shape[:-1]}; give context one row per example of z.")
        for name, shape, width in (("z", z_shape, self.event_dim),
                                   ("context", context_shape, self.context_dim)):
            if width is not None and shape[-1] != width:
                raise ValueError(f"{self.name} was built for {name} of width {width}, got "
                                 f"shape {shape}.")

    def get_config(self):
        config = super().get_config()
        config.update(steps=self.steps, hidden_units=list(self.hidden_units),
                      activation=keras.activations.serialize(self.activation),
                      forget_bias=self.forget_bias)
        return config
