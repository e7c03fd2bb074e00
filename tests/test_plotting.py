"""Rows of images (the figure every model's run folder and tutorial shows) and the latent
plots, drawn as matplotlib users expect: on pyplot's current figure or on a given one."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tfae import plotting


def test_image_rows_keeps_every_row_title_in_a_tight_bounding_box():
    x = np.random.default_rng(0).random((20, 8, 8))
    figure = plotting.image_rows({"first row title": x[:10], "second": x[10:]})
    # Jupyter's inline display saves with bbox_inches="tight": the first row's title,
    # drawn above its images, must be inside the saved box.
    renderer = FigureCanvasAgg(figure).get_renderer()
    box = figure.get_tightbbox(renderer)
    title = figure.axes[0].texts[0]
    assert title.get_text() == "first row title"
    title_box = title.get_window_extent(renderer).transformed(figure.dpi_scale_trans.inverted())
    assert title_box.y1 <= box.y1 + 1e-6
    figure.savefig(io.BytesIO(), bbox_inches="tight")


@pytest.mark.parametrize("rows", [2, 3, 5])
def test_a_row_title_does_not_overlap_the_images_above_it(rows):
    x = np.full((10, 8, 8), 0.5)
    figure = plotting.image_rows({f"row {i}": x for i in range(rows)})
    renderer = FigureCanvasAgg(figure).get_renderer()
    for row in range(1, rows):
        above = figure.axes[10 * (row - 1)].get_window_extent(renderer)
        title = figure.axes[10 * row].texts[0].get_window_extent(renderer)
        assert title.y1 <= above.y0


@pytest.mark.parametrize("shape, expected", [((3, 64), (3, 8, 8)), ((3, 5), (3, 1, 5)),
                                             ((3, 4, 4, 1), (3, 4, 4))])
def test_as_images_shapes(shape, expected):
    assert plotting.as_images(np.zeros(shape)).shape == expected


def test_image_rows_refuses_nothing_to_draw():
    with pytest.raises(ValueError, match="rows is empty"):
        plotting.image_rows({})
    with pytest.raises(ValueError, match="cannot show arrays of shape"):
        plotting.as_images(np.zeros((2, 3, 4, 5)))


# ----------------------------------------------------------------- matplotlib's habits


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """Each test starts and ends with no pyplot figure open."""
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def vae_2d():
    import tfae

    return tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)


def _pixels(path) -> np.ndarray:
    return plt.imread(path)[..., :3]


def test_latent_manifold_draws_on_pyplots_current_figure(vae_2d, tmp_path):
    figure = plt.figure()
    returned = plotting.latent_manifold(vae_2d, num_per_side=3)
    assert returned is figure is plt.gcf() and len(figure.axes) == 1
    plt.savefig(tmp_path / "current.png")
    assert _pixels(tmp_path / "current.png").var() > 0  # not a blank page
    returned.savefig(tmp_path / "returned.png")
    np.testing.assert_array_equal(_pixels(tmp_path / "current.png"),
                                  _pixels(tmp_path / "returned.png"))


def test_with_no_figure_open_a_plot_opens_one_that_plt_savefig_writes(vae_2d, tmp_path):
    figure = plotting.latent_manifold(vae_2d, num_per_side=3, path=tmp_path / "path.png")
    assert plt.get_fignums() == [figure.number] and plt.gcf() is figure
    plt.savefig(tmp_path / "pyplot.png", dpi=100)
    np.testing.assert_array_equal(_pixels(tmp_path / "pyplot.png"),
                                  _pixels(tmp_path / "path.png"))


def test_latent_plots_draw_on_the_axes_they_are_given(vae_2d, binary_digits):
    figure, (left, right) = plt.subplots(1, 2)
    assert plotting.latent_scatter(vae_2d, binary_digits[1][:20], ax=right) is figure
    assert right.collections and not left.collections
    assert plotting.latent_manifold(vae_2d, num_per_side=3, ax=left) is figure
    assert left.get_images() and not right.get_images() and len(figure.axes) == 2
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plotting.latent_manifold(vae_2d, ax=figure)


def test_image_rows_draws_on_pyplots_current_figure_or_the_one_given(tmp_path):
    rows = {"first": np.random.default_rng(0).random((3, 8, 8))}
    figure = plt.figure(figsize=(4, 2))
    assert plotting.image_rows(rows) is figure and len(figure.axes) == 3
    plt.savefig(tmp_path / "rows.png")
    assert _pixels(tmp_path / "rows.png").var() > 0
    # The current figure holds axes now: a grid of its own goes on a new figure.
    second = plotting.image_rows(rows)
    assert second is not figure and plt.gcf() is second
    outer = plt.figure()
    left, _ = outer.subfigures(1, 2)
    assert plotting.image_rows(rows, figure=left) is outer and len(left.axes) == 3
    with pytest.raises(ValueError, match="figure already holds axes"):
        plotting.image_rows(rows, figure=figure)
    with pytest.raises(TypeError, match="figure must be a matplotlib Figure"):
        plotting.image_rows(rows, figure="rows.png")
