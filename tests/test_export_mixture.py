"""The Gaussian mixture's exportable parts (tfae.export.mixture): LiteRT files of log p(x)
and of the sampler, checked against the fitted mixture."""

import numpy as np
import pytest

import tfae
from tfae.choices import COVARIANCE_TYPES
from tfae.export import mixture
from tfae.export.conversion import litert_bytes, litert_signature, run_litert
from tfae.mixture import sampling
from tfae.mixture.parameters import scale_tril

TOLERANCE = {None: 1e-5, "float16": 1e-3}


def _blobs(seed=0, offset=0.0):
    """200 points in d = 4: three blobs, one of them stretched (a correlated pair)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0, 0, 0], [4, 0, 1, 0], [0, 3, -2, 1]])
    x = centres[rng.integers(0, 3, 200)] + rng.normal(size=(200, 4))
    x[:, 1] += 0.8 * x[:, 0]
    return x + offset


@pytest.fixture(scope="module")
def mixtures():
    """One fitted 3-component float64 mixture per covariance type."""
    x = _blobs()
    return {covariance_type: tfae.GaussianMixture(3, covariance_type=covariance_type,
                                                  random_state=0).fit(x)
            for covariance_type in COVARIANCE_TYPES}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Converts each (mixture, part, quantize) once: a cache of written .tflite paths."""
    folder, cache = tmp_path_factory.mktemp("mixture_files"), {}

    def write(model, part, quantize=None, representative=None):
        key = (id(model), part, quantize)
        if key not in cache:
            path = folder / f"{len(cache)}.tflite"
            path.write_bytes(litert_bytes(mixture.endpoint(model, part), None, quantize,
                                          representative))
            cache[key] = path
        return cache[key]

    return write


def _run(endpoint, path, inputs):
    return run_litert(path, endpoint.signature, inputs)


def _old_sample(model, n, rng):
    """GaussianMixture.sample before from_noise: rng.choice with p, then the normals."""
    k, d = model.means_.shape
    weights = model.weights_.astype(np.float64)
    z = rng.choice(k, size=n, p=weights / weights.sum())
    noise = rng.standard_normal((n, d))
    scale = scale_tril(model.covariances_, model.covariance_type, k, d)
    x = np.empty_like(noise)
    for component in np.unique(z):
        x[z == component] = model.means_[component] + noise[z == component] @ scale[component].T
    return x.astype(model.means_.dtype), z.astype(np.int64)


@pytest.mark.parametrize("part", mixture.PARTS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_files_match_the_mixture_at_batch_1_and_37(mixtures, files, covariance_type, part):
    model = mixtures[covariance_type]
    endpoint = mixture.endpoint(model, part)
    rng = np.random.default_rng(1)
    for quantize in (None, "float16"):
        path = files(model, part, quantize)
        inputs, outputs = litert_signature(path, endpoint.signature)
        assert {(name, shape[0], dtype) for name, shape, dtype in inputs + outputs} == {
            (name, -1, "float32") for name in [*endpoint.input_names(), *(
                ("log_prob",) if part == "log_prob" else ("x", "z"))]}
        for n in (1, 37):
            probe = endpoint.probe(n, rng)
            result = _run(endpoint, path, probe)
            assert all(len(value) == n for value in result.values())
            _, max_error = endpoint.compare(probe, result)
            assert max_error <= TOLERANCE[quantize], (quantize, n, max_error)
            if part == "sampler" and quantize is None:  # the model's own from-noise draws
                x, z = sampling.from_noise(model.weights_, model.means_, model.covariances_,
                                           covariance_type, probe["u"][:, 0], probe["eps"])
                np.testing.assert_array_equal(result["z"], z)
                np.testing.assert_allclose(result["x"], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_the_sampler_file_fed_a_seeds_noise_gives_sample_of_that_seed(mixtures, files,
                                                                      covariance_type):
    model = mixtures[covariance_type]
    endpoint = mixture.endpoint(model, "sampler")
    rng = np.random.RandomState(5)  # what sample(seed=5) draws: the uniforms, then normals
    noise = {"u": rng.random(300)[:, None].astype(np.float32),
             "eps": rng.standard_normal((300, 4)).astype(np.float32)}
    x, z = model.sample(300, seed=5)
    result = _run(endpoint, files(model, "sampler"), noise)
    np.testing.assert_array_equal(result["z"], z)  # u rounded to float32 moves no boundary here
    np.testing.assert_allclose(result["x"], x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_the_sampler_files_draws_have_the_mixtures_moments(mixtures, files, covariance_type):
    model = mixtures[covariance_type]
    endpoint = mixture.endpoint(model, "sampler")
    n = 20000
    draws = _run(endpoint, files(model, "sampler"), endpoint.probe(n, np.random.default_rng(7)))
    x, z = draws["x"].astype(np.float64), draws["z"]
    k, d = model.means_.shape
    scale = scale_tril(model.covariances_, covariance_type, k, d)
    mean = model.weights_ @ model.means_
    second = np.einsum("k,kde->de", model.weights_,
                       scale @ np.swapaxes(scale, 1, 2)
                       + model.means_[:, :, None] * model.means_[:, None, :])
    covariance = second - np.outer(mean, mean)
    # Each estimate is a mean of n i.i.d. terms: its standard error is the terms' standard
    # deviation / sqrt(n), estimated from the draws themselves. 5 standard errors: a
    # false alarm has probability ~6e-7 per entry (the seed is fixed anyway), while a
    # wrong factor (A^T for A, a variance for a standard deviation) or a wrong weight
    # is off by many.
    centred = x - x.mean(axis=0)
    products = centred[:, :, None] * centred[:, None, :]
    assert np.all(np.abs(x.mean(axis=0) - mean) <= 5 * x.std(axis=0) / np.sqrt(n))
    assert np.all(np.abs(products.mean(axis=0) - covariance)
                  <= 5 * products.std(axis=0) / np.sqrt(n))
    frequencies = np.bincount(z.astype(np.int64), minlength=k) / n
    weights = model.weights_
    assert np.all(np.abs(frequencies - weights) <= 5 * np.sqrt(weights * (1 - weights) / n))


@pytest.mark.parametrize("random_state", [None, 3, "generator"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_draws_what_it_drew_before_from_noise(mixtures, covariance_type, random_state):
    model = mixtures[covariance_type]
    for seed in (0, 11):
        np.testing.assert_array_equal(model.sample(40, seed=seed)[0],
                                      _old_sample(model, 40, np.random.RandomState(seed))[0])
        np.testing.assert_array_equal(model.sample(40, seed=seed)[1],
                                      _old_sample(model, 40, np.random.RandomState(seed))[1])
    original, global_state = model.random_state, np.random.get_state()
    try:  # the stream of random_state: a Generator, an int, NumPy's global generator
        if random_state == "generator":
            model.random_state = np.random.default_rng(9)
            expected = _old_sample(model, 25, np.random.default_rng(9))
        elif random_state is None:
            model.random_state = None
            np.random.seed(4)
            expected = _old_sample(model, 25, np.random)
            np.random.seed(4)
        else:
            model.random_state = random_state
            expected = _old_sample(model, 25, np.random.RandomState(random_state))
        x, z = model.sample(25)
    finally:
        model.random_state = original
        np.random.set_state(global_state)
    np.testing.assert_array_equal(x, expected[0])
    np.testing.assert_array_equal(z, expected[1])
    assert x.dtype == expected[0].dtype and z.dtype == np.int64


def test_a_float32_mixture_and_far_away_data_export_within_float32_tolerance(files):
    """A float32 mixture's log p(x), and a float64 mixture of data around 1e4: the means
    are stored as float32 pairs, so x - mu_k keeps its digits (a single float32 mean is
    off by up to 5e-4 there, an error of ~1e-4 in log p)."""
    for model in (tfae.GaussianMixture(3, dtype="float32", random_state=0).fit(_blobs()),
                  tfae.GaussianMixture(3, covariance_type="diag", random_state=0)
                  .fit(_blobs(offset=1e4))):
        endpoint = mixture.endpoint(model, "log_prob")
        probe = endpoint.probe(37, np.random.default_rng(2))
        result = _run(endpoint, files(model, "log_prob"), probe)
        assert endpoint.compare(probe, result)[1] <= 1e-5, model.dtype


def test_dynamic_int8_leaves_a_small_mixture_as_float32_and_int8_converts_and_runs(
        mixtures, files):
    """Dynamic-range quantization only quantizes constant matrices of 1024 or more entries
    feeding matmuls; a 3 x 4 x 4 mixture has none, so its file computes what the float32
    file does. Full-integer int8 converts and runs, with a reported, larger error."""
    model = mixtures["full"]
    for part in mixture.PARTS:
        endpoint = mixture.endpoint(model, part)
        probe = endpoint.probe(37, np.random.default_rng(3))
        plain = _run(endpoint, files(model, part), probe)
        dynamic = _run(endpoint, files(model, part, "dynamic_int8"), probe)
        for name in plain:
            np.testing.assert_array_equal(dynamic[name], plain[name])
        representative = endpoint.probe(64, np.random.default_rng(4))
        path = files(model, part, "int8", representative)
        for n in (1, 37):
            probe = endpoint.probe(n, np.random.default_rng(n))
            _, max_error = endpoint.compare(probe, _run(endpoint, path, probe))
            assert np.isfinite(max_error) and max_error < 1.0, (part, max_error)


def test_the_samplers_errors_measure_a_flipped_component_by_u_s_distance(mixtures):
    model = mixtures["tied"]
    endpoint = mixture.endpoint(model, "sampler")
    boundary = sampling.cumulative_weights(model.weights_)[0]
    u = np.array([[boundary - 1e-6], [0.99]], np.float32)
    inputs = {"u": u, "eps": np.zeros((2, 4), np.float32)}
    outputs = endpoint.reference(inputs)
    outputs["z"] = outputs["z"] + np.array([1.0, 0.0], np.float32)  # the first one flipped
    outputs["x"][0] = model.means_[1]  # ... and drawn from the component it chose
    error = endpoint.errors(inputs, outputs)
    assert error["z"][0] == pytest.approx(abs(float(u[0, 0]) - boundary))
    assert error["z"][1] == 0 and np.max(error["x"]) < 1e-12
    outputs["z"] = outputs["z"] + np.array([0.0, -0.25], np.float32)  # not a component
    assert endpoint.errors(inputs, outputs)["z"][1] == pytest.approx(0.25)
    assert endpoint.compare(inputs, outputs)[1] == pytest.approx(0.25)


def test_an_unfitted_mixture_or_an_unknown_part_is_refused(mixtures):
    unfitted = tfae.GaussianMixture(2)
    assert mixture.is_mixture(unfitted) and not mixture.is_mixture(object())
    for part in mixture.PARTS:
        with pytest.raises(ValueError, match=r"not fitted.*call fit\(x\)"):
            mixture.endpoint(unfitted, part)
    with pytest.raises(ValueError, match=r"part must be one of \('log_prob', 'sampler'\)"):
        mixture.endpoint(mixtures["full"], "decoder")


def test_from_noise_refuses_noise_outside_its_range(mixtures):
    model = mixtures["diag"]
    args = (model.weights_, model.means_, model.covariances_, "diag")
    with pytest.raises(ValueError, match=r"u must lie in \[0, 1\)"):
        sampling.from_noise(*args, np.array([0.5, 1.0]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"eps must have shape \(n, d\)"):
        sampling.from_noise(*args, np.array([0.5]), np.zeros((1, 3)))


def test_boundary_gap_is_the_largest_distance_to_a_boundary_between_two_picks():
    weights = np.array([0.2, 0.3, 0.1, 0.4])  # boundaries 0.2, 0.5, 0.6
    u = np.array([0.21, 0.21, 0.55, 0.7, 0.3])
    chosen = np.array([1, 0, 0, 1, 1])
    expected = sampling.components(weights, u)
    np.testing.assert_array_equal(expected, [1, 1, 2, 3, 1])
    # Same pick: 0; 0 for 1: |0.21 - 0.2|; 0 for 2: max(|0.55 - 0.2|, |0.55 - 0.5|);
    # 1 for 3: max over 0.5 and 0.6.
    np.testing.assert_allclose(sampling.boundary_gap(weights, u, chosen, expected),
                               [0.0, 0.01, 0.35, 0.2, 0.0], atol=1e-12)
    # Broadcast: every candidate against each u's pick.
    gaps = sampling.boundary_gap(weights, u[:, None], np.arange(4)[None, :], expected[:, None])
    assert gaps.shape == (5, 4)
    np.testing.assert_array_equal(gaps[np.arange(5), expected], 0.0)


def test_component_of_in_the_graph_picks_as_numpy_does_at_the_float64_boundaries():
    import tensorflow as tf

    from tfae.export.endpoint import component_of

    weights = np.array([1.0, 1e-4, 3.0, 2.0, 1e-3])
    cdf = sampling.cumulative_weights(weights)
    rng = np.random.default_rng(0)
    # Uniforms, plus values just either side of each boundary (closer than float16 holds).
    u = np.concatenate([rng.random(2000), cdf[:-1] - 1e-6, cdf[:-1] + 1e-6])
    got = component_of(tf.constant(u[:, None], tf.float32), cdf).numpy()
    u32 = u.astype(np.float32).astype(np.float64)  # what the file is fed
    np.testing.assert_array_equal(got, sampling.components(weights, u32))
