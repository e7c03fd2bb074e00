"""The figures of a run folder: rows of images, samples beside their nearest training
examples (the lecture's check that a model does not merely copy its training set).

A run draws each figure on a bare ``matplotlib.figure.Figure`` (``write_image_rows``),
never through pyplot: the command line writes figures in a loop, and a pyplot figure
left open would hold its memory (and change a notebook's current figure) until closed.
"""

from __future__ import annotations

import numpy as np

import tfae
from tfae.plotting import _bare_figures

#: Examples in a run's figures of reconstructions and samples.
NUM_SHOWN = 10


def write_image_rows(rows: dict, path, max_images: int = NUM_SHOWN) -> None:
    """Writes ``tfae.plotting.image_rows(rows)`` as a PNG, on a figure pyplot never holds."""
    with _bare_figures():
        tfae.plotting.image_rows(rows, path, max_images=max_images)


def showcase(x, labels, seed: int, count: int = NUM_SHOWN) -> np.ndarray:
    """The examples of ``x`` a run's reconstruction figure shows.

    With ``labels``: one example of each class, in class order (the first of each class
    in ``x``), when there are at most ``count`` classes; else the first example of
    ``count`` classes drawn at random (seeded by ``seed``), in class order. Without
    labels (an ``.npz`` dataset): ``count`` examples drawn at random without
    replacement, seeded by ``seed``, in their order in ``x``.

    Args:
        x: array (N, ...), the examples (a run's test split).
        labels: int array (N,) or None.
        seed: int, the run's seed.
        count: int, the most examples to show. Defaults to ``NUM_SHOWN``.

    Returns:
        The chosen rows of ``x``.
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        chosen = np.sort(rng.choice(len(x), size=min(count, len(x)), replace=False))
        return x[chosen]
    classes, first = np.unique(np.asarray(labels), return_index=True)  # classes sorted
    if len(classes) > count:
        first = first[np.sort(rng.choice(len(classes), size=count, replace=False))]
    return x[first]


def labels_of(splits, split: str):
    """The labels of one split of ``splits`` (``tfae.runs.data.Splits``), or None for an
    unlabelled dataset (or a plain dict of arrays)."""
    return getattr(splits, "labels", {}).get(split)


def nearest_training_examples(samples, x_train) -> np.ndarray:
    """The training example nearest to each sample."""
    nearest, _ = tfae.metrics.nearest_neighbours(samples, x_train)
    return x_train[nearest]


def write_samples(samples, x_train, path, max_images: int = NUM_SHOWN) -> None:
    """Writes ``samples`` above their nearest training examples as a PNG."""
    write_image_rows(
        {"samples": samples,
         "nearest training example": nearest_training_examples(samples, x_train)},
        path, max_images=max_images)
