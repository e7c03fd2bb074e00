"""The data of a run: its dataset's splits, binarized and shaped as the run trains on them."""

from __future__ import annotations

import numpy as np

import tfae
from tfae.runs.specs import get_spec


def load_split(config, split: str) -> np.ndarray:
    """Loads one split of the run's dataset, binarized as the run was.

    Under ``binarize="dynamic"`` the training split keeps its grey levels (the run
    draws a binarization of them every epoch) and the held-out splits get one fixed
    stochastic binarization, seeded by the run's seed.
    """
    binarize = {"none": None, "dynamic": "stochastic"}.get(config.binarize, config.binarize)
    if config.binarize == "dynamic" and split == "train":
        binarize = None
    return tfae.datasets.load(
        config.dataset, split=split, binarize=binarize, seed=config.seed,
        data_dir=config.data_dir, flatten=get_spec(config.model).flatten,
    )


def load_splits(config) -> dict:
    """Every split of the run's dataset: split name -> array (see ``load_split``)."""
    return {split: load_split(config, split) for split in tfae.datasets.SPLITS}
