"""MADE: validation NLL against training seconds, from zero output biases and from
``MADE.adapt`` (output biases at the training data's log-odds).

MADE 784-500-784 (one mask, random hidden degrees) on binarized MNIST (fixed
binarization, 50k/10k), Adam 1e-3, batch 100, XLA with 50 steps per call, for
``--epochs`` epochs, in natural and in random input order. After every epoch the
validation NLL (nats, exact) and the training seconds so far (validation not counted)
are recorded. The four runs take turns epoch by epoch, so the machine's drift hits
them alike.

Run from the repository root (pinned to one core, as in docs/benchmarks.md):

    taskset -c 1 .venv/bin/python benchmarks/made_output_biases.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import RESULTS_DIR, SHARED_DATA, machine, now, print_table, write_json  # noqa: E402

import tfae  # noqa: E402

MNIST = SHARED_DATA / "binarized_mnist.npz"


def _build(ordering: str, adapted: bool, x_train, seed: int):
    keras.utils.set_random_seed(seed)
    model = tfae.MADE(784, hidden_units=(500,), ordering=ordering, seed=seed,
                      mask_op="select")
    if adapted:
        model.adapt(x_train)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True,
                  steps_per_execution=50)
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=MNIST, help="binarized MNIST .npz")
    parser.add_argument("--epochs", type=int, default=6, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "made-output-biases.json")
    args = parser.parse_args(argv)
    data = np.load(args.data)
    x_train = data["train_data"].astype("float32")
    x_valid = data["valid_data"].astype("float32")

    runs = {(ordering, adapted): {"model": _build(ordering, adapted, x_train, args.seed),
                                  "seconds": 0.0, "nll": []}
            for ordering in ("natural", "random") for adapted in (False, True)}
    for epoch in range(args.epochs):
        order = list(runs) if epoch % 2 == 0 else list(reversed(runs))
        for key in order:
            run = runs[key]
            started = time.perf_counter()
            run["model"].fit(x_train, epochs=epoch + 1, initial_epoch=epoch, batch_size=100,
                             verbose=0)
            run["seconds"] += time.perf_counter() - started
            run["nll"].append(float(-run["model"].log_prob(x_valid).numpy().mean()))
            run.setdefault("epoch_seconds", []).append(run["seconds"])
            print(f"epoch {epoch + 1} {key}: {run['nll'][-1]:.2f} nats after "
                  f"{run['seconds']:.1f} s", flush=True)
    names = {key: f"{key[0]}, {'adapt' if key[1] else 'zero biases'}" for key in runs}
    rows = [{"epoch": epoch + 1,
             **{names[ordering, adapted]:
                f"{runs[ordering, adapted]['nll'][epoch]:.1f} "
                f"({runs[ordering, adapted]['epoch_seconds'][epoch]:.0f} s)"
                for ordering, adapted in runs}}
            for epoch in range(args.epochs)]
    print_table(rows, ["epoch", *names.values()])
    write_json(args.out, {"machine": machine(), "date": now(), "epochs": args.epochs,
                          "runs": {f"{o}-{'adapt' if a else 'zero'}": {
                              "valid_nll": run["nll"], "seconds": run["epoch_seconds"]}
                              for (o, a), run in runs.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
