"""Figures of the lecture: rows of images (originals, corrupted, reconstructed, samples),
and the latent space of a VAE (a manifold of decoded means, codes coloured by label).

The functions follow matplotlib's habits: each draws on the axes (``ax=``) or figure
(``figure=``) it is given, else on pyplot's current figure, as ``plt.plot`` does
(opening one when none is open), so that ``plt.savefig`` and Jupyter's inline display
show the drawing; each returns the Figure it drew on, and ``path=`` also saves it.
Like any pyplot figure, one the functions open stays open until ``plt.close``.
pyplot is imported on the first call only: importing tfae chooses no backend.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, FigureBase, SubFigure

from tfae import _checks

# True inside ``_bare_figures()``: a function given no axes or figure draws on a new bare
# Figure, out of pyplot's reach (the run folders' figures, written in a loop).
_BARE = contextvars.ContextVar("tfae_plotting_bare_figures", default=False)


@contextlib.contextmanager
def _bare_figures():
    """Within the block, a plot function given neither ``ax`` nor ``figure`` draws on a
    new ``matplotlib.figure.Figure`` that pyplot does not hold (nothing to close, no
    backend involved, pyplot's current figure untouched)."""
    token = _BARE.set(True)
    try:
        yield
    finally:
        _BARE.reset(token)


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _root(figure: FigureBase) -> Figure:
    """The top-level Figure of a figure or subfigure."""
    while isinstance(figure, SubFigure):
        figure = figure.figure
    return figure


def _target_axes(ax, figsize) -> tuple[Axes, bool]:
    """The axes to draw on, and whether this call created their figure: ``ax``; else
    pyplot's current axes (a new pyplot figure of ``figsize`` when none is open)."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes (e.g. from plt.subplots()), got "
                            f"{type(ax).__name__}.")
        return ax, False
    if _BARE.get():
        return Figure(figsize=figsize).subplots(), True
    plt = _pyplot()
    created = not plt.get_fignums()
    if created:
        plt.figure(figsize=figsize)
    return plt.gca(), created


def _target_figure(figure, figsize) -> FigureBase:
    """The (sub)figure to draw a grid of axes on: ``figure``, which must be empty; else
    pyplot's current figure when it holds no axes, or a new pyplot figure of
    ``figsize`` (a grid cannot share a figure with other axes)."""
    if figure is not None:
        if not isinstance(figure, FigureBase):
            raise TypeError(f"figure must be a matplotlib Figure or SubFigure (e.g. "
                            f"plt.figure()), got {type(figure).__name__}.")
        if figure.axes:
            raise ValueError("figure already holds axes, and image_rows draws a grid of its "
                             "own; pass an empty figure (plt.figure()) or a subfigure "
                             "(figure.subfigures()).")
        return figure
    if _BARE.get():
        return Figure(figsize=figsize)
    plt = _pyplot()
    if plt.get_fignums() and not plt.gcf().axes:
        return plt.gcf()  # e.g. the user's plt.figure(figsize=...) just before
    return plt.figure(figsize=figsize)


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


def image_rows(rows: dict, path=None, max_images: int = 10, figure=None):
    """Draws one row of images per entry of ``rows`` (e.g. originals and reconstructions).

    Args:
        rows: dict mapping a row title to an array of images (N, H, W[, 1]) or (N, D).
        path: str or Path or None, where to save the figure as PNG. Defaults to None.
        max_images: int, the number of columns. Defaults to 10.
        figure: an empty matplotlib Figure or SubFigure to draw the grid on, or None
            for pyplot's current figure when it holds no axes (e.g. right after
            ``plt.figure(figsize=...)``), else a new pyplot figure sized to the grid,
            as ``plt.subplots`` opens one. Defaults to None.

    Returns:
        The matplotlib Figure drawn on (the top-level one of a SubFigure).

    Raises:
        ValueError: ``rows`` is empty, an array is empty, holds non-finite values or
            cannot be shown as images, ``max_images`` < 1, or ``figure`` already
            holds axes.
        TypeError: ``rows`` is not a dict, an array does not hold real numbers,
            ``max_images`` is not an int, or ``figure`` is not a matplotlib figure.
    """
    if not isinstance(rows, Mapping):
        raise TypeError(f"rows must be a dict mapping a row title to an array of images, e.g. "
                        f"{{'original': x, 'reconstructed': r}}, got {type(rows).__name__}.")
    if not rows:
        raise ValueError("rows is empty; pass e.g. {'original': x, 'reconstructed': r}.")
    max_images = _checks.check_positive_int(max_images, "max_images")
    images = {title: _row_images(array, f"rows[{title!r}]")[:max_images]
              for title, array in rows.items()}
    columns = max(len(row) for row in images.values())
    figure = _target_figure(figure, (1.2 * columns, 1.3 * len(images)))
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
    if isinstance(figure, Figure) and figure.get_layout_engine() is None:
        figure.tight_layout(h_pad=3.0)  # room between rows for the next row's title
    # Back in the layout once the axes are placed, so that a tight bounding box (Jupyter's
    # inline display, savefig(bbox_inches="tight")) keeps the first row's title.
    for label in labels:
        label.set_in_layout(True)
    figure = _root(figure)
    if path is not None:
        figure.savefig(path, dpi=100, bbox_inches="tight")  # as Jupyter shows it
    return figure


def _row_images(array, name: str) -> np.ndarray:
    """Returns one entry of ``image_rows``'s rows as images, refusing what cannot be
    drawn (None, strings, an empty or non-finite array, a shape that is no image)."""
    array = _checks.as_float_array(array, name)
    _checks.check_not_empty(array, name)
    if array.size == 0:
        raise ValueError(f"{name} holds no values (shape {array.shape}); pass images.")
    _checks.check_finite(array, name)
    try:
        return as_images(array)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


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
                    seed: int = 0, ax=None):
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
        ax: matplotlib Axes to draw on, or None for pyplot's current axes (as
            ``plt.imshow`` draws; a new 6 x 6 inch figure when none is open).
            Defaults to None.

    Returns:
        The matplotlib Figure drawn on (the one holding ``ax``).

    Raises:
        ValueError: the latent space is not 2-D, or bad grid settings.
        TypeError: ``ax`` is not a matplotlib Axes.
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
    if (isinstance(quantile_range, (str, bytes)) or not hasattr(quantile_range, "__len__")
            or len(quantile_range) != 2 or not all(
                isinstance(q, (int, float, np.integer, np.floating)) and not isinstance(q, bool)
                for q in quantile_range)):
        raise TypeError(f"quantile_range must be a pair of probabilities (low, high), e.g. "
                        f"(0.05, 0.95), got {quantile_range!r}.")
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
    axis, created = _target_axes(ax, (6, 6))
    axis.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_xlabel(f"z_1: prior quantiles {low:g} to {high:g}")
    axis.set_ylabel(f"z_2: prior quantiles {low:g} to {high:g}")
    return _finish(axis, created, path)


def latent_scatter(model, x, labels=None, path=None, dims=(0, 1), ax=None):
    """Draws the posterior means E[z | x] of ``x`` as points, coloured by label (for a
    VAE with a posterior flow, the posterior's centers, ``VAE.posterior_center``).

    Args:
        model: a ``tfae.VAE`` (or any model whose ``encode(x)`` returns a
            distribution with a ``mean()``).
        x: array of examples.
        labels: array (N,) of class labels, or None for one colour. Defaults to None.
        path: str or Path or None, where to save the figure as PNG. Defaults to None.
        dims: the two coordinates of z to show. Defaults to (0, 1).
        ax: matplotlib Axes to draw on, or None for pyplot's current axes (as
            ``plt.scatter`` draws; a new 5.5 x 5 inch figure when none is open).
            Defaults to None.

    Returns:
        The matplotlib Figure drawn on (the one holding ``ax``).

    Raises:
        ValueError: the latent space has fewer than 2 dimensions, ``dims`` are out
            of range, ``x`` is not a batch the model can encode, or ``labels`` do
            not match ``x`` or hold NaN/inf.
        TypeError: ``dims`` is not a pair of ints, ``x`` is not an array of
            numbers, or ``ax`` is not a matplotlib Axes.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim is None or latent_dim < 2:
        raise ValueError(f"latent_scatter needs a latent space of 2 or more dimensions, got "
                         f"latent_dim={latent_dim}.")
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise TypeError(f"dims must be two different coordinates of z, e.g. (0, 1), got "
                        f"{dims!r}.")
    dims = tuple(dims)
    if len(dims) != 2 or len(set(dims)) != 2 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < latent_dim
            for d in dims):
        raise ValueError(f"dims must be two different coordinates in [0, {latent_dim}), got "
                         f"{dims}.")
    flow = getattr(model, "posterior_flow", None) is not None
    # With a posterior flow, q(z|x) is no Gaussian: its center f(mu(x)) stands in.
    means = np.asarray(model.posterior_center(x) if flow else model.encode(x).mean())
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(means),):
            raise ValueError(f"labels must have shape ({len(means)},), one per example, got "
                             f"{labels.shape}.")
        if labels.dtype.kind in "fc" and not np.isfinite(labels).all():
            raise ValueError("labels hold NaN or inf, which is no class; give every example "
                             "a finite label (or pass labels=None).")
    axis, created = _target_axes(ax, (5.5, 5))
    if labels is None:
        axis.scatter(means[:, dims[0]], means[:, dims[1]], s=4, alpha=0.6)
    else:
        for index, value in enumerate(np.unique(labels)):
            chosen = labels == value
            axis.scatter(means[chosen, dims[0]], means[chosen, dims[1]], s=4, alpha=0.6,
                         color=f"C{index % 10}", label=str(value))
        axis.legend(markerscale=3, fontsize=8, loc="best")
    name = "center of q(z_{} | x)" if flow else "E[z_{} | x]"
    axis.set_xlabel(name.format(dims[0] + 1))
    axis.set_ylabel(name.format(dims[1] + 1))
    return _finish(axis, created, path)


def _finish(axis: Axes, created: bool, path) -> Figure:
    """Lays out a figure this call created (a user's figure keeps its layout), saves it
    to ``path`` unless None, and returns the top-level Figure."""
    figure = _root(axis.figure)
    if created:
        figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
