"""k-means++ seeding and Lloyd's k-means in TensorFlow, as scikit-learn's KMeans runs them.

They start EM: ``init_params="kmeans"`` takes the labels of k-means++ seeding
followed by Lloyd's iterations, ``"k-means++"`` the seeds alone.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

#: Lloyd's k-means, as in scikit-learn's KMeans: at most 300 iterations, stop when the
#: centres move by less than 1e-4 of the mean per-feature variance (squared distance).
KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4


def squared_distances(x, centers):
    """||x_n - c_j||^2 up to the constant ||x_n||^2, shape (n, J): enough for an argmin."""
    return tf.reduce_sum(tf.square(centers), axis=1) - 2.0 * x @ tf.transpose(centers)


def kmeans_plusplus(x, seed, n_clusters):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), as in scikit-learn.

    Each new centre is the best of 2 + log(K) candidates drawn with probability
    proportional to the squared distance to the nearest centre so far: the one that
    most reduces the sum of those distances.

    Args:
        x: tensor (n, d).
        seed: int64 tensor (2,), the seed of the stateless random draws.
        n_clusters: int, K.

    Returns:
        int32 tensor (K,): the rows of x chosen as centres.
    """
    n = tf.shape(x)[0]
    trials = 2 + int(math.log(n_clusters))
    squared_norms = tf.reduce_sum(tf.square(x), axis=1)
    first = tf.random.stateless_uniform([], seed, 0, n, dtype=tf.int32)
    indices = tf.tensor_scatter_nd_update(tf.zeros([n_clusters], tf.int32), [[0]], [first])
    closest = tf.reduce_sum(tf.square(x - x[first]), axis=1)

    def body(j, indices, closest):
        draw = tf.random.stateless_uniform(
            [trials], tf.random.experimental.stateless_fold_in(seed, j), dtype=x.dtype
        )
        cumulative = tf.cumsum(closest)
        candidates = tf.searchsorted(cumulative, draw * cumulative[-1])
        # Rounding can put a draw past the last cumulative sum: that is the last point.
        candidates = tf.minimum(candidates, n - 1)
        chosen = tf.gather(x, candidates)
        distances = (tf.gather(squared_norms, candidates)[:, None] + squared_norms
                     - 2.0 * chosen @ tf.transpose(x))
        # (trials, n) distances by expansion; rounding can leave tiny negatives: floor at 0.
        distances = tf.minimum(closest, tf.maximum(distances, 0.0))
        best = tf.argmin(tf.reduce_sum(distances, axis=1))
        indices = tf.tensor_scatter_nd_update(indices, tf.reshape(j, [1, 1]),
                                              candidates[best][None])
        return j + 1, indices, distances[best]

    _, indices, _ = tf.while_loop(
        lambda j, *_: j < n_clusters, body, (tf.constant(1), indices, closest)
    )
    return indices


def lloyd(x, centers, max_iter, tol):
    """Lloyd's k-means from ``centers``; returns the labels of the final centres.

    A cluster that loses all its points moves to the point farthest from its own centre
    (the next farthest for the next empty cluster), as in scikit-learn.
    """
    n_clusters = centers.shape[0]

    def update(centers):
        distances = squared_distances(x, centers)
        labels = tf.argmin(distances, axis=1, output_type=tf.int32)
        sums = tf.math.unsorted_segment_sum(x, labels, n_clusters)
        counts = tf.math.unsorted_segment_sum(tf.ones_like(x[:, 0]), labels, n_clusters)
        empty = counts == 0
        own = tf.gather(distances, labels, batch_dims=1) + tf.reduce_sum(tf.square(x), 1)
        _, farthest = tf.math.top_k(own, k=n_clusters)
        rank = tf.cumsum(tf.cast(empty, tf.int32)) - 1
        relocated = tf.gather(x, tf.gather(farthest, tf.maximum(rank, 0)))
        means = sums / tf.maximum(counts, 1.0)[:, None]
        return tf.where(empty[:, None], relocated, means)

    def body(i, centers, shift):
        new = update(centers)
        return i + 1, new, tf.reduce_sum(tf.square(new - centers))

    _, centers, _ = tf.while_loop(
        lambda i, _, shift: (i < max_iter) & (shift > tol),
        body,
        (tf.constant(0), centers, tf.constant(np.inf, x.dtype)),
    )
    return tf.argmin(squared_distances(x, centers), axis=1, output_type=tf.int32)


def kmeans_labels(x, seed, n_clusters):
    """k-means++ seeding, then at most ``KMEANS_MAX_ITER`` Lloyd iterations; the labels (n,)."""
    tol = KMEANS_TOL * tf.reduce_mean(tf.math.reduce_variance(x, axis=0))
    centers = tf.gather(x, kmeans_plusplus(x, seed, n_clusters))
    return lloyd(x, centers, KMEANS_MAX_ITER, tol)


@functools.cache
def compiled(function, n_clusters: int):
    """``function(x, seed)`` for K clusters as a tf.function.

    Never XLA: it runs once per initialisation, compiling would cost more. K fixes
    shapes, so each K is traced once; one function per K keeps a loop over K
    (choosing it by BIC) free of TensorFlow's "excessive retracing" warnings.
    """
    return tf.function(functools.partial(function, n_clusters=n_clusters),
                       reduce_retracing=True)
