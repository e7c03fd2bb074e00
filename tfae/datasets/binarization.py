"""Grey levels in [0, 1] as binary images: a threshold, one Bernoulli draw, or a fresh
draw every epoch (``DynamicBinarization``)."""

from __future__ import annotations

import math

import keras
import numpy as np

from tfae._checks import (
    as_float_array,
    check_bool,
    check_finite,
    check_not_empty,
    check_positive_int,
)


def validated_unit_data(x, name: str, fix: str) -> np.ndarray:
    """Returns ``x`` as float32 after checking it holds examples in [0, 1]."""
    x = as_float_array(x, name)
    check_not_empty(x, name)
    if x.ndim < 2:
        raise ValueError(
            f"{name} has shape {x.shape}; it needs examples along axis 0 and their values "
            "along the other axes, so reshape it to (N, D), e.g. x.reshape(-1, 1)."
        )
    if x.size == 0:
        raise ValueError(
            f"{name} has examples without values (shape {x.shape}); each example needs at "
            "least one value."
        )
    check_finite(x, name)
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], but its values span [{low:g}, {high:g}]; {fix}. "
            "Values are never clipped."
        )
    return x


def binarized(x: np.ndarray, binarize: str | None, threshold: float, seed: int) -> np.ndarray:
    if binarize == "threshold":
        return (x > threshold).astype(np.float32)
    if binarize == "stochastic":
        return bernoulli_draw(x, np.random.default_rng(seed))
    return x


def bernoulli_draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # P(u < p) = p for u ~ U[0, 1): p = 0 never fires and p = 1 always does.
    uniform = rng.random(probabilities.shape, dtype=np.float32)
    return (uniform < probabilities).astype(np.float32)


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of a fresh Bernoulli binarization of ``x`` in every epoch.

    Each batch is ``x_bin ~ Bernoulli(x)`` drawn anew, so the model never sees
    the same binary image twice (dynamic binarization, Salakhutdinov & Murray,
    2008), which regularizes models trained on binarized MNIST-like data.

    The draw for batch ``idx`` in epoch ``e`` comes from
    ``np.random.default_rng([seed, e, idx])`` and the example order of epoch
    ``e`` from ``np.random.default_rng([seed, e])``. A batch therefore depends
    only on ``(seed, epoch, idx)``, not on the order or the number of times
    Keras asks for it, nor on how many workers fetch batches, so runs are
    reproducible. Batches hold inputs only (no targets), as tfae models take
    none.

    Args:
        x: Grey levels in [0, 1] (Bernoulli probabilities), shape
            ``(N, ...)`` with at least two axes.
        batch_size: Examples per batch (>= 1); the last batch may be smaller.
        shuffle: If True, the example order is reshuffled every epoch.
        seed: Non-negative integer seeding order and draws.
        **kwargs: Passed to ``keras.utils.PyDataset`` (``workers``,
            ``use_multiprocessing``, ``max_queue_size``).

    Attributes:
        epoch: The epoch whose draws ``__getitem__`` serves; starts at 0 and
            is incremented by ``on_epoch_end``.

    Raises:
        ValueError: If ``x`` is empty, non-finite or outside [0, 1], or
            ``batch_size`` < 1 or ``seed`` < 0.
        TypeError: If ``x`` is not numeric or ``batch_size``/``seed`` are not
            integers or ``shuffle`` is not a bool.

    Examples:
        >>> from tfae.datasets import load
        >>> grey = load("digits", split="train")
        >>> batches = DynamicBinarization(grey, batch_size=100, seed=1)
        >>> len(batches), batches[0].shape
        (13, (100, 8, 8, 1))
        >>> # model.fit(batches, epochs=10)
    """

    def __init__(self, x, batch_size: int = 100, shuffle: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x = validated_unit_data(
            x,
            name="x",
            fix="DynamicBinarization draws Bernoulli(x), so x must hold grey levels in "
            "[0, 1]; rescale it (e.g. x / 255)",
        )
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.epoch = 0
        # (epoch, order) of the last epoch asked for, so the permutation is
        # computed once per epoch instead of once per batch.
        self._cached_order = None

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx: int) -> np.ndarray:
        """Returns batch ``idx`` of the current epoch as float32 zeros and ones."""
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"batch index must be an integer, got {idx!r}.")
        if not 0 <= idx < len(self):
            # IndexError (not ValueError) ends Python's sequence iteration.
            raise IndexError(
                f"batch index {idx} is out of range; use 0 <= idx < {len(self)} (len(self))."
            )
        rows = self._epoch_order()[idx * self.batch_size : (idx + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, int(idx)])
        return bernoulli_draw(self.x[rows], rng)

    def on_epoch_end(self) -> None:
        """Moves on to the next epoch's order and draws."""
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
