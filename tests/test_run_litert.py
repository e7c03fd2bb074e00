"""The device-side runner export/run_litert.py: NumPy + LiteRT only, on tiny .tflite files
built here with TensorFlow directly (signatures decode, sample, encode as tfae.export
writes them), so that the runner is tested apart from tfae.export."""

import ast
import importlib.util
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "export" / "run_litert.py"

#: Runs the script as __main__ in a Python that cannot import what a phone lacks.
DEVICE_PRELUDE = r"""
import importlib.abc, runpy, sys
BLOCKED = {"tensorflow", "keras", "tf_keras", "tfae", "matplotlib", "PIL"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not on the device")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    assert not BLOCKED & {name.split(".")[0] for name in sys.modules}
"""

RNG = np.random.default_rng(0)
W_DECODE = RNG.normal(size=(3, 16)).astype("float32")
B_MADE = RNG.normal(size=9).astype("float32")
W_MADE = RNG.normal(size=9).astype("float32")
W_ENCODE = RNG.normal(size=(4, 2)).astype("float32")


class Parts(tf.Module):
    """Stand-ins for exported parts, with tfae.export's signature and tensor names."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="h")])
    def decode(self, h):
        params = h @ W_DECODE
        return {"mean": tf.reshape(tf.sigmoid(params), [-1, 4, 4, 1]), "params": params}

    @tf.function(input_signature=[tf.TensorSpec([None, 9], tf.float32, name="u"),
                                  tf.TensorSpec([None, 1], tf.float32, name="u_mask")])
    def made_sample(self, u, u_mask):  # a Bernoulli MADE with two masks, 3 x 3 "images"
        return {"x": tf.cast(u < tf.sigmoid(B_MADE + u_mask * W_MADE), tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="u"),
                                  tf.TensorSpec([None, 2], tf.float32, name="eps")])
    def gmm_sample(self, u, eps):
        z = tf.cast(u[:, 0] > 0.3, tf.float32)
        return {"x": eps * (1.0 + z[:, None]) + 5.0 * z[:, None], "z": z}

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def encode(self, x):
        return {"h": tf.tanh(x @ W_ENCODE)}


FILES = {"decoder": {"decode": "decode"}, "made": {"sample": "made_sample"},
         "gmm": {"sample": "gmm_sample"}, "encoder": {"encode": "encode"},
         "two": {"encode": "encode", "decode": "decode"}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> path of a .tflite file (builtin ops only, dynamic batch)."""
    folder = tmp_path_factory.mktemp("litert")
    parts = Parts()
    paths = {}
    for name, signatures in FILES.items():
        saved = folder / f"{name}_saved"
        tf.saved_model.save(parts, str(saved), signatures={
            key: getattr(parts, method).get_concrete_function()
            for key, method in signatures.items()})
        converter = tf.lite.TFLiteConverter.from_saved_model(
            str(saved), signature_keys=list(signatures))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(converter.convert())
    return paths


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("run_litert", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(method: str, inputs: dict) -> dict:
    function = getattr(Parts(), method)
    return {name: value.numpy() for name, value in
            function(**{k: tf.constant(v, tf.float32) for k, v in inputs.items()}).items()}


def read_png(path) -> np.ndarray:
    """Parses an 8-bit greyscale, unfiltered, non-interlaced PNG back to (H, W) uint8."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        position += 12 + length
    assert [kind for kind, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1])
    assert (depth, colour, compression, filtering, interlace) == (8, 0, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, width + 1)
    assert np.all(rows[:, 0] == 0)  # filter type None on every row
    return rows[:, 1:]


def expected_grid(images: np.ndarray, columns: int = 10) -> np.ndarray:
    """What the README promises: up to 10 a row, 1-pixel gaps of grey 128, clipped."""
    n, height, width = images.shape
    columns = min(n, columns)
    rows = -(-n // columns)
    out = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), 128, np.uint8)
    for i, image in enumerate(images):
        top, left = (i // columns) * (height + 1), (i % columns) * (width + 1)
        out[top:top + height, left:left + width] = np.round(np.clip(image, 0, 1) * 255)
    return out


def on_device(*args, cwd):
    return subprocess.run([sys.executable, "-c", DEVICE_PRELUDE, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_samples_and_png_on_a_python_without_tensorflow(tmp_path, files):
    result = on_device(files["made"], "--samples", 23, "--seed", 5, "--png", tmp_path / "grid.png",
                       "--out", tmp_path / "made", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rng = np.random.default_rng(5)  # alphabetical order: u, then u_mask
    u = rng.random((23, 9), dtype=np.float32)
    u_mask = rng.random((23, 1), dtype=np.float32)
    x = np.load(tmp_path / "made.x.npy")
    np.testing.assert_array_equal(x, reference("made_sample", {"u": u, "u_mask": u_mask})["x"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "made.x.npy"]
    grid = read_png(tmp_path / "grid.png")
    assert grid.shape == (3 * 3 + 2, 10 * 3 + 9)  # 3 rows of 10, 3 x 3 images, 1-pixel gaps
    np.testing.assert_array_equal(grid, expected_grid(x.reshape(23, 3, 3)))
    assert set(np.unique(grid)) <= {0, 128, 255}
    assert "x: 23 images of 3 x 3" in result.stdout


def test_a_user_error_on_the_device_is_one_line_and_exit_2(tmp_path, files):
    np.save(tmp_path / "codes.npy", np.zeros((4, 5), np.float32))
    result = on_device(files["decoder"], tmp_path / "codes.npy", tmp_path / "images",
                       cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("run_litert.py: error: input h has shape (4, 5); "
                             "decoder.tflite expects (batch, 3)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["codes.npy"]


def test_npy_input_gives_tf_outputs_at_any_batch(tmp_path, runner, files, capfd):
    for n in (1, 37):
        codes = np.random.default_rng(n).normal(size=(n, 3))  # float64 is converted
        np.save(tmp_path / "codes.npy", codes)
        stem = "images" if n == 1 else "images.npy"  # a .npy stem loses its suffix
        assert runner.main([str(files["decoder"]), str(tmp_path / "codes.npy"),
                            str(tmp_path / stem)]) == 0
        expected = reference("decode", {"h": codes})
        for name in ("mean", "params"):
            np.testing.assert_allclose(np.load(tmp_path / f"images.{name}.npy"),
                                       expected[name], atol=1e-5)
        assert np.load(tmp_path / "images.mean.npy").shape == (n, 4, 4, 1)
    assert "mean: shape (37, 4, 4, 1), range" in capfd.readouterr().out


def test_npz_feeds_several_inputs_by_name(tmp_path, runner, files):
    rng = np.random.default_rng(2)
    inputs = {"u": rng.random((6, 1)), "eps": rng.standard_normal((6, 2))}
    np.savez(tmp_path / "noise.npz", **inputs)
    assert runner.main([str(files["gmm"]), str(tmp_path / "noise.npz"),
                        str(tmp_path / "draws")]) == 0
    expected = reference("gmm_sample", inputs)
    np.testing.assert_allclose(np.load(tmp_path / "draws.x.npy"), expected["x"], atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "draws.z.npy"), expected["z"])
    outputs = runner.run(files["gmm"], inputs)  # the function an app would import
    np.testing.assert_allclose(outputs["x"], expected["x"], atol=1e-5)


def test_samples_draw_the_documented_noise(tmp_path, runner, files):
    argv = [str(files["gmm"]), "--samples", "7", "--seed", "11", "--out", str(tmp_path / "s")]
    assert runner.main(argv) == 0
    rng = np.random.default_rng(11)  # alphabetical order: eps (normal), then u (uniform)
    eps = rng.standard_normal((7, 2), dtype=np.float32)
    u = rng.random((7, 1), dtype=np.float32)
    expected = reference("gmm_sample", {"u": u, "eps": eps})
    np.testing.assert_allclose(np.load(tmp_path / "s.x.npy"), expected["x"], atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "s.z.npy"), expected["z"])
    first = np.load(tmp_path / "s.x.npy")
    assert runner.main(argv) == 0  # same seed, same draws
    np.testing.assert_array_equal(np.load(tmp_path / "s.x.npy"), first)
    # a flat output of 2 values is no square: --image-shape says how to show it (raw .npy)
    assert runner.main([str(files["gmm"]), "--samples", "7", "--seed", "11", "--png",
                        str(tmp_path / "x.png"), "--image-shape", "1,2"]) == 0
    np.testing.assert_array_equal(read_png(tmp_path / "x.png"),
                                  expected_grid(expected["x"].reshape(7, 1, 2)))


def test_decoder_samples_png_grid_of_images(tmp_path, runner, files):
    assert runner.main([str(files["decoder"]), "--samples", "12", "--seed", "3",
                        "--png", str(tmp_path / "grid.png")]) == 0
    h = np.random.default_rng(3).standard_normal((12, 3), dtype=np.float32)
    mean = reference("decode", {"h": h})["mean"]
    grid = read_png(tmp_path / "grid.png")
    assert grid.shape == (2 * 4 + 1, 10 * 4 + 9)  # 12 images: two rows, the last of 2
    np.testing.assert_array_equal(grid, expected_grid(mean[..., 0]))
    assert np.all(grid[5:, 2 * 5:] == 128)  # the empty cells of the last row
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "grid.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_the_png_writer_round_trips(tmp_path, runner):
    pixels = (np.arange(35, dtype=np.uint8) * 7).reshape(5, 7)
    (tmp_path / "p.png").write_bytes(runner.png_bytes(pixels))
    np.testing.assert_array_equal(read_png(tmp_path / "p.png"), pixels)


ERRORS = [  # (argv template, a fragment of the one-line message)
    (["{missing}", "{codes}", "{out}/y"], "missing.tflite: no such file"),
    (["{garbage}", "{codes}", "{out}/y"], "garbage.tflite is not a LiteRT (.tflite) file"),
    (["{corrupt}", "{codes}", "{out}/y"], "corrupt.tflite is not a valid LiteRT file"),
    (["{two}", "{codes}", "{out}/y"], "has signatures ['decode', 'encode']; run_litert.py "
                                          "runs files with exactly one"),
    (["{decoder}", "{wide}", "{out}/y"], "input h has shape (4, 5); decoder.tflite "
                                            "expects (batch, 3)"),
    (["{decoder}", "{flat}", "{out}/y"], "input h has shape (12,); decoder.tflite "
                                            "expects (batch, 3)"),
    (["{decoder}", "{text}", "{out}/y"], "input h has dtype <U1; decoder.tflite takes "
                                            "float32"),
    (["{decoder}", "{complex}", "{out}/y"], "input h has dtype complex128"),
    (["{decoder}", "{objects}", "{out}/y"], "cannot read"),
    (["{decoder}", "{nan}", "{out}/y"], "input h has 1 non-finite values"),
    (["{decoder}", "{huge}", "{out}/y"], "input h has values beyond the float32 range"),
    (["{decoder}", "{empty}", "{out}/y"], "input h is empty"),
    (["{decoder}", "{nofile}", "{out}/y"], "nofile.npy: no such file"),
    (["{decoder}", "{codes}", "{out}/nofolder/y"], "folder"),
    (["{gmm}", "{codes}", "{out}/y"], "gmm.tflite takes several inputs (eps (batch, 2), "
                                         "u (batch, 1)); pass a .npz with those keys"),
    (["{gmm}", "{wrong_keys}", "{out}/y"], "gmm.tflite takes inputs eps (batch, 2), "
                                              "u (batch, 1); got eps, v"),
    (["{gmm}", "{ragged}", "{out}/y"], "different numbers of examples: eps 3, u 4"),
    (["{encoder}", "--samples", "4", "--png", "{out}/g.png"],
     "encoder.tflite takes data x of shape (batch, 4); pass INPUT.npy instead"),
    (["{decoder}", "--samples", "0", "--png", "{out}/g.png"], "--samples must be at least 1"),
    (["{decoder}", "--samples", "-3", "--out", "{out}/s"], "--samples must be at least 1"),
    (["{decoder}", "--samples", "2"], "--samples writes nothing without --png"),
    (["{decoder}", "{codes}", "--samples", "2", "--out", "{out}/s"],
     "either INPUT or --samples"),
    (["{decoder}", "--samples", "2", "--seed", "-1", "--out", "{out}/s"],
     "--seed must be a non-negative integer"),
    (["{decoder}", "{codes}", "{out}/y", "--seed", "1"], "--seed goes with --samples"),
    (["{decoder}", "{codes}", "{out}/y", "--image-shape", "2,8"],
     "--image-shape goes with --png"),
    (["{decoder}", "--samples", "2", "--png", "{out}/g.png", "--image-shape", "4x4"],
     "--image-shape must be H,W"),
    (["{decoder}", "--samples", "2", "--png", "{out}/g.png", "--image-shape", "2,8"],
     "does not match output mean's images of 4 x 4"),
    (["{gmm}", "--samples", "2", "--png", "{out}/g.png"],
     "output x has 2 values an example, not a square number; pass --image-shape H,W"),
    (["{gmm}", "--samples", "2", "--png", "{out}/g.png", "--image-shape", "2,2"],
     "--image-shape 2,2 has 4 pixels; output x has 2 values"),
    (["{encoder}", "{inputs4}", "{out}/y", "--png", "{out}/g.png"],
     "encoder.tflite has outputs h; --png shows mean or x"),
    (["{decoder}"], "pass INPUT and OUTPUT"),
    (["{decoder}", "--samples", "two"], "invalid int value: 'two'"),
    (["{decoder}", "--frobnicate"], "unrecognized arguments: --frobnicate"),
]


@pytest.mark.parametrize("argv, fragment", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_every_user_error_is_one_line_and_exit_2(tmp_path, runner, files, capfd, argv,
                                                 fragment):
    data = tmp_path / "data"
    out = tmp_path / "out"
    data.mkdir()
    out.mkdir()
    (data / "garbage.tflite").write_bytes(b"not a model " * 10)
    (data / "corrupt.tflite").write_bytes(b"\0\0\0\0TFL3" + b"\xff" * 40)
    arrays = {"codes": np.zeros((4, 3), np.float32), "wide": np.zeros((4, 5), np.float32),
              "flat": np.zeros(12, np.float32), "text": np.array([list("abc")] * 4),
              "complex": np.zeros((4, 3), complex), "empty": np.zeros((0, 3), np.float32),
              "nan": np.zeros((4, 3)), "huge": np.full((4, 3), 1e39),
              "inputs4": np.zeros((2, 4), np.float32)}
    arrays["nan"][1, 2] = np.nan
    names = {"missing": data / "missing.tflite", "garbage": data / "garbage.tflite",
             "corrupt": data / "corrupt.tflite", "nofile": data / "nofile.npy",
             "out": out, **{name: path for name, path in files.items()}}
    for name, value in arrays.items():
        np.save(data / f"{name}.npy", value)
        names[name] = data / f"{name}.npy"
    np.save(data / "objects.npy", np.array([{"h": 1}], dtype=object), allow_pickle=True)
    names["objects"] = data / "objects.npy"
    np.savez(data / "wrong_keys.npz", eps=np.zeros((3, 2)), v=np.zeros((3, 1)))
    np.savez(data / "ragged.npz", eps=np.zeros((3, 2)), u=np.zeros((4, 1)))
    names.update(wrong_keys=data / "wrong_keys.npz", ragged=data / "ragged.npz")
    capfd.readouterr()
    assert runner.main([part.format(**names) for part in argv]) == 2
    captured = capfd.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_litert.py: error: "), captured.err
    assert fragment in lines[0]
    assert captured.out == ""
    assert list(out.iterdir()) == []  # nothing written, not even half


def test_the_runner_imports_only_numpy_litert_and_the_standard_library():
    tree = ast.parse(SCRIPT.read_text())
    imports = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    assert imports - set(sys.stdlib_module_names) == {"numpy", "ai_edge_litert"}
