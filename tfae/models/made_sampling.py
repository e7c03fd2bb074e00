"""Ancestral sampling from a ``tfae.MADE``: x_d ~ p(x_d | x_<d), one dimension per step.

Two paths draw the same samples from the same noise. The naive one runs the model's
forward pass (``MADE._network``) at every step: D passes. The fast one computes each
hidden unit once from the layers' own masked kernels (``MaskedDense.masked_kernel``),
biases and activations: the first layer keeps its pre-activations and adds one kernel
row per sampled dimension, a deeper layer receives each unit of the layer below once
that unit's inputs are all sampled, and each step reads the one output it needs,
O(D * H) per example for one hidden layer instead of O(D^2 * H).

``sample_graph`` draws the noise and the mask picks; ``sample_from_noise`` turns given
noise into samples, so that an exported sampler (``tfae.export.made``) fed the same
noise returns the same samples. Both loops are built from ops that LiteRT has as
builtins (``WHILE``, no TensorArray).

References:
    Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for Distribution
    Estimation", ICML 2015, section 3.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfae import likelihoods


def degree_groups(degrees: list[np.ndarray], input_dim: int) -> tuple:
    """For hidden layers 1..L-1: (K, D, G) int32 indices of the units of degree p.

    Args:
        degrees: ``[inputs, hidden 1, ..., hidden L]``, each of shape (K, width).
        input_dim: int, the number of dimensions D.

    Returns:
        tuple of L - 1 int32 tensors, padded with the index ``width`` (a dummy unit
        whose outgoing weights are zero).
    """
    groups = []
    for layer_degrees in degrees[1:-1]:
        num_masks, width = layer_degrees.shape
        counts = np.stack([np.bincount(row, minlength=input_dim) for row in layer_degrees])
        table = np.full((num_masks, input_dim, max(1, counts.max())), width, np.int32)
        for k, row in enumerate(layer_degrees):
            units = np.argsort(row, kind="stable")  # grouped by degree, in unit order
            first = np.cumsum(counts[k]) - counts[k]  # where each degree's group starts
            rank = np.arange(width) - first[row[units]]  # position inside its group
            table[k, row[units], rank] = units
        groups.append(tf.constant(table))
    return tuple(groups)


def _draw(likelihood, params, noise):
    """Draws x_d from p(x_d | params), params (n, params_per_value), noise (n,)."""
    if isinstance(likelihood, likelihoods.Bernoulli):
        return tf.cast(noise < tf.math.sigmoid(params[:, 0]), params.dtype)
    normal = likelihood.distribution(params).distribution  # Normal, shape (n, 1)
    return (normal.loc + normal.scale * noise[:, None])[:, 0]


def _naive(model, noise, mask_index):
    """Samples with one mask, running the model's forward pass at each of the D steps.

    ``noise`` is (D, n): the uniform or normal draws that decide each dimension.
    Returns the samples, shape (n, D).
    """
    dims, n = model.input_dim, tf.shape(noise)[1]
    order = tf.argsort(tf.gather(model.degrees[0], mask_index))
    columns = dims * tf.range(model.likelihood.params_per_value)

    def step(p, xt):
        d = order[p]
        params = tf.gather(model._network(tf.transpose(xt), mask_index), d + columns, axis=1)
        value = _draw(model.likelihood, params, noise[d])
        return p + 1, tf.tensor_scatter_nd_update(xt, [[d]], value[None, :])

    _, xt = tf.while_loop(lambda p, xt: p < dims, step,
                          (tf.constant(0), tf.zeros([dims, n], noise.dtype)))
    return tf.transpose(xt)


def _fast(model, noise, mask_index, groups):
    """Samples with one mask, computing each hidden unit once (see the module docstring).

    The state is the pre-activations of every hidden layer and, with the direct
    connection, of the outputs; step p adds what the p-th sampled dimension
    contributes. Returns the samples, shape (n, D).
    """
    dims, n, dtype = model.input_dim, tf.shape(noise)[1], noise.dtype
    layers = model.hidden_layers
    degrees = tf.gather(model.degrees[0], mask_index)
    order = tf.argsort(degrees)
    columns = dims * tf.range(model.likelihood.params_per_value)

    def weights(layer):
        kernel = tf.cast(layer.masked_kernel(mask_index), dtype)
        return kernel, None if layer.bias is None else tf.cast(layer.bias, dtype)

    kernels, biases = zip(*(weights(layer) for layer in layers), strict=True)
    output_kernel, output_bias = weights(model.output_layer)
    # Dimension d's parameters are columns d + columns: rows of the transposed kernel.
    output_rows = tf.transpose(output_kernel)
    direct_kernel = None if model.direct_layer is None else weights(model.direct_layer)[0]
    # A zero row for the dummy unit that pads the degree groups.
    padded = [tf.pad(kernel, [[0, 1], [0, 0]]) for kernel in kernels[1:]]
    unit_groups = [tf.gather(group, mask_index) for group in groups]

    def step(p, samples, pre, direct):
        d, rows, pre = order[p], order[p] + columns, list(pre)
        hidden = layers[0].activation(pre[0])
        for j in range(1, len(layers)):  # push layer j's units of degree p into layer j+1
            units = unit_groups[j - 1][p]
            ready = tf.gather(hidden, tf.minimum(units, layers[j - 1].units - 1), axis=1)
            pre[j] = pre[j] + ready @ tf.gather(padded[j - 1], units)
            hidden = layers[j].activation(pre[j])
        params = tf.matmul(hidden, tf.gather(output_rows, rows), transpose_b=True)
        params += tf.gather(output_bias, rows)
        if direct_kernel is not None:
            params += tf.gather(direct, rows, axis=1)
        value = _draw(model.likelihood, params, noise[d])
        pre[0] = pre[0] + value[:, None] * kernels[0][d]
        if direct_kernel is not None:
            direct = direct + value[:, None] * direct_kernel[d]
        # Column d set by a select (no TensorArray: LiteRT has no builtin TensorList).
        return p + 1, tf.where(tf.equal(positions, d), value[:, None], samples), tuple(pre), direct

    pre = tuple(tf.zeros([n, layer.units], dtype) + bias
                for layer, bias in zip(layers, biases, strict=True))
    width = 0 if direct_kernel is None else dims * model.likelihood.params_per_value
    positions = tf.range(dims)[None, :]
    _, samples, _, _ = tf.while_loop(
        lambda p, *state: p < dims, step,
        (tf.constant(0), tf.zeros([n, dims], dtype), pre, tf.zeros([n, width], dtype)))
    return samples


def sample_from_noise(model, noise, components, mask_indices, fast: bool, groups):
    """Ancestral samples decided by given noise: the deterministic part of sampling.

    ``sample_graph`` (``MADE.sample``) draws the noise and calls this function; an
    exported sampler (``tfae.export.made``) takes the noise as its input and runs the
    same function, so the same noise gives the same samples.

    Args:
        model: the ``tfae.MADE``.
        noise: float tensor of shape (n, D) in the model's compute dtype; column d
            decides x_d whatever the ordering: x_d = [u_d < p(x_d = 1 | x_<d)] for a
            Bernoulli likelihood (u uniform on [0, 1)), x_d = mu_d + sigma_d * eps_d
            for a Gaussian one (eps standard normal).
        components: int32 tensor of shape (n,), the mask each sample comes from;
            every value must be in ``mask_indices``.
        mask_indices: int32 tensor of shape (M,), or a list of Python ints, the masks
            to run (one sampling loop each; each sample keeps the draw of its own mask).
            A list unrolls the masks with static mask indices (what an export wants).
        fast: bool, the fast path.
        groups: ``degree_groups`` of the model (unused by the naive path).

    Returns:
        tensor of shape (n, D), in the dtype of ``noise``.
    """
    columns = tf.transpose(noise)  # (D, n): row d decides dimension d
    n, dtype = tf.shape(noise)[0], noise.dtype
    if isinstance(mask_indices, (list, tuple)):
        # Python ints: one loop per mask, unrolled, each layer's masked kernel a constant
        # of the traced graph (an exported file then holds it once, not kernel and mask).
        samples = tf.zeros([n, model.input_dim], dtype)
        for index in mask_indices:
            drawn = (_fast(model, columns, index, groups) if fast
                     else _naive(model, columns, index))
            samples = tf.where((components == index)[:, None], drawn, samples)
        return samples

    def add_mask(i, samples):
        drawn = (_fast(model, columns, mask_indices[i], groups) if fast
                 else _naive(model, columns, mask_indices[i]))
        return i + 1, tf.where((components == mask_indices[i])[:, None], drawn, samples)

    _, samples = tf.while_loop(lambda i, samples: i < tf.size(mask_indices), add_mask,
                               (tf.constant(0), tf.zeros([n, model.input_dim], dtype)))
    return samples


def sample_graph(model, n, seed, mask_indices, fast: bool, groups):
    """Draws ``n`` samples from the mixture over ``mask_indices``, each sample picking
    one mask uniformly; traced inside a ``tf.function`` (``MADE.sample``).

    The noise and the mask picks are drawn here, then ``sample_from_noise`` turns
    them into samples.

    Args:
        model: the ``tfae.MADE``.
        n: int or scalar tensor, the number of samples.
        seed: int64 tensor of shape (2,), the stateless seed.
        mask_indices: int32 tensor of shape (M,), the masks to sample from.
        fast: bool, the fast path.
        groups: ``degree_groups`` of the model (unused by the naive path).

    Returns:
        tensor of shape (n, D), in the model's compute dtype.
    """
    dtype = model.compute_dtype
    # Philox by name: the same draws on every device (XLA has its own). Drawn as
    # (D, n), the layout of the seeds' draws since the first version.
    if isinstance(model.likelihood, likelihoods.Bernoulli):
        noise = tf.random.stateless_uniform([model.input_dim, n], seed, dtype=dtype,
                                            alg="philox")
    else:
        noise = tf.random.stateless_normal([model.input_dim, n], seed, dtype=dtype,
                                           alg="philox")
    picks = tf.random.stateless_uniform([n], seed + 1, maxval=tf.size(mask_indices),
                                        dtype=tf.int32, alg="philox")
    components = tf.gather(mask_indices, picks)  # the mask each sample comes from
    return sample_from_noise(model, tf.transpose(noise), components, mask_indices, fast,
                             groups)
