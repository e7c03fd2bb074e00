"""Runs an exported tfae part on a device-like Python: NumPy and LiteRT only, no TensorFlow.

    python export/run_litert.py decoder.tflite codes.npy images
    python export/run_litert.py sampler.tflite noise.npz samples
    python export/run_litert.py decoder.tflite --samples 64 --seed 0 --png grid.png

The first form reads the inputs of the file's only signature (``encode``, ``decode``,
``reconstruct``, ``conditionals``, ``log_prob`` or ``sample``, see ``tfae.export``)
from a .npy file (one input) or a .npz file whose keys are the input names (any
number of inputs), runs it and saves each output as ``<stem>.<name>.npy`` (e.g.
``images.mean.npy``; a stem ending in ``.npy`` loses that suffix first).

The second form draws every input from its noise distribution instead, by the
input's name: ``u`` and ``u_*`` uniform on [0, 1); ``h``, ``z`` and ``eps``
standard normal; ``x`` is data and cannot be drawn. One generator
``numpy.random.default_rng(seed)`` draws the inputs in the alphabetical order of
their names, each as ``rng.random((N, *shape), dtype=np.float32)`` (uniform) or
``rng.standard_normal((N, *shape), dtype=np.float32)`` (normal), so an app that
draws the same way gets the same samples. ``--png`` writes the image output
(``mean`` for a decoder, ``x`` for a sampler) as a grid of 8-bit grey images,
values clipped to [0, 1] for display only (the .npy files of ``--out`` are raw).

This is what an app does on a phone with the LiteRT runtime: it imports NumPy,
``ai_edge_litert`` and the standard library only. Every user error is one line on
stderr and exit status 2; nothing is written unless everything succeeds.
"""

import argparse
import io
import math
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

PROG = "run_litert.py"

#: The noise distribution of an input, by its name (see ``noise_of``).
NORMAL_NAMES = ("h", "z", "eps")
#: The outputs shown by ``--png``, in order of preference.
IMAGE_OUTPUTS = ("mean", "x")
#: Grid layout of ``--png``: at most this many images a row, this gap (pixels, grey
#: level) between them and in the empty cells of the last row.
GRID_COLUMNS, GRID_GAP, GAP_LEVEL = 10, 1, 128


class UsageError(ValueError):
    """A user error: reported as one line on stderr, exit status 2 (a ValueError for
    callers of ``run``)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: main() reports it
        raise UsageError(message)


def _shape_text(shape) -> str:
    """``(batch, 28, 28, 1)`` for a signature shape (-1 for the batch axis)."""
    items = ["batch" if i == 0 and n == -1 else ("?" if n == -1 else str(n))
             for i, n in enumerate(shape)]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


class Model:
    """A LiteRT file with one signature: its inputs, outputs and runner.

    Args:
        path: str or Path, a ``.tflite`` file (one signature, float32 inputs).

    Raises:
        UsageError: the file is missing, is not a LiteRT file, has several
            signatures or inputs that are not float32.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UsageError(f"{self.path}: no such file")
        content = self.path.read_bytes()
        if content[4:8] != b"TFL3":  # the flatbuffer file identifier of every .tflite file
            raise UsageError(f"{self.path} is not a LiteRT (.tflite) file")
        try:
            self.interpreter = Interpreter(model_content=content)
        except (ValueError, RuntimeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise UsageError(f"{self.path} is not a valid LiteRT file ({first})") from None
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise UsageError(f"{self.path} has signatures {sorted(signatures)}; "
                             f"{PROG} runs files with exactly one (tfae.export writes one)")
        (self.signature,) = signatures
        self.runner = self.interpreter.get_signature_runner(self.signature)
        details = self.runner.get_input_details()
        #: input name -> shape signature (a tuple, -1 for the dynamic batch axis)
        self.inputs = {name: tuple(int(n) for n in detail["shape_signature"])
                       for name, detail in sorted(details.items())}
        self.outputs = {name: tuple(int(n) for n in detail["shape_signature"])
                        for name, detail in sorted(self.runner.get_output_details().items())}
        for name, detail in details.items():
            if np.dtype(detail["dtype"]) != np.float32:
                raise UsageError(f"input {name} of {self.path.name} is "
                                 f"{np.dtype(detail['dtype']).name}; {PROG} runs files "
                                 f"with float32 inputs")

    def describe_inputs(self) -> str:
        return ", ".join(f"{name} {_shape_text(shape)}" for name, shape in self.inputs.items())

    def check(self, inputs: dict) -> dict:
        """Returns ``inputs`` as float32 arrays after checking them against the signature.

        Raises:
            UsageError: wrong names, a dtype that does not cast to float32 exactly in
                kind (strings, objects, complex), values that are not finite (or do
                not fit in float32), a shape that the signature does not accept, or
                inputs with different numbers of examples.
        """
        if set(inputs) != set(self.inputs):
            raise UsageError(f"{self.path.name} takes inputs {self.describe_inputs()}; "
                             f"got {', '.join(sorted(inputs)) or 'none'}")
        checked = {}
        for name, expected in self.inputs.items():
            value = np.asarray(inputs[name])
            if not np.can_cast(value.dtype, np.float32, "same_kind"):
                raise UsageError(f"input {name} has dtype {value.dtype}; {self.path.name} "
                                 f"takes float32 (bools, ints and floats are converted)")
            if value.ndim != len(expected) or any(
                    n != -1 and n != m for n, m in zip(expected, value.shape, strict=True)):
                raise UsageError(f"input {name} has shape {_shape_text(value.shape)}; "
                                 f"{self.path.name} expects {_shape_text(expected)}")
            if value.shape[0] == 0:
                raise UsageError(f"input {name} is empty (0 examples); pass at least one")
            if not np.all(np.isfinite(value)):
                count = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
                raise UsageError(f"input {name} has {count} non-finite values (nan or inf); "
                                 f"pass finite values")
            with np.errstate(over="ignore"):  # reported below, not as a warning
                cast = value.astype(np.float32)
            if not np.all(np.isfinite(cast)):
                raise UsageError(f"input {name} has values beyond the float32 range "
                                 f"(|value| > {np.finfo(np.float32).max:.3g})")
            checked[name] = cast
        sizes = {name: len(value) for name, value in checked.items()}
        if len(set(sizes.values())) > 1:
            raise UsageError("the inputs have different numbers of examples: " + ", ".join(
                f"{name} {size}" for name, size in sizes.items()))
        return checked

    def __call__(self, inputs: dict) -> dict:
        """Runs the signature on checked ``inputs``; returns the outputs by name."""
        inputs = self.check(inputs)
        try:
            outputs = self.runner(**inputs)
        except (RuntimeError, ValueError) as error:  # not expected after the checks
            raise RuntimeError(f"{self.path.name} failed to run: "
                               f"{str(error).strip().splitlines()[0]}") from None
        return {name: np.asarray(value) for name, value in sorted(outputs.items())}


def run(model_path, inputs) -> dict:
    """Returns the outputs of the model's single signature.

    Args:
        model_path: str or Path, the .tflite file.
        inputs: an array (files with one input) or a dict input name -> array.

    Returns:
        dict output name -> NumPy array.

    Raises:
        UsageError: see ``Model`` and ``Model.check``.
    """
    model = Model(model_path)
    if not isinstance(inputs, dict):
        if len(model.inputs) != 1:
            raise UsageError(f"{model.path.name} takes several inputs "
                             f"({model.describe_inputs()}); pass a dict (or a .npz) of them")
        inputs = {next(iter(model.inputs)): inputs}
    return model(inputs)


def noise_of(name: str) -> str:
    """``"uniform"``, ``"normal"`` or ``"data"``: how ``--samples`` draws an input."""
    if name == "u" or name.startswith("u_"):
        return "uniform"
    if name in NORMAL_NAMES:
        return "normal"
    return "data"


def draw(model: Model, n: int, seed: int) -> dict:
    """Draws every input of ``model`` from its noise distribution (see the module doc).

    Raises:
        UsageError: an input is data (``x``) or has no documented noise, or an axis
            other than the batch is dynamic.
    """
    rng = np.random.default_rng(seed)
    drawn = {}
    for name, shape in sorted(model.inputs.items()):
        kind = noise_of(name)
        if kind == "data":
            what = "data x" if name == "x" else f"input {name} (no documented noise)"
            raise UsageError(f"{model.path.name} takes {what} of shape "
                             f"{_shape_text(shape)}; pass INPUT.npy instead "
                             f"of --samples")
        if any(n_ == -1 for n_ in shape[1:]):
            raise UsageError(f"input {name} has shape {_shape_text(shape)} with a dynamic "
                             f"axis besides the batch; pass INPUT instead of --samples")
        size = (n, *shape[1:])
        drawn[name] = (rng.random(size, dtype=np.float32) if kind == "uniform"
                       else rng.standard_normal(size, dtype=np.float32))
    return drawn


def image_layout(name: str, shape, image_shape=None) -> tuple:
    """The (H, W) images that an output of per-example ``shape`` shows as.

    (H, W, 1) and (H, W) are images already; a flat (D,) is shown as ``image_shape``
    (H, W with H * W = D), or as sqrt(D) x sqrt(D) when D is a square number.

    Raises:
        UsageError: the output cannot be shown as grey images of that shape.
    """
    shape = tuple(shape)
    full = _shape_text((-1, *shape))
    if len(shape) == 3 and shape[2] != 1:
        raise UsageError(f"output {name} has {shape[2]} channels, shape {full}; --png "
                         f"writes grey images (1 channel)")
    if len(shape) in (2, 3):
        if image_shape is not None and tuple(image_shape) != shape[:2]:
            raise UsageError(f"--image-shape {image_shape[0]},{image_shape[1]} does not match "
                             f"output {name}'s images of {shape[0]} x {shape[1]}")
        return shape[:2]
    if len(shape) != 1:
        raise UsageError(f"output {name} has shape {full}; --png shows (batch, H, W, 1), "
                         f"(batch, H, W) or flat (batch, D) outputs")
    (size,) = shape
    if image_shape is None:
        side = math.isqrt(size)
        if side * side != size:
            raise UsageError(f"output {name} has {size} values an example, not a square "
                             f"number; pass --image-shape H,W with H * W = {size}")
        return side, side
    if image_shape[0] * image_shape[1] != size:
        raise UsageError(f"--image-shape {image_shape[0]},{image_shape[1]} has "
                         f"{image_shape[0] * image_shape[1]} pixels; output {name} has "
                         f"{size} values an example")
    return tuple(image_shape)


def grid(images: np.ndarray) -> np.ndarray:
    """Tiles (N, H, W) values in [0, 1] as a uint8 grid: up to ``GRID_COLUMNS`` a row,
    ``GRID_GAP`` pixels of grey ``GAP_LEVEL`` between them (and in empty cells)."""
    n, height, width = images.shape
    columns = min(n, GRID_COLUMNS)
    rows = -(-n // columns)
    pixels = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    out = np.full((rows * (height + GRID_GAP) - GRID_GAP,
                   columns * (width + GRID_GAP) - GRID_GAP), GAP_LEVEL, np.uint8)
    for i, image in enumerate(pixels):
        top, left = (i // columns) * (height + GRID_GAP), (i % columns) * (width + GRID_GAP)
        out[top:top + height, left:left + width] = image
    return out


def png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a (height, width) uint8 array (no filtering)."""
    pixels = np.ascontiguousarray(pixels, np.uint8)
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels], axis=1)  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b""))


def _write_all(files: dict) -> None:
    """Writes path -> bytes, each to a temporary sibling renamed into place, so that a
    failure leaves no file half-written (and none of them if a write fails)."""
    umask = os.umask(0o022)  # mkstemp makes 0600 files: give them the user's umask instead
    os.umask(umask)
    written = []
    try:
        for path, content in files.items():
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            written.append((temporary, path))
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.chmod(temporary, 0o666 & ~umask)
        for temporary, path in written:
            os.replace(temporary, path)
    finally:
        for temporary, _ in written:
            if os.path.exists(temporary):
                os.remove(temporary)


def _npy_bytes(value: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return buffer.getvalue()


def _output_paths(stem: Path, names) -> dict:
    base = str(stem)[:-4] if str(stem).endswith(".npy") else str(stem)
    return {name: Path(f"{base}.{name}.npy") for name in names}


def _load_inputs(path: Path, model: Model) -> dict:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            if len(model.inputs) != 1:
                raise UsageError(f"{model.path.name} takes several inputs "
                                 f"({model.describe_inputs()}); pass a .npz with those keys")
            return {next(iter(model.inputs)): loaded}
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except UsageError:
        raise
    except Exception as error:  # not .npy/.npz, pickled objects, truncated...
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UsageError(f"cannot read {path} as .npy or .npz "
                         f"({type(error).__name__}{': ' + first if first else ''})") from None


def _image_shape(text: str):
    try:
        height, width = (int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--image-shape must be H,W (two positive integers), "
                         f"got {text!r}") from None
    if height < 1 or width < 1:
        raise UsageError(f"--image-shape must be H,W (two positive integers), got {text!r}")
    return height, width


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                     epilog="Errors: one line on stderr, exit status 2.")
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a .tflite file written by tfae.export.tflite")
    parser.add_argument("inputs", type=Path, nargs="?", metavar="INPUT",
                        help=".npy (files with one input) or .npz keyed by input name")
    parser.add_argument("output", type=Path, nargs="?", metavar="OUTPUT",
                        help="output stem: one <stem>.<name>.npy file per output")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="draw N examples of every input from its noise distribution "
                             "instead of reading INPUT")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="seed of numpy.random.default_rng for --samples (default 0)")
    parser.add_argument("--png", type=Path, metavar="FILE",
                        help="write the image output (mean or x) as a PNG grid")
    parser.add_argument("--out", type=Path, metavar="STEM",
                        help="with --samples: save the outputs as <STEM>.<name>.npy")
    parser.add_argument("--image-shape", metavar="H,W",
                        help="--png: the image shape of a flat (N, H * W) output")
    return parser


def _main(argv) -> int:
    args = _parser().parse_args(argv)
    if args.samples is None:
        if args.inputs is None or args.output is None:
            raise UsageError("pass INPUT and OUTPUT (MODEL INPUT.npy OUTPUT), or --samples N")
        for flag, value in (("--seed", args.seed), ("--out", args.out)):
            if value is not None:
                raise UsageError(f"{flag} goes with --samples (with INPUT, OUTPUT is the stem)")
        stem = args.output
    else:
        if args.inputs is not None:
            raise UsageError("pass either INPUT or --samples, not both")
        if args.samples < 1:
            raise UsageError(f"--samples must be at least 1, got {args.samples}")
        if args.seed is not None and args.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
        if args.png is None and args.out is None:
            raise UsageError("--samples writes nothing without --png FILE or --out STEM")
        stem = args.out
    if args.image_shape is not None and args.png is None:
        raise UsageError("--image-shape goes with --png")
    image_shape = None if args.image_shape is None else _image_shape(args.image_shape)
    for path in (stem, args.png):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"{path}: folder {path.parent} does not exist")

    model = Model(args.model)
    seed = 0 if args.seed is None else args.seed
    drawn = draw(model, args.samples, seed) if args.samples is not None else None
    shown = None
    if args.png is not None:  # checked before running: nothing runs for a refused command
        candidates = [name for name in IMAGE_OUTPUTS if name in model.outputs]
        if not candidates:
            raise UsageError(f"{model.path.name} has outputs {', '.join(model.outputs)}; "
                             f"--png shows {' or '.join(IMAGE_OUTPUTS)}")
        shown = candidates[0]
        if -1 not in model.outputs[shown][1:]:
            image_layout(shown, model.outputs[shown][1:], image_shape)
    inputs = drawn if drawn is not None else _load_inputs(args.inputs, model)
    outputs = model(inputs)

    files = {}
    if shown is not None:
        value = outputs[shown]
        images = value.reshape(len(value), *image_layout(shown, value.shape[1:], image_shape))
        if not np.all(np.isfinite(images)):
            print(f"{PROG}: warning: {shown} has non-finite values; the PNG shows nan as 0",
                  file=sys.stderr)
            images = np.nan_to_num(images, nan=0.0)  # inf clips to 0 or 1
        files[args.png] = png_bytes(grid(images))
    paths = _output_paths(stem, outputs) if stem is not None else {}
    for name, path in paths.items():
        files[path] = _npy_bytes(outputs[name])
    _write_all(files)

    if args.samples is not None:
        print(f"{model.signature}: drew {args.samples} examples of "
              f"{', '.join(f'{name} ({noise_of(name)})' for name in sorted(inputs))} "
              f"with seed {seed}")
    for name, value in outputs.items():
        low, high = (value.min(), value.max()) if value.size else (np.nan, np.nan)
        target = f" -> {paths[name]}" if name in paths else ""
        print(f"{name}: shape {value.shape}, range [{low:.3g}, {high:.3g}]{target}")
    if args.png is not None:
        print(f"{shown}: {len(images)} images of {images.shape[1]} x {images.shape[2]} "
              f"-> {args.png}")
    return 0


def main(argv=None) -> int:
    """The command line; returns the exit status (2 for every user error)."""
    try:
        return _main(argv)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. an output folder that is not writable
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
