"""Resuming a killed run: its training state after every epoch, beside its run folder.

``tfae train`` writes its run folder whole or not at all, so a run killed while it
trains has no folder yet. What it has is a ``Checkpoint``: after every epoch, one
file (``state.npz``, replaced atomically, so a kill never leaves half of one) in the
hidden folder ``.OUT.resume`` beside the run folder ``OUT``, holding all the state
that the next epoch depends on:

* the model's variables (``model.variables``: its weights and the states of its
  random generators, such as a DAE's corruption noise or a VAE's draws of z, which
  Keras' ``save_weights`` and ``BackupAndRestore`` leave out);
* the optimizer's variables (Adam's moments and step count);
* early stopping's state (its best validation loss, its patience count and the best
  weights it restores at the end);
* the history so far, the training seconds so far, and the settings of the run.

The batches come from ``(seed, epoch)`` alone (``tfae.datasets.epoch_batches``), so a
run started again with the same command continues at the first unfinished epoch and
ends with exactly the weights of an uninterrupted run.
The checkpoint is removed once the run folder is written.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import keras
import numpy as np

from tfae._io import atomic_file

#: The settings that may change between a run and its resumption: they do not change
#: what is computed (Keras' progress display).
DISPLAY_SETTINGS = ("verbose",)


def resume_folder(out, worker: str = "") -> Path:
    """The hidden folder beside the run folder ``out`` that holds its checkpoint
    (``worker``: the name of a non-chief worker of a multi-worker run, which keeps its
    own)."""
    out = Path(out)
    return out.parent / f".{out.name}.resume{'-' + worker if worker else ''}"


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' ``EarlyStopping`` whose state (``state()``) a resumed fit takes up again
    (``resume``), instead of starting its patience and its best weights anew."""

    _resumed = None

    def resume(self, state: dict, best_weights) -> None:
        """Takes up ``state`` (from ``state()``) and ``best_weights`` at the next
        ``on_train_begin``."""
        self._resumed = (state, best_weights)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resumed is not None:
            state, self.best_weights = self._resumed
            self.wait, self.best, self.best_epoch = (state["wait"], state["best"],
                                                     state["best_epoch"])

    def state(self) -> dict:
        """The numbers of the state (the best weights are ``best_weights``)."""
        return {"wait": int(self.wait), "best_epoch": int(self.best_epoch),
                "best": None if self.best is None else float(self.best)}


class Checkpoint:
    """The training state of an unfinished run (see the module's docstring).

    Args:
        out: str or Path, the run folder the run will write.
        settings: dict, the run's settings (``TrainConfig.record()``); a checkpoint
            is resumed only by a run with the same settings (``DISPLAY_SETTINGS``
            aside).
        worker: str, the name of a non-chief worker ("" for the chief or a single
            process).
    """

    def __init__(self, out, settings: dict, worker: str = ""):
        self.folder = resume_folder(out, worker)
        self.path = self.folder / "state.npz"
        self.settings = {key: value for key, value in settings.items()
                         if key not in DISPLAY_SETTINGS}

    def exists(self) -> bool:
        return self.path.is_file()

    def check(self, discard: bool, flag: str) -> None:
        """Refuses a checkpoint of a run with other settings, unless ``discard``
        (``flag`` names the option), which removes it so that training starts over.

        Raises:
            ValueError: the checkpoint holds a run with other settings, or is damaged.
        """
        if not self.exists():
            return
        saved = self._meta(self._read(arrays_too=False))["settings"]
        if saved == json.loads(json.dumps(self.settings)):
            return
        if discard:
            self.remove()
            return
        changed = sorted(key for key in {*saved, *self.settings}
                         if saved.get(key) != self.settings.get(key))
        raise ValueError(
            f"{self.folder} holds an unfinished run whose settings differ "
            f"({', '.join(changed)}); run its command again to resume it, or pass "
            f"{flag} to discard it and start over."
        )

    def _read(self, arrays_too: bool = True) -> dict:
        """The checkpoint's entries (only ``meta`` unless ``arrays_too``)."""
        try:
            with np.load(self.path, allow_pickle=False) as arrays:
                loaded = {name: arrays[name]
                          for name in (arrays.files if arrays_too else ["meta"])}
            self._meta(loaded)
            return loaded
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{self.path} is damaged ({error}); remove {self.folder} to "
                             "start the run over.") from error

    @staticmethod
    def _meta(arrays) -> dict:
        return json.loads(str(arrays["meta"]))

    def restore(self, model, stopping=None) -> dict | None:
        """Loads the checkpoint into ``model`` (built and compiled) and ``stopping``.

        Returns:
            None without a checkpoint; else its ``meta``: ``epoch`` (epochs done),
            ``history``, ``seconds`` (training seconds so far) and ``finished``.
        """
        if not self.exists():
            return None
        arrays = self._read()
        meta = self._meta(arrays)
        model.optimizer.build(model.trainable_variables)
        for prefix, variables in (("model", model.variables),
                                  ("optimizer", model.optimizer.variables)):
            for index, variable in enumerate(variables):
                variable.assign(arrays[f"{prefix}_{index}"])
        best = [arrays[f"best_{index}"] for index in range(meta["best_weights"])]
        if stopping is not None and meta["stopping"] is not None:
            stopping.resume(meta["stopping"], best or None)
        if meta["finished"] and best:  # what EarlyStopping does when training ends
            model.set_weights(best)
        return meta

    def save(self, model, meta: dict, stopping=None) -> None:
        """Writes the state of ``model`` (and ``stopping``) with ``meta`` atomically."""
        arrays = {f"model_{index}": np.asarray(variable)
                  for index, variable in enumerate(model.variables)}
        arrays |= {f"optimizer_{index}": np.asarray(variable)
                   for index, variable in enumerate(model.optimizer.variables)}
        best = [] if stopping is None or stopping.best_weights is None else stopping.best_weights
        arrays |= {f"best_{index}": np.asarray(weight) for index, weight in enumerate(best)}
        meta = {**meta, "settings": self.settings, "best_weights": len(best),
                "stopping": None if stopping is None else stopping.state()}
        arrays["meta"] = np.asarray(json.dumps(meta))
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path) as temporary:
            with open(temporary, "wb") as handle:  # np.savez would append ".npz"
                np.savez(handle, **arrays)

    def seconds(self) -> float:
        """The training seconds the checkpoint records (over every attempt)."""
        return float(self._meta(self._read(arrays_too=False))["seconds"])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class CheckpointEveryEpoch(keras.callbacks.Callback):
    """Saves a ``Checkpoint`` at the end of every epoch, after the other callbacks
    (put it last), with the history and the training seconds since ``start``."""

    def __init__(self, checkpoint: Checkpoint, history: dict, seconds: float, epochs: int,
                 stopping=None):
        super().__init__()
        self.checkpoint, self.history, self.seconds = checkpoint, history, seconds
        self.epochs, self.stopping = epochs, stopping

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter() - self.seconds

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self.seconds = time.perf_counter() - self._started
        finished = bool(self.model.stop_training) or epoch + 1 >= self.epochs
        self.checkpoint.save(self.model, {"epoch": epoch + 1, "history": self.history,
                                          "seconds": self.seconds, "finished": finished},
                             self.stopping)
