"""The vanilla autoencoder: training, the lecture's loss, the Keras API, save/load, bad input."""

import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfae
from tfae import likelihoods


def test_training_lowers_the_loss_and_beats_the_pixel_mean_model(
        trained_autoencoder, binary_digits):
    model, history = trained_autoencoder
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    test_nll = model.evaluate(binary_digits[1], verbose=0, return_dict=True)["loss"]
    baseline = tfae.metrics.pixel_mean_nll(binary_digits[0], binary_digits[1]).mean()
    assert test_nll < baseline


def test_reported_loss_is_the_cross_entropy_in_nats_per_example(trained_autoencoder, binary_digits):
    model, _ = trained_autoencoder
    x = binary_digits[1][:50]
    x_hat = np.asarray(model.reconstruct(x), "float64")
    cross_entropy = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(model.reconstruction_loss(x).numpy(), cross_entropy, rtol=1e-4)
    evaluated = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert evaluated == pytest.approx(cross_entropy.mean(), rel=1e-4)


def test_encode_decode_reconstruct_predict(trained_autoencoder, binary_digits):
    model, _ = trained_autoencoder
    x = binary_digits[1][:6]
    h = model.encode(x)
    assert h.shape == (6, 8)
    p_x_given_h = model.decode(h)
    assert p_x_given_h.batch_shape == (6,) and p_x_given_h.event_shape == (8, 8, 1)
    reconstruction = model.reconstruct(x).numpy()
    assert reconstruction.shape == x.shape
    assert 0 <= reconstruction.min() <= reconstruction.max() <= 1
    np.testing.assert_allclose(model.predict(x, verbose=0), reconstruction, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), reconstruction, atol=1e-6)


def test_callbacks_see_the_loss_and_validation_loss(binary_digits):
    seen = []
    model = tfae.Autoencoder((8, 8, 1), latent_dim=4, hidden_units=(16,))
    model.compile(optimizer="adam")
    logger = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs))
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    model.fit(binary_digits[0][:256], validation_data=binary_digits[1][:64], epochs=2,
              verbose=0, callbacks=[logger, stopper])
    assert set(seen[0]) >= {"loss", "val_loss"}
    assert np.isfinite(seen[-1]["val_loss"])


def test_fit_accepts_a_tf_data_dataset_and_sample_weights(binary_digits):
    model = tfae.Autoencoder((8, 8, 1), latent_dim=4, hidden_units=(16,))
    model.compile(optimizer="adam")
    dataset = tf.data.Dataset.from_tensor_slices(binary_digits[0][:128]).batch(32)
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0).history["loss"][0])
    x = binary_digits[1][:4]
    per_example = model.reconstruction_loss(x).numpy()
    weights = np.array([1.0, 0.0, 0.0, 3.0], "float32")
    weighted = model.evaluate(x, sample_weight=weights, verbose=0, return_dict=True)["loss"]
    assert weighted == pytest.approx((per_example[0] + 3 * per_example[3]) / 4, rel=1e-5)


@pytest.mark.parametrize("kwargs, data", [
    (dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,)), "binary"),
    (dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(4, 8), architecture="conv",
          likelihood=likelihoods.Gaussian(scale="learned")), "grey"),
    (dict(input_shape=(64,), latent_dim=2, hidden_units=(), latent_activation="sigmoid",
          likelihood="gaussian"), "flat"),
    (dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(4,), architecture="conv",
          activation="glu"), "binary"),
])
def test_save_and_load_round_trip_is_identical(tmp_path, binary_digits, kwargs, data):
    x = {"binary": binary_digits[1][:32], "grey": tfae.datasets.load("digits", split="test")[:32],
         "flat": binary_digits[1][:32].reshape(32, 64)}[data]
    model = tfae.Autoencoder(**kwargs)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is tfae.Autoencoder
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.encode(x).numpy(), model.encode(x).numpy())
    assert loaded.evaluate(x, verbose=0) == model.evaluate(x, verbose=0)
    loaded.fit(x, epochs=1, verbose=0)  # the optimizer state came back too


def test_get_config_holds_every_init_argument():
    import inspect

    model = tfae.Autoencoder((28, 28, 1), latent_dim=10, hidden_units=(8, 16), architecture="conv",
                             likelihood="gaussian", activation="elu", latent_activation="tanh")
    config = model.get_config()
    arguments = set(inspect.signature(tfae.Autoencoder.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)
    clone = tfae.Autoencoder.from_config(config)
    assert clone.get_config() == config
    assert clone.decoder.output_shape == (None, 28, 28, 1)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("architecture", ["dense", "conv"])
def test_glu_hidden_layers_are_gated_linear_units(binary_digits, architecture):
    """activation="glu": each hidden layer is a * sigmoid(b), a and b of the given width."""
    model = tfae.Autoencoder((8, 8, 1), latent_dim=3, hidden_units=(5, 6),
                             architecture=architecture, activation="glu")
    x = binary_digits[1][:4]
    first = "dense_0" if architecture == "dense" else "conv_0"
    hidden = keras.Model(model.encoder.input, model.encoder.get_layer(first).output)(x)
    inputs = x.reshape(4, -1) if architecture == "dense" else x
    a = model.encoder.get_layer(f"{first}_linear")(inputs)
    gate = model.encoder.get_layer(f"{first}_gate")
    gate.activation = keras.activations.linear  # b, the gate's pre-activation
    b = gate(inputs)
    np.testing.assert_allclose(hidden.numpy(), (a * tf.sigmoid(b)).numpy(), rtol=1e-5, atol=1e-7)
    assert hidden.shape[-1] == 5
    decoder_widths = [layer.output.shape[-1] for layer in model.decoder.layers
                      if layer.name.endswith("_gate")]
    assert decoder_widths[-2:] == [6, 5]


def test_defaults_follow_the_architecture():
    assert tfae.Autoencoder((8, 8, 1), 4).hidden_units == (256, 128)
    assert tfae.Autoencoder((8, 8, 1), 4, architecture="conv").hidden_units == (32, 64)


# ------------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small_model():
    model = tfae.Autoencoder((8, 8, 1), latent_dim=4, hidden_units=(8,))
    model.compile(optimizer="adam")
    return model


@pytest.mark.parametrize("x, message", [
    (np.zeros((4, 64), "float32"), r"shape \(64,\).*expects \(8, 8, 1\)"),
    (np.full((4, 8, 8, 1), np.nan, "float32"), "non-finite"),
    (np.full((4, 8, 8, 1), 2.0, "float32"), r"\[0, 1\]"),
    (np.zeros((0, 8, 8, 1), "float32"), "empty"),
])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "reconstruction_loss",
                                    "encode", "reconstruct"])
def test_bad_arrays_raise_a_clear_value_error(small_model, x, message, method):
    # encode and reconstruct refuse what the likelihood cannot score, as fit does.
    with pytest.raises(ValueError, match=message):
        getattr(small_model, method)(x)


def test_targets_are_refused(small_model, binary_digits):
    x = binary_digits[0][:8]
    with pytest.raises(ValueError, match=re.escape("call fit(x)")):
        small_model.fit(x, x, verbose=0)
    with pytest.raises(ValueError, match="no targets"):
        small_model.evaluate(x, x, verbose=0)


def test_a_dataset_of_the_wrong_shape_is_refused(small_model):
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((8, 64), "float32")).batch(4)
    with pytest.raises(ValueError, match="expects examples of shape"):
        small_model.fit(dataset, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_shape=(8, 8, 1), latent_dim=64), "overcomplete"),
    (dict(input_shape=(8, 8, 1), latent_dim=0), "latent_dim must be >= 1"),
    (dict(input_shape=(784,), latent_dim=8, architecture="conv"), r"reshape.*\(28, 28, 1\)"),
    (dict(input_shape=(10, 10, 1), latent_dim=8, architecture="conv", hidden_units=(4, 4)),
     "divisible by 4"),
    (dict(input_shape=(8, 8, 1), latent_dim=8, architecture="mlp"), "dense"),
    (dict(input_shape=(8, 8, 1), latent_dim=8, likelihood="laplace"), "bernoulli"),
    (dict(input_shape=(8, 8, 1), latent_dim=8, hidden_units=(0,)), "hidden_units must be >= 1"),
    (dict(input_shape=(), latent_dim=8), "input_shape"),
    (dict(input_shape=None, latent_dim=8), "input_shape"),
])
def test_bad_configuration_raises_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfae.Autoencoder(**kwargs)


def test_tfae_is_keras_3_only():
    """tfae never imports tf_keras (TFP's import check needs it installed, nothing more)."""
    source = pathlib.Path(tfae.__file__).parent
    offenders = [str(path) for path in source.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+tf_keras", path.read_text(), re.M)
                 or "tfp.layers" in path.read_text()]
    assert offenders == []
    assert keras.__version__.startswith("3.")
    assert isinstance(tfae.Autoencoder((8, 8, 1), 4), keras.Model)


def test_a_dataset_of_x_y_pairs_is_refused_not_silently_dropped(small_model):
    pairs = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 8, 8, 1), "float32"), np.zeros(8, "float32"))).batch(4)
    with pytest.raises(ValueError, match="no targets"):
        small_model.fit(pairs, epochs=1, verbose=0)


def test_validation_weights_are_applied(binary_digits):
    model = tfae.Autoencoder((8, 8, 1), latent_dim=4, hidden_units=(16,))
    model.compile(optimizer="adam")
    x_val = binary_digits[1][:4]
    weights = np.array([0.0, 0.0, 0.0, 1.0], "float32")
    history = model.fit(binary_digits[0][:64], validation_data=(x_val, None, weights),
                        epochs=1, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(
        float(model.reconstruction_loss(x_val[3:]).numpy()[0]), rel=1e-5)
