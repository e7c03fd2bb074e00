"""Streaming over blocks of rows, so that EM's memory stays bounded for large N.

The data are cut into B full blocks of ``rows`` rows, stacked as one (B, rows, d)
tensor, and a shorter tail; a compiled graph loop adds up a function of each block.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

#: The largest intermediate tensor of one block of rows, in elements: (rows, K, d) for
#: full and tied covariances. 2**21 float64 values are 16 MiB; larger blocks were no
#: faster on a 2-core CPU (see benchmarks/gaussian_mixture.py).
BLOCK_ELEMENTS = 2**21


def block_rows(n: int, n_components: int, n_features: int, covariance_type: str) -> int:
    """Rows per block so that the largest intermediate has about ``BLOCK_ELEMENTS`` values.

    The blocks are balanced (n = B * rows + tail with a small tail).
    """
    if covariance_type in ("full", "tied"):
        per_row = n_components * n_features  # the whitened (rows, K, d) tensor
    else:
        per_row = max(n_components, n_features)
    rows = max(1, min(n, BLOCK_ELEMENTS // per_row))
    return math.ceil(n / math.ceil(n / rows))


def split_rows(array: np.ndarray, rows: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(blocks, tail): the array cut into (B, rows, ...) full blocks of rows and the rest."""
    full = len(array) - len(array) % rows
    blocks = tf.reshape(array[:full], (full // rows, rows, *array.shape[1:]))
    return blocks, tf.constant(array[full:])


def sum_over_blocks(function, blocks, tail):
    """sum_b function(block_b) over the row blocks of the data, as a graph loop.

    Args:
        function: maps a structure of row blocks to a structure of tensors to add up.
        blocks: a structure of tensors (B, rows, ...): B full blocks of rows.
        tail: the same structure of tensors (r, ...): the remaining r < rows rows,
            possibly none; ``function`` of zero rows gives the zeros the sum starts from.
    """
    total = function(tail)
    count = tf.shape(tf.nest.flatten(blocks)[0])[0]

    def body(i, total):
        block = tf.nest.map_structure(lambda t: t[i], blocks)
        return i + 1, tf.nest.map_structure(tf.add, total, function(block))

    _, total = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), total))
    return total
