"""The training loop shared by every tfae model: minimise per-example loss terms of x alone.

Every model of the lecture is fitted on data x without targets, by minimising a
per-example loss in nats (a negative log-likelihood, or a bound on one). A model
subclasses ``UnsupervisedModel`` and implements ``loss_terms(x, training)``,
which returns a dict of per-example tensors with at least the key ``"loss"``;
``fit``, ``evaluate`` and callbacks then report each term's mean, in nats per
example, exactly as Keras users expect, beside the metrics given to ``compile``.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from tfae._io import atomic_file
from tfae._quiet import quiet_saving
from tfae.likelihoods import Likelihood
from tfae.models import replicas
from tfae.models.inputs import InputChecks
from tfae.models.step_guard import (
    NON_FINITE_LOSS,
    OK,
    StepGuard,
)

#: compile() arguments that tfae cannot honour: the likelihood defines the loss.
_REFUSED_COMPILE_ARGUMENTS = ("loss", "loss_weights")


def _is_weight_carrier(y) -> bool:
    """True for the empty (batch, 0) target that carries sample weights (see below)."""
    shape = getattr(y, "shape", None)
    return shape is not None and len(shape) == 2 and shape[-1] == 0


def _check_metrics(metrics, name: str) -> None:
    """Refuses the per-output forms of Keras metrics (dicts, lists of lists): a tfae model
    has one output, the reconstruction of x."""
    if metrics is None:
        return
    if isinstance(metrics, dict):
        raise ValueError(
            f"compile({name}=...) got a dict keyed by output name, but a tfae model has one "
            f"output (its reconstruction of x); pass a list instead, e.g. {name}=['mae']."
        )
    if isinstance(metrics, (list, tuple)) and any(
            isinstance(metric, (list, tuple, dict)) for metric in metrics):
        raise ValueError(
            f"compile({name}=...) got a nested list (one list per output), but a tfae model "
            f"has one output (its reconstruction of x); pass a flat list, e.g. "
            f"{name}=['mae', 'mse']."
        )


class UnsupervisedModel(InputChecks, keras.Model):
    """A ``keras.Model`` trained with ``fit(x)`` on per-example loss terms.

    Subclasses set ``event_shape`` (the shape of one example) and ``likelihood``
    (the ``tfae.likelihoods`` head that scores x) in ``__init__``, call
    ``super().__init__(**kwargs)`` first, and implement ``loss_terms``,
    ``_output`` (what ``model(x)`` and ``predict`` return) and ``_metric_prediction``
    (what the metrics given to ``compile`` compare with x).

    Every input path gets the same checks. Arrays and eager tensors passed to
    ``fit``, ``evaluate``, ``predict``, ``model(x)`` and the models' public methods are
    checked before any work is done: wrong example shapes (and a single example
    without its batch axis), NaN/inf, data the likelihood cannot score (e.g. outside
    [0, 1] for a Bernoulli) and empty arrays raise a ``ValueError``. Batches from
    ``tf.data`` datasets, generators and ``keras.utils.PyDataset`` are checked inside
    the compiled steps (also under XLA): a bad batch is never trained on, and
    ``fit``, ``evaluate`` or ``predict`` raises a ``ValueError`` right after it.

    A non-finite loss (e.g. from a far too large learning rate) stops ``fit`` with a
    ``FloatingPointError`` that names the epoch and the batch, before any callback
    saves anything after it. On a stream the step is not applied (the model keeps the
    weights of the last good step); on arrays, checked before ``fit`` began, every
    step is applied unconditionally (the conditional update costs time under XLA), so
    the weights are those the bad step left, and the message says so.

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
        # The first problem the compiled steps met (see StepGuard); 0 while all is well.
        self._step_status = tf.Variable(OK, trainable=False, dtype=tf.int32,
                                        name="step_status",
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        # The optimizer's step count when that problem was met (the guard's message).
        self._problem_iteration = tf.Variable(
            0, trainable=False, dtype=tf.int64, name="problem_iteration",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def loss_terms(self, x, training: bool = False) -> dict:
        """Returns per-example loss terms, shape (batch,), in nats; must hold ``"loss"``."""
        raise NotImplementedError

    def _output(self, x, training=False):
        """What ``model(x)`` returns for a checked, cast batch ``x``."""
        raise NotImplementedError

    def _metric_prediction(self, x, training=False):
        """What the compiled metrics compare with ``x``: by default ``model(x)``."""
        return self._output(x, training)

    def __call__(self, x, *args, **kwargs):
        # Checked here, before Keras wraps the error of call() in its own message.
        return super().__call__(self._checked_if_array(x, "x", scored=False), *args, **kwargs)

    def call(self, x, training=False):
        return self._output(self._traced_input(x), training)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Keras's ``Model.save``, a ``.keras`` file written whole or not at all.

        The file is written under a hidden name beside ``filepath`` and renamed into
        place once complete, so a save that fails or is interrupted (a full disk, a
        process killed while a ``ModelCheckpoint`` writes) leaves the previous file as
        it was and no partial file. Other destinations (``.h5``, ``zipped=False``,
        ``hf://``) and ``overwrite=False`` on an existing file go to Keras unchanged.
        """
        path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else None
        if (not isinstance(path, str) or not path.endswith(".keras") or zipped is False
                or path.startswith("hf://") or (not overwrite and os.path.exists(path))):
            return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)
        with atomic_file(path) as staged:
            return super().save(staged, overwrite=True, zipped=zipped, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Keras's ``Model.export`` of ``model(x)``, with the input signature filled in.

        A subclassed Keras model has no recorded input shapes to export from; a tfae
        model knows them: x of shape (batch, *event_shape), float32 unless the model's
        dtype policy says otherwise, with a dynamic batch axis. So
        ``model.export("model.tflite", format="litert")`` and
        ``format="tf_saved_model"`` work without arguments. They serve ``model(x)``
        (the reconstruction's mean; MADE's conditional parameters); for the other
        parts (decoder, sampler, log-density) and a verified file use
        ``tfae.export.tflite`` and ``tfae.export.saved_model``.
        """
        if input_signature is None:
            input_signature = [keras.InputSpec(shape=(None, *self.event_shape),
                                               dtype=self.input_dtype, name="x")]
        with quiet_saving():  # TensorFlow's notes about temporary files, scoped
            return super().export(filepath, format=format, verbose=verbose,
                                  input_signature=input_signature, **kwargs)

    @staticmethod
    def training_seed(generator: keras.random.SeedGenerator):
        """Returns the stateless int32 seed of a training step's draws: ``generator``'s
        next seed, cast as ``keras.random`` casts its seeds."""
        return tf.cast(tf.math.floormod(generator.next(), tf.int32.max - 1), tf.int32)

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

    # ----------------------------------------------------------------- compile

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training, as ``keras.Model.compile`` does.

        The model's likelihood defines its loss, so ``loss`` and ``loss_weights`` are
        refused. ``metrics`` (unweighted) and ``weighted_metrics`` (weighted by
        ``fit``'s ``sample_weight``) compare x with the model's prediction of it (for
        an autoencoder the reconstruction mean, the mean of p(x|h); for MADE the
        conditional means p(x_d = 1 | x_<d) of its one-pass output; see each model's
        docstring) and are reported by ``fit``, ``evaluate`` and callbacks beside the
        loss terms, with ``val_`` prefixes for validation data.

        Args:
            optimizer: a Keras optimizer, or its name. Defaults to ``"rmsprop"``.
            loss: must be None: the likelihood p(x|h) chosen in the constructor
                (``likelihood=``) defines the loss.
            loss_weights: must be None (there is one loss).
            metrics: None or a list of metrics as Keras takes them (names such as
                ``"mae"`` or ``"mse"``, ``keras.metrics.Metric`` instances, functions
                ``fn(x, prediction)``). A dict keyed by output name is refused: there
                is one output.
            weighted_metrics: None or a list as ``metrics``, weighted by the sample
                weights.
            run_eagerly: bool, as in Keras. Defaults to False.
            steps_per_execution: int, as in Keras. Defaults to 1.
            jit_compile: bool or ``"auto"``, as in Keras. Defaults to ``"auto"``.
            auto_scale_loss: bool, as in Keras. Defaults to True.

        Raises:
            ValueError: ``loss`` or ``loss_weights`` given, or metrics in a per-output
                form.
        """
        if loss is not None:
            likelihood = type(self.likelihood).__name__
            raise ValueError(
                f"compile(loss={loss!r}) cannot replace the loss of this "
                f"{type(self).__name__}: the {likelihood} likelihood "
                f"{self.likelihood_symbol} defines its loss. "
                f"Remove loss= from compile(); to change the loss, choose another "
                f"likelihood with the constructor's likelihood= argument, e.g. "
                f"tfae.{type(self).__name__}(..., likelihood='gaussian')."
            )
        if loss_weights is not None:
            raise ValueError(
                f"compile(loss_weights=...) is not supported: a {type(self).__name__} has "
                "one loss, defined by its likelihood; remove loss_weights=."
            )
        _check_metrics(metrics, "metrics")
        _check_metrics(weighted_metrics, "weighted_metrics")
        self._compile_metrics = None  # Keras keeps the previous ones when given none
        super().compile(optimizer=optimizer, metrics=metrics,
                        weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                        steps_per_execution=steps_per_execution, jit_compile=jit_compile,
                        auto_scale_loss=auto_scale_loss)

    def compile_from_config(self, config):
        """Compiles a loaded model as it was compiled when saved (metrics included)."""
        config = keras.saving.deserialize_keras_object(config)
        for name in _REFUSED_COMPILE_ARGUMENTS:
            if config.get(name) is None:
                config.pop(name, None)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # Keras saves a layer's weights, not its random generators' states (a VAE's draws
    # of z, a DAE's corruption, MADE's dropout): a reloaded model would draw the noise
    # of its first training steps again. The model saves them beside its own variables.
    _SEED_STATE = "seed_generator_state_"

    def _seed_states(self) -> list:
        return [variable for variable in self.variables
                if variable.path.endswith("seed_generator_state")]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for index, state in enumerate(self._seed_states()):
            store[f"{self._SEED_STATE}{index}"] = state

    def load_own_variables(self, store):
        keys = list(store.keys())
        super().load_own_variables({key: store[key] for key in keys
                                    if not key.startswith(self._SEED_STATE)})
        saved = [key for key in keys if key.startswith(self._SEED_STATE)]
        states = self._seed_states()
        if saved and len(saved) != len(states):
            raise ValueError(f"the file holds {len(saved)} random generator states, the "
                             f"model has {len(states)}; it was saved by another model.")
        for index, state in enumerate(states if saved else ()):  # older files: none
            state.assign(store[f"{self._SEED_STATE}{index}"])

    @property
    def likelihood_symbol(self) -> str:
        """How the messages write the likelihood that defines the loss."""
        return "p(x|h)"

    @staticmethod
    def _refuse_targets(y, method: str) -> None:
        if y is not None and not _is_weight_carrier(y):
            raise ValueError(
                f"{method} takes no targets: the model learns from x alone, "
                f"so call {method}(x) instead of {method}(x, y)."
            )

    def _record(self, status, iteration=None):
        """Keeps the first problem met (0 while there is none) and, for a training step,
        the optimizer's ``iteration`` then; returns the new status."""
        status = replicas.first_problem(tf.convert_to_tensor(status, tf.int32))
        first = tf.logical_and(tf.equal(self._step_status, OK), tf.not_equal(status, OK))
        if iteration is not None:
            self._problem_iteration.assign(tf.where(
                first, tf.cast(iteration, tf.int64), self._problem_iteration))
        status = tf.where(first, status, self._step_status)
        self._step_status.assign(status)
        return status

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

    def _guard_steps(self, checked_in_python: bool) -> None:
        """Chooses the training step for ``fit``'s data. Arrays were checked in Python,
        so their step applies every update and only records a non-finite loss. A
        stream's step (tf.data, generators, PyDataset) also checks each batch and skips
        the update of a bad batch or a non-finite step: a conditional update that
        costs time under XLA (docs/benchmarks.md), so only streams pay for it."""
        gated = not checked_in_python
        if getattr(self, "_gated_steps", None) != gated:
            self._gated_steps = gated
            self.train_function = None  # traced again with the other step

    def _guarded(self, callbacks, method: str):
        if isinstance(callbacks, keras.callbacks.CallbackList):  # evaluate() inside fit()
            return callbacks
        return [StepGuard(method), *(callbacks or [])]

    def fit(self, x=None, y=None, validation_data=None, sample_weight=None, callbacks=None,
            **kwargs):
        if kwargs.get("class_weight") is not None:
            raise ValueError(
                "fit got class_weight, which weighs examples by their class label, but a "
                "tfae model learns from x alone, without labels; pass one weight per "
                "example as sample_weight instead."
            )
        self._refuse_targets(y, "fit")
        x = self._checked_if_array(x, "x")
        self._guard_steps(checked_in_python=isinstance(x, np.ndarray))
        return super().fit(x, self._weight_carrier(x, sample_weight),
                           validation_data=None if validation_data is None
                           else self._checked_validation(validation_data),
                           sample_weight=sample_weight,
                           callbacks=self._guarded(callbacks, "fit"), **kwargs)

    def evaluate(self, x=None, y=None, sample_weight=None, callbacks=None, **kwargs):
        self._evaluation_draws.assign(0)  # every evaluation draws the same noise
        self._refuse_targets(y, "evaluate")
        x = self._checked_if_array(x, "x")
        # fit() calls evaluate() for validation with the carrier already made.
        carrier = y if y is not None else self._weight_carrier(x, sample_weight)
        return super().evaluate(x, carrier, sample_weight=sample_weight,
                                callbacks=self._guarded(callbacks, "evaluate"), **kwargs)

    def predict(self, x, callbacks=None, **kwargs):
        # predict maps x as model(x) does (see check_mapped_inputs), it does not score it.
        return super().predict(self._checked_if_array(x, "x", scored=False),
                               callbacks=self._guarded(callbacks, "predict"), **kwargs)

    @property
    def metrics(self):
        compiled = [] if getattr(self, "_compile_metrics", None) is None else [
            self._compile_metrics]
        return [*self.trackers.values(), *compiled]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics on (x, the prediction of x); ``y`` is unused
        (there are no targets). Returns the values of all metrics."""
        del y
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(x, y_pred, sample_weight)
        return self.get_metrics_result()

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        self._refuse_targets(y, "fit")  # a dataset of (x, y) pairs: do not drop y silently
        return self._traced_input(x), sample_weight

    def _report(self, x, terms, sample_weight, training):
        for term, tracker in self.trackers.items():
            tracker.update_state(terms[term], sample_weight=sample_weight)
        prediction = None
        if self._compile_metrics is not None:
            prediction = self._metric_prediction(x, training)
        return self.compute_metrics(x, None, prediction, sample_weight)

    def _all_finite(self, objective, gradients):
        finite = tf.math.is_finite(objective)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return finite  # it skips steps with non-finite scaled gradients itself
        for gradient in gradients:
            if gradient is not None:
                finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(gradient)))
        return finite

    def train_step(self, data):
        x, sample_weight = self._unpack(data)
        gated = getattr(self, "_gated_steps", True)
        input_status = self._input_status(x) if gated else tf.constant(OK)
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, training=True)
            objective = replicas.global_mean(terms["loss"], sample_weight)
            if self.losses:  # weight penalties: optimised, not reported in "loss"
                objective += tf.add_n(self.losses) / replicas.count()
            scaled = self.optimizer.scale_loss(objective)
        gradients = tape.gradient(scaled, self.trainable_variables)
        finite = (self._all_finite(objective, gradients) if gated
                  else tf.math.is_finite(objective))
        status = self._record(
            tf.where(tf.equal(input_status, OK), tf.where(finite, OK, NON_FINITE_LOSS),
                     input_status),
            iteration=self.optimizer.iterations)
        if not gated:  # checked data: only a non-finite loss can go wrong (StepGuard)
            self.optimizer.apply(gradients, self.trainable_variables)
            return self._report(x, terms, sample_weight, training=True)
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        # A bad batch or a non-finite step is not applied, on any replica (StepGuard
        # then raises).
        replicas.step_if(tf.equal(status, OK),
                         lambda grads: self.optimizer.apply(grads, self.trainable_variables),
                         gradients)
        return self._report(x, terms, sample_weight, training=True)

    def test_step(self, data):
        x, sample_weight = self._unpack(data)
        self._record(self._input_status(x))
        return self._report(x, self.loss_terms(x, training=False), sample_weight,
                            training=False)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = self._traced_input(x)
        self._record(self._input_status(x, mapped=True))
        return self._output(x, training=False)
