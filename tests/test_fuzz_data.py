"""Fuzzing the data, metric, estimator, prior and export entry points with hypothesis.

The contract and the settings profile are those of ``test_fuzz.py`` (see its
docstring; ``TFAE_FUZZ_EXAMPLES`` and ``TFAE_FUZZ_ALL_BUGS`` apply here too).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from hypothesis import assume, given
from hypothesis import strategies as st
from test_fuzz import (
    ARRAY_FAULTS,
    NEGATIVE,
    NON_FINITE,
    NOT_A_BOOL,
    NOT_A_NUMBER,
    NOT_AN_INT,
    assert_finite,
    assert_refused,
    bad_arrays,
    finite_numbers,
    fuzz,
    good_arrays,
)

from tfae import corruption, datasets, estimators, export, metrics, priors

tfd = tfp.distributions


# ----------------------------------------------------------------------------- arrays


def _in_unit_interval(x) -> bool:
    return finite_numbers(x) and x.size > 0 and 0 <= x.min() and x.max() <= 1


def _batch_of_values(x) -> bool:
    """True for a non-empty batch of examples that hold values."""
    return isinstance(x, np.ndarray) and x.ndim >= 1 and len(x) > 0 and x.size > 0


GOOD = np.full((3, 4), 0.5, np.float32)

#: entry -> (call(x), the argument's name, the faults that apply, which x are valid)
ARRAY_ENTRIES = {
    "DynamicBinarization.x": (
        lambda x: datasets.DynamicBinarization(x), "x", ARRAY_FAULTS,
        lambda x: _in_unit_interval(x) and x.ndim >= 2 and _batch_of_values(x)),
    "pixel_mean_nll.x_train": (lambda x: metrics.pixel_mean_nll(x, GOOD), "x_train",
                               ARRAY_FAULTS, lambda x: False),
    "pixel_mean_nll.x_test": (lambda x: metrics.pixel_mean_nll(GOOD, x), "x_test",
                              ARRAY_FAULTS, lambda x: False),
    "nearest_neighbours.queries": (lambda x: metrics.nearest_neighbours(x, GOOD), "queries",
                                   ARRAY_FAULTS[:-1], lambda x: False),
    "nearest_neighbours.data": (lambda x: metrics.nearest_neighbours(GOOD, x), "data",
                                ARRAY_FAULTS[:-1], lambda x: False),
    "parzen_log_likelihood.samples": (
        lambda x: metrics.parzen_log_likelihood(x, GOOD, sigma=0.5), "samples",
        ARRAY_FAULTS[:-1], lambda x: False),
    "parzen_log_likelihood.test_data": (
        lambda x: metrics.parzen_log_likelihood(GOOD, x, sigma=0.5), "test_data",
        ARRAY_FAULTS[:-1], lambda x: False),
    "parzen_log_likelihood.valid_data": (
        lambda x: metrics.parzen_log_likelihood(GOOD, GOOD, valid_data=x), "valid_data",
        ARRAY_FAULTS[:-1], lambda x: False),
    "estimate_from_log_weights.log_weights": (
        lambda x: estimators.estimate_from_log_weights(x), "log_weights",
        ("nonfinite", "dtype"),  # -inf is a weight of 0
        lambda x: isinstance(x, np.ndarray) and x.dtype.kind == "f"
        and not (np.isnan(x).any() or np.isposinf(x).any())),
    "gaussian_noise.x": (lambda x: corruption.gaussian_noise(x, 0.1, 0), "x",
                         ("nonfinite", "dtype"), lambda x: False),
    "masking_noise.x": (lambda x: corruption.masking_noise(x, 0.1, 0), "x",
                        ("nonfinite", "dtype"), lambda x: False),
    "salt_and_pepper.x": (lambda x: corruption.salt_and_pepper(x, 0.1, 0), "x",
                          ("nonfinite", "dtype", "range"), lambda x: False),
    "MaskingNoise.check_data.x": (lambda x: corruption.MaskingNoise(0.1).check_data(x), "x",
                                  ("nonfinite", "dtype"), lambda x: False),
}


@pytest.mark.parametrize(("entry", "kind"), [
    pytest.param(entry, kind, id=f"{entry}-{kind}")
    for entry, (_, _, faults, _) in ARRAY_ENTRIES.items() for kind in faults])
@fuzz(3)
@given(data=st.data())
def test_array_arguments_refuse_every_fault(entry, kind, data):
    call, name, _, valid = ARRAY_ENTRIES[entry]
    x = data.draw(bad_arrays((4,), kind=kind))
    assume(not valid(x))
    # GOOD sets the example shape; a bad x_train/samples/data makes the other one mismatch.
    others = {"x_train": ["x_test"], "data": ["queries"], "samples": ["test_data"]}
    assert_refused(lambda: call(x), name, *others.get(name, []))


# ----------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("argument", ["name", "split", "binarize", "threshold", "seed", "flatten",
                                      "with_labels", "download", "data_dir"])
@fuzz(6)
@given(data=st.data())
def test_load_refuses_bad_arguments(argument, data):
    bad = {
        "name": st.sampled_from([None, 3, "no_such_dataset", "missing.npz", ["digits"]]),
        "split": st.sampled_from(["training", None, 0, "TRAIN"]),
        "binarize": st.sampled_from(["yes", True, 0.5, "Threshold"]),
        "threshold": st.one_of(NOT_A_NUMBER, NON_FINITE, st.sampled_from([0, 1, -0.5, 1.5])),
        "seed": st.one_of(NOT_AN_INT, NEGATIVE),
        "flatten": NOT_A_BOOL,
        "with_labels": NOT_A_BOOL,
        "download": NOT_A_BOOL,
        "data_dir": st.sampled_from([3, ["a"], 1.5]),
    }[argument]
    kwargs = {"name": "digits", argument: data.draw(bad)}
    assert_refused(lambda: datasets.load(**kwargs), argument)


@pytest.mark.parametrize("argument", ["x", "batch_size", "shuffle", "seed"])
@fuzz(6)
@given(data=st.data())
def test_dynamic_binarization_refuses_bad_arguments(argument, data):
    bad = {
        "x": bad_arrays((4,)),
        "batch_size": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "shuffle": NOT_A_BOOL,
        "seed": st.one_of(NOT_AN_INT, NEGATIVE),
    }[argument]
    if argument == "x":  # any example shape is fine, if the examples hold values
        bad = bad.filter(lambda x: not (finite_numbers(x) and x.ndim >= 2 and x.size
                                        and 0 <= x.min() and x.max() <= 1))
    kwargs = {"x": np.full((3, 4), 0.5, np.float32), argument: data.draw(bad)}
    assert_refused(lambda: datasets.DynamicBinarization(**kwargs), argument)


@fuzz(10)
@given(st.data())
def test_dynamic_binarization_of_valid_data_gives_binary_batches(data):
    x = data.draw(good_arrays((2, 2, 1), batch=(1, 5)))
    batches = datasets.DynamicBinarization(x, batch_size=data.draw(st.integers(1, 6)), seed=0)
    drawn = np.concatenate([batches[i] for i in range(len(batches))])
    assert drawn.shape == x.shape and np.isin(drawn, (0.0, 1.0)).all()


# ----------------------------------------------------------------------------- metrics


@fuzz(15)
@given(st.sampled_from(["bernoulli", "gaussian"]), st.data())
def test_pixel_mean_nll_of_valid_data_is_finite(likelihood, data):
    train = data.draw(good_arrays((2, 2, 1)))
    test = data.draw(good_arrays((2, 2, 1)))
    nll = metrics.pixel_mean_nll(train, test, likelihood)
    assert nll.shape == (len(test),)
    assert_finite(nll)


@pytest.mark.parametrize("argument", ["x_train", "x_test", "likelihood"])
@fuzz(6)
@given(data=st.data())
def test_pixel_mean_nll_refuses_bad_arguments(argument, data):
    arguments = {"x_train": np.full((3, 4), 0.5, np.float32),
                 "x_test": np.full((2, 4), 0.5, np.float32), "likelihood": "bernoulli"}
    if argument == "likelihood":
        arguments["likelihood"] = data.draw(st.sampled_from(["poisson", None, 3, ["bernoulli"]]))
    else:
        arguments[argument] = data.draw(bad_arrays((4,)))
    # x_train sets the example shape: another one makes x_test the mismatched argument.
    assert_refused(lambda: metrics.pixel_mean_nll(**arguments), argument,
                   *(["x_test"] if argument == "x_train" else []))


@pytest.mark.parametrize("argument", ["queries", "data", "batch_size"])
@fuzz(6)
@given(data=st.data())
def test_nearest_neighbours_refuse_bad_arguments(argument, data):
    arguments = {"queries": np.zeros((2, 4), np.float32), "data": np.ones((3, 4), np.float32),
                 "batch_size": 10}
    if argument == "batch_size":
        arguments["batch_size"] = data.draw(st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)))
    else:
        arguments[argument] = data.draw(bad_arrays((4,), check_range=False))
    assert_refused(lambda: metrics.nearest_neighbours(**arguments), argument,
                   *(["queries"] if argument == "data" else []))


@fuzz(10)
@given(st.data())
def test_nearest_neighbours_of_valid_data_are_exact(data):
    queries = data.draw(good_arrays((3,)))
    references = data.draw(good_arrays((3,)))
    indices, distances = metrics.nearest_neighbours(queries, references, batch_size=2)
    brute = ((queries[:, None].astype(float) - references[None].astype(float)) ** 2).sum(-1)
    np.testing.assert_allclose(distances, brute.min(axis=1), atol=1e-4)
    assert_finite(distances)


@pytest.mark.parametrize("argument", ["samples", "test_data", "sigma", "valid_data", "sigmas",
                                      "batch_size"])
@fuzz(6)
@given(data=st.data())
def test_parzen_refuses_bad_arguments(argument, data):
    arguments = {"samples": np.zeros((3, 4), np.float32),
                 "test_data": np.ones((2, 4), np.float32), "sigma": 0.5}
    if argument in ("samples", "test_data"):
        arguments[argument] = data.draw(bad_arrays((4,), check_range=False))
    elif argument == "sigma":
        arguments["sigma"] = data.draw(st.one_of(NOT_A_NUMBER, NON_FINITE,
                                                 st.sampled_from([0, -1.0])))
    elif argument == "batch_size":
        arguments["batch_size"] = data.draw(st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)))
    else:
        del arguments["sigma"]
        arguments["valid_data"] = np.ones((2, 4), np.float32)
        if argument == "valid_data":
            arguments["valid_data"] = data.draw(bad_arrays((4,), check_range=False))
        else:
            arguments["sigmas"] = data.draw(st.sampled_from(
                [[], [0.1, -1.0], [0.1, float("nan")], [float("inf")], ["a"], [[0.1]], "0.1",
                 3, [True, 0.5]]))
        if data.draw(st.booleans()):  # with sigma given, valid_data and sigmas are not used
            arguments.update(sigma=0.5, valid_data=np.ones((2, 4), np.float32))
            argument = "sigma"
    assert_refused(lambda: metrics.parzen_log_likelihood(**arguments), argument,
                   *(["test_data"] if argument == "samples" else []))


@fuzz(10)
@given(st.data())
def test_parzen_of_valid_data_is_finite(data):
    samples = data.draw(good_arrays((3,), batch=(2, 4)))
    test = data.draw(good_arrays((3,)))
    sigma = data.draw(st.one_of(st.none(), st.sampled_from([0.1, 1, np.float32(0.5)])))
    valid = data.draw(good_arrays((3,))) if sigma is None else None
    result = metrics.parzen_log_likelihood(samples, test, sigma=sigma, valid_data=valid)
    assert_finite(result.mean, result.per_example, result.sigma)


# ----------------------------------------------------------------------------- estimators


@pytest.fixture(scope="module")
def gaussian_model():
    """z ~ N(0, 1), x | z ~ N(z, 1), with its exact posterior N(x / 2, 1 / 2)."""
    return estimators.LatentVariableModel(
        lambda x: (x / 2, tf.fill(tf.shape(x), tf.cast(0.5 ** 0.5, x.dtype))),
        lambda x, z: tfd.Normal(z, tf.cast(1.0, z.dtype)).log_prob(x)[..., 0],
        tfd.MultivariateNormalDiag([0.0]))


@fuzz(4)
@given(st.sampled_from([estimators.importance_weighted_log_prob, estimators.elbo]), st.data())
def test_importance_estimates_of_valid_data_are_exact(gaussian_model, estimate, data):
    x = data.draw(good_arrays((1,), batch=(1, 3)))
    values = estimate(gaussian_model, x, num_samples=data.draw(st.integers(1, 3)), seed=0,
                      batch_size=data.draw(st.integers(1, 4)))
    exact = tfd.Normal(0.0, 2.0 ** 0.5).log_prob(x[:, 0].astype("float32")).numpy()
    np.testing.assert_allclose(values, exact, atol=2e-2 if x.dtype == np.float16 else 1e-4)


@fuzz(6)
@pytest.mark.parametrize("estimate", [estimators.importance_weighted_log_prob, estimators.elbo])
@pytest.mark.parametrize("argument", ["model", "x", "num_samples", "seed", "batch_size",
                                      "chunk_size"])
@given(data=st.data())
def test_importance_estimates_refuse_bad_arguments(gaussian_model, estimate, argument, data):
    arguments = {"model": gaussian_model, "x": np.zeros((2, 1), np.float32), "num_samples": 2,
                 "seed": 0, "batch_size": 10, "chunk_size": None}
    bad = {
        "model": st.sampled_from([None, "model", lambda x: x]),
        "x": bad_arrays((1,), check_range=False).filter(
            lambda x: not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size
                           and np.isfinite(x).all())),
        "num_samples": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
        "batch_size": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "chunk_size": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE,
                                st.just(0)),
    }[argument]
    arguments[argument] = data.draw(bad)
    if estimate is estimators.elbo and data.draw(st.booleans()) and argument == "x":
        arguments = dict(arguments, x=np.zeros((2, 1), np.float32), kl="analytic")
        argument = "kl"
    assert_refused(lambda: estimate(**arguments), argument)


@pytest.mark.parametrize("argument", ["loc", "scale", "prior", "num_samples", "seed"])
@fuzz(6)
@given(data=st.data())
def test_monte_carlo_kl_refuses_bad_arguments(argument, data):
    arguments = {"loc": np.zeros((2, 1), np.float32), "scale": np.ones((2, 1), np.float32),
                 "prior": tfd.MultivariateNormalDiag([0.0]), "num_samples": 3, "seed": 0}
    bad = {
        "loc": st.sampled_from([None, "0", np.zeros((2, 3), np.float32), np.zeros(2, np.float32),
                                np.full((2, 1), np.nan, np.float32), [[1j], [0]]]),
        "scale": st.sampled_from([None, np.zeros((2, 1), np.float32), -np.ones((2, 1)),
                                  np.full((2, 1), np.inf), np.ones((3, 1), np.float32)]),
        "prior": st.sampled_from([None, "normal", tfd.MultivariateNormalDiag([0.0, 0.0])]),
        "num_samples": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
    }[argument]
    arguments[argument] = data.draw(bad)
    assert_refused(lambda: estimators.monte_carlo_kl(**arguments), argument)


@fuzz(15)
@given(st.data())
def test_naive_estimates_refuse_bad_arguments(data):
    prior = tfd.Normal(0.0, 1.0)
    argument = data.draw(st.sampled_from(["log_joint", "proposal", "num_samples", "seed",
                                          "log_weights"]))
    if argument == "log_weights":
        bad = data.draw(st.sampled_from([[1.0], 3.0, None, "ab", [["a"], ["b"]],
                                         [[np.nan], [0.0]], [np.inf, 0.0], [1j, 0]]))
        assert_refused(lambda: estimators.estimate_from_log_weights(bad), "log_weights")
        return
    arguments = {"log_joint": prior.log_prob, "proposal": prior, "num_samples": 3, "seed": 0}
    arguments[argument] = data.draw({
        "log_joint": st.sampled_from([None, 3, "log_prob"]),
        "proposal": st.sampled_from([None, "normal", prior.log_prob]),
        "num_samples": st.one_of(NOT_AN_INT, NEGATIVE, st.sampled_from([0, 1])),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
    }[argument])
    assert_refused(lambda: estimators.naive_monte_carlo_log_prob(**arguments), argument)


@pytest.mark.parametrize("argument", ["posterior", "log_likelihood", "prior", "values_per_draw"])
@fuzz(6)
@given(data=st.data())
def test_latent_variable_model_refuses_bad_parts(argument, data):
    arguments = {"posterior": lambda x: x, "log_likelihood": lambda x, z: z,
                 "prior": tfd.Normal(0.0, 1.0), "values_per_draw": None}
    arguments[argument] = data.draw({
        "posterior": st.sampled_from([None, 3, "f"]),
        "log_likelihood": st.sampled_from([None, 3, "f"]),
        "prior": st.sampled_from([None, "normal", 1.0]),
        "values_per_draw": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE,
                                     st.just(0)),
    }[argument])
    assert_refused(lambda: estimators.LatentVariableModel(**arguments), argument)


# ----------------------------------------------------------------------------- priors


@pytest.mark.parametrize("function", ["standard_normal", "check", "deserialize", "serialize"])
@fuzz(8)
@given(data=st.data())
def test_priors_refuse_bad_arguments(function, data):
    if function == "standard_normal":
        latent_dim = data.draw(st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)))
        assert_refused(lambda: priors.standard_normal(latent_dim), "latent_dim")
    elif function == "check":
        prior = data.draw(st.sampled_from([None, "normal", tfd.Normal(0.0, 1.0),
                                           tfd.MultivariateNormalDiag([0.0, 0.0, 0.0]),
                                           tfd.MultivariateNormalDiag(tf.zeros([2, 2]))]))
        assert_refused(lambda: priors.check(prior, 2), "prior")
    elif function == "serialize":
        prior = data.draw(st.sampled_from([None, "normal", 3]))
        assert_refused(lambda: priors.serialize(prior), "prior")
    else:
        config = data.draw(st.sampled_from([
            None, "Normal", {}, {"distribution": "Normal"},
            {"distribution": "Normal", "parameters": "loc"},
            {"distribution": "Nothing", "parameters": {}},
            {"distribution": "Normal", "parameters": {"loc": {"tensor": [0.0]}}},
            {"distribution": "Normal", "parameters": {"loc": {"tensor": "a", "dtype": "float32",
                                                              "shape": [1]}}},
            {"distribution": "Normal", "parameters": {"loc": 0.0, "scale": 1.0, "wrong": 2}},
            {"distribution": "Normal", "parameters": {"loc": 0.0, "scale": "one"}}]))
        assert_refused(lambda: priors.deserialize(config), "prior config", "prior")


# ----------------------------------------------------------------------------- export


@pytest.fixture(scope="module")
def tiny_autoencoder():
    import tfae

    return tfae.Autoencoder(input_shape=(4,), latent_dim=2, hidden_units=(4,))


@fuzz(5)
@pytest.mark.parametrize("function", ["saved_model", "tflite"])
@pytest.mark.parametrize("argument", ["model", "path", "part", "quantize", "overwrite"])
@given(data=st.data())
def test_export_refuses_bad_arguments(tiny_autoencoder, tmp_path_factory, function, argument,
                                      data):
    folder = tmp_path_factory.mktemp("export")
    arguments = {"model": tiny_autoencoder, "part": "decoder",
                 "path": folder / ("decoder.tflite" if function == "tflite" else "decoder")}
    if argument == "quantize" and function == "saved_model":
        argument = "part"
    arguments[argument] = data.draw({
        "model": st.sampled_from([None, "model", keras_dense()]),
        "path": st.sampled_from([None, 3, ["a"]] + ([str(folder / "x.lite")]
                                                    if function == "tflite" else [])),
        "part": st.sampled_from(["encoders", "sampler", ["decoder"], 0, "Decoder"]),
        "quantize": st.sampled_from([True, "yes", 1, "FLOAT16", "int4", "float32"]),
        "overwrite": NOT_A_BOOL,
    }[argument])
    call = export.tflite if function == "tflite" else export.saved_model
    assert_refused(lambda: call(**arguments), argument)
    assert list(folder.iterdir()) == []  # nothing written


def keras_dense():
    import keras

    return keras.layers.Dense(2)
