"""``tfae.export.tflite`` and ``tfae.export.saved_model``: write a part, run it, compare."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfae import _checks
from tfae._io import atomic_file, atomic_folder
from tfae.choices import QUANTIZATIONS
from tfae.export import conversion
from tfae.export.endpoint import Endpoint
from tfae.export.parts import endpoint_of
from tfae.export.report import ExportReport

#: The bound on ``ExportReport.max_error`` per quantization (None: reported only).
#: float16 rounds every weight to 11 significant bits (relative 2^-11 = 4.9e-4), and
#: the roundings add up along a network: on an 8x8-digit autoencoder trained 15
#: epochs, 2.6e-3 on its codes and 1.7e-3 on its reconstructions, so its bound is
#: 1e-2 (the measured error is in every report).
TOLERANCES = {None: 1e-5, "float16": 1e-2, "dynamic_int8": None, "int8": None}

#: The probe batch sizes every written file is run at: one example, and an odd batch.
PROBE_BATCH_SIZES = (1, 37)

#: At most this many examples of ``representative_data`` are run for the check.
_CHECKED_EXAMPLES = 256


class ExportVerificationError(ValueError):
    """A written file's outputs differ from the model's beyond the tolerance; nothing
    was written."""


def _check_path(path, suffix: str | None) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a file or folder path (str or os.PathLike), "
                        f"got {path!r}.")
    path = Path(path)
    if suffix is not None and path.suffix != suffix:
        raise ValueError(f"LiteRT files end in {suffix}, got path {path.name!r}; "
                         "rename the output.")
    return path


def _check_quantize(quantize) -> str | None:
    if quantize is not None and (not isinstance(quantize, str) or quantize not in QUANTIZATIONS):
        raise ValueError(f"quantize must be None (float32) or one of {QUANTIZATIONS}, got "
                         f"{quantize!r}.")
    return quantize


def _check_representative(model, endpoint: Endpoint, data) -> dict | None:
    """``representative_data`` as a dict input name -> checked float32 array."""
    if data is None:
        return None
    names = endpoint.input_names()
    if not isinstance(data, dict):
        if len(names) != 1:
            raise TypeError(f"representative_data must be a dict with the keys {names} "
                            f"for the {endpoint.part}, got {type(data).__name__}.")
        data = {names[0]: data}
    if set(data) != set(names):
        raise ValueError(f"representative_data must have the keys {names} (the inputs of "
                         f"the {endpoint.part}), got {sorted(data)}.")
    checked, counts = {}, set()
    for spec in endpoint.inputs:
        label = f"representative_data[{spec.name!r}]"
        if spec.name == "x" and hasattr(model, "check_inputs"):  # the model's own check
            value = np.asarray(model.check_inputs(data[spec.name], label), np.float32)
        else:
            value = _checks.as_float_array(data[spec.name], label)
            _checks.check_not_empty(value, label)
            _checks.check_finite(value, label)
            _checks.check_example_shape(value, tuple(spec.shape[1:]), label)
        checked[spec.name] = value
        counts.add(len(value))
    if len(counts) != 1:
        raise ValueError(f"representative_data's arrays must have one number of examples, "
                         f"got {sorted(counts)}.")
    return checked


def _probes(endpoint: Endpoint, representative: dict | None) -> list[dict]:
    rng = np.random.default_rng(0)
    probes = [endpoint.probe(n, rng) for n in PROBE_BATCH_SIZES]
    if representative is not None:
        probes.append({name: value[:_CHECKED_EXAMPLES] for name, value in representative.items()})
    return probes


def _verified(run, endpoint: Endpoint, probes: list[dict], quantize, path: Path,
              fmt: str, size: int, signature) -> ExportReport:
    """Runs the written file on every probe and returns the report, or raises."""
    max_abs, max_error = 0.0, 0.0
    for inputs in probes:
        diff, error = endpoint.compare(inputs, run(inputs))
        max_abs, max_error = max(max_abs, diff), max(max_error, error)
    tolerance = TOLERANCES[quantize]
    if tolerance is not None and not max_error <= tolerance:
        advice = ("float32 arithmetic cannot follow this model that closely (see the part's "
                  "documentation in tfae.export, e.g. a mixture's badly conditioned "
                  "covariances)" if quantize is None else
                  "choose quantize=None, or 'dynamic_int8' to have the error reported only")
        raise ExportVerificationError(
            f"the exported {endpoint.part} differs from the model by {max_error:.3g} "
            f"(max |file - model| {max_abs:.3g}), beyond the "
            f"{'float32' if quantize is None else quantize} tolerance {tolerance:g}; nothing "
            f"was written: {advice}.")
    return ExportReport(path=path, format=fmt, part=endpoint.part,
                        signature=endpoint.signature, quantize=quantize, size_bytes=size,
                        max_abs_diff=max_abs, max_error=max_error, tolerance=tolerance,
                        batch_sizes=tuple(len(next(iter(p.values()))) for p in probes),
                        inputs=tuple(signature[0]), outputs=tuple(signature[1]))


def _tracked(model):
    """What the SavedModel tracks: the Keras model (its variables), or nothing."""
    import keras

    return model if isinstance(model, keras.layers.Layer) else None


def tflite(model, path, part: str | None = None, quantize: str | None = None,
           representative_data=None, overwrite: bool = False) -> ExportReport:
    """Writes one part of ``model`` as a LiteRT file (``.tflite``) and verifies it.

    The file has one signature (``tfae.export.signature_name(part)``), float32
    inputs and outputs with a dynamic batch axis, and builtin LiteRT ops only. Once
    written (under a hidden name), it is run with ``ai_edge_litert`` on probe batches
    of 1 and 37 examples (and on up to 256 examples of ``representative_data``) and
    compared with the model; beyond the tolerance nothing is written.

    Args:
        model: a tfae model: ``Autoencoder``, ``DenoisingAutoencoder`` or ``VAE``
            (parts ``"encoder"``, ``"decoder"``, ``"autoencoder"``), ``MADE``
            (``"conditionals"``, ``"log_prob"``, ``"sampler"``) or a fitted
            ``GaussianMixture`` (``"log_prob"``, ``"sampler"``).
        path: str or Path ending in ``.tflite``.
        part: str or None, the part to write. None writes the generative part: the
            ``"decoder"`` of an autoencoder, the ``"sampler"`` of MADE and the mixture.
        quantize: None (float32, within 1e-5 of the model), ``"float16"`` (weights
            stored as float16: half the size, within 1e-2; typically a few 1e-3),
            ``"dynamic_int8"``
            (weights as int8, about a quarter of the size; error reported) or
            ``"int8"`` (weights and activations int8, calibrated on
            ``representative_data``; error reported).
        representative_data: None, an array of inputs of the part (e.g. training
            images for an encoder, codes for a decoder), or a dict input name ->
            array for parts with several inputs. Required by ``"int8"``; with any
            quantization it is also run for the verification.
        overwrite: bool, replace ``path`` if it exists. Defaults to False.

    Returns:
        ``tfae.export.ExportReport``; ``print(report)`` shows it as a table.

    Raises:
        ValueError: an unknown part or quantization, ``"int8"`` without
            representative data, ``path`` exists and ``overwrite`` is False, or the
            file's outputs differ beyond the tolerance (``ExportVerificationError``).
        TypeError: ``model`` is not a tfae model.

    Examples:
        >>> import pathlib, tempfile, tfae
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> model = tfae.Autoencoder((8, 8, 1), latent_dim=2, hidden_units=(8,))
        >>> report = tfae.export.tflite(model, folder / "decoder.tflite", part="decoder")
        >>> report.signature, report.inputs, report.max_error <= report.tolerance
        ('decode', (('h', (-1, 2), 'float32'),), True)
    """
    path = _check_path(path, ".tflite")
    quantize = _check_quantize(quantize)
    overwrite = _checks.check_bool(overwrite, "overwrite")
    endpoint = endpoint_of(model, part)
    if quantize in endpoint.refused:
        raise ValueError(endpoint.refused[quantize])
    representative = _check_representative(model, endpoint, representative_data)
    if quantize == "int8" and representative is None:
        raise ValueError('quantize="int8" calibrates the activations on representative_data; '
                         "pass some inputs of the part (e.g. a few hundred training "
                         'examples), or choose quantize="dynamic_int8".')
    content = conversion.litert_bytes(endpoint, _tracked(model), quantize, representative)
    with atomic_file(path, overwrite=overwrite) as staged:
        staged.write_bytes(content)
        run, described = conversion.litert_runner(staged, endpoint.signature)
        report = _verified(run, endpoint, _probes(endpoint, representative), quantize, path,
                           "tflite", len(content), described)
    return report


def _folder_size(folder: Path) -> int:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file())


def saved_model(model, path, part: str | None = None, representative_data=None,
                overwrite: bool = False) -> ExportReport:
    """Writes one part of ``model`` as a TensorFlow SavedModel folder and verifies it.

    The folder has one signature, ``tfae.export.signature_name(part)``; it is loaded
    back and run on probe batches of 1 and 37 examples (and on ``representative_data``
    when given) and compared with the model (float32, within 1e-5); beyond that
    nothing is written.

    Args:
        model: a tfae model (see ``tflite``).
        path: str or Path, the folder to write.
        part: str or None, see ``tflite``.
        representative_data: None, or inputs of the part (see ``tflite``) to run in
            the verification besides the probes.
        overwrite: bool, replace ``path`` if it exists. Defaults to False.

    Returns:
        ``tfae.export.ExportReport``. Load the folder with ``tf.saved_model.load(path)``
        and call ``.signatures[report.signature]``.

    Examples:
        >>> import pathlib, tempfile, tfae
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> model = tfae.Autoencoder((8, 8, 1), latent_dim=2, hidden_units=(8,))
        >>> tfae.export.saved_model(model, folder / "encoder", part="encoder").signature
        'encode'
    """
    path = _check_path(path, None)
    overwrite = _checks.check_bool(overwrite, "overwrite")
    endpoint = endpoint_of(model, part)
    representative = _check_representative(model, endpoint, representative_data)
    with atomic_folder(path, overwrite=overwrite) as staging:
        conversion.write_saved_model(endpoint, _tracked(model), staging)
        function = conversion.saved_model_function(staging, endpoint.signature)
        report = _verified(
            lambda inputs: conversion.call_saved_model(function, inputs), endpoint,
            _probes(endpoint, representative), None, path, "saved_model",
            _folder_size(staging), conversion.saved_model_signature(function))
    return report
