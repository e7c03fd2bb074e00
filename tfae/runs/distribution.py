"""Where a run trains: one device, the local devices, or a cluster of workers.

``TrainConfig.strategy`` names a ``tf.distribute`` strategy (``STRATEGIES``):

* ``"default"``: TensorFlow's default, one device;
* ``"mirrored"``: ``tf.distribute.MirroredStrategy()``, one replica per local GPU
  (the CPU when there is none);
* ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy()``, the workers of
  the cluster that the ``TF_CONFIG`` environment variable describes, each running
  the same ``tfae train`` command. The chief (worker 0, or the ``"chief"`` task)
  writes the run folder; the other workers train and score alongside it (the
  strategy's steps are collective) and write nothing but their own checkpoint.

``--batch-size`` is the global batch size, split across the replicas; tfae's
training loss is the global batch's mean, so a run trains the same weights on any
number of replicas (up to float rounding).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfae.choices import STRATEGIES


def make_strategy(name: str):
    """The ``tf.distribute`` strategy called ``name`` (one of ``STRATEGIES``).

    Raises:
        ValueError: an unknown name, or ``"multiworker"`` without a usable
            ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    _check_tf_config(os.environ.get("TF_CONFIG"))
    return reduce_leaves(tf.distribute.MultiWorkerMirroredStrategy())


def _check_tf_config(text) -> None:
    example = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\' on the first worker, index 1 on '
               "the second")
    if not text:
        raise ValueError("strategy multiworker reads the cluster from the TF_CONFIG "
                         f"environment variable, which is not set; set it on every worker, "
                         f"{example}.")
    try:
        config = json.loads(text)
        workers, task = config["cluster"], config["task"]
        index = int(task["index"])
        members = workers[task["type"]]
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"TF_CONFIG is not a cluster description ({error!r}); {example}."
                         ) from None
    if not 0 <= index < len(members):
        raise ValueError(f"TF_CONFIG's task index {index} is not one of its "
                         f"{len(members)} {task['type']} addresses; {example}.")


def writes_run_folder(strategy) -> bool:
    """Whether this process writes the run folder: a single process, or the chief."""
    return bool(strategy.extended.should_checkpoint)


def worker_name(strategy) -> str:
    """"" for the process that writes the run folder, else its task, e.g. "worker-1"."""
    if writes_run_folder(strategy):
        return ""
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}-{resolver.task_id}"


def reduce_leaves(strategy):
    """Lets ``strategy.reduce`` take what Keras 3.15's ``fit`` gives it on a cluster;
    returns ``strategy``.

    On a multi-worker strategy, ``fit`` (and ``evaluate``) of any Keras 3.15 model
    fails before its first step, twice over (``keras/src/backend/tensorflow/trainer.py``;
    https://github.com/tensorflow/tensorflow/issues/72388):

    1. each scalar log of a step is averaged over the workers as
       ``strategy.reduce("MEAN", log, axis=0)``: a scalar has no axis 0 ("Invalid
       reduction dimension 0 for input with 0 dimensions");
    2. the first batch is averaged as ``strategy.reduce("MEAN", batch, axis=None)``
       to build the model, but a batch with sample weights is a tuple and the
       strategy reduces one value, not a nest.

    This wraps this one strategy object's ``reduce`` (no other object changes): each
    leaf of a nest is reduced alone, a scalar over the replicas only (``axis=None``).
    Only the reported logs and the sample batch go through it, never a gradient; a
    logged loss is then the mean of the workers' means. Use it on a
    ``MultiWorkerMirroredStrategy`` of your own before ``fit``.

    Args:
        strategy: a ``tf.distribute`` strategy.
    """
    import keras

    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis):
        def one(leaf):
            scalar = strategy.experimental_local_results(leaf)[0].shape.rank == 0
            return reduce(reduce_op, leaf, axis=None if scalar else axis)

        return keras.tree.map_structure(one, value)

    strategy.reduce = reduce_each
    return strategy
