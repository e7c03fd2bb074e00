"""The data of a run: its dataset's splits, binarized and shaped as the run trains on them,
with their class labels where the dataset has some (for the figures only)."""

from __future__ import annotations

import numpy as np

import tfae
from tfae.datasets.sources import KNOWN_DATASETS, TFDS_HAS_LABELS
from tfae.runs.specs import get_spec


class Splits(dict):
    """Split name -> examples (``load_splits``), and ``labels``: split name -> int64 class
    labels (N,), or None for every split of a dataset without labels."""

    def __init__(self, arrays: dict, labels: dict):
        super().__init__(arrays)
        self.labels = labels


def has_labels(dataset: str) -> bool:
    """Whether ``tfae.datasets.load`` has class labels for ``dataset`` (``.npz`` files
    and ``binarized_mnist`` have none)."""
    return dataset in KNOWN_DATASETS and TFDS_HAS_LABELS.get(dataset, True)


def load_split(config, split: str, with_labels: bool = False):
    """Loads one split of the run's dataset, binarized as the run was.

    Under ``binarize="dynamic"`` the training split keeps its grey levels (the run
    draws a binarization of them every epoch) and the held-out splits get one fixed
    stochastic binarization, seeded by the run's seed.

    Args:
        config: the run's ``TrainConfig``.
        split: str, one of ``tfae.datasets.SPLITS``.
        with_labels: bool, also return the class labels (None for a dataset
            without labels). Defaults to False.

    Returns:
        The examples, or ``(examples, labels or None)`` when ``with_labels``.
    """
    binarize = {"none": None, "dynamic": "stochastic"}.get(config.binarize, config.binarize)
    if config.binarize == "dynamic" and split == "train":
        binarize = None
    labelled = with_labels and has_labels(config.dataset)
    loaded = tfae.datasets.load(
        config.dataset, split=split, binarize=binarize, seed=config.seed,
        data_dir=config.data_dir, flatten=get_spec(config.model).flatten,
        with_labels=labelled,
    )
    if not with_labels:
        return loaded
    return loaded if labelled else (loaded, None)


def load_splits(config) -> Splits:
    """Every split of the run's dataset, with its labels (see ``load_split``)."""
    arrays, labels = {}, {}
    for split in tfae.datasets.SPLITS:
        arrays[split], found = load_split(config, split, with_labels=True)
        labels[split] = None if found is None else np.asarray(found)
    return Splits(arrays, labels)
