"""Rows of images: the figure every model's run folder and tutorial shows."""

import io

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
