"""Every kind of model exports every part through the public functions, and what the
files say about their noise is what the device-side runner draws."""

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import tfae
from tfae import export

RUNNER = Path(__file__).resolve().parents[1] / "export" / "run_litert.py"


def _runner():
    spec = importlib.util.spec_from_file_location("run_litert", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(binary_digits):
    x = binary_digits[0].reshape(len(binary_digits[0]), -1)
    made = tfae.MADE(64, hidden_units=(32,), num_masks=2, seed=0, direct_connection=True)
    made.compile(optimizer=keras.optimizers.Adam(1e-2))
    made.fit(x, epochs=1, batch_size=100, verbose=0)
    mixture = tfae.GaussianMixture(n_components=3, covariance_type="full", random_state=0)
    mixture.fit(np.random.default_rng(0).normal(size=(300, 4)))
    return {
        "ae": tfae.Autoencoder((8, 8, 1), latent_dim=2, hidden_units=(8,)),
        "vae": tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(8,)),
        "made": made,
        "gaussian_made": tfae.MADE(6, hidden_units=(16,), likelihood="gaussian", seed=1),
        "mixture": mixture,
    }


PARTS = {"ae": ("encoder", "decoder", "autoencoder"),
         "vae": ("encoder", "decoder", "autoencoder", "sampler"),
         "made": ("conditionals", "log_prob", "sampler"),
         "gaussian_made": ("conditionals", "log_prob", "sampler"),
         "mixture": ("log_prob", "sampler")}


@pytest.mark.parametrize("kind", sorted(PARTS))
def test_parts_defaults_and_the_noise_the_runner_draws(models, kind):
    model = models[kind]
    assert set(export.parts_of(model)) == set(PARTS[kind])
    assert export.default_part(model) == ("decoder" if "decoder" in PARTS[kind] else "sampler")
    noise_of = _runner().noise_of
    for part in PARTS[kind]:
        endpoint = export.endpoint_of(model, part)
        assert endpoint.signature == export.signature_name(part)
        for spec in endpoint.inputs:
            assert spec.shape[0] is None and spec.dtype == tf.float32
            if spec.name == "x":  # data: the runner refuses to draw it
                assert spec.name not in endpoint.noise
            else:
                assert endpoint.noise[spec.name] == noise_of(spec.name), (part, spec.name)


# Through the public functions (the parts' own tests convert every part and
# quantization): each module's endpoints once, the samplers' loops also as SavedModels.
@pytest.mark.parametrize("kind, part", [("made", "sampler"), ("made", "conditionals"),
                                        ("gaussian_made", "log_prob"), ("mixture", "sampler")])
def test_made_and_mixture_parts_export_verified(tmp_path, models, kind, part):
    report = export.tflite(models[kind], tmp_path / "part.tflite", part=part)
    assert report.max_error <= 1e-5 and report.batch_sizes == (1, 37)
    if part == "sampler":  # the loop as a SavedModel too
        saved = export.saved_model(models[kind], tmp_path / "saved", part=part)
        assert saved.max_error <= 1e-5 and saved.signature == report.signature


def test_made_keras_export_serves_the_conditionals(tmp_path, models, binary_digits):
    model = models["made"]
    x = binary_digits[1][:37].reshape(37, -1)
    model.export(str(tmp_path / "made.tflite"), format="litert", verbose=False)
    runner = Interpreter(model_path=str(tmp_path / "made.tflite")).get_signature_runner()
    (output,) = runner(x=x).values()
    np.testing.assert_allclose(output, model(x).numpy(), atol=1e-5)


def test_a_non_tfae_model_is_refused(tmp_path):
    with pytest.raises(TypeError, match="must be a tfae model"):
        export.tflite(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "x.tflite")
    unfitted = tfae.GaussianMixture(n_components=2)
    with pytest.raises(ValueError, match="not fitted"):
        export.tflite(unfitted, tmp_path / "x.tflite")
    assert list(tmp_path.iterdir()) == []
