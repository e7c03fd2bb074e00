"""Runs an exported tfae part on a device-like Python: NumPy and LiteRT only, no TensorFlow.

    python export/run_litert.py decoder.tflite codes.npy images.npy

Reads the input array from a .npy file, runs the file's only signature (``encode``,
``decode`` or ``reconstruct``, see ``tfae.export``) and saves each output as
``<output stem>.<name>.npy`` (e.g. ``images.mean.npy``). This is what an app does
on a phone with the LiteRT runtime.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def run(model_path, inputs: np.ndarray) -> dict:
    """Returns the outputs of the model's single signature for ``inputs``."""
    interpreter = Interpreter(model_path=str(model_path))
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError(f"{model_path} has signatures {sorted(signatures)}; expected one.")
    (name, io), = signatures.items()
    (input_name,) = io["inputs"]
    runner = interpreter.get_signature_runner(name)
    return runner(**{input_name: np.asarray(inputs, np.float32)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a .tflite file written by tfae.export.tflite")
    parser.add_argument("inputs", type=Path, help=".npy file: codes h (decoder) or images x")
    parser.add_argument("output", type=Path, help="output stem; one .npy file per output")
    args = parser.parse_args(argv)
    outputs = run(args.model, np.load(args.inputs))
    for name, value in outputs.items():
        path = args.output.with_suffix(f".{name}.npy")
        np.save(path, value)
        low, high = value.min(), value.max()
        print(f"{name}: shape {value.shape}, range [{low:.3g}, {high:.3g}] -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
