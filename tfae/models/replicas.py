"""What a training step does differently on several ``tf.distribute`` replicas.

Under a strategy (MirroredStrategy, MultiWorkerMirroredStrategy) each replica runs the
step on its contiguous block of the global batch's rows and the replicas' gradients
are summed. Two things then keep a run equal to one device's: the objective is each
replica's share of the global batch's mean (``global_mean``, penalties divided by
``count``), and an example's random draws are those one device would make for it
(``on_global_rows``). Outside a strategy every function is the one-device computation.
"""

from __future__ import annotations

import tensorflow as tf


def count() -> int:
    """The number of replicas whose gradients are summed (1 outside tf.distribute)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_mean(values, sample_weight):
    """This replica's share of the (weighted) mean over the global batch: the sum of its
    examples' (weighted) values divided by the number (total weight) of the examples of
    every replica. The replicas' gradients are summed, so their sum is the gradient of
    the global batch's mean, whatever the replica count and however unevenly the last
    batch splits (one device: the plain weighted mean)."""
    if sample_weight is None:
        total, number = tf.reduce_sum(values), tf.cast(tf.size(values), values.dtype)
    else:
        weight = tf.cast(tf.reshape(sample_weight, [-1]), values.dtype)
        total, number = tf.reduce_sum(values * weight), tf.reduce_sum(weight)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        number = context.all_reduce(tf.distribute.ReduceOp.SUM, number)
    return total / number


def on_global_rows(function, x):
    """``function`` applied to the global batch as one device applies it, cut to this
    replica's rows, so that an example's random draws do not depend on the replicas.

    This places ``x`` (this replica's rows) at its block of a global-sized batch of
    zeros, applies ``function`` (a draw of a fixed stateless seed, elementwise in the
    rows: noise of the batch's shape, a corruption of it) and keeps the block. Outside
    a strategy, or on one replica, it is ``function(x)``. The cost is the function on
    the global batch's rows: meant for noise, not networks.

    Args:
        function: callable ``(rows) -> tensor`` with the rows of its input.
        x: tensor, this replica's rows first.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return function(x)
    replicas = context.num_replicas_in_sync
    index = tf.cast(context.replica_id_in_sync_group, tf.int32)
    rows = tf.shape(x)[0]
    sizes = context.all_reduce(tf.distribute.ReduceOp.SUM,
                               tf.one_hot(index, replicas, dtype=tf.int32) * rows)
    offset = tf.reduce_sum(tf.where(tf.range(replicas) < index, sizes, 0))
    after = tf.reduce_sum(sizes) - offset - rows
    padding = tf.concat([[[offset, after]], tf.zeros([tf.rank(x) - 1, 2], tf.int32)], 0)
    return function(tf.pad(x, padding))[offset:offset + rows]
