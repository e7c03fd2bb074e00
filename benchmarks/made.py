"""MADE: test NLL on binarized MNIST and UCI DNA, training and sampling speed.

Four sections, chosen with ``--sections`` (each writes its own JSON file):

``speed``
    Training throughput, side by side: ``tfae.MADE`` (one 500-unit hidden layer, one
    mask; and with 32 masks cycled in-graph) against a plain Keras network of the
    same shape (``Dense(500, relu)``, ``Dense(784)``, ``BinaryCrossentropy`` from
    logits summed over pixels: the same objective without masks), with and without
    XLA (MADE's ``mask_op``: ``"select"`` with XLA, ``"multiply"`` without, the faster
    of the two in each, ``benchmarks/made_mask_ops.py``). The variants take turns, one
    epoch of the 50,000 training images each, after one warm-up epoch; the figures are
    median epoch times and their ratios.
``sampling``
    100 samples at D = 784 from one and two 500-unit hidden layers: the fast path
    against the naive one (a full forward pass per dimension), both inside one
    compiled ``tf.function``, with and without XLA, plus a float32 naive reference
    written directly in TensorFlow. Same seed, same samples: checked.
``mnist``
    Test NLL on binarized MNIST (fixed binarization, 50k/10k/10k). One run per
    configuration given with ``--mnist-runs``; the learning rate is chosen on the
    validation split among ``--learning-rates`` (short pilot runs), then the run
    trains with early stopping on the validation NLL (best weights restored), within
    a wall-clock budget. The test split is scored only at the end.
``dna``
    The same on UCI DNA (1400/600/1186, D = 180), with a small grid (hidden layers,
    masks, learning rate) chosen on the validation split.

Run from the repository root (each section writes ``benchmarks/results/made-SECTION.json``):

    .venv/bin/python benchmarks/made.py --sections speed,sampling
    .venv/bin/python benchmarks/made.py --sections mnist --mnist-runs 500x1,500-500x32
    .venv/bin/python benchmarks/made.py --sections dna
    .venv/bin/python benchmarks/made.py --quick        # a smoke run of every section
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
import warnings
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
    adam,
    add_ema_argument,
    averaged_weights,
    epoch_timer,
    machine,
    now,
    print_table,
    write_json,
)

from tfae import datasets, metrics  # noqa: E402
from tfae.models.made import MADE  # noqa: E402

MNIST = SHARED_DATA / "binarized_mnist.npz"
DNA = SHARED_DATA / "uci_dna.npz"
SECTIONS = ("speed", "sampling", "mnist", "dna")

#: Published test NLLs (Germain et al. 2015, tables 2 and 6), nats.
PAPER = {
    "mnist": {"1 hidden layer, 1 mask": 88.40, "2 hidden layers, 1 mask": 89.59,
              "1 hidden layer, 32 masks": 88.04, "2 hidden layers, 32 masks": 86.64},
    "dna": {"MADE": 83.63, "MADE, mask sampling": 79.66},
}


# ------------------------------------------------------------------------------ arguments


def _run_spec(text: str) -> dict:
    """``500x1`` = one 500-unit layer, 1 mask, natural order; ``500-500x32r`` = two
    layers, 32 masks, a random ordering per mask (order-agnostic); ``p`` = one random
    ordering shared by all masks (connectivity-agnostic only); ``d`` adds the direct
    connection."""
    try:
        layers, rest = text.split("x")
        suffix = rest.lstrip("0123456789")
        masks = int(rest[: len(rest) - len(suffix)])
        hidden = tuple(int(units) for units in layers.split("-"))
        if set(suffix) - {"r", "p", "d"} or {"r", "p"} <= set(suffix) or masks < 1 \
                or min(hidden) < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected runs such as 500x1 or 500-500x32r (units-units x masks, r = a random "
            f"ordering per mask, p = one shared random ordering, d = direct connection), got "
            f"{text!r}") from None
    ordering = "random" if "r" in suffix else "shared random" if "p" in suffix else "natural"
    return {"name": text, "hidden_units": hidden, "num_masks": masks, "ordering": ordering,
            "direct_connection": "d" in suffix}


def _runs(text: str) -> list[dict]:
    return [_run_spec(part) for part in text.split(",") if part.strip()]


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers such as 1e-3,3e-3, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="speed,sampling,mnist,dna",
                        help="comma-separated sections to run (default: all four)")
    parser.add_argument("--mnist", type=Path, default=MNIST, help="binarized MNIST .npz")
    parser.add_argument("--dna", type=Path, default=DNA, help="UCI DNA .npz")
    parser.add_argument("--batch-size", type=int, default=100, help="(default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed rounds per variant in sampling (default: 3)")
    parser.add_argument("--speed-rounds", type=int, default=5,
                        help="timed epochs per variant in speed (default: 5)")
    parser.add_argument("--speed-examples", type=int, default=50_000,
                        help="training examples per timed epoch in speed (default: 50000)")
    parser.add_argument("--steps-per-execution", type=int, default=50,
                        help="the second Keras steps_per_execution of speed, next to 1 "
                             "(default: 50)")
    parser.add_argument("--mnist-runs", type=_runs, default="500x1rd,500-500x32rd",
                        help="MNIST configurations: units-units x masks, r = a random ordering "
                             "per mask, d = direct connection (default: %(default)s)")
    parser.add_argument("--dna-runs", type=_runs, default="500x1d,500x1rd,500x32rd,500x300rd",
                        help="UCI DNA configurations, the best of each kind (one mask, "
                             "several) chosen on validation (default: %(default)s)")
    parser.add_argument("--dna-budget-minutes", type=float, default=4.0,
                        help="wall-clock budget per DNA run (default: %(default)s)")
    parser.add_argument("--learning-rates", type=_floats, default=(1e-3, 3e-3),
                        help="Adam step sizes to choose from on validation NLL after "
                             "--pilot-epochs (default: 1e-3,3e-3)")
    parser.add_argument("--l2", type=float, default=0.0,
                        help="L2 weight penalty on every kernel (MADE's kernel_regularizer, "
                             "keras.regularizers.L2); 0 for none (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout rate on the hidden units (MADE's dropout) (default: "
                             "%(default)s)")
    add_ema_argument(parser)
    parser.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=True,
                        help="start the output biases at the training data's log-odds "
                             "(MADE.adapt) before training (default: on)")
    parser.add_argument("--pilot-epochs", type=int, default=4,
                        help="epochs of each learning-rate pilot (default: 4)")
    parser.add_argument("--max-epochs", type=int, default=1000,
                        help="epoch limit of a run (default: 1000; the budget binds first)")
    parser.add_argument("--patience", type=int, default=20,
                        help="validations without improvement before stopping (default: 20)")
    parser.add_argument("--lr-patience", type=int, default=6,
                        help="validations without improvement before the learning rate is "
                             "halved (default: %(default)s)")
    parser.add_argument("--budget-minutes", type=_floats, default=None,
                        help="wall-clock budget per MNIST run, one value or one per run "
                             "(default: 25 each)")
    parser.add_argument("--validate-every", type=int, default=None,
                        help="epochs between validations of runs with several masks, whose "
                             "validation NLL averages all masks (default: 5; 1 mask: 1)")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA for the training runs: auto takes the faster setting "
                             "measured by the speed section when it ran (default: auto = on)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--tag", default="",
                        help="appended to the names of the JSON files (default: none)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: data subsets, a few epochs, one round")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1),
                        help="one line per validation during training (default: 1)")
    args = parser.parse_args(argv)
    args.sections = tuple(part.strip() for part in args.sections.split(",") if part.strip())
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    for path in (args.mnist, args.dna):
        if not path.is_file():
            parser.error(f"{path} is not a file (see ../shared/data/README.md)")
    budgets = args.budget_minutes or (25.0,)
    if len(budgets) not in (1, len(args.mnist_runs)):
        parser.error("--budget-minutes takes one value or one per --mnist-runs entry")
    args.budget_minutes = budgets * len(args.mnist_runs) if len(budgets) == 1 else budgets
    if args.quick:
        args.rounds, args.pilot_epochs, args.max_epochs, args.validate_every = 1, 1, 3, 1
        args.speed_rounds = 1
        args.budget_minutes = (1.0,) * len(args.mnist_runs)
        args.learning_rates = args.learning_rates[:1]
    return args


def load(path: Path, quick: bool) -> dict[str, np.ndarray]:
    splits = {split: datasets.load(path, split=split) for split in datasets.SPLITS}
    if quick:
        splits = {split: x[:1000] for split, x in splits.items()}
    for split, x in splits.items():
        if x.ndim != 2 or not ((x == 0) | (x == 1)).all():
            raise ValueError(f"{path}: the {split} split is not binary vectors (N, D).")
    return splits


# ------------------------------------------------------------------------------ speed


def mask_op(jit: bool) -> str:
    """MADE's ``mask_op`` for a training step with or without XLA: the faster one on CPU
    (``benchmarks/made_mask_ops.py``, ``docs/benchmarks.md``)."""
    return "select" if jit else "multiply"


def _plain_network(dims: int, hidden: int) -> keras.Model:
    inputs = keras.Input((dims,))
    outputs = keras.layers.Dense(dims)(keras.layers.Dense(hidden, activation="relu")(inputs))
    return keras.Model(inputs, outputs, name="plain_dense")


def _timed_epoch(model, x, batch_size, plain) -> tuple[float, float]:
    """Wall and CPU (all threads of this process) seconds of one epoch over ``x``.

    Timed from the epoch's start to its end by a callback, so ``fit``'s set-up (the
    data adapter, the callbacks), paid once per training run, is left out, as in a
    run of many epochs.
    """
    timer = epoch_timer()
    model.fit(x, x if plain else None, batch_size=batch_size, epochs=1, shuffle=True,
              verbose=0, callbacks=[timer])
    return timer.seconds[0], timer.cpu_seconds[0]


def speed(args, data) -> dict:
    """Whole epochs (``--speed-examples``) in turns; minimum and median per 50k epoch.

    Each variant trains the same 784-500-784 network: a plain Keras ``Dense`` pair and
    MADE with one and 32 masks, with and without XLA, one step per compiled call and
    ``--steps-per-execution`` steps per call. On a shared machine other jobs slow some
    epochs down: the minimum over interleaved epochs estimates the speed of an
    unloaded machine, the median what a run saw; CPU seconds (this process's threads)
    are less sensitive to other jobs.
    """
    x = data["train"][:args.speed_examples]
    scale = len(data["train"]) / len(x)  # seconds per pass -> seconds per epoch
    dims = x.shape[1]
    variants = []
    kinds = (("plain Dense", 0), ("MADE", 1), ("MADE", 32))
    for jit, steps, (kind, masks) in itertools.product(
            (False, True), sorted({1, args.steps_per_execution}), kinds):
        keras.utils.set_random_seed(args.seed)
        settings = {"optimizer": keras.optimizers.Adam(1e-3), "jit_compile": jit,
                    "steps_per_execution": steps}
        if kind == "plain Dense":
            model = _plain_network(dims, 500)
            # Keras averages over pixels; the weight makes it the sum, as MADE's NLL.
            model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True),
                          loss_weights=float(dims), **settings)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = MADE(dims, hidden_units=(500,), num_masks=masks, seed=args.seed,
                             mask_op=mask_op(jit))
            model.compile(**settings)
        if bool(model.jit_compile) != jit:
            raise RuntimeError(f"Keras refused jit_compile={jit}")
        variants.append({"model": kind, "masks": masks or None, "jit_compile": jit,
                         "mask_op": mask_op(jit) if masks else None,
                         "steps_per_execution": steps, "keras": model, "wall": [], "cpu": []})
    print(f"\n# speed: one warm-up epoch, then {args.speed_rounds} epochs of {len(x)} examples "
          "per variant in turns", flush=True)
    for variant in variants:
        variant["first_epoch_s"] = _timed_epoch(variant["keras"], x, args.batch_size,
                                                variant["model"] == "plain Dense")[0]
    for round_index in range(args.speed_rounds):
        for variant in variants if round_index % 2 == 0 else variants[::-1]:
            wall, cpu = _timed_epoch(variant["keras"], x, args.batch_size,
                                     variant["model"] == "plain Dense")
            variant["wall"].append(wall * scale)
            variant["cpu"].append(cpu * scale)
    keys = ("model", "masks", "jit_compile", "mask_op", "steps_per_execution")
    rows = []
    for variant in variants:
        rows.append({key: variant[key] for key in (*keys, "first_epoch_s", "wall", "cpu")}
                    | {"min_s_per_epoch": min(variant["wall"]),
                       "median_s_per_epoch": statistics.median(variant["wall"]),
                       "cpu_s_per_epoch": statistics.median(variant["cpu"])})
    plain = {(row["jit_compile"], row["steps_per_execution"]): row
             for row in rows if row["model"] == "plain Dense"}
    for row in rows:
        reference = plain[row["jit_compile"], row["steps_per_execution"]]
        for key in ("min_s_per_epoch", "median_s_per_epoch", "cpu_s_per_epoch"):
            row[key.replace("s_per_epoch", "vs_plain")] = row[key] / reference[key]
    print(f"\n## Training speed, 784-500-784, batch {args.batch_size}, seconds per epoch of "
          f"{len(data['train'])} examples (ratios: to the plain Dense network, same jit and "
          "steps per execution)\n")
    print_table(rows, [*keys, ("min_s_per_epoch", ".2f"), ("median_s_per_epoch", ".2f"),
                       ("cpu_s_per_epoch", ".2f"), ("min_vs_plain", ".3f"),
                       ("median_vs_plain", ".3f"), ("cpu_vs_plain", ".3f")])
    best = min((row for row in rows if row["model"] == "MADE" and row["masks"] == 1
                and row["steps_per_execution"] == 1),
               key=lambda row: row["min_s_per_epoch"])
    return {"examples_per_pass": len(x), "rows": rows,
            "fastest_made_jit_compile": best["jit_compile"]}


# ------------------------------------------------------------------------------ sampling


def reference_naive_sampler(model: MADE):
    """Naive ancestral sampling in float32 TensorFlow, the usual way: for each
    dimension, one forward pass of the whole masked network (mask 0, natural order)."""
    kernels = [layer.masked_kernel(0) for layer in model.hidden_layers]
    biases = [layer.bias for layer in model.hidden_layers]
    output, output_kernel = model.output_layer, model.output_layer.masked_kernel(0)
    dims = model.input_dim
    order = tf.argsort(model.degrees[0][0])

    @tf.function
    def sample(uniform):
        def step(p, x):
            hidden = x
            for kernel, bias in zip(kernels, biases, strict=True):
                hidden = tf.nn.relu(hidden @ kernel + bias)
            logits = hidden @ output_kernel + output.bias
            d = order[p]
            value = tf.cast(uniform[:, d] < tf.sigmoid(logits[:, d]), tf.float32)
            return p + 1, x + value[:, None] * tf.one_hot(d, dims)

        return tf.while_loop(lambda p, x: p < dims, step,
                             (tf.constant(0), tf.zeros_like(uniform)))[1]

    return sample


def sampling(args, data) -> dict:
    dims, count = data["train"].shape[1], 100
    rows, agreement = [], {}
    for hidden in ((500,), (500, 500)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = MADE(dims, hidden_units=hidden, seed=args.seed)
        # Trained-looking weights are not needed for timing; a few steps make the
        # samples non-trivial for the agreement check.
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit(data["train"][:5000], batch_size=100, epochs=1, verbose=0)
        reference = reference_naive_sampler(model)
        uniform = tf.random.uniform([count, dims], seed=args.seed)

        def draw(fast, jit, model=model):
            return lambda: model.sample(count, seed=1, fast=fast, jit_compile=jit)

        variants = {(path, jit): draw(path == "fast", jit)
                    for jit in (True, False) for path in ("fast", "naive")}
        variants["naive float32 reference", False] = (
            lambda reference=reference, uniform=uniform: reference(uniform))
        first, seconds = {}, {key: [] for key in variants}
        for key, draw in variants.items():
            with Timer() as timer:
                draw().numpy()
            first[key] = timer.seconds
        for round_index in range(args.rounds):
            for key in (list(variants) if round_index % 2 == 0 else list(variants)[::-1]):
                with Timer() as timer:
                    variants[key]().numpy()
                seconds[key].append(timer.seconds)
        layers = f"{len(hidden)} x 500"
        agreement[layers] = {
            "xla": bool(np.array_equal(variants["fast", True]().numpy(),
                                       variants["naive", True]().numpy())),
            "no_xla": bool(np.array_equal(variants["fast", False]().numpy(),
                                          variants["naive", False]().numpy())),
        }
        fast_xla = statistics.median(seconds["fast", True])
        for (path, jit), values in seconds.items():
            median = statistics.median(values)
            rows.append({"hidden": layers, "path": path, "jit_compile": jit,
                         "first_call_s": first[path, jit], "s_per_100": median,
                         "seconds": values, "vs_fast_xla": median / fast_xla})
        print(f"{layers}: fast == naive samples (same seed): {agreement[layers]}", flush=True)
    print(f"\n## Sampling {count} examples of D = {dims} (median of {args.rounds} round(s); "
          "first call includes tracing and XLA compilation)\n")
    print_table(rows, ["hidden", "path", "jit_compile", ("first_call_s", ".2f"),
                       ("s_per_100", ".3f"), ("vs_fast_xla", ".1f")])
    return {"samples": count, "rows": rows, "identical_samples": agreement}


# ------------------------------------------------------------------------------ training


class Validation(keras.callbacks.Callback):
    """Early stopping on the exact validation NLL (all masks), within a time budget.

    Every ``every`` epochs it scores the validation split with ``model.log_prob``; it
    keeps the best weights, halves the learning rate after ``lr_patience`` validations
    without improvement, stops after ``patience`` of them or when ``budget_s`` seconds
    have passed, and restores the best weights at the end. With an optimizer that keeps
    moving averages of the weights, the averages are scored and kept.
    """

    def __init__(self, x_valid, every: int, patience: int, budget_s: float, verbose: int,
                 lr_patience: int | None = None):
        super().__init__()
        self.x_valid, self.every, self.patience = x_valid, every, patience
        self.budget_s, self.verbose, self.lr_patience = budget_s, verbose, lr_patience
        self.history: list[dict] = []
        self.best, self.best_weights, self.best_epoch, self.waited = np.inf, None, 0, 0
        self.since_lr_change = 0
        self.stop_reason = "max_epochs"

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.start
        over_budget = elapsed > self.budget_s
        if (epoch + 1) % self.every and not over_budget:
            return
        with averaged_weights(self.model):
            valid = valid_nll(self.model, self.x_valid)
            improved = valid < self.best - 1e-3
            if improved:
                self.best_weights = self.model.get_weights()
        learning_rate = float(self.model.optimizer.learning_rate.numpy())
        self.history.append({"epoch": epoch + 1, "train_loss": float(logs["loss"]),
                             "valid_nll": valid, "elapsed_s": elapsed,
                             "learning_rate": learning_rate})
        if improved:
            self.best, self.best_epoch, self.waited = valid, epoch + 1, 0
            self.since_lr_change = 0
        else:
            self.waited += 1
            self.since_lr_change += 1
        if self.lr_patience and self.since_lr_change >= self.lr_patience:
            self.model.optimizer.learning_rate.assign(learning_rate / 2)
            self.since_lr_change = 0
        if self.verbose:
            print(f"  epoch {epoch + 1:4d}  train {logs['loss']:8.3f}  valid {valid:8.3f}  "
                  f"best {self.best:8.3f} (epoch {self.best_epoch})  lr {learning_rate:.2g}  "
                  f"{elapsed:7.0f} s", flush=True)
        if self.waited >= self.patience:
            self.stop_reason, self.model.stop_training = "patience", True
        elif over_budget:
            self.stop_reason, self.model.stop_training = "budget", True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def valid_nll(model: MADE, x, num_masks=None, batch=2000) -> float:
    """Mean -log p(x) over ``x`` in nats, scored in blocks (all masks unless told)."""
    total = 0.0
    for start in range(0, len(x), batch):
        total += float(-model.log_prob(x[start:start + batch], num_masks=num_masks)
                       .numpy().astype(np.float64).sum())
    return total / len(x)


def build(spec: dict, dims: int, seed: int, l2: float = 0.0, dropout: float = 0.0,
          jit: bool = False) -> MADE:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # natural order: pixel 2 may see nothing
        ordering = spec["ordering"]
        if ordering == "shared random":  # one permutation, given explicitly, for every mask
            ordering = [int(d) for d in np.random.default_rng(seed).permutation(dims)]
        return MADE(dims, hidden_units=spec["hidden_units"], num_masks=spec["num_masks"],
                    ordering=ordering, direct_connection=spec["direct_connection"],
                    kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
                    dropout=dropout, seed=seed, mask_op=mask_op(jit))


def train_run(spec: dict, data: dict, learning_rate: float, epochs: int, budget_s: float,
              args, jit: bool, every: int, patience: int, verbose: int):
    keras.utils.set_random_seed(args.seed)
    model = build(spec, data["train"].shape[1], args.seed, args.l2, args.dropout, jit)
    if args.adapt:
        model.adapt(data["train"])
    model.compile(optimizer=adam(learning_rate, args.ema), jit_compile=jit)
    validation = Validation(data["valid"], every, patience, budget_s, verbose,
                            lr_patience=args.lr_patience)
    with Timer() as timer:
        model.fit(data["train"], batch_size=args.batch_size, epochs=epochs, shuffle=True,
                  verbose=0, callbacks=[keras.callbacks.TerminateOnNaN(), validation])
    return model, validation, timer.seconds


def quality(name: str, args, data: dict, runs: list[dict], budgets_s: list[float],
            jit: bool) -> dict:
    baseline = float(metrics.pixel_mean_nll(data["train"], data["test"]).mean())
    rows = []
    for spec, budget_s in zip(runs, budgets_s, strict=True):
        every = 1 if spec["num_masks"] == 1 else (args.validate_every or 5)
        print(f"\n# {name} {spec['name']}: learning rate pilots of {args.pilot_epochs} "
              "epoch(s)" if len(args.learning_rates) > 1 else f"\n# {name} {spec['name']}",
              flush=True)
        pilots = {}
        with Timer() as pilot_timer:
            for learning_rate in args.learning_rates if len(args.learning_rates) > 1 else ():
                _, validation, _ = train_run(spec, data, learning_rate, args.pilot_epochs,
                                             np.inf, args, jit, args.pilot_epochs, 1, 0)
                pilots[learning_rate] = validation.best
                print(f"  lr {learning_rate:g}: valid NLL {validation.best:.3f}", flush=True)
        learning_rate = min(pilots, key=pilots.get) if pilots else args.learning_rates[0]
        print(f"# {name} {spec['name']}: lr {learning_rate:g}, budget {budget_s / 60:.0f} min",
              flush=True)
        model, validation, seconds = train_run(spec, data, learning_rate, args.max_epochs,
                                               budget_s, args, jit, every, args.patience,
                                               args.verbose)
        epochs = validation.history[-1]["epoch"] if validation.history else 0
        row = {
            "run": spec["name"], "hidden_units": spec["hidden_units"],
            "num_masks": spec["num_masks"], "ordering": spec["ordering"],
            "direct_connection": spec["direct_connection"], "learning_rate": learning_rate,
            "l2": args.l2, "dropout": args.dropout, "ema": args.ema, "adapt": args.adapt,
            "pilot_valid_nll": pilots, "pilot_s": pilot_timer.seconds,
            "epochs": epochs, "best_epoch": validation.best_epoch,
            "stopped_by": validation.stop_reason, "train_s": seconds,
            "s_per_epoch": seconds / max(epochs, 1),
            "valid_nll": validation.best, "test_nll": valid_nll(model, data["test"]),
            "history": validation.history,
        }
        if spec["num_masks"] > 1:
            row["test_nll_by_masks"] = {
                count: valid_nll(model, data["test"], num_masks=count)
                for count in sorted({1, 2, 4, 8, 16, spec["num_masks"]})
                if count <= spec["num_masks"]}
        rows.append(row)
        model.save(RESULTS_DIR / f"made-{name}-{spec['name']}.keras")
        print(f"# {name} {spec['name']}: test NLL {row['test_nll']:.2f} nats after {epochs} "
              f"epochs ({seconds / 60:.1f} min, stopped by {validation.stop_reason})",
              flush=True)
    # The paper reports one mask and several masks apart: choose one of each on validation.
    for several in (False, True):
        group = [row for row in rows if (row["num_masks"] > 1) == several]
        if group:
            min(group, key=lambda row: row["valid_nll"])["chosen"] = "yes"
    print(f"\n## {name}: test NLL in nats (pixel-mean model {baseline:.2f})\n")
    print_table(rows, ["run", "num_masks", "ordering", "learning_rate", "epochs",
                       "best_epoch", "stopped_by", ("train_s", ".0f"),
                       ("s_per_epoch", ".2f"), ("valid_nll", ".2f"), ("test_nll", ".2f"),
                       "chosen"])
    return {"pixel_mean_test_nll": baseline, "paper": PAPER[name], "runs": rows,
            "jit_compile": jit}


def samples_figure(model: MADE, x_train: np.ndarray, path: Path) -> dict:
    """The lecture's figure: samples beside their nearest training image (Hamming)."""
    from tfae.plotting import image_rows

    samples = model.sample(10, seed=0).numpy()
    index, distance = metrics.nearest_neighbours(samples, x_train)
    image_rows({"MADE samples": samples, "nearest training image": x_train[index]}, path=path)
    return {"figure": str(path), "hamming_distances": distance.tolist()}


# ------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    args = parse_args(argv)
    # Models and figures are saved there before the JSON: a fresh checkout has no such folder.
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = ("-quick" if args.quick else "") + (f"-{args.tag}" if args.tag else "")
    info = {"started": now(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": machine(), "settings": {k: (str(v) if isinstance(v, Path) else v)
                                               for k, v in vars(args).items()}}
    mnist = load(args.mnist, args.quick) if {"speed", "sampling", "mnist"} & set(
        args.sections) else None
    jit = args.jit != "off"
    for section in args.sections:
        with Timer() as total:
            if section == "speed":
                result = speed(args, mnist)
                if args.jit == "auto":
                    jit = result["fastest_made_jit_compile"]
            elif section == "sampling":
                result = sampling(args, mnist)
            elif section == "mnist":
                runs = args.mnist_runs
                result = quality("mnist", args, mnist, runs,
                                 [60 * minutes for minutes in args.budget_minutes], jit)
                best = min(result["runs"], key=lambda row: row["valid_nll"])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    model = keras.models.load_model(
                        RESULTS_DIR / f"made-mnist-{best['run']}.keras")
                result["figure"] = samples_figure(model, mnist["train"],
                                                  RESULTS_DIR / f"made-samples{suffix}.png")
            else:
                dna = load(args.dna, args.quick)
                runs = args.dna_runs[:2] if args.quick else args.dna_runs
                budget = [60.0 * (1 if args.quick else args.dna_budget_minutes)] * len(runs)
                result = quality("dna", args, dna, runs, budget, jit)
        path = write_json(RESULTS_DIR / f"made-{section}{suffix}.json",
                          {**info, "section": section, "result": result,
                           "section_s": total.seconds})
        print(f"\n{section}: {total.seconds:.0f} s; wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
