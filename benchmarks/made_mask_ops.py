"""How to apply a MADE mask: a product with a float mask or a select on a boolean one.

A fused 784-500-784 training step (sigmoid cross-entropy, SGD) written in plain
TensorFlow, 500 steps per compiled call (one epoch of 50,000 images at batch 100),
unmasked and with each way of masking below, with and without XLA; the variants take
turns for ``--rounds`` rounds and the table gives the minimum and median seconds per
call and the ratio to the unmasked step. ``tfae.layers.MaskedDense``'s ``mask_op``
offers the two ways that keep their mask's dtype: ``"multiply"`` (a float mask) and
``"select"`` (a boolean mask); the other two rows show what a conversion costs.

Run from the repository root (``taskset -c 1`` pins it to one core):

    .venv/bin/python benchmarks/made_mask_ops.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import RESULTS_DIR, machine, now, print_table, write_json  # noqa: E402

#: Way of masking -> (dtype of the stored mask, the masked kernel).
WAYS = {
    "unmasked": (tf.float32, lambda kernel, mask: kernel),
    "kernel * mask (float)": (tf.float32, lambda kernel, mask: kernel * mask),
    "where(mask, kernel, 0) (bool)": (
        tf.bool, lambda kernel, mask: tf.where(mask, kernel, tf.zeros_like(kernel))),
    "where(mask > 0, kernel, 0) (float)": (
        tf.float32, lambda kernel, mask: tf.where(mask > 0, kernel, tf.zeros_like(kernel))),
    "kernel * cast(mask) (bool)": (
        tf.bool, lambda kernel, mask: kernel * tf.cast(mask, kernel.dtype)),
}


def make_step(way: str, jit: bool, x, variables, masks):
    w1, b1, w2, b2 = variables
    dtype, masked = WAYS[way]
    # Variables, as in the layer: read at every step, never folded into the graph.
    m1, m2 = (tf.Variable(tf.cast(mask, dtype), trainable=False) for mask in masks)

    @tf.function(jit_compile=jit)
    def steps(n):
        def body(i):
            with tf.GradientTape() as tape:
                hidden = tf.nn.relu(x @ masked(w1, m1) + b1)
                logits = hidden @ masked(w2, m2) + b2
                loss = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(x, logits))
            for variable, gradient in zip(variables, tape.gradient(loss, variables),
                                          strict=True):
                variable.assign_sub(1e-6 * gradient)
            return i + 1

        return tf.while_loop(lambda i: i < n, body, [tf.constant(0)])

    return steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="(default: %(default)s)")
    parser.add_argument("--steps", type=int, default=500, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    tf.get_logger().setLevel("ERROR")  # ten step functions of one code object: not retracing
    rng = np.random.default_rng(0)
    x = tf.constant((rng.random((100, 784)) < 0.3).astype("float32"))
    variables = [tf.Variable(rng.normal(size=(784, 500)).astype("float32") * 0.03),
                 tf.Variable(tf.zeros(500)),
                 tf.Variable(rng.normal(size=(500, 784)).astype("float32") * 0.03),
                 tf.Variable(tf.zeros(784))]
    masks = [rng.random(shape) < 0.5 for shape in ((784, 500), (500, 784))]
    started, info = now(), machine()
    rows = []
    for jit in (False, True):
        steps = {way: make_step(way, jit, x, variables, masks) for way in WAYS}
        for step in steps.values():
            step(tf.constant(10))  # trace and compile
        seconds = {way: [] for way in WAYS}
        for round_index in range(args.rounds):
            for way in WAYS if round_index % 2 == 0 else list(WAYS)[::-1]:
                start = time.perf_counter()
                steps[way](tf.constant(args.steps))
                seconds[way].append(time.perf_counter() - start)
        for way in WAYS:
            rows.append({"xla": jit, "mask applied by": way, "min_s": min(seconds[way]),
                         "median_s": statistics.median(seconds[way]),
                         "min_vs_unmasked": min(seconds[way]) / min(seconds["unmasked"]),
                         "median_vs_unmasked": (statistics.median(seconds[way])
                                                / statistics.median(seconds["unmasked"])),
                         "seconds": seconds[way]})
    print(f"\n## {args.steps} training steps of a 784-500-784 network, batch 100\n")
    print_table(rows, ["xla", "mask applied by", ("min_s", ".3f"), ("median_s", ".3f"),
                       ("min_vs_unmasked", ".3f"), ("median_vs_unmasked", ".3f")])
    path = write_json(RESULTS_DIR / "made-mask-ops.json",
                      {"benchmark": "made_mask_ops", "started": started, "machine": info,
                       "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
                       "rows": rows})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
