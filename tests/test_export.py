"""Export: LiteRT and SavedModel files give the Keras model's outputs; nothing half-written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from tfae import export
from tfae.cli import main

REPO = Path(__file__).resolve().parents[1]


def _litert(path, part, inputs):
    runner = Interpreter(model_path=str(path)).get_signature_runner(export.signature_name(part))
    return runner(**{"h" if part == "decoder" else "x": inputs})


@pytest.mark.parametrize("part", ["encoder", "decoder", "autoencoder"])
def test_litert_outputs_equal_the_keras_model(tmp_path, trained_autoencoder, binary_digits, part):
    model, _ = trained_autoencoder
    x = binary_digits[1][:7]
    h = model.encode(x).numpy()
    path = export.tflite(model, tmp_path / f"{part}.tflite", part=part)
    outputs = _litert(path, part, h if part == "decoder" else x)
    if part == "encoder":
        np.testing.assert_allclose(outputs["h"], h, atol=1e-5)
    elif part == "decoder":
        np.testing.assert_allclose(outputs["mean"], model.decode(h).mean().numpy(), atol=1e-5)
        np.testing.assert_allclose(outputs["params"], model.decoder(h).numpy(), atol=1e-4)
    else:
        np.testing.assert_allclose(outputs["mean"], model.reconstruct(x).numpy(), atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [f"{part}.tflite"]


def test_saved_model_serves_the_decoder_without_tfae_objects(tmp_path, trained_autoencoder):
    model, _ = trained_autoencoder
    path = export.saved_model(model, tmp_path / "decoder", part="decoder")
    h = np.random.default_rng(0).normal(size=(3, model.latent_dim)).astype("float32")
    decode = tf.saved_model.load(str(path)).signatures["decode"]
    np.testing.assert_allclose(decode(h=tf.constant(h))["mean"].numpy(),
                               model.decode(h).mean().numpy(), atol=1e-6)


def test_quantised_decoder_is_smaller_and_close(tmp_path, trained_autoencoder):
    model, _ = trained_autoencoder
    full = export.tflite(model, tmp_path / "full.tflite")
    small = export.tflite(model, tmp_path / "small.tflite", optimize=True)
    assert small.stat().st_size < 0.6 * full.stat().st_size
    h = np.zeros((2, model.latent_dim), "float32")
    np.testing.assert_allclose(_litert(small, "decoder", h)["mean"],
                               _litert(full, "decoder", h)["mean"], atol=0.05)


def test_bad_export_requests(tmp_path, trained_autoencoder):
    model, _ = trained_autoencoder
    with pytest.raises(ValueError, match="encoder"):
        export.tflite(model, tmp_path / "x.tflite", part="latent")
    with pytest.raises(ValueError, match=".tflite"):
        export.tflite(model, tmp_path / "decoder.bin")
    with pytest.raises(TypeError, match="encoder and a decoder"):
        export.saved_model(tf.keras.Sequential(), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_and_the_device_side_runner(tmp_path, trained_autoencoder):
    model, _ = trained_autoencoder
    model.save(tmp_path / "model.keras")
    assert main(["export", str(tmp_path), "--part", "decoder"]) == 0
    codes = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    np.save(tmp_path / "codes.npy", codes)
    result = subprocess.run(
        [sys.executable, str(REPO / "export" / "run_litert.py"), str(tmp_path / "decoder.tflite"),
         str(tmp_path / "codes.npy"), str(tmp_path / "images")],
        capture_output=True, text=True, timeout=120, check=True)
    assert "mean: shape (4, 8, 8, 1)" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "images.mean.npy"),
                               model.decode(codes).mean().numpy(), atol=1e-5)
    assert "import tensorflow" not in (REPO / "export" / "run_litert.py").read_text()
    assert main(["export", str(tmp_path), "--part", "encoder", "--format", "saved_model"]) == 0
    assert (tmp_path / "encoder_savedmodel" / "saved_model.pb").exists()


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_a_vae_exports_its_posterior_and_its_generative_model(tmp_path, binary_digits, part):
    import tfae

    model = tfae.VAE((8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    x = binary_digits[1][:5]
    model.log_prob(x, num_samples=2, seed=0)  # its compiled estimates do not get in the way
    q = model.encode(x)
    path = export.tflite(model, tmp_path / f"{part}.tflite", part=part)
    if part == "encoder":  # q(z|x) = N(h, diag(scale^2)), without TFP on the device
        outputs = _litert(path, part, x)
        np.testing.assert_allclose(outputs["h"], q.mean().numpy(), atol=1e-5)
        np.testing.assert_allclose(outputs["scale"], q.stddev().numpy(), atol=1e-5)
    else:  # z ~ N(0, I) in, the mean of p(x|z) out: sampling on the device
        z = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
        np.testing.assert_allclose(_litert(path, part, z)["mean"],
                                   model.decode(z).mean().numpy(), atol=1e-5)
