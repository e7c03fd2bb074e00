"""Export of the autoencoders: every part and quantization reloads and matches the Keras
model at batch 1 and 37; the export verifies itself, refuses what it cannot honour, and
leaves nothing behind a failure; Keras's own ``model.export`` works."""

import os
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import tfae
from tfae import export

QUANTIZATIONS = (None, "float16", "dynamic_int8", "int8")
BOUNDS = {None: 1e-5, "float16": 1e-2, "dynamic_int8": 0.1, "int8": 0.2}


def _litert(path, signature, **inputs):
    runner = Interpreter(model_path=str(path)).get_signature_runner(signature)
    return runner(**{name: np.asarray(value, np.float32) for name, value in inputs.items()})


def _scaled(value, reference):
    return np.max(np.abs(value - reference) / np.maximum(1.0, np.abs(reference)))


@pytest.fixture(scope="module")
def models(trained_autoencoder, binary_digits):
    """A trained autoencoder, a VAE and a denoising autoencoder (a few steps each)."""
    keras.utils.set_random_seed(1)
    vae = tfae.VAE((8, 8, 1), latent_dim=3, hidden_units=(16,))
    dae = tfae.DenoisingAutoencoder((8, 8, 1), latent_dim=4, hidden_units=(16,))
    for model in (vae, dae):
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(binary_digits[0], epochs=2, batch_size=64, verbose=0)
    return {"ae": trained_autoencoder[0], "vae": vae, "dae": dae}


def _expected(model, part, x, h):
    """The Keras model's outputs of ``part``, computed through its public methods."""
    if part == "decoder":
        return {"mean": model.decode(h).mean().numpy(), "params": model.decoder(h).numpy()}
    if part == "autoencoder":
        return {"mean": model.reconstruct(x).numpy()}
    if isinstance(model, tfae.VAE):
        posterior = model.encode(x)
        return {"h": posterior.mean().numpy(), "scale": posterior.stddev().numpy()}
    return {"h": model.encode(x).numpy()}


# Every part at every quantization for the autoencoder and for the VAE's encoder (its
# own code: two outputs); the VAE's other parts and the DAE's (the autoencoder's code)
# at float32.
CASES = [(kind, part, quantize) for kind in ("ae", "vae", "dae")
         for part in ("encoder", "decoder", "autoencoder") for quantize in QUANTIZATIONS
         if kind == "ae" or quantize is None or (kind, part) == ("vae", "encoder")]


@pytest.mark.parametrize(("kind", "part", "quantize"), CASES)
def test_every_part_and_quantization_reloads_and_matches_keras(
        tmp_path, models, binary_digits, kind, part, quantize):
    model = models[kind]
    x_train, x_test = binary_digits
    rng = np.random.default_rng(3)
    representative = None
    if quantize == "int8":
        representative = x_train[:200] if part != "decoder" else rng.normal(
            size=(200, model.latent_dim)).astype("float32")
    report = export.tflite(model, tmp_path / "part.tflite", part=part, quantize=quantize,
                           representative_data=representative)
    assert report.path == tmp_path / "part.tflite" and report.quantize == quantize
    assert report.size_bytes == report.path.stat().st_size
    if quantize in (None, "float16"):
        assert report.max_error <= export.TOLERANCES[quantize] == report.tolerance
    else:
        assert report.tolerance is None and np.isfinite(report.max_error)
    for n in (1, 37):  # reloaded here, on other inputs than the export's probes
        x = x_test[rng.choice(len(x_test), n)]
        h = rng.normal(size=(n, model.latent_dim)).astype("float32")
        outputs = _litert(report.path, report.signature,
                          **({"h": h} if part == "decoder" else {"x": x}))
        expected = _expected(model, part, x, h)
        assert set(outputs) == set(expected)
        for name, value in expected.items():
            assert outputs[name].shape == value.shape
            assert _scaled(outputs[name], value) <= BOUNDS[quantize], name
    assert [p.name for p in tmp_path.iterdir()] == ["part.tflite"]


def test_quantization_shrinks_the_file(tmp_path):
    model = tfae.Autoencoder((256,), latent_dim=8, hidden_units=(512,))  # weights dominate
    sizes = {q: export.tflite(model, tmp_path / f"{q}.tflite", quantize=q).size_bytes
             for q in (None, "float16", "dynamic_int8")}
    assert sizes["float16"] < 0.6 * sizes[None]
    assert sizes["dynamic_int8"] < 0.6 * sizes["float16"]


def test_the_report_names_the_signature_and_prints_as_a_table(tmp_path, models):
    report = export.tflite(models["vae"], tmp_path / "encoder.tflite", part="encoder")
    assert report.signature == "encode" == export.signature_name("encoder")
    assert report.inputs == (("x", (-1, 8, 8, 1), "float32"),)
    assert dict((name, shape) for name, shape, _ in report.outputs) == {
        "h": (-1, 3), "scale": (-1, 3)}
    assert report.batch_sizes == (1, 37)
    table = str(report)
    for text in ("encode", "input x", "(batch, 8, 8, 1) float32", "output scale",
                 "verified", f"{report.size_bytes:,} bytes"):
        assert text in table


def test_saved_model_serves_every_part_without_tfae_objects(tmp_path, models, binary_digits):
    model = models["vae"]
    x = binary_digits[1][:5]
    h = np.random.default_rng(0).normal(size=(3, model.latent_dim)).astype("float32")
    for part in ("encoder", "decoder", "autoencoder"):
        report = export.saved_model(model, tmp_path / part, part=part)
        assert report.format == "saved_model" and report.max_error <= 1e-5
        loaded = tf.saved_model.load(str(report.path))
        inputs = {"h": tf.constant(h)} if part == "decoder" else {"x": tf.constant(x)}
        outputs = loaded.signatures[report.signature](**inputs)
        for name, value in _expected(model, part, x, h).items():
            np.testing.assert_allclose(outputs[name].numpy(), value, atol=1e-6)


def test_a_vae_decoder_samples_on_the_device(tmp_path, models):
    model = models["vae"]
    path = export.tflite(model, tmp_path / "decoder.tflite").path  # the default part
    z = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(_litert(path, "decode", h=z)["mean"],
                               model.decode(z).mean().numpy(), atol=1e-5)


def test_bad_export_requests_are_refused_and_write_nothing(tmp_path, models):
    model = models["ae"]
    cases = [
        (ValueError, "part must be one of", dict(part="latent")),
        (ValueError, "part must be one of", dict(part="sampler")),
        (ValueError, "quantize must be None", dict(quantize="yes")),
        (ValueError, "quantize must be None", dict(quantize=True)),
        (ValueError, "representative_data", dict(quantize="int8")),
        (ValueError, "shape", dict(part="decoder", quantize="int8",
                                   representative_data=np.zeros((5, 3)))),
        (ValueError, "NaN", dict(part="decoder", quantize="int8",
                                 representative_data=np.full((5, 8), np.nan))),
        (ValueError, "keys", dict(part="decoder", representative_data={"z": np.zeros((5, 8))})),
        (ValueError, r"must lie in \[0, 1\]",
         dict(part="encoder", representative_data=np.full((5, 8, 8, 1), 2.0))),
        (TypeError, "overwrite", dict(overwrite="yes")),
    ]
    for error, message, kwargs in cases:
        with pytest.raises(error, match=message):
            export.tflite(model, tmp_path / "x.tflite", **kwargs)
    with pytest.raises(ValueError, match=".tflite"):
        export.tflite(model, tmp_path / "decoder.bin")
    with pytest.raises(TypeError, match="tfae model"):
        export.saved_model(keras.Sequential(), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_path_is_kept_unless_overwrite(tmp_path, models):
    target = tmp_path / "decoder.tflite"
    target.write_bytes(b"mine")
    with pytest.raises(ValueError, match="overwrite=True"):
        export.tflite(models["ae"], target)
    assert target.read_bytes() == b"mine"
    export.tflite(models["ae"], target, overwrite=True)
    assert target.stat().st_size > 1000
    folder = tmp_path / "saved"
    export.saved_model(models["ae"], folder)
    with pytest.raises(ValueError, match="overwrite=True"):
        export.saved_model(models["ae"], folder, part="encoder")
    report = export.saved_model(models["ae"], folder, part="encoder", overwrite=True)
    assert report.part == "encoder"


def test_a_file_beyond_the_tolerance_is_not_written(tmp_path, models, monkeypatch):
    monkeypatch.setitem(export.TOLERANCES, "float16", 1e-9)  # float16 cannot meet this
    with pytest.raises(export.ExportVerificationError, match="beyond the float16 tolerance"):
        export.tflite(models["ae"], tmp_path / "decoder.tflite", quantize="float16")
    assert list(tmp_path.iterdir()) == []


def test_files_and_folders_get_the_users_umask(tmp_path, models):
    previous = os.umask(0o022)
    try:
        export.tflite(models["ae"], tmp_path / "d.tflite")
        export.saved_model(models["ae"], tmp_path / "deep" / "saved")
    finally:
        os.umask(previous)
    for path in tmp_path.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


@pytest.mark.parametrize("kind", ["ae", "vae", "dae"])
def test_keras_export_works_without_arguments(tmp_path, models, binary_digits, kind):
    model = models[kind]
    x = binary_digits[1][:37]
    model.export(str(tmp_path / "model.tflite"), format="litert", verbose=False)
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    for n in (1, 37):
        runner = Interpreter(model_path=str(tmp_path / "model.tflite")).get_signature_runner()
        (output,) = runner(x=x[:n]).values()
        np.testing.assert_allclose(output, model(x[:n]).numpy(), atol=1e-5)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.serve(x).numpy(), model(x).numpy(), atol=1e-6)
