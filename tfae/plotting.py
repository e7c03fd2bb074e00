"""Figures of the lecture: rows of images (originals, corrupted, reconstructed, samples)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure


def as_images(x) -> np.ndarray:
    """Returns ``x`` as (N, H, W) grey images: drops a channel axis of 1, makes square
    images of flat vectors whose length is a perfect square, a 1 x D strip otherwise."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        shape = (side, side) if side * side == x.shape[1] else (1, x.shape[1])
        return x.reshape(-1, *shape)
    if x.ndim == 3:
        return x
    raise ValueError(
        f"cannot show arrays of shape {x.shape} as images; pass (N, H, W[, 1]) or (N, D)."
    )


def image_rows(rows: dict, path=None, max_images: int = 10):
    """Draws one row of images per entry of ``rows`` (e.g. originals and reconstructions).

    Args:
        rows: dict mapping a row title to an array of images (N, H, W[, 1]) or (N, D).
        path: str or Path or None, where to save the figure as PNG. Defaults to None.
        max_images: int, the number of columns. Defaults to 10.

    Returns:
        The matplotlib Figure.
    """
    if not rows:
        raise ValueError("rows is empty; pass e.g. {'original': x, 'reconstructed': r}.")
    images = {title: as_images(array)[:max_images] for title, array in rows.items()}
    columns = max(len(row) for row in images.values())
    # A bare Figure, not pyplot: saving needs no display, and importing tfae leaves the
    # notebook's matplotlib backend alone. Jupyter shows a returned Figure as is.
    figure = Figure(figsize=(1.2 * columns, 1.3 * len(images)))
    axes = figure.subplots(len(images), columns, squeeze=False)
    for axes_row, (title, row) in zip(axes, images.items(), strict=True):
        for column, axis in enumerate(axes_row):
            axis.set_axis_off()
            if column < len(row):
                axis.imshow(row[column], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        # A row title spans the row: kept out of the layout, so a long one does not
        # shrink the first image.
        label = axes_row[0].annotate(title, xy=(0, 1.04), xycoords="axes fraction",
                                     ha="left", va="bottom", fontsize=9, annotation_clip=False)
        label.set_in_layout(False)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
