"""Deployment: LiteRT files of a VAE decoder and a MADE sampler, size, error and speed.

Two sections, each measured side by side in one process, the variants taking turns:

``vae``
    The decoder of a dense VAE on binarized MNIST (gated 300-300, latent 40, the
    benchmark VAE's shape), trained for ``--vae-epochs`` only: this section is about
    deployment, not the NLL (``benchmarks/vae.py`` trains the real one and saves no
    model). For each quantization (float32, float16, dynamic_int8, int8 calibrated on
    500 codes z ~ N(0, I)): the file's size and its error against the Keras decoder
    from ``tfae.export.tflite``'s report (probes of 1 and 37 codes, and 256 of the 500 codes),
    and the latency of one call at batch 1 and 64: the LiteRT file (``ai_edge_litert``
    signature runner, one per batch size so that no call resizes its tensors) against
    the Keras decoder called eagerly, inside a ``tf.function`` and through ``predict``.
``made``
    The sampler of a MADE (784 inputs, one hidden layer of 500 units, one mask),
    trained for ``--made-epochs`` (the sampling cost does not depend on the weights; the
    quantization error does): samples per second of the LiteRT sampler (noise drawn
    with NumPy inside the clock, as an app must) against ``MADE.sample(n)`` with and
    without XLA, for n = 1, 64 and 100; size and error per quantization, and the number
    of pixels the file draws differently from the model on the same noise.

Latency: ``--repeats`` calls of each variant after 3 warm-up calls, interleaved; the
figures are medians, and ratios to the Keras ``tf.function`` (or ``MADE.sample`` with XLA).

Run from the repository root (pinned to one core; LiteRT runs one thread):

    taskset -c 1 .venv/bin/python benchmarks/deployment.py
    .venv/bin/python benchmarks/deployment.py --quick     # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from common import RESULTS_DIR, SHARED_DATA, Timer, machine, now, print_table, write_json  # noqa: E402

import tfae  # noqa: E402
from tfae import datasets  # noqa: E402

QUANTIZATIONS = (None, "float16", "dynamic_int8", "int8")
EXPORT_COLUMNS = ["part", "quantize", "size_bytes", ("size_ratio", ".3f"), ("max_abs_diff", ".2g"),
                  ("max_error", ".2g"), "tolerance"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "binarized_mnist.npz",
                        help="binarized MNIST .npz (default: ../shared/data/binarized_mnist.npz)")
    parser.add_argument("--sections", default="vae,made", help="default: %(default)s")
    parser.add_argument("--vae-epochs", type=int, default=3, help="default: %(default)s")
    parser.add_argument("--made-epochs", type=int, default=1,
                        help="0: an untrained MADE (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=200,
                        help="timed calls of each decoder variant (default: %(default)s)")
    parser.add_argument("--made-repeats", type=int, default=30,
                        help="timed calls of each sampler variant (default: %(default)s)")
    parser.add_argument("--flip-samples", type=int, default=1000,
                        help="samples on which the sampler files are compared with the model "
                             "(default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="LiteRT interpreter threads (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2000 images, 1 epoch, 10 repeats")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: benchmarks/results/deployment[-quick].json)")
    args = parser.parse_args(argv)
    args.sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    if not args.sections or set(args.sections) - {"vae", "made"}:
        parser.error(f"--sections takes vae and/or made, got {args.sections}")
    for flag in ("vae_epochs", "repeats", "made_repeats", "flip_samples", "threads"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive.")
    if args.made_epochs < 0:
        parser.error("--made-epochs must be >= 0.")
    if not args.data.is_file():
        parser.error(f"--data {args.data} is not a file; pass binarized_mnist.npz.")
    if args.quick:
        args.vae_epochs, args.made_epochs = 1, min(args.made_epochs, 1)
        args.repeats, args.made_repeats = 10, 5
    args.out = args.out or RESULTS_DIR / ("deployment-quick.json" if args.quick
                                          else "deployment.json")
    return args


def interleaved(calls: dict, repeats: int, warmup: int = 3) -> dict:
    """Median seconds per call of each variant, the variants taking turns."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    seconds = {key: [] for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[key].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in seconds.items()}


def runner(path: Path, signature: str, threads: int):
    return Interpreter(model_path=str(path), num_threads=threads).get_signature_runner(signature)


def export_row(report, base_size: int, **extra) -> dict:
    return {"part": report.part, "quantize": report.quantize or "float32",
            "size_bytes": report.size_bytes, "size_ratio": report.size_bytes / base_size,
            "max_abs_diff": report.max_abs_diff, "max_error": report.max_error,
            "tolerance": report.tolerance, **extra}


def vae_section(args, x_train, x_valid, folder: Path) -> dict:
    keras.utils.set_random_seed(0)
    model = tfae.VAE((784,), latent_dim=40, hidden_units=(300, 300), activation="glu",
                     likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with Timer() as train_timer:
        model.fit(x_train, epochs=args.vae_epochs, batch_size=100, verbose=0)
    elbo = float(np.mean(model.elbo(x_valid, num_samples=1, seed=0, batch_size=500).numpy()))
    print(f"VAE: {args.vae_epochs} epoch(s) in {train_timer.seconds:.0f} s, valid ELBO "
          f"{elbo:.2f} nats", flush=True)
    codes = np.random.default_rng(1).standard_normal((500, 40)).astype(np.float32)
    reports = {}
    for quantize in QUANTIZATIONS:
        reports[quantize] = tfae.export.tflite(
            model, folder / f"decoder-{quantize or 'float32'}.tflite", part="decoder",
            quantize=quantize, representative_data=codes)
    # The pixel probabilities E[x | z] of the 500 codes: file against Keras.
    expected = np.asarray(model.decode(codes).mean())
    exports = []
    for report in reports.values():
        diff = np.abs(runner(report.path, report.signature, args.threads)(h=codes)["mean"]
                      - expected)
        exports.append(export_row(report, reports[None].size_bytes,
                                  mean_max_abs=float(diff.max()), mean_avg_abs=float(diff.mean())))
    print_table(exports, [*EXPORT_COLUMNS, ("mean_max_abs", ".2g"), ("mean_avg_abs", ".2g")])

    graph = tf.function(lambda h: model.decoder(h))
    rows = []
    for batch in (1, 64):
        h = codes[:batch]
        calls = {"keras eager": lambda h=h: model.decoder(h).numpy(),
                 "keras tf.function": lambda h=h: graph(h).numpy(),
                 "keras predict": lambda h=h: model.decoder.predict(h, verbose=0)}
        for quantize, report in reports.items():
            run = runner(report.path, report.signature, args.threads)
            calls[f"litert {quantize or 'float32'}"] = lambda run=run, h=h: run(h=h)
        medians = interleaved(calls, args.repeats)
        base = medians["keras tf.function"]
        rows += [{"batch": batch, "variant": key, "median_us": 1e6 * value,
                  "ratio_to_tf_function": value / base} for key, value in medians.items()]
    print_table(rows, ["batch", "variant", ("median_us", ".1f"), ("ratio_to_tf_function", ".3f")])
    return {"train_s": train_timer.seconds, "valid_elbo": elbo,
            "decoder_parameters": int(model.decoder.count_params()), "exports": exports,
            "latency": rows}


def made_section(args, x_train, folder: Path) -> dict:
    keras.utils.set_random_seed(0)
    model = tfae.MADE(784, hidden_units=(500,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with Timer() as train_timer:
        if args.made_epochs:
            model.fit(x_train, epochs=args.made_epochs, batch_size=100, verbose=0)
    print(f"MADE: {args.made_epochs} epoch(s) in {train_timer.seconds:.0f} s", flush=True)
    endpoint = tfae.export.endpoint_of(model, "sampler")
    noise = endpoint.probe(args.flip_samples, np.random.default_rng(2))
    expected = endpoint.reference(noise)["x"]
    reports, exports = {}, []
    for quantize in QUANTIZATIONS:
        label = quantize or "float32"
        try:  # tflite refuses int8 before converting: the converter crashes on the loop
            report = tfae.export.tflite(model, folder / f"sampler-{label}.tflite",
                                        part="sampler", quantize=quantize,
                                        representative_data=noise)
        except ValueError as error:
            print(f"sampler, {label}: refused: {error}", flush=True)
            exports.append({"part": "sampler", "quantize": label, "refused": str(error)})
            continue
        reports[quantize] = report
        drawn = runner(report.path, report.signature, args.threads)(**noise)["x"]
        exports.append(export_row(report, reports[None].size_bytes,
                                  flipped_pixels=int(np.sum(drawn != expected))))
    print(f"flipped_pixels: pixels the file draws otherwise than the model, same noise, "
          f"{args.flip_samples} samples x 784")
    print_table(exports, [*EXPORT_COLUMNS, "flipped_pixels"])

    rows = []
    for n in (1, 64, 100):
        rng = np.random.default_rng(3)
        calls = {"MADE.sample, XLA": lambda n=n: model.sample(n).numpy(),
                 "MADE.sample, no XLA": lambda n=n: model.sample(n, jit_compile=False).numpy()}
        for quantize, report in reports.items():
            run = runner(report.path, report.signature, args.threads)
            calls[f"litert {quantize or 'float32'}"] = (
                lambda run=run, n=n, rng=rng: run(u=rng.random((n, 784), dtype=np.float32)))
        medians = interleaved(calls, args.made_repeats)
        base = medians["MADE.sample, XLA"]
        rows += [{"n": n, "variant": key, "median_ms": 1e3 * value,
                  "samples_per_s": n / value, "ratio_to_xla": value / base}
                 for key, value in medians.items()]
    print_table(rows, ["n", "variant", ("median_ms", ".2f"), ("samples_per_s", ".0f"),
                       ("ratio_to_xla", ".3f")])
    return {"epochs": args.made_epochs, "train_s": train_timer.seconds, "exports": exports,
            "sampling": rows}


def main(argv=None) -> int:
    args = parse_args(argv)
    started, machine_at_start = now(), machine()
    limit = 2000 if args.quick else None
    x_train = datasets.load(args.data, split="train")[:limit].reshape(-1, 784)
    x_valid = datasets.load(args.data, split="valid")[:limit].reshape(-1, 784)
    payload = {"benchmark": "deployment", "started": started,
               "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "machine": machine_at_start, "affinity": sorted(os.sched_getaffinity(0)),
               "settings": {key: (str(value) if isinstance(value, Path) else value)
                            for key, value in vars(args).items()}}
    with Timer() as total, tempfile.TemporaryDirectory() as scratch:
        if "vae" in args.sections:
            payload["vae"] = vae_section(args, x_train, x_valid, Path(scratch))
        if "made" in args.sections:
            payload["made"] = made_section(args, x_train, Path(scratch))
    payload.update(total_s=total.seconds, load_average_end=os.getloadavg())
    path = write_json(args.out, payload)
    print(f"\nTotal {total.seconds:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
