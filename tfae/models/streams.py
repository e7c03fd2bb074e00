"""How ``fit``, ``evaluate`` and ``predict`` tell a stream of batches (checked inside the
compiled steps) from data in memory (checked in Python before any work)."""

from __future__ import annotations

import types

import keras


def _has_parent(x, names: tuple, module: str) -> bool:
    """True when a class of ``x``'s MRO is one of ``names`` from a module containing
    ``module`` (how Keras recognises the data it streams, without importing torch or
    grain)."""
    return any(parent.__name__ in names and module in str(parent.__module__)
               for parent in type(x).__mro__)


def is_tf_dataset(x) -> bool:
    return _has_parent(x, ("DatasetV2", "DistributedDataset", "DistributedDatasetsFromFunction"),
                       "tensorflow.python.")


def is_stream(x) -> bool:
    """True for the streams of batches that Keras's fit/evaluate/predict accept: tf.data
    datasets, generators, ``keras.utils.PyDataset``, torch and grain loaders."""
    return (is_tf_dataset(x) or isinstance(x, (types.GeneratorType, keras.utils.PyDataset))
            or _has_parent(x, ("DataLoader",), "torch.utils.data")
            or _has_parent(x, ("MapDataset", "IterDataset", "DataLoader"), "grain"))
