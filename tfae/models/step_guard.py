"""The guard of ``fit``, ``evaluate`` and ``predict``: what the compiled steps met, raised
as an exception between steps.

The steps of ``tfae.models.base.UnsupervisedModel`` record the first problem they meet
(a batch with NaN/inf, a batch the likelihood cannot score, a non-finite loss) in a
variable, also under XLA, where ``tf.debugging`` assertions compile to nothing;
``StepGuard``, the first callback of every call, reads it after each step and raises
a ``ValueError`` or ``FloatingPointError`` that names the problem and the fix.
"""

from __future__ import annotations

import keras

#: The status of the steps since fit/evaluate/predict began (0 while all is well).
OK, NON_FINITE_INPUT, UNSUPPORTED_INPUT, NON_FINITE_LOSS = 0, 1, 2, 3


class StepGuard(keras.callbacks.Callback):
    """Turns the status recorded by the compiled steps into an exception, raised after
    the step that met the problem and before any other callback sees its epoch end (so
    a ModelCheckpoint saves nothing after it). ``fit``, ``evaluate`` and ``predict``
    put it first in their callbacks."""

    async_safe = True  # it only reads a variable; Keras re-raises its errors in order

    def __init__(self, method: str):
        super().__init__()
        self.method = method
        self.epoch = 0
        self.first_step = 0
        self.validating = False

    def _check(self):
        # The status stays set (and every later step unapplied) until the next call of
        # fit, evaluate or predict begins: this check may run in a thread of Keras'.
        status = int(self.model._step_status.numpy())
        if status == OK:
            return
        name = "validation_data" if self.validating else "x"
        if status == NON_FINITE_INPUT:
            raise ValueError(
                f"{name} passed to {self.method} has non-finite values (NaN or inf) in a "
                f"batch; remove or impute them before {self.method}."
            )
        if status == UNSUPPORTED_INPUT:
            problem = (self.model.mapping_problem(name) if self.method == "predict"
                       else self.model.support_problem(name))
            raise ValueError(f"{problem} (found in a batch passed to "
                             f"{self.method}).")
        step = int(self.model._problem_iteration.numpy()) - self.first_step
        if getattr(self.model, "_gated_steps", True):
            weights = ("the step was not applied and fit stopped with the weights of the "
                       "last good step")
        else:  # arrays: their steps apply unconditionally (see UnsupervisedModel._guard_steps)
            weights = ("fit stopped after applying that step, so the weights may be broken: "
                       "reload the model from a checkpoint or file saved before it")
        raise FloatingPointError(
            f"training produced a non-finite loss (NaN or inf) or gradient at epoch "
            f"{self.epoch + 1}, batch {step + 1}; {weights}. Lower the learning rate (e.g. "
            "keras.optimizers.Adam(1e-3)) or check the data."
        )

    def on_train_begin(self, logs=None):
        self.model._step_status.assign(OK)
        self.validating = False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.first_step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()

    def on_test_begin(self, logs=None):
        self.validating = self.method == "fit"
        if self.validating:
            self._check()
        else:
            self.model._step_status.assign(OK)

    def on_test_batch_end(self, batch, logs=None):
        self._check()

    def on_test_end(self, logs=None):
        self._check()
        self.validating = False

    def on_predict_begin(self, logs=None):
        self.model._step_status.assign(OK)

    def on_predict_batch_end(self, batch, logs=None):
        self._check()

    def on_predict_end(self, logs=None):
        self._check()
