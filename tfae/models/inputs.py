"""The input checks of every tfae model: one check for every entry point.

Data in memory (arrays, eager tensors, and anything else a user may pass, None
included) is checked in Python before any work: its type, examples of the model's
shape (a single example without its batch axis gets a hint), NaN/inf, the range the
likelihood scores, non-empty. A stream of batches (a tf.data dataset, a generator, a
``keras.utils.PyDataset``) is checked inside the compiled steps: ``_input_status`` is
the in-graph counterpart, read by ``tfae.models.step_guard``. ``UnsupervisedModel``
inherits these methods; a model sets ``event_shape`` and ``likelihood``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.models.step_guard import NON_FINITE_INPUT, OK, UNSUPPORTED_INPUT
from tfae.models.streams import is_stream, is_tf_dataset


def _finite_examples(x, example_shape: tuple, name: str) -> np.ndarray:
    """``x`` as a float32 array of finite examples of ``example_shape``, non-empty."""
    array = _checks.as_float_array(x, name)
    _checks.check_not_empty(array, name)
    _checks.check_example_shape(array, example_shape, name)
    _checks.check_finite(array, name)
    return array


class InputChecks:
    """The checks of a model's inputs, in Python and in the compiled steps (a mixin of
    ``UnsupervisedModel``, which sets ``event_shape`` and ``likelihood``)."""

    def check_shape(self, x, name: str = "x") -> np.ndarray:
        """Returns ``x`` as a float32 array of finite examples of the model's shape."""
        return _finite_examples(x, self.event_shape, name)

    def check_inputs(self, x, name: str = "x") -> np.ndarray:
        """Returns ``x`` as a float32 array after checking that the model can score it
        (see the class docstring)."""
        array = self.check_shape(x, name)
        self.likelihood.check_data(array, name)
        return array

    def check_mapped_inputs(self, x, name: str = "x") -> np.ndarray:
        """Returns ``x`` as a float32 array after checking that the model can map it
        (encode, reconstruct): by default the data it can score (``check_inputs``)."""
        return self.check_inputs(x, name)

    def check_code(self, h, size: int, name: str = "h") -> np.ndarray:
        """Returns a code ``h`` as a float32 array of finite (batch, ``size``) rows."""
        return _finite_examples(h, (size,), name)

    def _checked_if_array(self, x, name: str, scored: bool = True):
        # Only data already in memory can be checked without consuming it; a symbolic
        # tensor (traced inside fit, predict, a tf.function) is checked in the steps.
        # Data that is only mapped (encoded, denoised), not scored, gets the checks of
        # check_mapped_inputs.
        if self._is_user_array(x):
            return self.check_inputs(x, name) if scored else self.check_mapped_inputs(x, name)
        if is_tf_dataset(x):
            self._check_dataset_spec(x, name)
        return x

    @staticmethod
    def _is_user_array(x) -> bool:
        """True for data to check in memory now: anything (None and strings included, to
        be refused naming the argument) but a stream of batches (a tf.data dataset, a
        generator, a ``keras.utils.PyDataset``, a torch or grain loader), which the
        compiled steps check, or a symbolic tensor (traced inside fit, predict, a
        tf.function; a ``keras.KerasTensor``)."""
        if isinstance(x, tf.Tensor):
            return tf.executing_eagerly()
        if isinstance(x, keras.KerasTensor):
            return False
        return not is_stream(x)

    def _check_dataset_spec(self, dataset, name: str) -> None:
        """Refuses a tf.data dataset whose batches (its x, of an (x, y, weight) tuple)
        cannot hold examples of ``event_shape``, from its ``element_spec`` alone (nothing
        is consumed)."""
        spec = dataset.element_spec
        if isinstance(spec, tuple) and spec:
            spec = spec[0]
        shape = getattr(spec, "shape", None)
        if not isinstance(shape, tf.TensorShape) or shape.rank is None:
            return  # checked when traced
        expected = tuple(self.event_shape)
        if shape.rank == len(expected) and shape.is_compatible_with(expected):
            raise ValueError(
                f"{name} is a dataset of single examples of shape {expected} without a batch "
                f"axis; batch it, e.g. {name}.batch(32)."
            )
        if not shape.is_compatible_with((None, *expected)):
            raise ValueError(
                f"{name} is a dataset of batches of shape {tuple(shape)}, but the model "
                f"expects examples of shape {expected}, i.e. batches of shape (batch, "
                f"{', '.join(str(d) for d in expected)}); reshape its elements (e.g. with "
                f"{name}.map) to that shape."
            )

    def _traced_input(self, x):
        x = tf.convert_to_tensor(x)
        expected = (None, *self.event_shape)
        if not x.shape.is_compatible_with(expected):
            raise ValueError(
                f"{type(self).__name__} expects x to hold examples of shape "
                f"{tuple(self.event_shape)}, got a batch of shape {tuple(x.shape)}; reshape "
                f"x to (batch, {', '.join(str(d) for d in self.event_shape)})."
            )
        if not x.shape[1:].is_fully_defined():
            # A trace for batches of several shapes (a generator, or a step retraced with
            # relaxed shapes) has an unknown rank: pin it, checked when each batch runs.
            x = tf.ensure_shape(x, expected, name="x")
        return tf.cast(x, self.compute_dtype)

    # ------------------------------------------------------------- in the compiled steps

    def _graph_in_support(self, x):
        """A scalar bool tensor: whether the likelihood can score every value of ``x``
        (computed inside the compiled steps, also under XLA)."""
        return self.likelihood.in_support(x)

    def support_problem(self, name: str = "x") -> str:
        """The message for data outside what ``_graph_in_support`` accepts."""
        return f"{name} {self.likelihood.support_problem()}"

    def _graph_mappable(self, x):
        """The in-graph counterpart of ``check_mapped_inputs`` (what ``predict`` maps):
        by default the data the likelihood can score."""
        return self._graph_in_support(x)

    def mapping_problem(self, name: str = "x") -> str:
        """The message for data outside what ``_graph_mappable`` accepts."""
        return self.support_problem(name)

    def _input_status(self, x, mapped: bool = False):
        finite = tf.reduce_all(tf.math.is_finite(x))
        supported = self._graph_mappable(x) if mapped else self._graph_in_support(x)
        return tf.where(finite, tf.where(supported, OK, UNSUPPORTED_INPUT), NON_FINITE_INPUT)
