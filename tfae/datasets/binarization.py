"""Grey levels in [0, 1] as binary images: a threshold, one Bernoulli draw, or a fresh
draw every epoch (``DynamicBinarization``)."""

from __future__ import annotations

import numpy as np

from tfae._checks import as_float_array, check_finite, check_not_empty
from tfae.datasets.batches import ShuffledBatches


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


class DynamicBinarization(ShuffledBatches):
    """Batches of a fresh Bernoulli binarization of ``x`` in every epoch.

    Each batch is ``x_bin ~ Bernoulli(x)`` drawn anew, so the model never sees
    the same binary image twice (dynamic binarization, Salakhutdinov & Murray,
    2008), which regularizes models trained on binarized MNIST-like data.

    The draw for batch ``idx`` in epoch ``e`` comes from
    ``np.random.default_rng([seed, e, idx])`` and the example order of epoch
    ``e`` from ``np.random.default_rng([seed, e])`` (``ShuffledBatches``). A
    batch therefore depends only on ``(seed, epoch, idx)``, not on the order or
    the number of times Keras asks for it, nor on how many workers fetch
    batches, so runs are reproducible, and resumable at any epoch. Batches hold
    inputs only (no targets), as tfae models take none.

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

    def _checked(self, x) -> np.ndarray:
        return validated_unit_data(
            x,
            name="x",
            fix="DynamicBinarization draws Bernoulli(x), so x must hold grey levels in "
            "[0, 1]; rescale it (e.g. x / 255)",
        )

    def _batch(self, rows: np.ndarray, idx: int) -> np.ndarray:
        """Batch ``idx`` of the current epoch as float32 zeros and ones."""
        rng = np.random.default_rng([self.seed, self.epoch, int(idx)])
        return bernoulli_draw(self.x[rows], rng)
