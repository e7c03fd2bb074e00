"""tfae.export.made: MADE's conditionals, log_prob and sampler as LiteRT files.

Each part is converted with builtin LiteRT ops only (``litert_bytes``: a Flex op
would fail the conversion) and run with ``ai_edge_litert`` at batch sizes 1 and 37.
"""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfae import MADE
from tfae.export import made as export_made
from tfae.export.conversion import litert_bytes, litert_signature, run_litert
from tfae.models import made_sampling

#: Small MADEs: one mask, one hidden layer; three masks (random orderings), two hidden
#: layers and the direct connection; a Gaussian MADE with two masks, a given ordering.
CONFIGS = {
    "bernoulli": dict(input_dim=12, hidden_units=(16,)),
    "ensemble": dict(input_dim=12, hidden_units=(16, 16), num_masks=3, ordering="random",
                     direct_connection=True),
    "gaussian": dict(input_dim=12, hidden_units=(16,), num_masks=2, likelihood="gaussian",
                     ordering=[3, 0, 11, 5, 1, 2, 10, 4, 6, 9, 7, 8]),
}


def _made(name, factor=2.0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny layers: unconnected outputs
        model = MADE(seed=3, **CONFIGS[name])
    rng = np.random.default_rng(1)
    for variable in model.trainable_variables:  # fixed weights, far from uniform
        variable.assign(factor * rng.standard_normal(variable.shape).astype("float32")
                        / np.sqrt(max(variable.shape[0], 1)))
    return model


@pytest.fixture(scope="module")
def models():
    return {name: _made(name) for name in CONFIGS}


def _write(endpoint, model, tmp_path, quantize=None, representative=None):
    data = litert_bytes(endpoint, model, quantize, representative)
    assert b"Flex" not in data  # builtin ops only
    path = tmp_path / f"{endpoint.part}_{quantize}.tflite"
    path.write_bytes(data)
    return path


def _check_file(endpoint, path, tolerance, rng):
    """Runs the file at batch 1 and 37 and returns the outputs of the 37."""
    for n in (1, 37):
        inputs = endpoint.probe(n, rng)
        outputs = run_litert(path, endpoint.signature, inputs)
        assert all(value.shape[0] == n for value in outputs.values())
        assert endpoint.compare(inputs, outputs)[1] <= tolerance
    return inputs, outputs


@pytest.mark.parametrize("name", list(CONFIGS))
def test_conditionals_and_log_prob_files_match_the_model(models, name, tmp_path, rng):
    model = models[name]
    conditionals = export_made.endpoint(model, "conditionals")
    path = _write(conditionals, model, tmp_path)
    inputs, outputs = _check_file(conditionals, path, 1e-5, rng)
    params = model(inputs["x"]).numpy()
    np.testing.assert_allclose(outputs["params"], params, rtol=1e-5, atol=1e-5)
    mean = (1 / (1 + np.exp(-params)) if name != "gaussian"
            else params[:, :model.input_dim])
    np.testing.assert_allclose(outputs["mean"], mean, rtol=1e-5, atol=1e-5)
    assert litert_signature(path, "conditionals")[0] == [
        ("x", (-1, model.input_dim), "float32")]

    log_prob = export_made.endpoint(model, "log_prob")
    path = _write(log_prob, model, tmp_path)
    inputs, outputs = _check_file(log_prob, path, 1e-5, rng)
    expected = model.log_prob(inputs["x"]).numpy()  # the ensemble over every mask
    assert outputs["log_prob"].shape == (37,)
    np.testing.assert_allclose(outputs["log_prob"], expected, rtol=1e-5)
    if model.num_masks > 1:  # not the first mask's alone
        first = model.log_prob(inputs["x"], mask_index=0).numpy()
        assert np.abs(first - expected).max() > 1e-2


def _picks(model, inputs):
    if model.num_masks == 1:
        return np.zeros(len(inputs["u"]), int)
    return np.minimum(np.floor(inputs["u_mask"][:, 0] * model.num_masks),
                      model.num_masks - 1).astype(int)


@pytest.mark.parametrize("name", ["bernoulli", "ensemble"])
def test_the_sampler_file_draws_each_dimension_from_the_models_conditionals(
        models, name, tmp_path, rng):
    model = models[name]
    sampler = export_made.endpoint(model, "sampler")
    expected_inputs = ("u", "u_mask") if model.num_masks > 1 else ("u",)
    assert sampler.input_names() == expected_inputs
    assert sampler.noise == {name: "uniform" for name in expected_inputs}
    path = _write(sampler, model, tmp_path)
    assert litert_signature(path, "sample")[1] == [("x", (-1, 12), "float32")]
    inputs, outputs = _check_file(sampler, path, 1e-5, rng)
    if model.num_masks > 1:  # every mask chosen, and the last even at u_mask = 1
        inputs["u_mask"][:4, 0] = [0.1, 0.5, 0.9, 1.0]
        outputs = run_litert(path, "sample", inputs)
    x, u, picks = outputs["x"], inputs["u"], _picks(model, inputs)
    assert set(np.unique(x)) == {0.0, 1.0}
    assert set(picks) == set(range(model.num_masks))
    # x_d = [u_d < p(x_d = 1 | x_<d)] under each sample's mask, for every d.
    for k in range(model.num_masks):
        rows = picks == k
        p = tf.math.sigmoid(model(x[rows], mask_index=k)).numpy()
        close = np.abs(u[rows] - p) < 1e-6  # ties aside
        np.testing.assert_array_equal(np.where(close, 0, x[rows]),
                                      np.where(close, 0, u[rows] < p))
    # The Keras path gives the same samples from the same noise.
    keras_x = made_sampling.sample_from_noise(
        model, tf.constant(u), tf.constant(picks, tf.int32),
        tf.range(model.num_masks), True,
        made_sampling.degree_groups([v.numpy() for v in model.degrees], model.input_dim))
    np.testing.assert_array_equal(keras_x.numpy(), x)
    naive = made_sampling.sample_from_noise(
        model, tf.constant(u), tf.constant(picks, tf.int32), tf.range(model.num_masks),
        False, ())
    np.testing.assert_array_equal(naive.numpy(), x)


def test_the_gaussian_sampler_file_is_mu_plus_sigma_eps(models, tmp_path, rng):
    model = models["gaussian"]
    sampler = export_made.endpoint(model, "sampler")
    assert sampler.noise == {"eps": "normal", "u_mask": "uniform"}
    path = _write(sampler, model, tmp_path)
    inputs, outputs = _check_file(sampler, path, 1e-5, rng)
    x, eps, picks = outputs["x"], inputs["eps"], _picks(model, {"u": inputs["eps"], **inputs})
    for k in range(2):
        rows = picks == k
        normal = model.likelihood.distribution(model(x[rows], mask_index=k)).distribution
        expected = normal.loc.numpy() + normal.scale.numpy() * eps[rows]
        np.testing.assert_allclose(x[rows], expected, rtol=1e-5, atol=1e-5)
    keras_x = made_sampling.sample_from_noise(
        model, tf.constant(eps), tf.constant(picks, tf.int32), tf.range(2), True,
        made_sampling.degree_groups([v.numpy() for v in model.degrees], model.input_dim))
    np.testing.assert_allclose(keras_x.numpy(), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, part", [("ensemble", "sampler"), ("gaussian", "log_prob"),
                                        ("gaussian", "sampler")])
def test_float16_files_are_within_1e_3_and_dynamic_int8_files_run(name, part, tmp_path,
                                                                     rng):
    model = _made(name, factor=1.0)
    endpoint = export_made.endpoint(model, part)
    _check_file(endpoint, _write(endpoint, model, tmp_path, "float16"), 1e-3, rng)
    inputs, outputs = _check_file(endpoint, _write(endpoint, model, tmp_path,
                                                   "dynamic_int8"), np.inf, rng)
    assert all(np.isfinite(value).all() for value in outputs.values())


def test_full_int8_conditionals_convert_and_run(models, tmp_path, rng):
    model = models["ensemble"]
    endpoint = export_made.endpoint(model, "conditionals")
    export_made.check_quantize(model, "conditionals", "int8")  # allowed
    path = _write(endpoint, model, tmp_path, "int8", endpoint.probe(32, rng))
    inputs, outputs = _check_file(endpoint, path, np.inf, rng)
    assert np.isfinite(endpoint.compare(inputs, outputs)[1])


def test_full_int8_is_refused_where_it_cannot_work(models):
    with pytest.raises(ValueError, match="int8.*sampler"):
        export_made.check_quantize(models["bernoulli"], "sampler", "int8")
    with pytest.raises(ValueError, match="int8.*Gaussian.*log_prob"):
        export_made.check_quantize(models["gaussian"], "log_prob", "int8")
    for quantize in (None, "float16", "dynamic_int8"):
        export_made.check_quantize(models["gaussian"], "sampler", quantize)
    export_made.check_quantize(models["bernoulli"], "log_prob", "int8")


def test_endpoint_refuses_other_parts_and_is_made_tells_a_made(models):
    with pytest.raises(ValueError, match="part must be one of"):
        export_made.endpoint(models["bernoulli"], "decoder")
    assert export_made.is_made(models["bernoulli"])
    assert not export_made.is_made(object())
    assert export_made.PARTS == ("conditionals", "log_prob", "sampler")


def test_made_sample_gives_the_samples_it_gave_before_the_refactor():
    # Written down from MADE.sample before sample_from_noise existed (graph mode).
    model = _sharpened(MADE, 10, (16, 16), num_masks=3, ordering="random",
                       direct_connection=True, seed=2)
    codes = 2 ** np.arange(10)
    for fast in (True, False):
        samples = model.sample(8, seed=5, fast=fast, jit_compile=False).numpy()
        assert (samples @ codes).astype(int).tolist() == [53, 44, 680, 556, 164, 53, 173, 700]
    samples = model.sample(8, seed=5, mask_index=1, jit_compile=False).numpy()
    assert (samples @ codes).astype(int).tolist() == [53, 44, 288, 45, 132, 53, 173, 236]
    gaussian = _sharpened(MADE, 6, (12,), num_masks=2, likelihood="gaussian", seed=3,
                          weights_seed=2)
    np.testing.assert_allclose(gaussian.sample(3, seed=7, jit_compile=False).numpy(), [
        [0.6258, -2.0946, -1.2378, 1.1077, 4.1490, 6.9609],
        [0.7886, -3.0077, -1.3617, 2.2367, 3.5120, 9.7080],
        [0.0035, -2.1570, -0.8035, 1.4920, 2.0872, 9.4559]], atol=2e-4)


def _sharpened(cls, *args, weights_seed=1, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = cls(*args, **kwargs)
    rng = np.random.default_rng(weights_seed)
    for variable in model.trainable_variables:
        variable.assign(3.0 * rng.standard_normal(variable.shape).astype("float32")
                        / np.sqrt(max(variable.shape[0], 1)))
    return model
