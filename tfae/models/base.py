"""The training loop shared by every tfae model: minimise per-example loss terms of x alone.

Every model of the lecture is fitted on data x without targets, by minimising a
per-example loss in nats (a negative log-likelihood, or a bound on one). A model
subclasses ``UnsupervisedModel`` and implements ``loss_terms(x, training)``,
which returns a dict of per-example tensors with at least the key ``"loss"``;
``fit``, ``evaluate`` and callbacks then report each term's mean, in nats per
example, exactly as Keras users expect.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.likelihoods import Likelihood


def _is_weight_carrier(y) -> bool:
    """True for the empty (batch, 0) target that carries sample weights (see below)."""
    shape = getattr(y, "shape", None)
    return shape is not None and len(shape) == 2 and shape[-1] == 0


class UnsupervisedModel(keras.Model):
    """A ``keras.Model`` trained with ``fit(x)`` on per-example loss terms.

    Subclasses set ``event_shape`` (the shape of one example) and ``likelihood``
    (the ``tfae.likelihoods`` head that scores x) in ``__init__``, call
    ``super().__init__(**kwargs)`` first, and implement ``loss_terms``.

    Array inputs to ``fit``, ``evaluate`` and ``predict`` are checked before any
    work is done: wrong example shapes, NaN/inf, data the likelihood cannot score
    (e.g. outside [0, 1] for a Bernoulli) and empty arrays raise a ``ValueError``.
    Datasets and generators are checked for example shape when traced.

    Args:
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``, ``trainable``).
    """

    #: Names of the per-example terms returned by ``loss_terms``, reported as metrics.
    loss_term_names: tuple[str, ...] = ("loss",)

    event_shape: tuple
    likelihood: Likelihood

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = {term: keras.metrics.Mean(name=term) for term in self.loss_term_names}
        # Counts the draws of evaluation steps since evaluate() began (see
        # evaluation_seed); a TF variable read by the compiled steps, not a Keras weight.
        self._evaluation_draws = tf.Variable(0, trainable=False, dtype=tf.int64,
                                             name="evaluation_draws")

    def loss_terms(self, x, training: bool = False) -> dict:
        """Returns per-example loss terms, shape (batch,), in nats; must hold ``"loss"``."""
        raise NotImplementedError

    def evaluation_seed(self, generator: keras.random.SeedGenerator):
        """Returns the stateless seed of an evaluation step's draws (a VAE's z, a DAE's
        corruption): ``fold_in([s, -1], n)`` for a ``generator`` whose training seeds
        are [s, 0], [s, 1], ..., with n counting the draws since ``evaluate`` began.

        Evaluation (and so validation during ``fit``) never advances the training
        stream, and every ``evaluate`` call draws the same noise, so that ``val_loss``
        is comparable across epochs. Each call takes the next draw.
        """
        base = tf.stack([tf.cast(generator.state[0], tf.int32), -1])
        return tf.random.experimental.stateless_fold_in(
            base, self._evaluation_draws.assign_add(1))

    # ----------------------------------------------------------------- input checks

    def check_shape(self, x, name: str = "x") -> np.ndarray:
        """Returns ``x`` as a float32 array of finite examples of the model's shape."""
        array = _checks.as_float_array(x, name)
        _checks.check_not_empty(array, name)
        _checks.check_example_shape(array, self.event_shape, name)
        _checks.check_finite(array, name)
        return array

    def check_inputs(self, x, name: str = "x") -> np.ndarray:
        """Returns ``x`` as a float32 array after checking that the model can score it
        (see the class docstring)."""
        array = self.check_shape(x, name)
        self.likelihood.check_data(array, name)
        return array

    def _checked_if_array(self, x, name: str, scored: bool = True):
        # Only data already in memory can be checked without consuming it. Data that is
        # only mapped (encoded, denoised), not scored, needs no likelihood check: a
        # corrupted x~ may leave [0, 1].
        eager_tensor = isinstance(x, tf.Tensor) and tf.executing_eagerly()
        if isinstance(x, (np.ndarray, list)) or eager_tensor:
            return self.check_inputs(x, name) if scored else self.check_shape(x, name)
        return x

    def _traced_input(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank is not None and tuple(x.shape[1:]) != tuple(self.event_shape):
            raise ValueError(
                f"{type(self).__name__} expects examples of shape {tuple(self.event_shape)}, "
                f"got a batch of shape {tuple(x.shape)}; reshape the data."
            )
        return tf.cast(x, self.compute_dtype)

    @staticmethod
    def _refuse_targets(y, method: str) -> None:
        if y is not None and not _is_weight_carrier(y):
            raise ValueError(
                f"{method} takes no targets: the model learns from x alone, "
                f"so call {method}(x) instead of {method}(x, y)."
            )

    # ----------------------------------------------------------------- Keras entry points

    @staticmethod
    def _weight_carrier(x, sample_weight):
        # Keras drops sample_weight when y is None, so weights travel with an empty
        # (batch, 0) target that ``_unpack`` recognises and discards.
        if sample_weight is None or not hasattr(x, "__len__"):
            return None
        return np.zeros((len(x), 0), np.float32)

    def _checked_validation(self, validation_data):
        if not isinstance(validation_data, tuple):
            return self._checked_if_array(validation_data, "validation_data")
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(validation_data)
        self._refuse_targets(y, "fit")
        x = self._checked_if_array(x, "validation_data")
        if sample_weight is None:
            return x
        return x, self._weight_carrier(x, sample_weight), sample_weight

    def fit(self, x=None, y=None, validation_data=None, sample_weight=None, **kwargs):
        self._refuse_targets(y, "fit")
        x = self._checked_if_array(x, "x")
        return super().fit(x, self._weight_carrier(x, sample_weight),
                           validation_data=self._checked_validation(validation_data),
                           sample_weight=sample_weight, **kwargs)

    def evaluate(self, x=None, y=None, sample_weight=None, **kwargs):
        self._evaluation_draws.assign(0)  # every evaluation draws the same noise
        self._refuse_targets(y, "evaluate")
        x = self._checked_if_array(x, "x")
        # fit() calls evaluate() for validation with the carrier already made.
        carrier = y if y is not None else self._weight_carrier(x, sample_weight)
        return super().evaluate(x, carrier,
                                sample_weight=sample_weight, **kwargs)

    def predict(self, x, **kwargs):
        return super().predict(self._checked_if_array(x, "x"), **kwargs)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        self._refuse_targets(y, "fit")  # a dataset of (x, y) pairs: do not drop y silently
        return self._traced_input(x), sample_weight

    def _weighted_mean(self, values, sample_weight):
        if sample_weight is None:
            return tf.reduce_mean(values)
        sample_weight = tf.cast(tf.reshape(sample_weight, [-1]), values.dtype)
        return tf.reduce_sum(values * sample_weight) / tf.reduce_sum(sample_weight)

    def _report(self, terms, sample_weight):
        for term, tracker in self.trackers.items():
            tracker.update_state(terms[term], sample_weight=sample_weight)
        return {term: tracker.result() for term, tracker in self.trackers.items()}

    def train_step(self, data):
        x, sample_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, training=True)
            objective = self._weighted_mean(terms["loss"], sample_weight)
            if self.losses:  # weight penalties: optimised, not reported in "loss"
                objective += tf.add_n(self.losses)
            scaled = self.optimizer.scale_loss(objective)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._report(terms, sample_weight)

    def test_step(self, data):
        x, sample_weight = self._unpack(data)
        return self._report(self.loss_terms(x, training=False), sample_weight)
