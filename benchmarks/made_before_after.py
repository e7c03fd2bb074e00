"""MADE training speed, two snapshots of tfae side by side: before and after a change.

Each measurement is a fresh Python process that imports tfae from one snapshot (a
``git worktree``; never the tree being edited, since AutoGraph re-reads source files),
pinned to one core with ``taskset``, trains the 784-500-784 MADE of
``benchmarks/made.py --sections speed`` on binarized MNIST (batch 100) for one warm-up
epoch (tracing, XLA compilation) and then ``--epochs`` timed epochs, wall and CPU
seconds each timed by a callback from the epoch's start to its end. The rounds
alternate the order of the snapshots, so both see the same load on a shared machine;
the table gives the minimum and median per variant, their after/before ratios, and the
median of the per-round ratios.

Variants (the MADE constructor argument ``mask_op`` where the snapshot has it):

- ``1 mask XLA 50 steps/call``: ``compile(jit_compile=True, steps_per_execution=50)``,
  the fastest setting; after: ``mask_op="select"``.
- ``1 mask Keras default``: no XLA, one step per call; after: ``mask_op="multiply"``.
- ``32 masks XLA 50 steps/call``: 32 masks cycled in-graph; after: ``mask_op="select"``.

Run from the repository root, after making the snapshots, e.g.:

    git worktree add /tmp/made-before 639368e
    git worktree add /tmp/made-after 639368e   # then copy the changed files into it
    .venv/bin/python benchmarks/made_before_after.py --before /tmp/made-before \\
        --after /tmp/made-after --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: Variant -> (num_masks, jit_compile, steps_per_execution, mask_op of the new code).
VARIANTS = {
    "1 mask XLA 50 steps/call": (1, True, 50, "select"),
    "1 mask Keras default": (1, False, 1, "multiply"),
    "32 masks XLA 50 steps/call": (32, True, 50, "select"),
}


def child(snapshot: str, variant: str, epochs: int, data: str) -> None:
    """Runs in the measuring process: prints one JSON line of epoch seconds."""
    sys.path.insert(0, snapshot)  # before the editable install of the main checkout
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import inspect
    import warnings

    import keras
    import numpy as np

    import tfae
    from tfae.models.made import MADE

    if not Path(tfae.__file__).resolve().is_relative_to(Path(snapshot).resolve()):
        raise RuntimeError(f"imported {tfae.__file__}, not the snapshot {snapshot}")
    masks, jit, steps, mask_op = VARIANTS[variant]
    kwargs = {"mask_op": mask_op} if "mask_op" in inspect.signature(MADE).parameters else {}
    x = np.load(data)["train_data"].astype("float32")
    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # natural order: an unconnected pixel
        model = MADE(784, hidden_units=(500,), num_masks=masks, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit,
                  steps_per_execution=steps)
    if bool(model.jit_compile) != jit:
        raise RuntimeError(f"Keras refused jit_compile={jit}")

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self.start[0])
            self.cpu.append(time.process_time() - self.start[1])

    timer = Timer()
    model.fit(x, batch_size=100, epochs=epochs + 1, shuffle=True, verbose=0, callbacks=[timer])
    print(json.dumps({"tfae": tfae.__file__, "mask_op": kwargs.get("mask_op"),
                      "warm_up_s": timer.wall[0], "wall": timer.wall[1:],
                      "cpu": timer.cpu[1:]}))


def measure(args, snapshot: str, variant: str) -> dict:
    command = ["taskset", "-c", args.cpu, sys.executable, "-I", __file__, "--child",
               snapshot, variant, "--epochs", str(args.epochs), "--data", str(args.data)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from common import RESULTS_DIR, SHARED_DATA, machine, now, print_table, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="snapshot folder of the old code")
    parser.add_argument("--after", required=True, help="snapshot folder of the new code")
    parser.add_argument("--rounds", type=int, default=4, help="(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed epochs per process, after one warm-up (default: "
                             "%(default)s)")
    parser.add_argument("--cpu", default="1", help="taskset's CPU list (default: 1)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of the variants (default: all)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "binarized_mnist.npz")
    args = parser.parse_args(argv)
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    if set(variants) - set(VARIANTS):
        parser.error(f"unknown variants {sorted(set(variants) - set(VARIANTS))}")
    started, info = now(), machine()
    snapshots = {"before": args.before, "after": args.after}
    runs = {(variant, side): [] for variant in variants for side in snapshots}
    for round_index in range(args.rounds):
        sides = list(snapshots) if round_index % 2 == 0 else list(snapshots)[::-1]
        for variant in variants:
            for side in sides:
                run = measure(args, snapshots[side], variant)
                runs[variant, side].append(run)
                print(f"round {round_index + 1} {variant:<24} {side:<6} "
                      f"{' '.join(f'{s:.2f}' for s in run['wall'])} s "
                      f"(warm-up {run['warm_up_s']:.1f} s; {run['tfae']})", flush=True)
    rows = []
    for variant in variants:
        row = {"variant": variant}
        for side in snapshots:
            wall = [s for run in runs[variant, side] for s in run["wall"]]
            cpu = [s for run in runs[variant, side] for s in run["cpu"]]
            row |= {f"{side}_min_s": min(wall), f"{side}_median_s": statistics.median(wall),
                    f"{side}_cpu_s": statistics.median(cpu), f"{side}_wall": wall}
        row["min_ratio"] = row["after_min_s"] / row["before_min_s"]
        row["median_ratio"] = row["after_median_s"] / row["before_median_s"]
        row["cpu_ratio"] = row["after_cpu_s"] / row["before_cpu_s"]
        row["round_ratio"] = statistics.median(
            min(after["wall"]) / min(before["wall"])
            for after, before in zip(runs[variant, "after"], runs[variant, "before"],
                                     strict=True))
        rows.append(row)
    print(f"\n## MADE 784-500-784, batch 100, one core: seconds per epoch of 50,000 images "
          f"({args.rounds} rounds x {args.epochs} epochs per variant and snapshot)\n")
    print_table(rows, ["variant", ("before_min_s", ".2f"), ("after_min_s", ".2f"),
                       ("min_ratio", ".3f"), ("before_median_s", ".2f"),
                       ("after_median_s", ".2f"), ("median_ratio", ".3f"),
                       ("cpu_ratio", ".3f"), ("round_ratio", ".3f")])
    path = write_json(RESULTS_DIR / "made-before-after.json",
                      {"benchmark": "made_before_after", "started": started, "machine": info,
                       "command": " ".join([Path(sys.executable).name, *sys.argv]),
                       "snapshots": snapshots, "rows": rows,
                       "runs": {f"{variant} | {side}": value
                                for (variant, side), value in runs.items()}})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        parser = argparse.ArgumentParser()
        parser.add_argument("--child", nargs=2, metavar=("SNAPSHOT", "VARIANT"))
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--data")
        options = parser.parse_args()
        child(*options.child, options.epochs, options.data)
    else:
        sys.exit(main())
