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


def step_if(ok, step, *args) -> None:
    """Runs ``step(*args)`` (an optimizer step, which synchronises the replicas) if
    ``ok`` holds on every replica; on none otherwise, so the replicas stay equal.

    Under a strategy the replicas' ``ok`` are all-reduced first, so every replica
    takes the same branch (one that skips a collective the others enter would hang).
    Where the strategy synchronises through ``merge_call`` (``MirroredStrategy``),
    which cannot run inside a conditional of one replica, the condition is taken in
    the cross-replica context and the step run on each replica from there, as Keras'
    ``LossScaleOptimizer`` does.

    Args:
        ok: scalar bool tensor, this replica's verdict.
        step: callable, run on each replica with that replica's ``args``.
        *args: tensors or nested structures of them, this replica's.
    """

    def run():
        step(*args)
        return tf.constant(True)

    if not tf.distribute.has_strategy():
        tf.cond(ok, run, lambda: tf.constant(False))
        return
    context = tf.distribute.get_replica_context()
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(ok), tf.float32))
    everywhere = tf.equal(bad, 0.0)
    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(everywhere, run, lambda: tf.constant(False))
        return

    def in_cross_replica_context(distribution, everywhere, args):
        def run_everywhere():
            distribution.extended.call_for_each_replica(step, args=args)
            return tf.constant(True)

        first = distribution.experimental_local_results(everywhere)[0]  # all equal
        tf.cond(first, run_everywhere, lambda: tf.constant(False))

    context.merge_call(in_cross_replica_context, args=(everywhere, args))


def first_problem(status):
    """The status of the first replica (in replica order) whose ``status`` is not 0,
    else 0: what every replica records, so that a bad batch on any replica stops the
    run (outside a strategy: ``status``)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return status
    index = tf.cast(context.replica_id_in_sync_group, tf.int32)
    statuses = context.all_reduce(
        tf.distribute.ReduceOp.SUM,
        tf.one_hot(index, context.num_replicas_in_sync, dtype=tf.float32)
        * tf.cast(status, tf.float32))
    first = tf.argmax(tf.cast(tf.not_equal(statuses, 0.0), tf.int32))
    return tf.cast(tf.gather(statuses, first), status.dtype)
