"""Variational autoencoder on binarized MNIST: test -log p(x) with 5000 importance samples.

Data: the fixed binarization of Larochelle & Murray (2011), 50k/10k/10k, the split on which
the IWAE paper's appendix reports 88.71 nats for a VAE (Burda et al. 2016).

For each architecture (``dense``: 784-500-500-z and back; ``conv``: stride-2 convolutions,
mirrored by transposed ones), with a Bernoulli decoder and a standard normal prior:

1. Pilots. Each point of a small grid (learning rate x latent size) trains for
   ``--pilot-epochs``; the point with the best validation ELBO wins. Only the validation
   split is used to choose.
2. The run. The chosen setting trains with early stopping on the validation ELBO (scored
   after every epoch with a fixed seed; the best weights are restored), the learning rate
   halved after ``--lr-patience`` epochs without improvement, an optional KL warm-up (beta
   from 0 to 1 over ``--warmup-epochs``; epochs before it ends do not count towards
   patience), within a wall-clock budget.
3. The test split, scored once at the end: the ELBO (10 draws per image), -log p(x) by
   importance sampling with k = ``--test-samples`` (``VAE.log_prob``, Burda et al.), the
   gap between them, the number of active units (Burda et al.: Cov_x E[z_u | x] > 0.01)
   and the time each step took.

The conv decoder costs about 10x the dense one per draw (on 2 cores: about 250 against 25
microseconds), so k = 5000 on the 10000 test images would take over 3 hours; it is scored
with k = ``--conv-test-samples`` (1000) unless told otherwise. The estimate with fewer
samples is a looser bound in expectation (E log p^_k increases with k), so an NLL below a
target at k = 1000 stays below it at k = 5000, up to Monte Carlo noise.

Run from the repository root:

    .venv/bin/python benchmarks/vae.py                   # both architectures (hours on 2 cores)
    .venv/bin/python benchmarks/vae.py --architectures dense --budget-minutes 120
    .venv/bin/python benchmarks/vae.py --quick           # a smoke run (about a minute)

The dense setting that beat 88.71 (87.75 nats, 42 minutes of training on one core; see
docs/benchmarks.md): gated layers, a KL warm-up and weights averaged by the optimizer,

    .venv/bin/python benchmarks/vae.py --architectures dense --dense-hidden-units 300,300 \
        --activation glu --learning-rates 5e-4 --latent-dims 40 --warmup-epochs 100 \
        --pilot-epochs 1 --budget-minutes 85 --ema 0.999

Beyond the lecture (``--prior mixture|vamp``, ``--prior-components``, ``--flow-steps``,
``--training-samples``): the VampPrior with 100 pseudo-inputs and two inverse
autoregressive flow steps reached 83.94 nats in 74 minutes of one core, below the
VampPrior paper's 85.57 (docs/benchmarks.md),

    .venv/bin/python benchmarks/vae.py --architectures dense --dense-hidden-units 300,300 \
        --activation glu --learning-rates 5e-4 --latent-dims 40 --warmup-epochs 40 \
        --pilot-epochs 1 --budget-minutes 75 --ema 0.999 --prior vamp --prior-components 100 \
        --flow-steps 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# TensorFlow's C++ start-up chatter hides the tables; keep warnings and errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
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

import tfae  # noqa: E402
from tfae import datasets, metrics  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "binarized_mnist.npz"
ARCHITECTURES = ("dense", "conv")

#: The number to beat: a VAE on this split, IWAE paper appendix (Burda et al. 2016), nats.
PAPER_VAE_NLL = 88.71

#: --quick: subsets, short runs, a small k; enough to run every line of the script.
QUICK = {"train": 2000, "valid": 500, "test": 500, "pilot_epochs": 1, "max_epochs": 2,
         "test_samples": 50, "learning_rates": (1e-3, 3e-4), "latent_dims": (16,),
         "budget_minutes": 0.5, "dense_hidden": (64, 64), "conv_hidden": (8, 16)}


def _numbers(kind):
    def parse(text: str) -> tuple:
        try:
            values = tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s such as 1e-3,3e-4 or 32,50, "
                f"got {text!r}") from None
        if not values or min(values) <= 0:
            raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
        return values
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="binarized MNIST .npz with train_data/valid_data/test_data "
                             "(default: ../shared/data/binarized_mnist.npz beside the repository)")
    parser.add_argument("--architectures", default="dense,conv",
                        help="comma-separated architectures to run (default: %(default)s)")
    parser.add_argument("--dense-hidden-units", type=_numbers(int), default=None,
                        help="hidden widths of the dense encoder, mirrored in the decoder "
                             "(default: 500,500)")
    parser.add_argument("--conv-hidden-units", type=_numbers(int), default=None,
                        help="filters of the stride-2 convolutions, mirrored in the decoder "
                             "(default: 32,64)")
    parser.add_argument("--learning-rates", type=_numbers(float), default=None,
                        help="Adam step sizes of the pilot grid (default: 1e-3,3e-4)")
    parser.add_argument("--latent-dims", type=_numbers(int), default=None,
                        help="latent sizes of the pilot grid (default: 32,50)")
    parser.add_argument("--pilot-epochs", type=int, default=None,
                        help="epochs of each pilot (default: 5)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epoch limit of the run (default: 2000; the budget binds first)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="wall-clock budget of each architecture's run, pilots excluded "
                             "(default: 90)")
    parser.add_argument("--patience", type=int, default=30,
                        help="epochs without a better validation ELBO before stopping "
                             "(default: %(default)s)")
    parser.add_argument("--lr-patience", type=int, default=10,
                        help="epochs without a better validation ELBO before the learning "
                             "rate is halved (default: %(default)s)")
    parser.add_argument("--warmup-epochs", type=int, default=0,
                        help="KL warm-up: beta grows linearly from 1/W to 1 over the first W "
                             "epochs of the run (not the pilots); 0 for none "
                             "(default: %(default)s)")
    parser.add_argument("--activation", default="relu",
                        help="activation of the hidden layers, e.g. relu or tanh (default: relu)")
    add_ema_argument(parser)
    parser.add_argument("--prior", default="standard", choices=("standard", "mixture", "vamp"),
                        help="p(z): the standard normal, a learned mixture of Gaussians "
                             "(tfae.priors.MixturePrior) or the VampPrior (default: standard)")
    parser.add_argument("--prior-components", type=int, default=500,
                        help="components K of a learned prior; the VampPrior's pseudo-inputs "
                             "start at K training images (default: 500)")
    parser.add_argument("--flow-steps", type=int, default=0,
                        help="inverse autoregressive flow steps of q(z|x) (default: 0)")
    parser.add_argument("--flow-units", type=_numbers(int), default=(320, 320),
                        help="hidden widths of each flow step's MADE (default: 320,320)")
    parser.add_argument("--training-samples", type=int, default=1,
                        help="draws k of z per image in training: k > 1 trains on the "
                             "importance-weighted bound (IWAE), and the validation score is "
                             "that bound with k draws instead of the ELBO (default: 1)")
    parser.add_argument("--batch-size", type=int, default=100,
                        help="examples per step (default: %(default)s)")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="importance samples per test image of the dense model "
                             "(default: 5000)")
    parser.add_argument("--conv-test-samples", type=int, default=None,
                        help="importance samples per test image of the conv model, whose "
                             "decoder costs about 10x the dense one (default: 1000; --quick: "
                             "--test-samples)")
    parser.add_argument("--jit", action="store_true",
                        help="train with jit_compile=True (XLA)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: benchmarks/results/vae.json; --quick: "
                             "vae-quick.json)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: data subsets, one-epoch pilots, 2-epoch runs, k=50")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1),
                        help="one line per epoch of the run (default: 1)")
    args = parser.parse_args(argv)

    args.architectures = tuple(a.strip() for a in args.architectures.split(",") if a.strip())
    unknown = set(args.architectures) - set(ARCHITECTURES)
    if unknown or not args.architectures:
        parser.error(f"--architectures takes some of {ARCHITECTURES}, got {args.architectures}")
    defaults = QUICK if args.quick else {
        "pilot_epochs": 5, "max_epochs": 2000, "test_samples": 5000,
        "learning_rates": (1e-3, 3e-4), "latent_dims": (32, 50), "budget_minutes": 90.0,
        "dense_hidden": (500, 500), "conv_hidden": (32, 64)}
    for name, key in (("pilot_epochs", "pilot_epochs"), ("max_epochs", "max_epochs"),
                      ("test_samples", "test_samples"), ("learning_rates", "learning_rates"),
                      ("latent_dims", "latent_dims"), ("budget_minutes", "budget_minutes"),
                      ("dense_hidden_units", "dense_hidden"),
                      ("conv_hidden_units", "conv_hidden")):
        if getattr(args, name) is None:
            setattr(args, name, defaults[key])
    args.conv_test_samples = args.conv_test_samples or (
        args.test_samples if args.quick else 1000)
    args.out = args.out or RESULTS_DIR / ("vae-quick.json" if args.quick else "vae.json")
    if not args.data.is_file():
        parser.error(f"--data {args.data} is not a file; pass the path of binarized_mnist.npz "
                     "(see ../shared/data/README.md).")
    for flag in ("pilot_epochs", "max_epochs", "patience", "lr_patience", "batch_size",
                 "test_samples", "conv_test_samples", "budget_minutes", "prior_components",
                 "training_samples"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive.")
    if args.warmup_epochs < 0 or args.flow_steps < 0:
        parser.error("--warmup-epochs and --flow-steps must be >= 0.")
    return args


def load_splits(args) -> dict[str, np.ndarray]:
    splits = {split: datasets.load(args.data, split=split) for split in datasets.SPLITS}
    if args.quick:
        splits = {split: x[:QUICK[split]] for split, x in splits.items()}
    for split, x in splits.items():
        if x.ndim != 2 or x.shape[1] != 784 or not np.isin(x, (0.0, 1.0)).all():
            raise ValueError(f"{args.data}: the {split} split is not binary 784-pixel vectors.")
    # The conv networks take 28x28x1 images; the dense ones the same images, flattened inside.
    return {split: x.reshape(-1, 28, 28, 1) for split, x in splits.items()}


# ------------------------------------------------------------------------------ training


def valid_elbo(model: tfae.VAE, x: np.ndarray, seed: int, num_samples: int = 1) -> float:
    """Mean ELBO over ``x`` in nats, with fixed draws (comparable from epoch to epoch)."""
    return float(np.mean(model.elbo(x, num_samples=num_samples, seed=seed, batch_size=500)
                         .numpy().astype(np.float64)))


def valid_score(model: tfae.VAE, x: np.ndarray, seed: int) -> float:
    """The bound a model trains on, averaged over ``x`` with fixed draws: the ELBO, or the
    importance-weighted bound with the model's ``training_samples`` draws."""
    if model.training_samples == 1:
        return valid_elbo(model, x, seed)
    return float(np.mean(model.log_prob(x, num_samples=model.training_samples, seed=seed,
                                        batch_size=500).numpy().astype(np.float64)))


class Validation(keras.callbacks.Callback):
    """KL warm-up, early stopping on the validation ELBO, learning-rate halving, budget.

    Before each epoch it sets beta (the warm-up); after each epoch it scores the
    validation ELBO (beta = 1, the same draws every time), keeps the best weights,
    halves the learning rate after ``lr_patience`` epochs without improvement, stops
    after ``patience`` of them or when ``budget_s`` seconds have passed, and restores
    the best weights at the end. Epochs of the warm-up never count as failures. With an
    optimizer that keeps moving averages of the weights, the averages are scored and kept.
    """

    def __init__(self, x_valid, seed: int, warmup_epochs: int, patience: int, lr_patience: int,
                 budget_s: float, verbose: int):
        super().__init__()
        self.x_valid, self.seed, self.warmup_epochs = x_valid, seed, warmup_epochs
        self.patience, self.lr_patience, self.budget_s = patience, lr_patience, budget_s
        self.verbose = verbose
        self.history: list[dict] = []
        self.best, self.best_weights, self.best_epoch = -np.inf, None, 0
        self.waited = self.since_lr_change = 0
        self.stop_reason = "max_epochs"

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self.warmup_epochs:
            self.model.beta = min(1.0, (epoch + 1) / self.warmup_epochs)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.start
        with averaged_weights(self.model):
            elbo = valid_score(self.model, self.x_valid, self.seed)
            improved = elbo > self.best + 1e-3
            if improved:
                self.best_weights = self.model.get_weights()
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        beta = self.model.beta
        self.history.append({"epoch": epoch + 1, "train_loss": float(logs["loss"]),
                             "train_kl": float(logs["kl"]), "valid_elbo": elbo, "beta": beta,
                             "learning_rate": learning_rate, "elapsed_s": elapsed})
        if improved:
            self.best, self.best_epoch = elbo, epoch + 1
            self.waited = self.since_lr_change = 0
        elif beta >= 1.0:
            self.waited += 1
            self.since_lr_change += 1
        if self.since_lr_change >= self.lr_patience:
            self.model.optimizer.learning_rate = learning_rate / 2
            self.since_lr_change = 0
        if self.verbose:
            print(f"  epoch {epoch + 1:4d}  train loss {logs['loss']:8.3f}  valid ELBO "
                  f"{elbo:8.3f}  best {self.best:8.3f} (epoch {self.best_epoch})  beta "
                  f"{beta:.2f}  lr {learning_rate:.2g}  {elapsed:6.0f} s", flush=True)
        if self.waited >= self.patience:
            self.stop_reason, self.model.stop_training = "patience", True
        elif elapsed > self.budget_s:
            self.stop_reason, self.model.stop_training = "budget", True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def build(args, architecture: str, hidden_units, latent_dim: int, x_train) -> tfae.VAE:
    shape = (784,) if architecture == "dense" else (28, 28, 1)
    prior = {"standard": lambda: None,
             "mixture": lambda: tfae.priors.MixturePrior(args.prior_components, seed=args.seed),
             "vamp": lambda: tfae.priors.VampPrior(args.prior_components, seed=args.seed),
             }[args.prior]()
    model = tfae.VAE(shape, latent_dim=latent_dim, hidden_units=hidden_units,
                     architecture=architecture, likelihood="bernoulli",
                     activation=args.activation, seed=args.seed, prior=prior,
                     training_samples=args.training_samples,
                     posterior_flow_steps=args.flow_steps, posterior_flow_units=args.flow_units)
    if args.prior == "vamp":
        prior.adapt(x_train)  # the pseudo-inputs start at K training images
    return model


def _inputs(architecture: str, x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1) if architecture == "dense" else x


def train(args, architecture: str, hidden_units, latent_dim: int, learning_rate: float,
          data: dict, epochs: int, budget_s: float, warmup_epochs: int, verbose: int):
    keras.utils.set_random_seed(args.seed)
    model = build(args, architecture, hidden_units, latent_dim,
                  _inputs(architecture, data["train"]))
    model.compile(optimizer=adam(learning_rate, args.ema), jit_compile=args.jit)
    validation = Validation(_inputs(architecture, data["valid"]), args.seed, warmup_epochs,
                            args.patience, args.lr_patience, budget_s, verbose)
    timer = epoch_timer()
    with Timer() as total:
        model.fit(_inputs(architecture, data["train"]), epochs=epochs,
                  batch_size=args.batch_size, shuffle=True, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN(), validation, timer])
    losses = [row["train_loss"] for row in validation.history]
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError(f"{architecture}: training produced a non-finite loss.")
    epoch_seconds = timer.seconds[1:] or timer.seconds  # the first epoch also traces
    return model, {
        "epochs_run": len(validation.history), "best_epoch": validation.best_epoch,
        "stop_reason": validation.stop_reason, "best_valid_elbo": validation.best,
        "train_s": total.seconds, "s_per_epoch": statistics.median(epoch_seconds),
        "history": validation.history, "epoch_seconds": timer.seconds,
    }


def pilots(args, architecture: str, hidden_units, data: dict) -> tuple[dict, list[dict]]:
    """Trains every grid point for a few epochs; returns the best by validation ELBO."""
    rows = []
    for latent_dim in args.latent_dims:
        for learning_rate in args.learning_rates:
            print(f"# {architecture} pilot: latent_dim {latent_dim}, lr {learning_rate:g}",
                  flush=True)
            _, result = train(args, architecture, hidden_units, latent_dim, learning_rate, data,
                              args.pilot_epochs, np.inf, 0, verbose=0)
            rows.append({"latent_dim": latent_dim, "learning_rate": learning_rate,
                         "valid_elbo": result["best_valid_elbo"],
                         "s_per_epoch": result["s_per_epoch"], "train_s": result["train_s"]})
    best = max(rows, key=lambda row: row["valid_elbo"])
    for row in rows:
        row["chosen"] = "yes" if row is best else ""
    print(f"\n## {architecture}: pilots of {args.pilot_epochs} epoch(s), chosen on the "
          "validation ELBO\n")
    print_table(rows, ["latent_dim", "learning_rate", ("valid_elbo", ".2f"),
                       ("s_per_epoch", ".1f"), "chosen"])
    return best, rows


def evaluate(args, architecture: str, model: tfae.VAE, data: dict) -> dict:
    """Scores the test split once: ELBO, importance-weighted NLL, gap, active units."""
    x_test = _inputs(architecture, data["test"])
    k = args.test_samples if architecture == "dense" else args.conv_test_samples
    with Timer() as elbo_timer:
        test_elbo = valid_elbo(model, x_test, args.seed + 1, num_samples=10)
    print(f"# {architecture}: test -log p(x) with k = {k} importance samples per image "
          f"({len(x_test)} images)", flush=True)
    with Timer() as iw_timer:
        log_prob = model.log_prob(x_test, num_samples=k, seed=args.seed + 2).numpy()
    iw_nll = -float(np.mean(log_prob.astype(np.float64)))
    # The spread over images of the per-image estimates: the standard error of the mean.
    standard_error = float(np.std(log_prob, ddof=1) / np.sqrt(len(log_prob)))
    active, variances = model.active_units(x_test)
    draws = len(x_test) * k
    return {
        "test_elbo": test_elbo, "test_nll_iw": iw_nll, "test_nll_standard_error": standard_error,
        "importance_samples": k, "elbo_to_iw_gap": -iw_nll - test_elbo,
        "active_units": active, "latent_dim": model.latent_dim,
        "active_unit_variances": variances, "elbo_s": elbo_timer.seconds,
        "iw_s": iw_timer.seconds, "iw_us_per_draw": 1e6 * iw_timer.seconds / draws,
        # What k = 5000 on the 10000 MNIST test images would take at the measured rate.
        "iw_s_full_k5000_estimate": iw_timer.seconds / draws * 5000 * 10_000,
        "pixel_mean_nll": float(metrics.pixel_mean_nll(data["train"], data["test"]).mean()),
    }


def run_architecture(args, architecture: str, data: dict) -> dict:
    hidden_units = args.dense_hidden_units if architecture == "dense" else args.conv_hidden_units
    with Timer() as pilot_timer:
        chosen, pilot_rows = pilots(args, architecture, hidden_units, data)
    print(f"\n# {architecture} run: latent_dim {chosen['latent_dim']}, lr "
          f"{chosen['learning_rate']:g}, budget {args.budget_minutes:g} min", flush=True)
    model, result = train(args, architecture, hidden_units, chosen["latent_dim"],
                          chosen["learning_rate"], data, args.max_epochs,
                          60 * args.budget_minutes, args.warmup_epochs, args.verbose)
    scores = evaluate(args, architecture, model, data)
    return {"architecture": architecture, "hidden_units": list(hidden_units),
            "parameters": int(model.count_params()), "learning_rate": chosen["learning_rate"],
            "pilot_s": pilot_timer.seconds, "pilots": pilot_rows, **result, **scores}


def main(argv=None) -> int:
    args = parse_args(argv)
    started, machine_at_start = now(), machine()  # the load average before the run
    with Timer() as total:
        data = load_splits(args)
        print(f"data: {args.data} " + ", ".join(f"{k} {v.shape}" for k, v in data.items()),
              flush=True)
        runs = [run_architecture(args, architecture, data) for architecture in args.architectures]
    print(f"\n## Variational autoencoder on binarized MNIST (fixed binarization), Bernoulli "
          f"decoder, {args.prior} prior, {args.flow_steps} flow steps, k = "
          f"{args.training_samples} in training; nats per image\n")
    print_table(runs, ["architecture", "latent_dim", "parameters", "learning_rate",
                       "epochs_run", "best_epoch", "stop_reason", ("s_per_epoch", ".1f"),
                       ("train_s", ".0f"), ("test_elbo", ".2f"), ("test_nll_iw", ".2f"),
                       ("test_nll_standard_error", ".2f"), "importance_samples",
                       ("elbo_to_iw_gap", ".2f"), "active_units", ("iw_s", ".0f")])
    for run in runs:
        verdict = "beats" if run["test_nll_iw"] < PAPER_VAE_NLL else "does not beat"
        print(f"\n{run['architecture']}: test -log p(x) {run['test_nll_iw']:.2f} nats (k = "
              f"{run['importance_samples']}) {verdict} the IWAE paper's VAE ({PAPER_VAE_NLL}); "
              f"per-pixel-mean model {run['pixel_mean_nll']:.2f}. Importance sampling took "
              f"{run['iw_us_per_draw']:.1f} us per draw: k = 5000 on 10000 test images would "
              f"take about {run['iw_s_full_k5000_estimate'] / 60:.0f} min with this network.",
              flush=True)
    payload = {
        "benchmark": "vae",
        "started": started,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_at_start,
        "settings": {key: (str(value) if isinstance(value, Path) else value)
                     for key, value in vars(args).items()},
        "splits": {split: int(len(x)) for split, x in data.items()},
        "paper_vae_nll": PAPER_VAE_NLL,
        "runs": runs,
        "total_s": total.seconds,
        "load_average_end": os.getloadavg(),
    }
    path = write_json(args.out, payload)
    print(f"\nTotal {total.seconds:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
