"""Scoped silence for what TensorFlow logs while tfae saves a model for export.

Writing a SavedModel logs "Assets written to" a temporary folder the user never sees,
and saving a VAE's TFP distributions logs TensorFlow's deprecation of
``LinearOperator.graph_parents``, which tfae never calls. ``quiet_saving`` drops
exactly those records inside its block and restores everything after: the logger's
level and every other message are left alone.
"""

from __future__ import annotations

import contextlib
import logging

import tensorflow as tf
from tensorflow.python.util import deprecation

#: The log records ``quiet_saving`` drops, by the start of their message.
_DROPPED = ("Assets written to",)


class _Dropping(logging.Filter):
    def filter(self, record) -> bool:
        return not str(record.msg).startswith(_DROPPED)


@contextlib.contextmanager
def quiet_saving():
    """Inside the block: no deprecation notes of TensorFlow, no "Assets written to"."""
    logger, dropping = tf.get_logger(), _Dropping()
    logger.addFilter(dropping)
    try:
        with deprecation.silence():
            yield
    finally:
        logger.removeFilter(dropping)
