"""What the checks of streamed data cost ``fit``: MADE 784-500 on binarized MNIST.

``fit`` checks NumPy arrays in Python before training, and their training step
applies every update. Batches of a ``tf.data`` dataset (or a generator, a
``PyDataset``) are checked inside the training step, which then applies the update
only when the batch and the loss are fine (a conditional update). This benchmark
trains one epoch of ``--examples`` images at batch 100 three ways, with and without
XLA, taking turns for ``--rounds`` rounds:

- ``arrays``: a NumPy array (checked once in Python, unconditional steps);
- ``tf.data, checked``: the same images as a ``tf.data`` dataset (checked steps);
- ``tf.data, unchecked``: the dataset with the in-graph checks switched off (the
  array step), the baseline that shows what the checks cost.

It reports the minimum seconds per epoch and the ratio to the unchecked dataset.

Run from the repository root (``taskset -c 1`` pins it to one core):

    .venv/bin/python benchmarks/input_checks.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import RESULTS_DIR, SHARED_DATA, machine, now, print_table, write_json  # noqa: E402

import tfae  # noqa: E402

WAYS = ("arrays", "tf.data, checked", "tf.data, unchecked")


def _model(jit_compile: bool, steps_per_execution: int, gated: bool | None):
    keras.utils.set_random_seed(0)
    model = tfae.MADE(784, hidden_units=(500,), seed=0,
                      mask_op="select" if jit_compile else "multiply")
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    if gated is False:  # the array step on a dataset: no in-graph checks
        model._guard_steps = lambda checked_in_python: type(model)._guard_steps(model, True)
    return model


def run(examples: int, rounds: int) -> list[dict]:
    x = np.load(SHARED_DATA / "binarized_mnist.npz")["train_data"][:examples].astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(100).prefetch(2)
    rows = []
    for jit_compile, steps in ((False, 1), (True, 50)):
        models = {way: _model(jit_compile, steps, {"tf.data, unchecked": False}.get(way))
                  for way in WAYS}
        data = {way: x if way == "arrays" else dataset for way in WAYS}
        batching = {way: {"batch_size": 100, "shuffle": False} if way == "arrays" else {}
                    for way in WAYS}
        for way in WAYS:  # compile outside the clock
            models[way].fit(data[way], epochs=1, verbose=0, **batching[way])
        seconds = {way: [] for way in WAYS}
        for _ in range(rounds):
            for way in WAYS:
                started = time.perf_counter()
                models[way].fit(data[way], epochs=1, verbose=0, **batching[way])
                seconds[way].append(time.perf_counter() - started)
        base = min(seconds["tf.data, unchecked"])
        for way in WAYS:
            rows.append({"xla": jit_compile, "steps_per_execution": steps, "data": way,
                         "min_s": round(min(seconds[way]), 3),
                         "ratio": round(min(seconds[way]) / base, 3)})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rows = run(args.examples, args.rounds)
    print_table(rows, ["xla", "steps_per_execution", "data", ("min_s", ".3f"), ("ratio", ".3f")])
    write_json(RESULTS_DIR / "input_checks.json",
               {"when": now(), "machine": machine(), "examples": args.examples,
                "rounds": args.rounds, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
