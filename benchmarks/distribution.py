"""What tf.distribute and op determinism cost `fit` on a CPU: MADE and a VAE.

In one process the CPU is split into 2 logical devices (before TensorFlow starts),
then each model is trained one epoch at a time, the variants taking turns:

- ``none``: plain ``fit``, no strategy, inside ``tfae.runs.seeded(seed)``;
- ``one device``: under ``tf.distribute.OneDeviceStrategy("/cpu:0")``;
- ``mirrored``: under ``tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])``, two
  replicas of half the (global) batch each, gradients all-reduced;
- ``deterministic``: plain ``fit`` inside ``tfae.runs.seeded(seed, deterministic=True)``,
  TensorFlow's op determinism on for that fit only, as ``tfae train --deterministic``.

Each variant is its own model (same seed, same data, batch size global), compiled under
its strategy and warmed up by one epoch (tracing); then ``--rounds`` rounds follow, in
alternating order, of one epoch per variant. It reports the median seconds per epoch
(wall and this process's CPU time, from the callback's epoch begin to end) and the
median over rounds of each variant's ratio to ``none`` in the same round (wall and CPU
time; other jobs on a shared machine stretch the wall time more), beside the
training loss of each variant's last epoch (the variants train the same weights, so
the losses agree to float tolerance).

The two logical devices share the machine's cores and thread pools: on one machine
the ``mirrored`` figure is the cost of the distribution machinery (splitting batches,
two replicas' steps, the all-reduce), not a speed-up. The data is random binary
784-pixel vectors unless ``--data`` names a ``.npz`` with ``train_data``.

Run from the repository root (``taskset -c 1`` pins it to one core):

    taskset -c 1 .venv/bin/python benchmarks/distribution.py    # one core (3-5 minutes)
    .venv/bin/python benchmarks/distribution.py                 # every core (3-4 minutes)
    .venv/bin/python benchmarks/distribution.py --quick         # a smoke run (under a minute)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# MirroredStrategy needs two devices; the CPU can only be split before TensorFlow
# initialises its devices, so before Keras and tfae are imported.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS_DIR, epoch_timer, machine, now, print_table, write_json  # noqa: E402

import tfae  # noqa: E402
from tfae.runs import seeded  # noqa: E402

VARIANTS = ("none", "one device", "mirrored", "deterministic")
MODELS = {
    "MADE 784-500-784": lambda seed: tfae.MADE(784, hidden_units=(500,), seed=seed),
    "VAE 784-300-300-40": lambda seed: tfae.VAE((784,), latent_dim=40,
                                                hidden_units=(300, 300), seed=seed),
}


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None,
                        help=".npz with train_data (N, 784) in [0, 1], e.g. binarized MNIST "
                             "(default: random binary vectors)")
    parser.add_argument("--examples", type=_positive, default=None,
                        help="examples per epoch (default: 15000; --quick: 2000)")
    parser.add_argument("--batch-size", type=_positive, default=100,
                        help="global examples per step, split across replicas "
                             "(default: %(default)s)")
    parser.add_argument("--rounds", type=_positive, default=None,
                        help="timed epochs per variant, taken in turns after a warm-up epoch "
                             "(default: 4; --quick: 1)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated models to time (default: {','.join(MODELS)})")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: benchmarks/results/distribution-<N>core.json "
                             "for N usable cores; --quick: ...-quick.json)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2000 examples, one timed round")
    args = parser.parse_args(argv)
    args.examples = args.examples or (2000 if args.quick else 15_000)
    args.rounds = args.rounds or (1 if args.quick else 4)
    args.models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in args.models if name not in MODELS]
    if unknown or not args.models:
        parser.error(f"--models: unknown {unknown}; choose from {list(MODELS)}.")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data} is not a file; pass an .npz with train_data, "
                     "or leave --data out for random binary data.")
    cores = len(os.sched_getaffinity(0))
    args.out = args.out or RESULTS_DIR / (
        f"distribution-{cores}core{'-quick' if args.quick else ''}.json")
    return args


def load_data(args) -> np.ndarray:
    if args.data is None:
        rng = np.random.default_rng(args.seed)
        return (rng.random((args.examples, 784)) < 0.3).astype("float32")
    x = np.load(args.data)["train_data"][:args.examples].astype("float32")
    if x.ndim != 2 or x.shape[1] != 784:
        raise ValueError(f"--data {args.data}: train_data has shape {x.shape}; the models "
                         "take (N, 784) vectors.")
    return x


class Variant:
    """One model trained one epoch per ``epoch()`` call, under its strategy and seeding."""

    def __init__(self, name: str, build, strategy, seed: int):
        self.name, self.strategy, self.seed = name, strategy, seed
        self.timer, self.seconds, self.cpu_seconds = epoch_timer(), [], []
        with self._scope(), strategy.scope(), warnings.catch_warnings():
            # MADE in the natural order: its first pixels model marginals (it says so).
            warnings.simplefilter("ignore", UserWarning)
            self.model = build(seed)
            self.model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def _scope(self):
        return seeded(self.seed, deterministic=self.name == "deterministic")

    def epoch(self, x, batch_size: int, keep: bool) -> None:
        with self._scope():
            self.model.fit(x, batch_size=batch_size, epochs=1, shuffle=True, verbose=0,
                           callbacks=[self.timer])
        if keep:
            self.seconds.append(self.timer.seconds[-1])
            self.cpu_seconds.append(self.timer.cpu_seconds[-1])


def time_model(name: str, x: np.ndarray, args, strategies: dict) -> list[dict]:
    variants = [Variant(variant, MODELS[name], strategies[variant], args.seed)
                for variant in VARIANTS]
    for variant in variants:  # warm-up: tracing and the first epoch, not timed
        variant.epoch(x, args.batch_size, keep=False)
    for round_index in range(args.rounds):
        for variant in (variants if round_index % 2 else variants[::-1]):
            variant.epoch(x, args.batch_size, keep=True)
        print(f"{name}, round {round_index + 1}: " + ", ".join(
            f"{variant.name} {variant.seconds[-1]:.2f} s" for variant in variants), flush=True)
    base = variants[0]
    rows = []
    for variant in variants:
        ratios = [a / b for a, b in zip(variant.seconds, base.seconds, strict=True)]
        cpu_ratios = [a / b for a, b in zip(variant.cpu_seconds, base.cpu_seconds,
                                            strict=True)]
        rows.append({"model": name, "variant": variant.name,
                     "replicas": variant.strategy.num_replicas_in_sync,
                     "s_per_epoch": statistics.median(variant.seconds),
                     "cpu_s_per_epoch": statistics.median(variant.cpu_seconds),
                     "ratio_to_none": statistics.median(ratios),
                     "cpu_ratio_to_none": statistics.median(cpu_ratios),
                     "seconds": variant.seconds, "cpu_seconds": variant.cpu_seconds,
                     "loss": float(variant.model.history.history["loss"][-1])})
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    info = {"started": now(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": machine(), "settings": {k: (str(v) if isinstance(v, Path) else v)
                                               for k, v in vars(args).items()}}
    x = load_data(args)
    # One strategy object of each kind for the whole process: collectives of a second
    # MirroredStrategy in the same process can meet those of the first.
    strategies = {"none": tf.distribute.get_strategy(),
                  "one device": tf.distribute.OneDeviceStrategy("/cpu:0"),
                  "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
                  "deterministic": tf.distribute.get_strategy()}
    rows = []
    for name in args.models:
        rows += time_model(name, x, args, strategies)
    print(f"\n## {len(x)} examples per epoch, batch {args.batch_size} (global), "
          f"median of {args.rounds} epoch(s) after a warm-up epoch, "
          f"{info['machine']['usable_cores']} usable core(s)\n")
    print_table(rows, ["model", "variant", "replicas", ("s_per_epoch", ".2f"),
                       ("cpu_s_per_epoch", ".2f"), ("ratio_to_none", ".2f"),
                       ("cpu_ratio_to_none", ".2f"), ("loss", ".3f")])
    info["machine_at_end"] = {"load_average": os.getloadavg()}
    path = write_json(args.out, {**info, "rows": rows})
    print(f"\nwrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
