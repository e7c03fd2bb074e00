"""From an ``Endpoint`` to a SavedModel folder or LiteRT bytes, and back to outputs.

LiteRT conversion goes through a SavedModel with the endpoint's one signature, with
builtin LiteRT ops only (no Flex/SELECT_TF_OPS: the phone's runtime lacks them) and
a dynamic batch axis. ``run_litert`` and ``run_saved_model`` run written files the
way a deployment does, for ``tfae.export``'s verification.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfae._quiet import quiet_saving
from tfae.choices import QUANTIZATIONS
from tfae.export.endpoint import Endpoint


def write_saved_model(endpoint: Endpoint, tracked, directory) -> None:
    """Writes ``endpoint`` as a SavedModel with one signature, ``endpoint.signature``.

    Args:
        endpoint: the part to write.
        tracked: the Keras model (or layer) whose variables the function reads, or
            None when it reads constants only.
        directory: str or Path, a folder that does not exist yet.
    """
    archive = keras.export.ExportArchive()
    if tracked is not None:
        archive.track(tracked)
    else:  # an ExportArchive needs something to track; the function holds constants
        archive.track(keras.layers.Identity())
    archive.add_endpoint(endpoint.signature, endpoint.function,
                         input_signature=endpoint.input_signature())
    with quiet_saving():
        archive.write_out(str(directory), verbose=False)


def _representative(endpoint: Endpoint, data: dict):
    """The representative dataset generator of a full-integer conversion: one example
    at a time, as the converter calibrates."""
    names = endpoint.input_names()
    count = len(next(iter(data.values())))

    def generate():
        for i in range(count):
            yield {name: data[name][i:i + 1] for name in names}

    return generate


def litert_bytes(endpoint: Endpoint, tracked, quantize: str | None = None,
                 representative: dict | None = None) -> bytes:
    """Converts ``endpoint`` to a LiteRT flatbuffer.

    Args:
        endpoint: the part to convert.
        tracked: see ``write_saved_model``.
        quantize: None (float32), ``"float16"`` (weights stored as float16),
            ``"dynamic_int8"`` (weights as int8, activations quantized on the fly) or
            ``"int8"`` (full integer: weights and activations int8, float32 inputs
            and outputs; needs ``representative``).
        representative: dict input name -> float32 array (n, ...), the calibration
            data of ``"int8"``.

    Returns:
        bytes, the flatbuffer.
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be None or one of {QUANTIZATIONS}, got {quantize!r}.")
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "saved_model"
        write_saved_model(endpoint, tracked, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved), signature_keys=[endpoint.signature])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            converter.representative_dataset = _representative(endpoint, representative)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with warnings.catch_warnings():  # int8 calibration runs tf.lite's own interpreter
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()


def litert_runner(path, signature: str):
    """One interpreter of a LiteRT file, as an app holds it: returns ``(run, described)``,
    ``run(inputs) -> outputs`` (NumPy dicts; the runner resizes its inputs to each batch)
    and the signature as (inputs, outputs) lists of (name, shape, dtype), -1 for a
    dynamic axis."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner(signature)

    def run(inputs: dict) -> dict:
        outputs = runner(**{name: np.asarray(value, np.float32)
                            for name, value in inputs.items()})
        return {name: np.asarray(value) for name, value in outputs.items()}

    def describe(details: dict) -> list:
        return [(name, tuple(int(n) for n in detail["shape_signature"]),
                 np.dtype(detail["dtype"]).name) for name, detail in details.items()]

    return run, (describe(runner.get_input_details()), describe(runner.get_output_details()))


def run_litert(path, signature: str, inputs: dict) -> dict:
    """Runs a LiteRT file's ``signature`` on ``inputs`` with ``ai_edge_litert``."""
    return litert_runner(path, signature)[0](inputs)


def litert_signature(path, signature: str) -> tuple[list, list]:
    """The (inputs, outputs) of a LiteRT file's ``signature`` (see ``litert_runner``)."""
    return litert_runner(path, signature)[1]


def saved_model_function(path, signature: str):
    """A SavedModel's ``signature``, loaded as a serving container loads it."""
    return tf.saved_model.load(str(path)).signatures[signature]


def call_saved_model(function, inputs: dict) -> dict:
    """Runs a loaded signature (``saved_model_function``) on NumPy ``inputs``."""
    outputs = function(**{name: tf.constant(value, tf.float32)
                          for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def run_saved_model(path, signature: str, inputs: dict) -> dict:
    """Runs a SavedModel's ``signature`` on ``inputs``."""
    return call_saved_model(saved_model_function(path, signature), inputs)


def saved_model_signature(function) -> tuple[list, list]:
    """The (inputs, outputs) of a loaded signature, as ``litert_signature`` gives them."""
    def describe(specs: dict) -> list:
        return [(name, tuple(-1 if n is None else int(n) for n in spec.shape),
                 spec.dtype.name) for name, spec in sorted(specs.items())]

    inputs = function.structured_input_signature[1]
    return describe(inputs), describe(function.structured_outputs)
