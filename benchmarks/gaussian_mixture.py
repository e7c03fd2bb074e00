"""Gaussian mixture by EM on PCA-projected binarized MNIST: tfae against scikit-learn.

The data: the 60,000 training and validation images of binarized MNIST projected onto
their top 50 principal components (computed on those 60,000 images); the 10,000 test
images projected the same way are scored at the end.

Three sections, chosen with ``--sections`` (default: all three):

1. ``same``: same start, side by side. ``tfae.GaussianMixture`` and scikit-learn's
   ``GaussianMixture`` start from the same weights, means and precisions (one k-means
   run, shared) with the same ``tol`` and ``max_iter``, so that both run the same EM
   iterations; each reports its iteration count. tfae runs in float64 and float32,
   with and without XLA (``jit_compile``). The variants take turns, round after round,
   so that machine noise hits all of them; the figures are the medians of the rounds
   after the first ("warm"), beside the first round's time ("cold": it includes
   tracing and XLA compilation) and the ratio of scikit-learn's warm time to tfae's.
2. ``own``: each library's default k-means initialisation, for a few seeds (the
   local optimum EM reaches depends on the start).
3. ``scaling``: 10 EM iterations (``tol=0``) of the full-covariance model with K = 30
   components, and on 4 x 60,000 points (the projected images, each repeated four
   times with a small jitter), in seconds per iteration.

Run from the repository root:

    .venv/bin/python benchmarks/gaussian_mixture.py            # the figures in docs/benchmarks.md
    .venv/bin/python benchmarks/gaussian_mixture.py --quick    # a smoke run of a few seconds
    .venv/bin/python benchmarks/gaussian_mixture.py --sections scaling

Every time is also recorded as the CPU seconds of the process (``cpu_s``), which other
jobs on a shared machine stretch less than the wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings
from pathlib import Path

# TensorFlow's C++ start-up chatter hides the tables; keep warnings and errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from common import (  # noqa: E402
    RESULTS_DIR,
    SHARED_DATA,
    Timer,
    machine,
    now,
    print_table,
    write_json,
)
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture as SklearnMixture  # noqa: E402

from tfae.mixture import GaussianMixture  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "binarized_mnist.npz"

#: --quick: a subset, fewer dimensions and components, one round, no scaling section.
QUICK = {"train": 3000, "test": 1000, "pca_dims": 10, "components": 4, "rounds": 1}

SECTIONS = ("same", "own", "scaling")

#: The tfae variants timed against scikit-learn: (dtype, jit_compile); the first is the default.
TFAE_VARIANTS = (("float64", False), ("float64", True), ("float32", False), ("float32", True))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="binarized MNIST .npz with train_data/valid_data/test_data "
                             "(default: ../shared/data/binarized_mnist.npz beside the repository)")
    parser.add_argument("--pca-dims", type=int, default=None,
                        help="principal components kept (default: 50; --quick: 10)")
    parser.add_argument("--components", type=int, default=None,
                        help="mixture components K (default: 10; --quick: 4)")
    parser.add_argument("--covariance-types", default="full,diag",
                        help="comma-separated covariance types (default: %(default)s)")
    parser.add_argument("--tol", type=float, default=1e-3,
                        help="EM tolerance (default: %(default)s)")
    parser.add_argument("--max-iter", type=int, default=100,
                        help="most EM iterations (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of the side-by-side comparison; the first is the cold "
                             "one (default: 3; --quick: 1)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds of the own-start comparison (default: 3; --quick: 1)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help="comma-separated sections to run: same, own, scaling "
                             "(default: all three; --quick skips scaling)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default: benchmarks/results/gaussian_mixture.json; "
                             "--quick: gaussian_mixture-quick.json)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run on a subset, 10 dimensions, 4 components, one round")
    args = parser.parse_args(argv)

    args.pca_dims = args.pca_dims or (QUICK["pca_dims"] if args.quick else 50)
    args.components = args.components or (QUICK["components"] if args.quick else 10)
    args.rounds = args.rounds or (QUICK["rounds"] if args.quick else 3)
    args.seeds = args.seeds or (1 if args.quick else 3)
    args.covariance_types = tuple(t.strip() for t in args.covariance_types.split(",") if t.strip())
    args.sections = tuple(t.strip() for t in args.sections.split(",") if t.strip())
    if set(args.sections) - set(SECTIONS) or not args.sections:
        parser.error(f"--sections must name some of {', '.join(SECTIONS)}; got {args.sections}.")
    suffix = "" if set(args.sections) == set(SECTIONS) else "-" + "-".join(args.sections)
    if args.quick:
        args.sections = tuple(section for section in args.sections if section != "scaling")
        suffix = "-quick"
    name = f"gaussian_mixture{suffix}.json"
    args.out = args.out or RESULTS_DIR / name
    if not args.data.is_file():
        parser.error(f"--data {args.data} is not a file; pass the path of binarized_mnist.npz "
                     "(see ../shared/data/README.md).")
    for flag in ("pca_dims", "components", "rounds", "seeds", "max_iter"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive.")
    return args


def load_projected(path: Path, dims: int, quick: bool):
    """(train, test): binarized MNIST train+valid and test on train+valid's top principal axes."""
    with np.load(path) as data:
        train = np.concatenate([data["train_data"], data["valid_data"]]).astype(np.float64)
        test = data["test_data"].astype(np.float64)
    if quick:
        train, test = train[: QUICK["train"]], test[: QUICK["test"]]
    mean = train.mean(axis=0)
    centred = train - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    axes = vectors[:, ::-1][:, :dims]
    return centred @ axes, (test - mean) @ axes


def shared_start(x, k: int, covariance_type: str, seed: int, reg_covar: float = 1e-6) -> dict:
    """Initial weights, means and precisions from one k-means run, for both libraries."""
    labels = KMeans(k, n_init=1, random_state=seed).fit(x).labels_
    weights = np.bincount(labels, minlength=k) / len(x)
    means = np.stack([x[labels == j].mean(axis=0) for j in range(k)])
    if covariance_type == "full":
        covariances = np.stack([np.cov(x[labels == j].T, bias=True) for j in range(k)])
        precisions = np.linalg.inv(covariances + reg_covar * np.eye(x.shape[1]))
    elif covariance_type == "diag":
        precisions = 1.0 / (np.stack([x[labels == j].var(axis=0) for j in range(k)]) + reg_covar)
    else:
        raise ValueError(f"the benchmark starts only full and diag mixtures, got {covariance_type}")
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def make_model(variant: str, **settings):
    if variant == "scikit-learn":
        # init_params only sets what the *_init arrays then replace (all three are given):
        # "random_from_data" picks K points instead of running k-means again (tfae skips
        # init_params when all three are given).
        if "means_init" in settings:
            settings["init_params"] = "random_from_data"
        return SklearnMixture(**settings)
    dtype, xla = variant.split("/")
    return GaussianMixture(dtype=dtype, jit_compile=xla == "xla", **settings)


def timed_fit(variant: str, x, test, **settings) -> dict:
    model = make_model(variant, **settings)
    with warnings.catch_warnings():
        # tol=0 runs exactly max_iter iterations on purpose.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        with Timer() as timer:
            model.fit(x)
    return {"seconds": timer.seconds, "cpu_s": timer.cpu_seconds, "n_iter": int(model.n_iter_),
            "train_ll": float(model.score(x)), "test_ll": float(model.score(test))}


def variant_name(dtype: str, xla: bool) -> str:
    return f"{dtype}/{'xla' if xla else 'graph'}"


def side_by_side(x, test, args) -> list[dict]:
    """Section 1: the same start, every variant in turn, ``args.rounds`` rounds."""
    rows = []
    for covariance_type in args.covariance_types:
        start = shared_start(x, args.components, covariance_type, args.seed)
        settings = dict(n_components=args.components, covariance_type=covariance_type,
                        tol=args.tol, max_iter=args.max_iter, random_state=args.seed, **start)
        variants = ["scikit-learn"] + [variant_name(d, j) for d, j in TFAE_VARIANTS]
        runs = {v: [] for v in variants}
        for round_ in range(args.rounds):
            for variant in variants:
                runs[variant].append(timed_fit(variant, x, test, **settings))
                last = runs[variant][-1]
                print(f"  round {round_ + 1} {covariance_type:>9} {variant:>14}: "
                      f"{last['seconds']:7.2f} s, {last['n_iter']} iterations", flush=True)
        for variant in variants:
            rows.append(summarise(covariance_type, variant, runs[variant]))
        reference = next(r for r in rows[-len(variants):] if r["implementation"] == "scikit-learn")
        for row in rows[-len(variants):]:
            row["speed-up"] = reference["warm_s"] / row["warm_s"]
            row["test_ll_diff"] = row["test_ll"] - reference["test_ll"]
    return rows


def summarise(covariance_type: str, variant: str, runs: list[dict]) -> dict:
    warm = [r["seconds"] for r in runs[1:]] or [runs[0]["seconds"]]
    last = runs[-1]
    return {
        "covariance": covariance_type,
        "implementation": "scikit-learn" if variant == "scikit-learn" else "tfae",
        "variant": "float64" if variant == "scikit-learn" else variant,
        "n_iter": last["n_iter"],
        "n_iter_all_rounds": sorted({r["n_iter"] for r in runs}),
        "cold_s": runs[0]["seconds"],
        "warm_s": statistics.median(warm),
        "warm_cpu_s": statistics.median(r["cpu_s"] for r in (runs[1:] or runs)),
        "s_per_iter": statistics.median(warm) / last["n_iter"],
        "train_ll": last["train_ll"],
        "test_ll": last["test_ll"],
        "rounds": runs,
    }


def own_start(x, test, args) -> list[dict]:
    """Section 2: each library's default k-means initialisation, ``args.seeds`` seeds."""
    rows = []
    for covariance_type in args.covariance_types:
        for seed in range(args.seed, args.seed + args.seeds):
            settings = dict(n_components=args.components, covariance_type=covariance_type,
                            tol=args.tol, max_iter=args.max_iter, random_state=seed)
            for variant in ("scikit-learn", variant_name(*TFAE_VARIANTS[0])):
                run = timed_fit(variant, x, test, **settings)
                rows.append({"covariance": covariance_type, "seed": seed, "variant": variant,
                             **run})
                print(f"  own start {covariance_type:>9} seed {seed} {variant:>14}: "
                      f"{run['seconds']:7.2f} s, {run['n_iter']} iterations", flush=True)
    return rows


def scaling(x, test, args) -> list[dict]:
    """Section 3: seconds per EM iteration for larger K and larger N (10 iterations, tol=0)."""
    rng = np.random.default_rng(args.seed)
    bigger = np.concatenate([x + 0.01 * rng.standard_normal(x.shape) for _ in range(4)])
    cases = [(f"N={len(x)}, K={3 * args.components}", x, 3 * args.components),
             (f"N={len(bigger)}, K={args.components}", bigger, args.components)]
    rows = []
    for label, data, k in cases:
        start = shared_start(data[: len(x)], k, "full", args.seed)
        settings = dict(n_components=k, covariance_type="full", tol=0.0, max_iter=10,
                        random_state=args.seed, **start)
        variants = ["scikit-learn", variant_name("float64", False),
                    variant_name("float32", False)]
        # tfae: a cold fit (tracing) and a warm one; scikit-learn compiles nothing.
        runs = {v: [timed_fit(v, data, test, **settings)
                    for _ in range(1 if v == "scikit-learn" else 2)] for v in variants}
        for variant in variants:
            row = summarise("full", variant, runs[variant])
            row["case"] = label
            rows.append(row)
            print(f"  {label:>18} {variant:>14}: {row['s_per_iter']:.3f} s per iteration",
                  flush=True)
        reference = rows[-len(variants)]
        for row in rows[-len(variants):]:
            row["speed-up"] = reference["warm_s"] / row["warm_s"]
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    host = machine()  # with the load average at the start
    x, test = load_projected(args.data, args.pca_dims, args.quick)
    print(f"data: {x.shape} train+valid, {test.shape} test, K={args.components}, "
          f"tol={args.tol}, max_iter={args.max_iter}", flush=True)

    results = {}
    if "same" in args.sections:
        results["same_start"] = side_by_side(x, test, args)
        print_table(results["same_start"], [
            "covariance", "implementation", "variant", "n_iter", ("cold_s", ".2f"),
            ("warm_s", ".2f"), ("warm_cpu_s", ".2f"), ("s_per_iter", ".3f"), ("speed-up", ".2f"),
            ("train_ll", ".4f"), ("test_ll", ".4f"), ("test_ll_diff", ".1e")])
    if "own" in args.sections:
        results["own_start"] = own_start(x, test, args)
        print_table(results["own_start"], ["covariance", "seed", "variant", "n_iter",
                                           ("seconds", ".2f"), ("cpu_s", ".2f"),
                                           ("train_ll", ".4f"), ("test_ll", ".4f")])
    if "scaling" in args.sections:
        results["scaling"] = scaling(x, test, args)
        print_table(results["scaling"], ["case", "implementation", "variant", ("cold_s", ".2f"),
                                         ("s_per_iter", ".3f"), ("warm_cpu_s", ".2f"),
                                         ("speed-up", ".2f")])

    payload = {
        "benchmark": "gaussian_mixture",
        "date": now(),
        "machine": host,
        "load_average_end": os.getloadavg(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "data": {"train": list(x.shape), "test": list(test.shape)},
        **results,
    }
    print(f"load average (1, 5, 15 min) at the start: {host['load_average']}, "
          f"at the end: {payload['load_average_end']}")
    print(f"wrote {write_json(args.out, payload)}")
    return payload


if __name__ == "__main__":
    main()
