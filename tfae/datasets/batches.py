"""Batches for many epochs whose order depends on (seed, epoch) alone: ``epoch_batches``."""

from __future__ import annotations

import numpy as np  # noqa: F401  (the examples)
import tensorflow as tf

from tfae._checks import as_float_array, check_bool, check_not_empty, check_positive_int
from tfae.datasets.binarization import validated_unit_data


def epoch_batches(x, batch_size: int, epochs: int, seed: int = 0, initial_epoch: int = 0,
                  binarize: bool = False) -> tf.data.Dataset:
    """The batches of epochs ``initial_epoch`` to ``epochs - 1`` of ``x``, one dataset.

    Epoch ``e`` visits every example once, in the order of a stateless shuffle seeded
    by ``(seed, e)``; with ``binarize``, batch ``i`` of epoch ``e`` is a Bernoulli draw
    of its grey levels seeded by ``(seed, e, i)`` (dynamic binarization). A batch thus
    depends on ``(seed, epoch, index)`` alone: a training run resumed at epoch ``e``
    (``initial_epoch=e``) gets exactly the batches of an uninterrupted run, which
    ``fit(x, shuffle=True)`` cannot promise (its order comes from TensorFlow's global
    seed and the ops seeded since). The batches are made by tf.data (gathered, drawn
    and prefetched in TensorFlow, as fast as ``fit`` on arrays), hold inputs only, and
    are global batches under ``tf.distribute``, which shards them by data.

    Pass the dataset to ``fit`` with ``steps_per_epoch=math.ceil(len(x) / batch_size)``
    (so that one iterator serves every epoch), the same ``epochs`` and
    ``initial_epoch``, and ``shuffle=False``.

    Args:
        x: array-like of shape ``(N, ...)``, the examples (grey levels in [0, 1] with
            ``binarize``).
        batch_size: int >= 1, examples per batch; each epoch's last batch may be
            smaller.
        epochs: int > ``initial_epoch``, the epoch after the last.
        seed: int >= 0, seeds the orders (and the draws).
        initial_epoch: int >= 0, the first epoch.
        binarize: bool, draw a binarization of the batches in every epoch.

    Returns:
        A ``tf.data.Dataset`` of float32 batches, ``(epochs - initial_epoch) *
        ceil(N / batch_size)`` of them.

    Raises:
        ValueError: ``x`` is empty (or, with ``binarize``, not in [0, 1]), or a count
            is out of range.
        TypeError: an argument of the wrong type.

    Examples:
        >>> x = np.arange(10, dtype="float32").reshape(5, 2)
        >>> every = [b.numpy() for b in epoch_batches(x, 2, epochs=3, seed=7)]
        >>> len(every)  # 3 batches in each of 3 epochs
        9
        >>> resumed = [b.numpy() for b in epoch_batches(x, 2, epochs=3, seed=7,
        ...                                             initial_epoch=1)]
        >>> all((a == b).all() for a, b in zip(every[3:], resumed, strict=True))
        True
        >>> # model.fit(epoch_batches(x, 64, 10), epochs=10, steps_per_epoch=..., shuffle=False)
    """
    binarize = check_bool(binarize, "binarize")
    if binarize:
        x = validated_unit_data(x, "x", "epoch_batches(binarize=True) draws Bernoulli(x), so "
                                "x must hold grey levels in [0, 1]; rescale it (e.g. x / 255)")
    else:
        x = as_float_array(x, "x")
        check_not_empty(x, "x")
    batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_positive_int(seed, "seed", minimum=0)
    initial_epoch = check_positive_int(initial_epoch, "initial_epoch", minimum=0)
    epochs = check_positive_int(epochs, "epochs", minimum=initial_epoch + 1)
    examples = tf.constant(x)
    count = len(x)

    def one_epoch(epoch):
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count), epoch_seed)
        return (tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
                .map(lambda index, rows: batch(epoch_seed, index, rows)))

    def batch(epoch_seed, index, rows):
        values = tf.gather(examples, rows)
        if not binarize:
            return values
        draw_seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
        uniform = tf.random.stateless_uniform(tf.shape(values), draw_seed)
        return tf.cast(uniform < values, values.dtype)

    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(one_epoch)
    return dataset.prefetch(tf.data.AUTOTUNE)
