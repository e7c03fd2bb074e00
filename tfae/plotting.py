"""Figures of the lecture: rows of images (originals, corrupted, reconstructed, samples),
and the latent space of a VAE (a manifold of decoded means, codes coloured by label)."""

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
    labels = []
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
        labels.append(label)
    figure.tight_layout(h_pad=3.0)  # room between rows for the next row's title
    # Back in the layout once the axes are placed, so that a tight bounding box (Jupyter's
    # inline display, savefig(bbox_inches="tight")) keeps the first row's title.
    for label in labels:
        label.set_in_layout(True)
    if path is not None:
        figure.savefig(path, dpi=100, bbox_inches="tight")  # as Jupyter shows it
    return figure


def _prior_marginal_quantiles(prior, probabilities: np.ndarray, seed: int) -> np.ndarray:
    """Quantiles of each coordinate of z under ``prior``, shape (len(probabilities), d):
    exact for a diagonal Gaussian, from 20000 seeded draws otherwise."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    if isinstance(prior, tfd.MultivariateNormalDiag):
        marginal = tfd.Normal(prior.loc, prior.stddev())
        return marginal.quantile(tf.constant(probabilities, prior.dtype)[:, None]).numpy()
    draws = prior.sample(20_000, seed=tf.constant([seed, 0], tf.int32)).numpy()
    return np.quantile(draws, probabilities, axis=0)


def latent_manifold(model, num_per_side: int = 15, path=None, quantile_range=(0.05, 0.95),
                    seed: int = 0):
    """Draws the decoded means E[x | z] on a grid over a 2-D latent space.

    The grid points are quantiles of the prior's marginals, evenly spaced in
    probability (the figure of Kingma & Welling 2014): z_1 grows from left to right,
    z_2 from bottom to top.

    Args:
        model: a ``tfae.VAE`` (or any model with ``latent_dim``, ``prior`` and
            ``decode``) with ``latent_dim == 2``.
        num_per_side: int >= 2, grid points along each axis. Defaults to 15.
        path: str or Path or None, where to save the figure as PNG. Defaults to None.
        quantile_range: (low, high) probabilities of the outermost grid points,
            0 < low < high < 1. Defaults to (0.05, 0.95).
        seed: int, seeds the draws that estimate the quantiles of a prior that is
            not a diagonal Gaussian. Defaults to 0.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: the latent space is not 2-D, or bad grid settings.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim != 2:
        raise ValueError(
            f"latent_manifold draws a 2-D latent space, but the model has latent_dim="
            f"{latent_dim}; train a model with latent_dim=2, or use latent_scatter to show "
            "two coordinates of the codes."
        )
    if isinstance(num_per_side, bool) or not isinstance(num_per_side, int) or num_per_side < 2:
        raise ValueError(f"num_per_side must be an integer >= 2, got {num_per_side!r}.")
    low, high = (float(q) for q in quantile_range)
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantile_range must satisfy 0 < low < high < 1, got {quantile_range}.")
    prior = model.prior
    probabilities = np.linspace(low, high, num_per_side)
    quantiles = _prior_marginal_quantiles(prior, probabilities, seed)  # (num, 2)
    z1, z2 = np.meshgrid(quantiles[:, 0], quantiles[::-1, 1])  # z_2 grows upwards
    grid = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
    images = as_images(np.asarray(model.decode(grid).mean()))
    # A one-pixel grey frame around each tile: digits that touch their borders would
    # otherwise merge with their neighbours into stripes.
    images = np.pad(images, ((0, 0), (1, 1), (1, 1)), constant_values=0.5)
    height, width = images.shape[1:]
    mosaic = images.reshape(num_per_side, num_per_side, height, width)
    mosaic = mosaic.transpose(0, 2, 1, 3).reshape(num_per_side * height, num_per_side * width)
    figure = Figure(figsize=(6, 6))
    axis = figure.subplots()
    axis.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(f"z_1: prior quantiles {low:g} to {high:g}")
    axis.set_ylabel(f"z_2: prior quantiles {low:g} to {high:g}")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def latent_scatter(model, x, labels=None, path=None, dims=(0, 1)):
    """Draws the posterior means E[z | x] of ``x`` as points, coloured by label.

    Args:
        model: a ``tfae.VAE`` (or any model whose ``encode(x)`` returns a
            distribution with a ``mean()``).
        x: array of examples.
        labels: array (N,) of class labels, or None for one colour. Defaults to None.
        path: str or Path or None, where to save the figure as PNG. Defaults to None.
        dims: the two coordinates of z to show. Defaults to (0, 1).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: the latent space has fewer than 2 dimensions, ``dims`` are out
            of range, or ``labels`` do not match ``x``.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim is None or latent_dim < 2:
        raise ValueError(f"latent_scatter needs a latent space of 2 or more dimensions, got "
                         f"latent_dim={latent_dim}.")
    dims = tuple(dims)
    if len(dims) != 2 or len(set(dims)) != 2 or not all(
            isinstance(d, int) and 0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be two different coordinates in [0, {latent_dim}), got "
                         f"{dims}.")
    means = np.asarray(model.encode(x).mean())
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(means),):
            raise ValueError(f"labels must have shape ({len(means)},), one per example, got "
                             f"{labels.shape}.")
    figure = Figure(figsize=(5.5, 5))
    axis = figure.subplots()
    if labels is None:
        axis.scatter(means[:, dims[0]], means[:, dims[1]], s=4, alpha=0.6)
    else:
        for index, value in enumerate(np.unique(labels)):
            chosen = labels == value
            axis.scatter(means[chosen, dims[0]], means[chosen, dims[1]], s=4, alpha=0.6,
                         color=f"C{index % 10}", label=str(value))
        axis.legend(markerscale=3, fontsize=8, loc="best")
    axis.set_xlabel(f"E[z_{dims[0] + 1} | x]")
    axis.set_ylabel(f"E[z_{dims[1] + 1} | x]")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
