"""InverseAutoregressiveFlow: triangular steps, an exact log-determinant, a density that
integrates to one and matches samples, broadcasting, gradients, saving and refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfae import masks
from tfae.flows import InverseAutoregressiveFlow


def make_flow(steps=3, hidden_units=(8, 8), dim=5, context_dim=3, scale=0.7, seed=0,
              dtype="float64", **kwargs):
    """A built flow whose trainable weights are all random normal (the output kernels
    start at zero, which would hide most structure)."""
    flow = InverseAutoregressiveFlow(steps, hidden_units, dtype=dtype, **kwargs)
    flow.build((None, dim), (None, context_dim))
    rng = np.random.default_rng(seed)
    for weight in flow.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape))
    return flow


def normal_inputs(*shape, seed=1, dtype="float64"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def masked_layers(flow):
    return [*flow.input_layers, *flow.hidden_layers, *flow.output_layers]


def test_each_step_is_triangular_in_its_ordering_with_diagonal_sigma():
    flow = make_flow(steps=3, hidden_units=(8, 8), dim=5)
    orderings = flow.step_orderings()
    assert [order.tolist() for order in orderings] == [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0],
                                                       [0, 1, 2, 3, 4]]
    z, h = tf.constant(normal_inputs(6, 5)), tf.constant(normal_inputs(6, 3, seed=2))
    for t, order in enumerate(orderings):
        with tf.GradientTape() as tape:
            tape.watch(z)
            z_t, log_det = flow.step(t, z, h)
        jacobian = tape.batch_jacobian(z_t, z).numpy()  # [b, i, j] = dz_t[i] / dz[j]
        _, s = flow.step_parameters(t, z, h)
        degrees = masks.input_degrees(5, order)
        later = degrees[None, :] > degrees[:, None]  # j after i in the ordering
        earlier = degrees[None, :] < degrees[:, None]
        assert (jacobian[:, later] == 0).all(), t
        assert (jacobian[:, earlier] != 0).all(), t  # every earlier dimension is seen
        sigma = tf.sigmoid(s).numpy()
        np.testing.assert_allclose(np.diagonal(jacobian, axis1=1, axis2=2), sigma, rtol=1e-12)
        np.testing.assert_allclose(log_det, np.log(sigma).sum(-1), rtol=1e-12)


def test_log_det_is_the_log_determinant_of_the_whole_jacobian():
    flow = make_flow(steps=3, hidden_units=(8,), dim=4)
    z0, h = tf.constant(normal_inputs(7, 4)), tf.constant(normal_inputs(7, 3, seed=2))
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z, log_det = flow(z0, h)
    jacobian = tape.batch_jacobian(z, z0)
    assert not np.allclose(np.triu(jacobian.numpy(), 1), 0)  # the steps mix orderings
    assert not np.allclose(np.tril(jacobian.numpy(), -1), 0)
    sign, log_abs_det = tf.linalg.slogdet(jacobian)
    np.testing.assert_array_equal(sign, 1.0)
    np.testing.assert_allclose(log_det, log_abs_det, rtol=0, atol=1e-10)
    assert log_det.dtype == tf.float64 and z.dtype == tf.float64


def invert(flow, y, h):
    """z_0 with flow(z_0, h)[0] == y: each step is inverted by D fixed-point passes,
    z <- (y - (1 - sigma(z)) m(z)) / sigma(z), each pass making one more dimension of
    the ordering exact (m_i and s_i only read the dimensions before i)."""
    for t in reversed(range(flow.steps)):
        z = y
        for _ in range(flow.event_dim):
            m, s = flow.step_parameters(t, z, h)
            z = (y - tf.sigmoid(-s) * m) / tf.sigmoid(s)
        y = z
    return y


def test_change_of_variables_gives_the_density_of_the_samples():
    """Independent of autodiff: on a 2-D grid of points y, the flow is inverted
    numerically (z_0 = f^{-1}(y)) and log q(y) = log N(z_0; loc, scale^2) - log_det(z_0).
    That density must integrate to 1 over the grid (a wrong log_det changes the
    volume: with log_det off by c the total is e^{-c}), and the probability it gives
    to boxes must match the share of z_T = f(z_0), z_0 ~ N(loc, scale^2), falling in them
    (a density of some other map would not). Weights of scale 0.4 keep every grid
    point's preimage finite (larger ones send far corners to z_0 beyond float64)."""
    flow = make_flow(steps=2, hidden_units=(8,), dim=2, context_dim=3, scale=0.4)
    loc, scale = np.array([0.3, -0.2]), np.array([0.9, 0.6])
    h = normal_inputs(1, 3, seed=2)
    edges = np.linspace(-5.0, 5.0, 401)
    centers = (edges[:-1] + edges[1:]) / 2
    y = np.stack(np.meshgrid(centers, centers, indexing="ij"), -1).reshape(-1, 2)
    z0 = invert(flow, tf.constant(y), h)
    z_back, log_det = flow(z0, h)
    np.testing.assert_allclose(z_back, y, atol=1e-10)  # the inverse is exact
    log_q = stats.norm(loc, scale).logpdf(z0.numpy()).sum(-1) - log_det.numpy()
    density = np.exp(log_q).reshape(400, 400) * (edges[1] - edges[0]) ** 2
    np.testing.assert_allclose(density.sum(), 1.0, atol=1e-6)

    draws = np.random.default_rng(3).normal(loc, scale, size=(100_000, 2))
    samples = flow(draws, h)[0].numpy()
    for low, high in (((-5, -5), (0, 0)), ((0, -5), (5, 0)), ((-0.5, -0.5), (0.5, 0.5))):
        rows = (centers >= low[0]) & (centers < high[0])
        cols = (centers >= low[1]) & (centers < high[1])
        inside = ((samples >= low) & (samples < high)).all(-1).mean()
        np.testing.assert_allclose(density[np.ix_(rows, cols)].sum(), inside, atol=0.005)


def test_context_broadcasts_and_gradients_reach_every_weight_but_masked_ones():
    flow = make_flow(steps=2, hidden_units=(8, 8), dim=4, dtype="float32")
    z0 = tf.constant(normal_inputs(3, 5, 4, dtype="float32"))  # (samples, batch, D)
    h = tf.Variable(normal_inputs(5, 3, seed=2, dtype="float32"))  # (batch, C)
    with tf.GradientTape() as tape:
        z, log_det = flow(z0, h)
        loss = tf.reduce_sum(z ** 2) - tf.reduce_sum(log_det)
    assert z.shape == (3, 5, 4) and log_det.shape == (3, 5)
    tiled = flow(z0, tf.tile(h[None], (3, 1, 1)))
    for got, expected in zip((z, log_det), tiled, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    one_row = flow(z0[1], h)  # z (batch, D), context (batch, C)
    np.testing.assert_allclose(one_row[0], z[1], rtol=1e-6, atol=1e-6)

    kernels = [layer.kernel for layer in masked_layers(flow)]
    sources = [h, *flow.trainable_weights]
    grads = tape.gradient(loss, [*sources, *kernels])
    for variable, grad in zip(sources, grads[:len(sources)], strict=True):
        assert grad is not None and np.any(grad.numpy() != 0), variable.path
    for layer, grad in zip(masked_layers(flow), grads[-len(kernels):], strict=True):
        mask = layer.masks[0].numpy().astype(bool)
        assert not mask.all() and (grad.numpy()[~mask] == 0).all(), layer.name


def test_config_and_keras_file_round_trip(tmp_path):
    flow = InverseAutoregressiveFlow(2, hidden_units=[6, 5], activation="tanh",
                                     forget_bias=0.5, dtype="float64", name="iaf")
    config = flow.get_config()
    clone = InverseAutoregressiveFlow.from_config(config)
    assert clone.get_config() == config
    assert (clone.steps, clone.hidden_units, clone.forget_bias) == (2, (6, 5), 0.5)
    assert keras.saving.get_registered_name(type(flow)) == "tfae>InverseAutoregressiveFlow"

    z_in, h_in = keras.Input((4,), dtype="float64"), keras.Input((3,), dtype="float64")
    model = keras.Model([z_in, h_in], flow(z_in, h_in))
    rng = np.random.default_rng(0)
    for weight in flow.trainable_weights:
        weight.assign(rng.normal(size=weight.shape))
    z0, h = normal_inputs(6, 4), normal_inputs(6, 3, seed=2)
    path = tmp_path / "flow.keras"
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    for got, expected in zip(loaded.predict([z0, h], verbose=0), model.predict([z0, h], verbose=0),
                             strict=True):
        np.testing.assert_array_equal(got, expected)
    reloaded = loaded.get_layer("iaf")
    assert [o.tolist() for o in reloaded.step_orderings()] == [[0, 1, 2, 3], [3, 2, 1, 0]]

    rebuilt = InverseAutoregressiveFlow.from_config(config)  # build config, as Keras loads
    rebuilt.build_from_config(flow.get_build_config())
    rebuilt.set_weights(flow.get_weights())
    np.testing.assert_array_equal(rebuilt(z0, h)[1], flow(z0, h)[1])


@pytest.mark.parametrize("kwargs, error, words", [
    ({"steps": 0}, ValueError, "steps"),
    ({"steps": 1.5}, TypeError, "steps"),
    ({"steps": 1, "hidden_units": ()}, ValueError, "hidden_units"),
    ({"steps": 1, "hidden_units": "8"}, TypeError, "hidden_units"),
    ({"steps": 1, "hidden_units": (8, 0)}, ValueError, "hidden_units"),
    ({"steps": 1, "activation": "nope"}, ValueError, "activation"),
    ({"steps": 1, "forget_bias": "1"}, TypeError, "forget_bias"),
    ({"steps": 1, "forget_bias": float("nan")}, ValueError, "forget_bias"),
])
def test_refuses_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        InverseAutoregressiveFlow(**kwargs)


def test_refuses_bad_shapes_and_a_missing_context():
    z, h = normal_inputs(4, 3, dtype="float32"), normal_inputs(4, 2, dtype="float32")
    with pytest.raises(ValueError, match="one-dimensional z"):
        InverseAutoregressiveFlow(1, (4,))(z[:, :1], h)
    with pytest.raises(ValueError, match=r"needs the context h \(argument context\)"):
        InverseAutoregressiveFlow(1, (4,))(z, None)
    flow = InverseAutoregressiveFlow(1, (4,))
    with pytest.raises(ValueError, match="not built"):
        flow.step_orderings()
    with pytest.raises(TypeError, match="context"):
        flow(z)
    flow(z, h)
    with pytest.raises(ValueError, match=r"\(argument context\), got context=None"):
        flow(z, None)
    with pytest.raises(ValueError, match="context must have a batch axis"):
        flow(z, h[0])
    with pytest.raises(ValueError, match="context must have .* no more axes than z"):
        flow(z, h[None])
    with pytest.raises(ValueError, match=r"context's leading axes \(3,\) do not broadcast"):
        flow(z, h[:3])  # 3 rows for 4 examples
    with pytest.raises(ValueError, match=r"built for z of width 3, got shape \(4, 2\)"):
        flow(z[:, :2], h)
    with pytest.raises(ValueError, match=r"step must be in \[0, 1\)"):
        flow.step(1, z, h)
