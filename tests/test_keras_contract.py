"""The Keras contract of tfae's models: compile() arguments honoured or refused, one input
check on every path (arrays, tensors, tf.data, generators, PyDataset, public methods, also
under XLA), and training stopped cleanly on a non-finite loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfae

D = 6


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return (rng.random((64, D)) < 0.3).astype("float32")


def _model(kind: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    if kind == "autoencoder":
        return tfae.Autoencoder((D,), latent_dim=2, hidden_units=(4,))
    if kind == "dae":
        return tfae.DenoisingAutoencoder((D,), latent_dim=3, hidden_units=(4,), seed=0)
    if kind == "made":
        return tfae.MADE(D, hidden_units=(8,), hidden_degrees="equal", seed=0)
    return tfae.VAE((D,), latent_dim=2, hidden_units=(4,), seed=0)


KINDS = ["autoencoder", "dae", "made", "vae"]


def _prediction(model, x):
    """What the compiled metrics compare x with, computed by hand."""
    if isinstance(model, tfae.MADE):
        return tf.math.sigmoid(model(x)).numpy()  # p(x_d = 1 | x_<d)
    return model(x).numpy()  # the reconstruction mean


def _weights(model):
    return [variable.numpy().copy() for variable in model.trainable_variables]


def _assert_unchanged(model, before):
    after = _weights(model)
    assert all(np.isfinite(value).all() for value in after)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


# ------------------------------------------------------------------------- compile()

@pytest.mark.parametrize("kind", KINDS)
def test_compiled_metrics_are_reported_and_equal_the_hand_computation(kind, x):
    model = _model(kind)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["mae"],
                  weighted_metrics=[keras.metrics.MeanSquaredError(name="wmse")])
    seen = []
    logger = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs))
    history = model.fit(x, validation_data=x[:16], epochs=1, batch_size=32, verbose=0,
                        callbacks=[logger])
    assert {"loss", "mae", "wmse", "val_loss", "val_mae", "val_wmse"} <= set(history.history)
    assert {"mae", "val_mae", "wmse"} <= set(seen[-1])
    assert [m.name for m in model.metrics][:len(model.loss_term_names)] == list(
        model.loss_term_names)

    prediction = _prediction(model, x)
    weights = np.linspace(0.0, 2.0, len(x)).astype("float32")
    results = model.evaluate(x, sample_weight=weights, batch_size=16, verbose=0,
                             return_dict=True)
    assert results["mae"] == pytest.approx(np.abs(x - prediction).mean(), rel=1e-5)
    squared = ((x - prediction) ** 2).mean(axis=1)
    assert results["wmse"] == pytest.approx((weights * squared).sum() / weights.sum(),
                                            rel=1e-5)


def test_metrics_as_functions_with_steps_per_execution_or_run_eagerly(x):
    def max_error(x_true, prediction):
        return tf.reduce_max(tf.abs(x_true - prediction), axis=-1)

    model = _model("autoencoder")
    model.compile(optimizer="adam", metrics=[max_error, "mse"], steps_per_execution=2)
    history = model.fit(x, epochs=1, batch_size=16, verbose=0)
    assert {"max_error", "mse"} <= set(history.history)
    result = model.evaluate(x, verbose=0, return_dict=True)
    assert result["max_error"] == pytest.approx(
        np.abs(x - model(x).numpy()).max(axis=1).mean(), rel=1e-5)
    eager = _model("made")
    eager.compile(optimizer="adam", metrics=["mae"], run_eagerly=True)
    assert "mae" in eager.fit(x, epochs=1, batch_size=32, verbose=0).history


def test_compiled_metrics_survive_save_and_load(x, tmp_path):
    model = _model("autoencoder")
    model.compile(optimizer="adam", metrics=["mae"])
    expected = model.evaluate(x, verbose=0, return_dict=True)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.evaluate(x, verbose=0, return_dict=True) == pytest.approx(expected)
    assert "mae" in expected


def test_compiling_again_without_metrics_drops_them(x):
    model = _model("autoencoder")
    model.compile(optimizer="adam", metrics=["mae"])
    model.compile(optimizer="adam")
    assert set(model.fit(x, epochs=1, verbose=0).history) == {"loss"}


@pytest.mark.parametrize("kind", KINDS)
def test_compile_refuses_a_loss_and_names_the_likelihood(kind):
    model = _model(kind)
    with pytest.raises(ValueError, match="the Bernoulli likelihood .* defines its loss") as info:
        model.compile(optimizer="adam", loss="mse")
    assert "likelihood=" in str(info.value)
    with pytest.raises(ValueError, match="loss_weights"):
        model.compile(optimizer="adam", loss_weights=[1.0])


@pytest.mark.parametrize("argument", ["metrics", "weighted_metrics"])
def test_compile_refuses_metrics_per_output(argument):
    model = _model("autoencoder")
    with pytest.raises(ValueError, match="one output"):
        model.compile(optimizer="adam", **{argument: {"output": ["mae"]}})
    with pytest.raises(ValueError, match="one output"):
        model.compile(optimizer="adam", **{argument: [["mae"], ["mse"]]})


# ------------------------------------------------------------ streamed data, in-graph checks

def _bad(x, problem):
    if problem == "nan":
        bad = x.copy()
        bad[3, 1] = np.nan  # in the first batch: nothing may be trained on
        return bad, "non-finite values"
    return x * 255.0, r"outside \[0, 1\].*x / 255"


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, batch_size):
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, index):
        return (self.x[index * self.batch_size:(index + 1) * self.batch_size],)


def _source(x, kind):
    if kind == "dataset":
        return tf.data.Dataset.from_tensor_slices(x).batch(16)
    if kind == "pydataset":
        return _Batches(x, 16)

    def batches():
        for start in range(0, len(x), 16):
            yield (x[start:start + 16],)
    return batches()


@pytest.mark.parametrize("source, problem, jit", [
    ("dataset", "nan", True), ("dataset", "pixels", False), ("generator", "pixels", True),
    ("pydataset", "nan", True),
])
def test_fit_refuses_a_bad_batch_from_a_stream_before_the_weights_change(
        x, source, problem, jit):
    model = _model("autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit)
    bad, message = _bad(x, problem)
    before = _weights(model)
    with pytest.raises(ValueError, match=message):
        model.fit(_source(bad, source), epochs=2, shuffle=False, verbose=0)
    _assert_unchanged(model, before)
    if source == "dataset":  # the model still trains on good data afterwards
        history = model.fit(_source(x, source), shuffle=False, verbose=0).history
        assert np.isfinite(history["loss"][0])


def test_made_refuses_grey_levels_from_a_dataset_with_xla(x):
    model = _model("made")
    model.compile(optimizer="adam", jit_compile=True)
    before = _weights(model)
    with pytest.raises(ValueError, match="other than 0 and 1.*binarize"):
        model.fit(tf.data.Dataset.from_tensor_slices(x * 0.5).batch(16), verbose=0)
    _assert_unchanged(model, before)


def test_validation_evaluate_and_predict_refuse_bad_streams(x):
    model = _model("vae")
    model.compile(optimizer="adam")
    bad, _ = _bad(x, "nan")
    dataset = tf.data.Dataset.from_tensor_slices(bad).batch(16)
    with pytest.raises(ValueError, match="validation_data .*non-finite"):
        model.fit(x, validation_data=dataset, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="evaluate .*non-finite"):
        model.evaluate(dataset, verbose=0)
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*predict"):
        model.predict(tf.data.Dataset.from_tensor_slices(x * 255).batch(16), verbose=0)
    assert np.isfinite(model.evaluate(x, verbose=0)).all()  # a failed call leaves no trace


# ------------------------------------------------------------------ non-finite losses

@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("stream", [False, True])
def test_a_non_finite_loss_stops_fit_and_nothing_is_saved(x, tmp_path, jit, stream):
    """On a stream the bad step is skipped; on (checked) arrays it is applied, and the
    message says that the weights are broken."""
    model = _model("made")
    model.compile(optimizer=keras.optimizers.SGD(1e30), jit_compile=jit)
    path = tmp_path / "checkpoint.keras"
    data = tf.data.Dataset.from_tensor_slices(x).batch(8) if stream else x
    expected = "last good step" if stream else "weights may be broken: reload"
    with pytest.raises(FloatingPointError, match=f"epoch 1, batch .*{expected}.*learning rate"):
        model.fit(data, epochs=3, batch_size=None if stream else 8, verbose=0,
                  callbacks=[keras.callbacks.ModelCheckpoint(path)])
    if stream:
        assert all(np.isfinite(value).all() for value in _weights(model))
    assert not path.exists()


# ------------------------------------------------------------ public methods, arrays

def _methods(kind):
    """(call, argument name) of every public method that takes data, per model."""
    common = [(lambda m, v: m(v), "x"), (lambda m, v: m.predict(v, verbose=0), "x"),
              (lambda m, v: m.evaluate(v, verbose=0), "x"), (lambda m, v: m.fit(v, verbose=0),
                                                              "x")]
    if kind == "autoencoder":
        return common + [(lambda m, v: m.encode(v), "x"), (lambda m, v: m.reconstruct(v), "x"),
                         (lambda m, v: m.reconstruction_loss(v), "x")]
    if kind == "dae":
        return common + [(lambda m, v: m.encode(v), "x"), (lambda m, v: m.reconstruct(v), "x"),
                         (lambda m, v: m.denoise(v), "x_noisy"),
                         (lambda m, v: m.corrupt(v), "x"),
                         (lambda m, v: m.denoising_loss(v), "x"),
                         (lambda m, v: m.sample_chain(x0=v, num_steps=1), "x0")]
    if kind == "made":
        return common + [(lambda m, v: m.log_prob(v), "x")]
    return common + [
        (lambda m, v: m.encode(v), "x"), (lambda m, v: m.reconstruct(v), "x"),
        (lambda m, v: m.posterior_parameters(v), "x"), (lambda m, v: m.elbo(v), "x"),
        (lambda m, v: m.log_prob(v, num_samples=2), "x"),
        (lambda m, v: m.kl_divergence(v), "x"), (lambda m, v: m.active_units(v), "x"),
        (lambda m, v: m.interpolate(v, v[:1] if np.ndim(v) > 1 else v), "x_a")]


CASES = [(kind, index) for kind in KINDS for index in range(len(_methods(kind)))]


@pytest.mark.parametrize("kind, index", CASES)
def test_every_public_method_refuses_bad_arrays_with_the_argument_named(kind, index, x):
    model = _model(kind)
    model.compile(optimizer="adam")
    method, name = _methods(kind)[index]
    nan = x[:4].copy()
    nan[0, 0] = np.nan
    bad_inputs = {
        "pixels": (x[:4] * 255, r"in \[0, 1\]|outside \[0, 1\]|other than 0 and 1"),
        "nan": (nan, "non-finite"),
        "shape": (x[:4, :4], r"shape \(4,\)"),
        "no batch axis": (x[0], r"batch axis, e\.g\. " + name + r"\[None\]"),
        "empty": (x[:0], "empty"),
    }
    for problem, (value, message) in bad_inputs.items():
        if name == "x_a" and problem == "no batch axis":
            continue  # interpolate takes single examples
        with pytest.raises(ValueError, match=message) as info:
            method(model, value)
        assert name in str(info.value), problem
        with pytest.raises(ValueError, match=message):
            method(model, tf.constant(value))  # an eager tensor gets the same checks


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_decode_checks_the_code(kind):
    model = _model(kind)
    name = "h" if kind == "autoencoder" else "z"
    with pytest.raises(ValueError, match=f"{name} has 1 non-finite"):
        model.decode(np.array([[np.nan, 0.0]], "float32"))
    with pytest.raises(ValueError, match=rf"{name} has examples of shape \(3,\)"):
        model.decode(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=rf"{name}\[None\]"):
        model.decode(np.zeros(2, "float32"))
    assert model.decode(np.zeros((2, 2), "float32")).mean().shape[0] == 2


def test_a_gaussian_noise_dae_denoises_inputs_outside_the_data_range(x):
    model = tfae.DenoisingAutoencoder((D,), 3, hidden_units=(4,),
                                      corruption=("gaussian", 0.5), seed=0)
    noisy = x[:4] + 0.7
    assert model.denoise(noisy).shape == (4, D)
    with pytest.raises(ValueError, match="x has examples"):
        model.reconstruct(x[:4, :3])


def test_the_mixture_hints_at_the_batch_axis():
    data = np.random.default_rng(0).random((20, 3))
    mixture = tfae.GaussianMixture(2, max_iter=5, jit_compile=False, random_state=0).fit(data)
    for method in (mixture.predict, mixture.predict_proba, mixture.score_samples,
                   mixture.score, mixture.bic, mixture.aic):
        with pytest.raises(ValueError, match=r"x\[None\]"):
            method(np.zeros(3))
        with pytest.raises(ValueError, match="non-finite"):
            method(np.full((2, 3), np.nan))


# ------------------------------------------------------------------ other arguments

def test_class_weight_is_refused(x):
    model = _model("autoencoder")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="class_weight.*sample_weight"):
        model.fit(x, class_weight={0: 1.0}, verbose=0)


@pytest.mark.parametrize("kind", ["dae", "made", "vae"])
def test_seeds_beyond_int32_are_refused(kind):
    with pytest.raises(ValueError, match=r"seed must be <= 2\*\*31 - 1"):
        if kind == "made":
            tfae.MADE(D, hidden_units=(8,), seed=2**31)
        else:
            {"dae": tfae.DenoisingAutoencoder, "vae": tfae.VAE}[kind](
                (D,), latent_dim=2, hidden_units=(4,), seed=2**31)


def test_a_gaussian_noise_dae_predicts_noisy_streams_as_it_predicts_noisy_arrays(x):
    """predict maps (it does not score): on a stream it accepts what denoise accepts."""
    model = tfae.DenoisingAutoencoder((D,), latent_dim=2, hidden_units=(4,), seed=0,
                                      corruption=tfae.corruption.GaussianNoise(0.5, seed=0))
    noisy = x + 0.7  # outside [0, 1], as Gaussian noise leaves it
    from_arrays = model.predict(noisy, verbose=0)
    from_stream = model.predict(tf.data.Dataset.from_tensor_slices(noisy).batch(16), verbose=0)
    np.testing.assert_allclose(from_stream, from_arrays, rtol=1e-6)
    with pytest.raises(ValueError, match="non-finite"):
        model.predict(tf.data.Dataset.from_tensor_slices(noisy * np.nan).batch(16), verbose=0)
