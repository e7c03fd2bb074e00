"""Seeding a run for its duration only: ``seeded`` restores what it changed."""

from __future__ import annotations

import contextlib
import random
import warnings

import keras
import numpy as np
import tensorflow as tf

# TensorFlow has a public switch to turn op determinism on, none to read it or to turn
# it off; Keras reads it here too (keras.src.trainers.trainer.model_supports_jit).
from tensorflow.python.framework import config as tf_config

from tfae import _checks


@contextlib.contextmanager
def seeded(seed: int, deterministic: bool = False):
    """Seeds the random generators for the block and restores them afterwards.

    Python's ``random`` (Keras' unseeded weight initializers and dropout layers
    draw their seeds from it), NumPy's global generator (models given no seed draw
    theirs from it) and TensorFlow's global seed (``fit``'s shuffling) are seeded
    with ``seed``, so the block runs the same every time. On exit, whether the block
    succeeded or not, Python's and NumPy's states are restored exactly, and
    TensorFlow's global seed to its former value (or to none); TensorFlow's count of
    the ops seeded since cannot be read, so it restarts, as after
    ``tf.random.set_seed``. Keras' global ``SeedGenerator`` (``keras.random`` calls
    without a seed) is left alone: tfae's models seed their own.

    Args:
        seed: int >= 0, the seed.
        deterministic: bool, also turn TensorFlow's op determinism on for the block
            (and off again after it, unless it was on before). Keras then compiles
            without XLA. Defaults to False: op determinism stays as it was.

    Examples:
        >>> state = np.random.get_state()[1].copy()
        >>> with seeded(3):
        ...     first = np.random.uniform()
        >>> with seeded(3):
        ...     bool(np.random.uniform() == first)
        True
        >>> bool((np.random.get_state()[1] == state).all())
        True
    """
    seed = _checks.check_positive_int(seed, "seed", minimum=0)
    deterministic = _checks.check_bool(deterministic, "deterministic")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed, _ = tf.compat.v1.random.get_seed(None)
    was_deterministic = tf_config.is_op_determinism_enabled()
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if deterministic and not was_deterministic:
            tf_config.disable_op_determinism()
        tf.random.set_seed(tf_seed)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def seed_everything(seed: int) -> None:
    """Deprecated: seeds every generator and turns TensorFlow's op determinism on for
    the whole process (after which Keras refuses ``jit_compile=True``). Use
    ``with tfae.runs.seeded(seed, deterministic=True):``, which restores both."""
    warnings.warn("tfae.runs.seed_everything changes process-wide state and is deprecated; "
                  "use `with tfae.runs.seeded(seed, deterministic=True):`, which restores it.",
                  DeprecationWarning, stacklevel=2)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
