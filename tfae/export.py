"""Deployment: encoders and decoders as TensorFlow SavedModels and LiteRT (.tflite) files.

A phone needs neither Keras nor TFP: it needs a function from tensors to tensors.
Each exported part has one signature:

- ``"encoder"``: ``encode(x) -> {"h": f(x)}``; for a ``tfae.VAE``,
  ``encode(x) -> {"h": E[z | x], "scale": the standard deviations of q(z | x)}``
- ``"decoder"``: ``decode(h) -> {"mean": E[x | h], "params": g(h)}``, the mean of
  p(x | h) (an image) and the raw decoder outputs (logits, or loc and scale), so
  that an app can draw or sample without TFP.
- ``"autoencoder"``: ``reconstruct(x) -> {"mean": g(f(x))}`` (for a VAE, the mean of
  p(x | z) at z = E[z | x])

A VAE's decoder part is its generative model: feed it z ~ N(0, I) to sample.

Files are written in a temporary sibling and renamed into place, so an export
that fails leaves nothing half-written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from tfae._checks import check_bool
from tfae._io import atomic_file, atomic_folder
from tfae.choices import SIGNATURES


def _check_model_and_part(model, part: str, path) -> Path:
    """Checks the arguments of an export and returns ``path`` as a Path."""
    if not isinstance(part, str) or part not in SIGNATURES:
        raise ValueError(f"Unknown part {part!r}; choose one of {tuple(SIGNATURES)}.")
    if not all(hasattr(model, name) for name in ("encoder", "decoder", "latent_dim")):
        raise TypeError(
            f"model must be a tfae model with an encoder and a decoder (e.g. "
            f"tfae.Autoencoder), got {type(model).__name__}."
        )
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a file or folder path (str or os.PathLike), got {path!r}.")
    return Path(path)


def signature_name(part: str) -> str:
    """The name of the signature an exported ``part`` serves (``encode``, ``decode``...)."""
    return SIGNATURES[part]


def _endpoint(model, part: str):
    """Returns the part's function of tensors and its input signature."""
    dtype = tf.as_dtype(model.compute_dtype)
    if part == "decoder":
        def decode(h):
            params = model.decoder(h)
            return {"mean": model.likelihood.distribution(params).mean(), "params": params}
        return decode, tf.TensorSpec([None, model.latent_dim], dtype, name="h")
    x_spec = tf.TensorSpec([None, *model.event_shape], dtype, name="x")
    if part == "encoder":
        if hasattr(model, "posterior_parameters"):  # a VAE: q(z | x) = N(h, diag(scale^2))
            def encode(x):
                loc, scale = model.posterior_parameters(x)
                return {"h": loc, "scale": scale}
            return encode, x_spec
        return (lambda x: {"h": model.encoder(x)}), x_spec
    return (lambda x: {"mean": model.reconstruct(x)}), x_spec


def _write_saved_model(model, part: str, directory: Path) -> None:
    function, spec = _endpoint(model, part)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(signature_name(part), function, input_signature=[spec])
    archive.write_out(str(directory), verbose=False)


def saved_model(model, path, part: str = "decoder") -> Path:
    """Writes one part of ``model`` as a TensorFlow SavedModel folder.

    Args:
        model: a trained ``tfae.Autoencoder`` (any tfae model with encoder/decoder).
        path: str or Path, the SavedModel folder to write (replaced if it exists).
        part: str, ``"encoder"``, ``"decoder"`` or ``"autoencoder"``.
            Defaults to ``"decoder"``.

    Returns:
        The folder written. Load it with ``tf.saved_model.load(path)`` and call
        ``.signatures[signature_name(part)]``.

    Examples:

        ```python
        tfae.export.saved_model(model, "decoder_savedmodel", part="decoder")
        ```
    """
    path = _check_model_and_part(model, part, path)
    with atomic_folder(path, overwrite=True) as staging:
        _write_saved_model(model, part, staging)
    return path


def tflite(model, path, part: str = "decoder", optimize: bool = False) -> Path:
    """Writes one part of ``model`` as a LiteRT flatbuffer (``.tflite``).

    The conversion goes through a temporary SavedModel. Run the file with
    ``ai_edge_litert.interpreter.Interpreter(model_path=path)
    .get_signature_runner(signature_name(part))``.

    Args:
        model: a trained ``tfae.Autoencoder``.
        path: str or Path, the ``.tflite`` file to write (replaced if it exists).
        part: str, ``"encoder"``, ``"decoder"`` or ``"autoencoder"``.
            Defaults to ``"decoder"``.
        optimize: bool, apply LiteRT's default optimisation (dynamic-range
            quantisation of the weights to 8 bits: about 4x smaller, outputs
            no longer identical). Defaults to False.

    Returns:
        The file written.
    """
    path = _check_model_and_part(model, part, path)
    optimize = check_bool(optimize, "optimize")
    if path.suffix != ".tflite":
        raise ValueError(
            f"LiteRT files end in .tflite, got path {path.name!r}; rename the output.")
    with tempfile.TemporaryDirectory() as scratch, atomic_file(path) as staged:
        saved = Path(scratch) / "saved_model"
        _write_saved_model(model, part, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved), signature_keys=[signature_name(part)])
        if optimize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        staged.write_bytes(converter.convert())
    return path
