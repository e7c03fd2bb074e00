"""Fuzzing the models and the plots with hypothesis.

The same contract as ``test_fuzz.py`` (whose helpers and settings profile this module
uses): random shapes, dtypes, NaN/inf, empty arrays, out-of-range values and bad
keyword values must give a ValueError or TypeError naming the argument, and valid
calls finite results. Each tiny model (examples of shape (4,), one hidden layer of 4
units) is built once per module. ``TFAE_FUZZ_EXAMPLES=500`` runs a longer search.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from hypothesis import given
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
    fuzz,
    good_arrays,
)

import tfae
from tfae import plotting

tfd = tfp.distributions
EVENT = (4,)


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    built = {
        "Autoencoder": tfae.Autoencoder(EVENT, 2, hidden_units=(4,)),
        "DenoisingAutoencoder": tfae.DenoisingAutoencoder(
            EVENT, 2, hidden_units=(4,), corruption=("masking", 0.2), seed=0),
        "MADE": tfae.MADE(4, hidden_units=(4,), num_masks=2, seed=0),
        "VAE": tfae.VAE(EVENT, 2, hidden_units=(4,), seed=0),
    }
    for model in built.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return built


# ----------------------------------------------------------------------------- array inputs

#: (model, method) -> (call(model, x), the argument's name, whether its range is checked)
ARRAY_METHODS = {
    ("Autoencoder", "fit"): (lambda m, x: m.fit(x, epochs=1, verbose=0), "x", True),
    ("Autoencoder", "fit.validation_data"): (
        lambda m, x: m.fit(np.zeros((2, 4)), validation_data=x, epochs=1, verbose=0),
        "validation_data", True),
    ("Autoencoder", "evaluate"): (lambda m, x: m.evaluate(x, verbose=0), "x", True),
    ("Autoencoder", "predict"): (lambda m, x: m.predict(x, verbose=0), "x", True),
    ("Autoencoder", "__call__"): (lambda m, x: m(x), "x", True),
    ("Autoencoder", "encode"): (lambda m, x: m.encode(x), "x", True),
    ("Autoencoder", "reconstruct"): (lambda m, x: m.reconstruct(x), "x", True),
    ("Autoencoder", "decode"): (lambda m, h: m.decode(h), "h", False),
    ("DenoisingAutoencoder", "fit"): (lambda m, x: m.fit(x, epochs=1, verbose=0), "x", True),
    ("DenoisingAutoencoder", "denoise"): (lambda m, x: m.denoise(x), "x_noisy", False),
    ("DenoisingAutoencoder", "corrupt"): (lambda m, x: m.corrupt(x, seed=0), "x", False),
    ("DenoisingAutoencoder", "sample_chain"): (
        lambda m, x: m.sample_chain(x0=x, num_steps=2, seed=0), "x0", True),
    ("MADE", "fit"): (lambda m, x: m.fit(x, epochs=1, verbose=0), "x", True),
    ("MADE", "evaluate"): (lambda m, x: m.evaluate(x, verbose=0), "x", True),
    ("MADE", "__call__"): (lambda m, x: m(x), "x", True),
    ("MADE", "log_prob"): (lambda m, x: m.log_prob(x), "x", True),
    ("VAE", "fit"): (lambda m, x: m.fit(x, epochs=1, verbose=0), "x", True),
    ("VAE", "__call__"): (lambda m, x: m(x), "x", True),
    ("VAE", "encode"): (lambda m, x: m.encode(x), "x", True),
    ("VAE", "posterior_parameters"): (lambda m, x: m.posterior_parameters(x), "x", True),
    ("VAE", "decode"): (lambda m, z: m.decode(z), "z", False),
    ("VAE", "log_prob"): (lambda m, x: m.log_prob(x, num_samples=2, seed=0), "x", True),
    ("VAE", "elbo"): (lambda m, x: m.elbo(x, seed=0), "x", True),
    ("VAE", "kl_divergence"): (lambda m, x: m.kl_divergence(x), "x", True),
    ("VAE", "active_units"): (lambda m, x: m.active_units(x), "x", True),
    ("VAE", "interpolate"): (lambda m, x: m.interpolate(x, x, num_steps=2), "x_a", True),
}

@pytest.mark.parametrize(("model_name", "method", "kind"), [
    pytest.param(*key, kind, id=f"{'.'.join(key)}-{kind}")
    for key, (_, _, check_range) in ARRAY_METHODS.items() for kind in ARRAY_FAULTS
    if check_range or kind != "range"])
@fuzz(2)
@given(data=st.data())
def test_model_methods_refuse_bad_arrays(models, model_name, method, kind, data):
    call, name, _ = ARRAY_METHODS[model_name, method]
    model = models[model_name]
    shape = (model.latent_dim,) if name in ("h", "z") else EVENT
    x = data.draw(bad_arrays(shape, none=False, kind=kind))
    assert_refused(lambda: call(model, x), name)


@pytest.mark.parametrize(("model_name", "method", "x"), [
    pytest.param(*key, x, id=f"{'.'.join(key)}-{x}")
    for key in ARRAY_METHODS for x in (None, "x")
    if not (x is None and key[1] == "fit.validation_data")])  # None: no validation
def test_model_methods_refuse_none_and_strings(models, model_name, method, x):
    call, name, _ = ARRAY_METHODS[model_name, method]
    assert_refused(lambda: call(models[model_name], x), name)


@pytest.mark.parametrize(("model_name", "method"), [
    pytest.param(*key, id=".".join(key)) for key in ARRAY_METHODS
    if key[1] not in ("fit", "fit.validation_data", "evaluate", "active_units")])
@fuzz(2)
@given(data=st.data())
def test_model_methods_of_valid_arrays_are_finite(models, model_name, method, data):
    call, name, _ = ARRAY_METHODS[model_name, method]
    model = models[model_name]
    shape = (model.latent_dim,) if name in ("h", "z") else EVENT
    x = data.draw(good_arrays(shape, binary=model_name == "MADE"))
    result = call(model, x)
    if isinstance(result, tfd.Distribution):
        result = result.mean()
    assert_finite(result)


@pytest.mark.parametrize("model_name", ["Autoencoder", "DenoisingAutoencoder", "MADE", "VAE"])
@fuzz(2)
@given(data=st.data())
def test_fit_and_evaluate_of_valid_arrays_are_finite(models, model_name, data):
    model = models[model_name]
    x = data.draw(good_arrays(EVENT, binary=model_name == "MADE", batch=(2, 4)))
    history = model.fit(x, epochs=1, batch_size=2, verbose=0)
    assert_finite(history.history["loss"], model.evaluate(x, verbose=0))


@pytest.mark.parametrize("model_name", ["Autoencoder", "MADE", "VAE"])
def test_a_missing_batch_axis_gets_a_hint(models, model_name):
    error = assert_refused(lambda: models[model_name].evaluate(np.zeros(4, "float32"), verbose=0),
                           "x")
    assert "batch axis" in str(error)


@pytest.mark.parametrize("model_name", ["Autoencoder", "VAE"])
@pytest.mark.parametrize("bad", ["nan", "range", "shape"])
def test_tf_data_batches_are_checked_in_the_graph(models, model_name, bad):
    x = np.full((4, *EVENT), 0.5, np.float32)
    if bad == "nan":
        x[1, 2] = np.nan
    elif bad == "range":
        x[3, 0] = 255.0
    else:
        x = x.reshape(4, 2, 2)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(2)
    assert_refused(lambda: models[model_name].evaluate(dataset, verbose=0), "x")


# ----------------------------------------------------------------------------- keyword values


#: model -> argument -> strategy of bad values
CONSTRUCTOR_ARGUMENTS = {
    "Autoencoder": {
        "input_shape": st.sampled_from([(), (0,), (-4,), (4.0,), "4", None, (True,)]),
        "latent_dim": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "hidden_units": st.sampled_from([(0,), (-1,), (2.5,), "4"]),  # (): see below
        "likelihood": st.sampled_from(["poisson", 3, ["bernoulli"]]),
        "architecture": st.sampled_from(["rnn", None, 1]),
        "activation": st.sampled_from(["no_such_activation", 3]),
    },
    "DenoisingAutoencoder": {
        "corruption": st.sampled_from([("speckle", 0.1), ("masking", 2.0), None, "masking"]),
        "walkback_steps": st.one_of(NOT_AN_INT, NEGATIVE),
        "walkback_probability": st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(1.5)),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
    },
    "MADE": {
        "input_dim": st.one_of(NOT_AN_INT, NEGATIVE, st.just(1)),
        "hidden_units": st.sampled_from([(0,), (-1,), (2.5,), "4", ()]),
        "num_masks": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "ordering": st.sampled_from(["sideways", [0, 0, 1, 2], [0.0, 1.0, 2.0, 3.0]]),
        "direct_connection": NOT_A_BOOL,
        "hidden_degrees": st.sampled_from(["uniform", None]),
        "dropout": st.one_of(NOT_A_NUMBER, NON_FINITE, st.sampled_from([1.0, -0.1])),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
        "mask_op": st.sampled_from(["add", None]),
    },
    "VAE": {
        "latent_dim": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "beta": st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(-1.0)),
        "kl": st.sampled_from(["exact", None, 1]),
        "min_scale": st.one_of(NOT_A_NUMBER, NON_FINITE, st.sampled_from([0.0, -1.0])),
        "seed": st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE),
        "prior": st.sampled_from(["normal", tfd.Normal(0.0, 1.0)]),
    },
}

def _defaults(model_name):
    if model_name == "MADE":
        return {"input_dim": 4, "hidden_units": (4,)}
    return {"input_shape": EVENT, "latent_dim": 2, "hidden_units": (4,)}


def _constructor_cases():
    for model_name, arguments in CONSTRUCTOR_ARGUMENTS.items():
        for argument in arguments:
            yield pytest.param(model_name, argument, id=f"{model_name}.{argument}")


@pytest.mark.parametrize(("model_name", "argument"), _constructor_cases())
@fuzz(6)
@given(data=st.data())
def test_model_constructors_refuse_bad_settings(model_name, argument, data):
    kwargs = {**_defaults(model_name), argument: data.draw(CONSTRUCTOR_ARGUMENTS[model_name][
        argument])}
    assert_refused(lambda: getattr(tfae, model_name)(**kwargs), argument)


@pytest.mark.parametrize("model_name", ["Autoencoder", "VAE"])
def test_no_hidden_units_builds_affine_networks_that_train(model_name):
    # hidden_units=() is honoured, not refused: the lecture's one-layer autoencoder
    # h = f(W x + b), x^ = g(V h + c) has no hidden layer, only the code and the
    # parameters of p(x | h).
    model = getattr(tfae, model_name)(EVENT, 2, hidden_units=(), likelihood="gaussian")
    assert model.hidden_units == ()
    for network, last in ((model.encoder, "code"), (model.decoder, "params")):
        dense = [layer.name for layer in network.layers
                 if isinstance(layer, keras.layers.Dense)]
        assert dense == [last]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(size=(8, *EVENT)).astype("float32")
    history = model.fit(x, epochs=2, batch_size=4, verbose=0)
    assert_finite(history.history["loss"])


COUNT = st.one_of(NOT_AN_INT, NEGATIVE, st.just(0))
SEED = st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE)

#: (model, method, argument) -> (call(model, value), strategy of bad values)
KEYWORD_METHODS = {
    ("DenoisingAutoencoder", "sample_chain", "num_steps"): (
        lambda m, v: m.sample_chain(num_chains=2, num_steps=v), COUNT),
    ("DenoisingAutoencoder", "sample_chain", "num_chains"): (
        lambda m, v: m.sample_chain(num_chains=v, num_steps=2), COUNT),
    ("DenoisingAutoencoder", "sample_chain", "seed"): (
        lambda m, v: m.sample_chain(num_chains=2, num_steps=2, seed=v),
        st.sampled_from([None, "0", 2.5, True, [1, 2, 3]])),
    ("DenoisingAutoencoder", "sample_chain", "return_all"): (
        lambda m, v: m.sample_chain(num_chains=2, num_steps=2, return_all=v), NOT_A_BOOL),
    ("MADE", "log_prob", "num_masks"): (  # None means all of them
        lambda m, v: m.log_prob(np.zeros((2, 4)), num_masks=v),
        st.one_of(COUNT.filter(lambda v: v is not None), st.just(3))),
    ("MADE", "log_prob", "mask_index"): (
        lambda m, v: m.log_prob(np.zeros((2, 4)), mask_index=v),
        st.sampled_from([-1, 2, 1.0, True, "0"])),
    ("MADE", "sample", "n"): (lambda m, v: m.sample(v, seed=0, jit_compile=False), COUNT),
    ("MADE", "sample", "seed"): (lambda m, v: m.sample(2, seed=v, jit_compile=False), SEED),
    ("MADE", "sample", "mask_index"): (
        lambda m, v: m.sample(2, seed=0, mask_index=v, jit_compile=False),
        st.sampled_from([-1, 2, 1.0, True, "0"])),
    ("MADE", "sample", "fast"): (lambda m, v: m.sample(2, seed=0, fast=v), NOT_A_BOOL),
    ("MADE", "generation_order", "mask_index"): (
        lambda m, v: m.generation_order(v), st.sampled_from([-1, 2, 1.0, True, "0", None])),
    ("VAE", "sample", "n"): (lambda m, v: m.sample(v, seed=0), COUNT),
    ("VAE", "sample", "seed"): (lambda m, v: m.sample(2, seed=v), SEED),
    ("VAE", "sample", "return_means"): (lambda m, v: m.sample(2, return_means=v), NOT_A_BOOL),
    ("VAE", "log_prob", "num_samples"): (
        lambda m, v: m.log_prob(np.zeros((2, 4)), num_samples=v), COUNT),
    ("VAE", "log_prob", "batch_size"): (
        lambda m, v: m.log_prob(np.zeros((2, 4)), num_samples=2, batch_size=v), COUNT),
    ("VAE", "elbo", "chunk_size"): (
        lambda m, v: m.elbo(np.zeros((2, 4)), chunk_size=v),
        st.one_of(NOT_AN_INT.filter(lambda v: v is not None), NEGATIVE, st.just(0))),
    ("VAE", "kl_divergence", "method"): (
        lambda m, v: m.kl_divergence(np.zeros((2, 4)), method=v),
        st.sampled_from(["exact", 1, ["analytic"]])),
    ("VAE", "kl_divergence", "num_samples"): (
        lambda m, v: m.kl_divergence(np.zeros((2, 4)), method="monte_carlo", num_samples=v),
        COUNT),
    ("VAE", "active_units", "threshold"): (
        lambda m, v: m.active_units(np.zeros((2, 4)), threshold=v),
        st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(-1.0))),
    ("VAE", "active_units", "batch_size"): (
        lambda m, v: m.active_units(np.zeros((2, 4)), batch_size=v), COUNT),
    ("VAE", "interpolate", "num_steps"): (
        lambda m, v: m.interpolate(np.zeros(4), np.ones(4), num_steps=v),
        st.one_of(COUNT, st.just(1))),
}

def _keyword_cases():
    for key in KEYWORD_METHODS:
        yield pytest.param(*key, id=".".join(key))


@pytest.mark.parametrize(("model_name", "method", "argument"), _keyword_cases())
@fuzz(2)
@given(data=st.data())
def test_model_methods_refuse_bad_keywords(models, model_name, method, argument, data):
    call, values = KEYWORD_METHODS[model_name, method, argument]
    value = data.draw(values)
    assert_refused(lambda: call(models[model_name], value), argument)


# ----------------------------------------------------------------------------- plotting


@pytest.fixture
def no_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.mark.parametrize("argument", ["rows", "max_images", "x", "num_per_side",
                                      "quantile_range", "dims", "labels"])
@fuzz(8)
@given(data=st.data())
def test_plots_refuse_bad_arguments(models, no_figures, argument, data):
    vae = models["VAE"]
    x = np.full((3, *EVENT), 0.5, np.float32)
    if argument == "rows":
        rows = data.draw(st.sampled_from([{}, None, [x], {"a": None}, {"a": np.full((2, 4), "a")},
                                          {"a": np.zeros((0, 4))}]))
        assert_refused(lambda: plotting.image_rows(rows), "rows")
    elif argument == "max_images":
        value = data.draw(COUNT)
        assert_refused(lambda: plotting.image_rows({"a": x}, max_images=value), "max_images")
    elif argument == "x":
        bad = data.draw(st.one_of(st.sampled_from([None, "abc"]), bad_arrays(EVENT)))
        assert_refused(lambda: plotting.latent_scatter(vae, bad), "x")
    elif argument == "num_per_side":
        value = data.draw(st.one_of(COUNT, st.just(1)))
        assert_refused(lambda: plotting.latent_manifold(vae, num_per_side=value),
                       "num_per_side")
    elif argument == "quantile_range":
        value = data.draw(st.sampled_from([(0.9, 0.1), (0.0, 1.0), (0.1,), None, "ab",
                                           (float("nan"), 0.5), (-0.1, 0.5)]))
        assert_refused(lambda: plotting.latent_manifold(vae, 2, quantile_range=value),
                       "quantile_range")
    elif argument == "dims":
        value = data.draw(st.sampled_from([(0, 0), (0, 2), (0,), None, (0.0, 1.0), (-1, 0)]))
        assert_refused(lambda: plotting.latent_scatter(vae, x, dims=value), "dims")
    else:
        value = data.draw(st.sampled_from([np.zeros(2), np.zeros((3, 2)), "abc",
                                           np.array([0, np.nan, 1])]))
        assert_refused(lambda: plotting.latent_scatter(vae, x, labels=value), "labels")
