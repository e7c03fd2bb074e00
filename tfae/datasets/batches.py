"""Batches of examples in an order that depends on (seed, epoch) alone: ``ShuffledBatches``."""

from __future__ import annotations

import math

import keras
import numpy as np

from tfae._checks import as_float_array, check_bool, check_not_empty, check_positive_int


class ShuffledBatches(keras.utils.PyDataset):
    """``x`` in batches, reshuffled every epoch from ``(seed, epoch)`` alone.

    The order of epoch ``e`` is ``np.random.default_rng([seed, e]).permutation(N)``,
    so a batch depends only on ``(seed, epoch, idx)``: not on how many epochs this
    object has served, nor on the process. A training run that is stopped and
    resumed at epoch ``e`` (set ``epoch = e``, or pass the ``EpochSetter`` callback
    of ``tfae.runs``) sees exactly the batches of an uninterrupted run, which
    ``fit(x, shuffle=True)`` cannot promise (its order comes from TensorFlow's
    global seed and the number of ops seeded since). Pass ``shuffle=False`` to
    ``fit``: with ``shuffle=True`` Keras also reorders the batches, from Python's
    global ``random``. Batches hold inputs only (no targets), as tfae models take
    none.

    Args:
        x: array-like of shape ``(N, ...)``, the examples.
        batch_size: int >= 1, examples per batch; the last batch may be smaller.
        shuffle: bool, reshuffle every epoch (else the stored order).
        seed: int >= 0, seeds the orders.
        **kwargs: passed to ``keras.utils.PyDataset`` (``workers``,
            ``use_multiprocessing``, ``max_queue_size``).

    Attributes:
        epoch: int, the epoch whose order ``__getitem__`` serves; starts at 0 and
            is incremented by ``on_epoch_end`` (Keras calls it after each epoch).

    Raises:
        ValueError: ``x`` is empty, or ``batch_size`` < 1 or ``seed`` < 0.
        TypeError: ``x`` is not numeric, or an argument has the wrong type.

    Examples:
        >>> # model.fit(ShuffledBatches(x_train, 64, seed=0), epochs=10, shuffle=False)
        >>> x = np.arange(10, dtype="float32").reshape(5, 2)
        >>> batches = ShuffledBatches(x, batch_size=2, seed=0)
        >>> len(batches), batches[2].shape
        (3, (1, 2))
        >>> first = batches[0]
        >>> batches.epoch = 1
        >>> batches.epoch = 0
        >>> bool((batches[0] == first).all())  # the same epoch, the same batch
        True
    """

    def __init__(self, x, batch_size: int = 100, shuffle: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x = self._checked(x)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.epoch = 0
        # (epoch, order) of the last epoch asked for, so the permutation is
        # computed once per epoch instead of once per batch.
        self._cached_order = None

    def _checked(self, x) -> np.ndarray:
        x = as_float_array(x, "x")
        check_not_empty(x, "x")
        return x

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx: int) -> np.ndarray:
        """Returns batch ``idx`` of the current epoch (float32)."""
        return self._batch(self._rows(idx), idx)

    def _batch(self, rows: np.ndarray, idx: int) -> np.ndarray:
        return self.x[rows]

    def _rows(self, idx) -> np.ndarray:
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"batch index must be an integer, got {idx!r}.")
        if not 0 <= idx < len(self):
            # IndexError (not ValueError) ends Python's sequence iteration.
            raise IndexError(
                f"batch index {idx} is out of range; use 0 <= idx < {len(self)} (len(self))."
            )
        return self._epoch_order()[idx * self.batch_size : (idx + 1) * self.batch_size]

    def on_epoch_end(self) -> None:
        """Moves on to the next epoch's order."""
        self.epoch += 1

    def _epoch_order(self) -> np.ndarray:
        epoch = self.epoch
        cached = self._cached_order
        if cached is not None and cached[0] == epoch:
            return cached[1]
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))
        else:
            order = np.arange(len(self.x))
        # One tuple assignment, so worker threads never see a half-updated cache.
        self._cached_order = (epoch, order)
        return order
