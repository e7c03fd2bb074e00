"""The figures of a run folder: rows of images, samples beside their nearest training
examples (the lecture's check that a model does not merely copy its training set)."""

from __future__ import annotations

import numpy as np

import tfae


def nearest_training_examples(samples, x_train) -> np.ndarray:
    """The training example nearest to each sample."""
    nearest, _ = tfae.metrics.nearest_neighbours(samples, x_train)
    return x_train[nearest]


def write_samples(samples, x_train, path, max_images: int = 10) -> None:
    """Writes ``samples`` above their nearest training examples as a PNG."""
    tfae.plotting.image_rows(
        {"samples": samples,
         "nearest training example": nearest_training_examples(samples, x_train)},
        path, max_images=max_images)
