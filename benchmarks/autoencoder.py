"""Vanilla autoencoder on binarized MNIST: reconstruction NLL and training speed.

Two measurements in one run:

1. Quality. A dense ``tfae.Autoencoder`` with a Bernoulli decoder is trained for
   each latent size; training stops on the validation loss (the best weights are
   restored) and the latent size is chosen by validation loss. The test split is
   scored only at the end: the mean reconstruction loss -log p(x | g(f(x))), in nats
   per example, beside the per-pixel-mean model's test NLL.

2. Speed, side by side. The same network is trained (a) as ``tfae.Autoencoder``
   (custom ``train_step``, TFP Bernoulli likelihood) and (b) as a plain Keras
   functional model with ``BinaryCrossentropy(from_logits=True)`` weighted by the
   number of pixels (the same objective: the cross-entropy summed over pixels), each
   with and without ``jit_compile=True`` (XLA). After a warm-up ``fit`` (tracing,
   compiling), the four variants take turns running short segments of training
   steps through the step function that ``fit`` uses, so that other jobs on the
   machine hit all of them alike; the figures are ratios of segment times. That the
   two losses are the same objective is checked by scoring the plain model with the
   tfae model's weights.

Run from the repository root:

    .venv/bin/python benchmarks/autoencoder.py              # the figures in docs/benchmarks.md
    .venv/bin/python benchmarks/autoencoder.py --quick      # a smoke run (under a minute)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

# TensorFlow's C++ start-up chatter hides the tables; keep warnings and errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import (  # noqa: E402
    RESULTS_DIR,
    SHARED_DATA,
    Timer,
    epoch_timer,
    machine,
    now,
    print_table,
    write_json,
)

import tfae  # noqa: E402
from tfae import datasets, metrics  # noqa: E402
from tfae.runs import seeded  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "binarized_mnist.npz"

#: --quick: a subset of each split and one short configuration, to check the script runs.
QUICK = {"train": 2000, "valid": 500, "test": 500, "epochs": 2, "latent_dims": (16,), "segments": 2}


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 16,32,64, got {text!r}"
        ) from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="binarized MNIST .npz with train_data/valid_data/test_data "
                             "(default: ../shared/data/binarized_mnist.npz beside the repository)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="maximum epochs per latent size (default: 20; --quick: 2)")
    parser.add_argument("--batch-size", type=int, default=100,
                        help="examples per step (default: %(default)s, which divides every split)")
    parser.add_argument("--latent-dims", type=_ints, default=None,
                        help="comma-separated latent sizes to choose from by validation loss "
                             "(default: 16,32,64; --quick: 16)")
    parser.add_argument("--hidden-units", type=_ints, default=(500, 250),
                        help="hidden widths of the encoder, mirrored in the decoder "
                             "(default: 500,250)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam step size (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=5,
                        help="epochs without validation improvement before stopping "
                             "(default: %(default)s)")
    parser.add_argument("--timing-latent-dim", type=int, default=32,
                        help="latent size of the networks timed side by side "
                             "(default: %(default)s)")
    parser.add_argument("--segments", type=int, default=None,
                        help="timed segments per variant in the speed comparison, taken in "
                             "turns (default: 100; --quick: 2)")
    parser.add_argument("--segment-steps", type=int, default=20,
                        help="training steps per timed segment (default: %(default)s)")
    parser.add_argument("--no-jit", action="store_true",
                        help="time only jit_compile=False (Keras' default on a CPU)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: benchmarks/results/autoencoder.json; "
                             "--quick: autoencoder-quick.json)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run on a subset of each split, 2 epochs, one latent size")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2),
                        help="Keras progress display while training the sweep (default: 2)")
    args = parser.parse_args(argv)

    args.epochs = args.epochs or (QUICK["epochs"] if args.quick else 20)
    args.latent_dims = args.latent_dims or (QUICK["latent_dims"] if args.quick else (16, 32, 64))
    args.segments = args.segments or (QUICK["segments"] if args.quick else 100)
    name = "autoencoder-quick.json" if args.quick else "autoencoder.json"
    args.out = args.out or RESULTS_DIR / name
    if not args.data.is_file():
        parser.error(f"--data {args.data} is not a file; pass the path of binarized_mnist.npz "
                     "(see ../shared/data/README.md).")
    for flag in ("epochs", "batch_size", "patience", "segments", "segment_steps",
                 "timing_latent_dim"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive.")
    return args


# ------------------------------------------------------------------------------ models


def build_tfae(latent_dim: int, hidden_units: tuple[int, ...], dims: int) -> tfae.Autoencoder:
    return tfae.Autoencoder(input_shape=(dims,), latent_dim=latent_dim,
                            hidden_units=hidden_units, likelihood="bernoulli")


def build_plain(latent_dim: int, hidden_units: tuple[int, ...], dims: int) -> keras.Model:
    """The same layers as ``build_tfae``, as one functional model that outputs logits."""
    inputs = keras.Input(shape=(dims,), name="x")
    hidden = inputs
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    hidden = keras.layers.Dense(latent_dim)(hidden)
    for units in reversed(hidden_units):
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    logits = keras.layers.Dense(dims)(hidden)
    return keras.Model(inputs, logits, name="plain_autoencoder")


def compile_plain(model: keras.Model, learning_rate: float, dims: int, jit_compile) -> None:
    # Keras averages the cross-entropy over pixels; weighting it by the number of
    # pixels gives the sum over pixels, -log p(x | g(f(x))) in nats, as tfae minimises.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  loss_weights=float(dims), jit_compile=jit_compile)


def count_traces(model: keras.Model) -> dict:
    """Counts how often Keras traces ``model.train_step`` (once per shape, ideally)."""
    counter = {"traces": 0}
    train_step = model.train_step

    def counted_train_step(data):
        counter["traces"] += 1
        return train_step(data)

    model.train_step = counted_train_step
    return counter


# ------------------------------------------------------------------------------ data


def load_splits(args) -> dict[str, np.ndarray]:
    splits = {split: datasets.load(args.data, split=split) for split in datasets.SPLITS}
    if args.quick:
        splits = {split: x[:QUICK[split]] for split, x in splits.items()}
    for split, x in splits.items():
        if x.ndim != 2 or not np.isin(x, (0.0, 1.0)).all():
            raise ValueError(f"{args.data}: the {split} split is not binary vectors (N, D).")
    return splits


# ------------------------------------------------------------------------------ quality


def train_one(args, latent_dim: int, data: dict) -> tuple[dict, tfae.Autoencoder]:
    """Trains one latent size with early stopping on validation; returns its row."""
    with seeded(args.seed, deterministic=True):  # as `tfae train --deterministic`
        dims = data["train"].shape[1]
        model = build_tfae(latent_dim, args.hidden_units, dims)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        timer = epoch_timer()
        stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                                 restore_best_weights=True)
        print(f"\n# latent_dim={latent_dim}", flush=True)
        with Timer() as total:
            history = model.fit(data["train"], validation_data=data["valid"], epochs=args.epochs,
                                batch_size=args.batch_size, shuffle=True,
                                callbacks=[keras.callbacks.TerminateOnNaN(), stopping, timer],
                                verbose=args.verbose)
        val_losses = history.history["val_loss"]

        def nll(split):
            return float(model.evaluate(data[split], batch_size=1000, verbose=0,
                                        return_dict=True)["loss"])

        epoch_seconds = timer.seconds[1:] or timer.seconds  # the first epoch also traces
        row = {
            "latent_dim": latent_dim,
            "parameters": int(model.count_params()),
            "epochs_run": len(val_losses),
            "best_epoch": int(np.argmin(val_losses)) + 1,
            "train_nll": nll("train"),
            "valid_nll": nll("valid"),
            "test_nll": nll("test"),
            "first_epoch_s": timer.seconds[0],
            "s_per_epoch": statistics.median(epoch_seconds),
            "train_s": total.seconds,
            "history": {key: [float(v) for v in values] for key, values in history.history.items()},
            "epoch_seconds": timer.seconds,
        }
    return row, model


def quality(args, data: dict) -> dict:
    baseline = {split: float(metrics.pixel_mean_nll(data["train"], data[split]).mean())
                for split in ("valid", "test")}
    rows = [train_one(args, latent_dim, data)[0] for latent_dim in args.latent_dims]
    chosen = min(rows, key=lambda row: row["valid_nll"])
    for row in rows:
        row["chosen"] = "yes" if row is chosen else ""
    print("\n## Vanilla autoencoder, Bernoulli decoder, hidden units "
          f"{','.join(map(str, args.hidden_units))}; NLL in nats per example\n")
    print_table(rows, ["latent_dim", "parameters", "epochs_run", "best_epoch",
                       ("train_nll", ".2f"), ("valid_nll", ".2f"), ("test_nll", ".2f"),
                       ("s_per_epoch", ".2f"), ("train_s", ".1f"), "chosen"])
    print(f"\nChosen by validation loss: latent_dim={chosen['latent_dim']}; test reconstruction "
          f"NLL {chosen['test_nll']:.2f} nats vs the per-pixel-mean model's test NLL "
          f"{baseline['test']:.2f} nats.", flush=True)
    return {"pixel_mean_nll": baseline, "runs": rows, "chosen_latent_dim": chosen["latent_dim"],
            "chosen_test_nll": chosen["test_nll"], "chosen_valid_nll": chosen["valid_nll"]}


# ------------------------------------------------------------------------------ speed


def _batches(x: np.ndarray, batch_size: int, targets: bool):
    """An endless iterator over full batches of ``x`` (``(x, x)`` pairs with targets)."""
    full = len(x) // batch_size * batch_size
    dataset = tf.data.Dataset.from_tensor_slices(x[:full].reshape(-1, batch_size, x.shape[1]))
    if targets:  # the plain model is fitted on (inputs, targets) = (x, x)
        dataset = dataset.map(lambda batch: (batch, batch))
    return iter(dataset.repeat().prefetch(2))


def _run_steps(variant: dict, steps: int) -> Timer:
    """Times ``steps`` training steps through the step function that fit() uses."""
    train_function, iterator = variant["keras_model"].train_function, variant["iterator"]
    with Timer() as timer:
        for _ in range(steps):
            logs = train_function(iterator)
        float(logs["loss"])  # waits for the last step
    return timer


def _graph_ops(model: keras.Model, batch_size: int, dims: int, targets: bool) -> int:
    """Number of operations in one traced training step (forward, loss, gradients, Adam)."""
    spec = tf.TensorSpec((batch_size, dims), tf.float32)
    step = tf.function(model.train_step)
    graph = step.get_concrete_function((spec, spec) if targets else spec).graph
    return len(graph.get_operations())


def _fastest_tenth(seconds: list[float]) -> float:
    """Mean of the fastest tenth of the segments (at least one)."""
    fastest = sorted(seconds)[:max(1, len(seconds) // 10)]
    return sum(fastest) / len(fastest)


def speed(args, data: dict) -> dict:
    """Interleaves short segments of training steps of the four variants; medians, ratios."""
    x = data["train"]
    dims = x.shape[1]
    variants = []
    for jit in (False,) if args.no_jit else (False, True):
        for kind in ("tfae", "plain"):
            # Seeded without TF's op determinism, which makes Keras drop jit_compile=True
            # (keras' model_supports_jit).
            keras.utils.set_random_seed(args.seed)
            if kind == "tfae":
                model = build_tfae(args.timing_latent_dim, args.hidden_units, dims)
                model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                              jit_compile=jit)
            else:
                model = build_plain(args.timing_latent_dim, args.hidden_units, dims)
                compile_plain(model, args.learning_rate, dims, jit)
            if bool(model.jit_compile) != jit:
                raise RuntimeError(f"Keras refused jit_compile={jit} for the {kind} model; "
                                   "was op determinism enabled before speed()?")
            variants.append({"model": kind, "jit_compile": jit, "keras_model": model,
                             "counter": count_traces(model), "seconds": [], "cpu_seconds": []})
    if variants[0]["keras_model"].count_params() != variants[1]["keras_model"].count_params():
        raise AssertionError("the plain and tfae networks differ in size")

    warmup = x[:10 * args.batch_size]
    for variant in variants:
        plain = variant["model"] == "plain"
        model = variant["keras_model"]
        with Timer() as first_fit:  # builds the optimizer, traces (and with XLA compiles)
            model.fit(warmup, warmup, batch_size=args.batch_size, verbose=0) if plain else (
                model.fit(warmup, batch_size=args.batch_size, verbose=0))
        variant["first_fit_s"] = first_fit.seconds
        variant["iterator"] = _batches(x, args.batch_size, targets=plain)
        _run_steps(variant, 10)  # the step function may retrace for the new iterator
        variant["traces_after_warmup"] = variant["counter"]["traces"]

    print(f"\n# speed: {args.segments} rounds of {args.segment_steps} steps per variant, "
          "in turns", flush=True)
    for round_index in range(args.segments):
        order = variants if round_index % 2 == 0 else variants[::-1]
        for variant in order:
            timer = _run_steps(variant, args.segment_steps)
            variant["seconds"].append(timer.seconds)
            variant["cpu_seconds"].append(timer.cpu_seconds)

    steps_per_epoch = len(x) // args.batch_size
    rows = []
    for variant in variants:
        step_s = statistics.median(variant["seconds"]) / args.segment_steps
        cpu_step_s = statistics.median(variant["cpu_seconds"]) / args.segment_steps
        rows.append({"model": variant["model"], "jit_compile": variant["jit_compile"],
                     "first_fit_s": variant["first_fit_s"], "ms_per_step": 1000 * step_s,
                     "cpu_ms_per_step": 1000 * cpu_step_s,
                     "s_per_epoch": step_s * steps_per_epoch,
                     "examples_per_s": args.batch_size / step_s,
                     "segment_seconds": variant["seconds"],
                     "segment_cpu_seconds": variant["cpu_seconds"],
                     "traces_after_warmup": variant["traces_after_warmup"],
                     "train_step_traces": variant["counter"]["traces"]})
    by_key = {(row["model"], row["jit_compile"]): row for row in rows}
    for row in rows:
        # Other jobs on the machine add wall time, and come and go within seconds.
        # Each ratio is the median ratio of segments run one after the other (alike
        # machine state), of wall time and of this process's CPU time (which other
        # jobs disturb less); the ratio of the fastest tenth of wall times goes to the
        # JSON as a third estimate.
        for key, reference in (("vs_plain_same_jit", by_key["plain", row["jit_compile"]]),
                               ("vs_same_model_no_jit", by_key[row["model"], False])):
            for suffix, times in (("", "segment_seconds"), ("_cpu", "segment_cpu_seconds")):
                row[key + suffix] = statistics.median(
                    a / b for a, b in zip(row[times], reference[times], strict=True))
            row[key + "_fastest"] = (_fastest_tenth(row["segment_seconds"])
                                     / _fastest_tenth(reference["segment_seconds"]))
    for variant, row in zip(variants, rows, strict=True):
        row["graph_ops"] = _graph_ops(variant["keras_model"], args.batch_size, dims,
                                      targets=variant["model"] == "plain")

    # Same objective: the plain model scores the tfae model's (trained) weights alike.
    tfae_model, plain_model = variants[0]["keras_model"], variants[1]["keras_model"]
    plain_model.set_weights(tfae_model.get_weights())
    tfae_loss = tfae_model.evaluate(data["valid"], batch_size=1000, verbose=0,
                                    return_dict=True)["loss"]
    plain_loss = plain_model.evaluate(data["valid"], data["valid"], batch_size=1000, verbose=0,
                                      return_dict=True)["loss"]
    with Timer() as checks:  # what tfae's fit() adds per call: checking the arrays
        tfae_model.check_inputs(x)

    print(f"\n## Training speed, latent_dim={args.timing_latent_dim}, batch {args.batch_size}; "
          f"median of {args.segments} segments of {args.segment_steps} steps; "
          f"s_per_epoch = {steps_per_epoch} steps\n")
    print_table(rows, ["model", "jit_compile", ("first_fit_s", ".2f"), ("ms_per_step", ".2f"),
                       ("cpu_ms_per_step", ".2f"), ("s_per_epoch", ".2f"),
                       ("vs_plain_same_jit", ".3f"), ("vs_plain_same_jit_cpu", ".3f"),
                       ("vs_same_model_no_jit", ".3f"), ("vs_same_model_no_jit_cpu", ".3f"),
                       "train_step_traces", "graph_ops"])
    print(f"\nSame objective: validation loss with the same weights, tfae {tfae_loss:.4f} vs "
          f"plain Keras {plain_loss:.4f} nats. tfae's fit() input checks: "
          f"{checks.seconds:.3f} s per call on the training set.", flush=True)
    return {"latent_dim": args.timing_latent_dim, "segments": args.segments,
            "segment_steps": args.segment_steps, "steps_per_epoch": steps_per_epoch,
            "rows": rows, "input_check_s": checks.seconds,
            "same_weights_valid_loss": {"tfae": float(tfae_loss), "plain": float(plain_loss)}}


def main(argv=None) -> int:
    args = parse_args(argv)
    started, machine_at_start = now(), machine()  # the load average before the run
    with Timer() as total:
        data = load_splits(args)
        print(f"data: {args.data} " + ", ".join(f"{k} {v.shape}" for k, v in data.items()),
              flush=True)
        speed_results = speed(args, data)
        quality_results = quality(args, data)
    payload = {
        "benchmark": "autoencoder",
        "started": started,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_at_start,
        "settings": {key: (str(value) if isinstance(value, Path) else value)
                     for key, value in vars(args).items()},
        "splits": {split: int(len(x)) for split, x in data.items()},
        "quality": quality_results,
        "speed": speed_results,
        "total_s": total.seconds,
        "load_average_end": os.getloadavg(),
    }
    path = write_json(args.out, payload)
    print(f"\nTotal {total.seconds:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
