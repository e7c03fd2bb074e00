"""Denoising autoencoder on binarized MNIST: does walkback training give fewer spurious samples?

Two ``tfae.DenoisingAutoencoder`` models of the same architecture, corruption and
epoch budget are trained on the 50k training split, one plainly and one with
walkback (Bengio et al. 2013, Algorithm 2); each stops on its validation denoising
loss. From each, 10,000 samples are drawn by the Markov chain
X_t ~ P(X | X~_{t-1}), X~_t ~ C(X~ | X_t) (100 chains from coin-flip noise, 100
burn-in steps, then 100 consecutive states of each chain), and scored by:

1. The Parzen-window log-likelihood of the 10k test images (sigma chosen on the
   validation split), the GSN/GAN papers' figure, with its known weaknesses.
2. A less gameable figure: the share of spurious samples, those farther (in Hamming
   distance) from every training image than 99% of test images are. Real digits
   that the model did not copy sit at test-like distances; blobs and
   half-formed strokes sit farther. Copies of training images are reported too
   (distance 0), since copying is the way to game the first figure.

Run from the repository root:

    .venv/bin/python benchmarks/denoising_autoencoder.py           # docs/benchmarks.md
    .venv/bin/python benchmarks/denoising_autoencoder.py --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
from common import RESULTS_DIR, SHARED_DATA, Timer, machine, now, print_table, write_json

import tfae
from tfae import datasets, metrics
from tfae.runs import seeded

DEFAULT_DATA = SHARED_DATA / "binarized_mnist.npz"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=25, help="epoch budget of each model")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden-units", type=int, default=500)
    parser.add_argument("--latent-dim", type=int, default=250)
    parser.add_argument("--noise", type=float, default=0.3, help="salt-and-pepper rate")
    parser.add_argument("--walkback-steps", type=int, default=4)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--burn-in", type=int, default=100)
    parser.add_argument("--keep", type=int, default=100, help="states kept per chain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a subset and 1 epoch: smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "denoising_autoencoder.json")
    return parser.parse_args(argv)


def chain_samples(model, args) -> np.ndarray:
    chain = model.sample_chain(num_chains=args.chains, num_steps=args.burn_in + args.keep,
                               seed=args.seed)
    kept = np.asarray(chain[args.burn_in:])  # (keep, chains, 784)
    return kept.reshape(-1, kept.shape[-1])


def spurious_share(samples, x_train, x_test) -> dict:
    _, test_distance = metrics.nearest_neighbours(x_test, x_train)
    threshold = float(np.quantile(test_distance, 0.99))
    _, sample_distance = metrics.nearest_neighbours(samples, x_train)
    return {
        "spurious_share": float(np.mean(sample_distance > threshold)),
        "copy_share": float(np.mean(sample_distance == 0)),
        "median_nn_distance": float(np.median(sample_distance)),
        "test_median_nn_distance": float(np.median(test_distance)),
        "threshold": threshold,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    x_train, x_valid, x_test = (datasets.load(args.data, split=s) for s in datasets.SPLITS)
    if args.quick:
        x_train, x_valid, x_test = x_train[:2000], x_valid[:500], x_test[:500]
        args.epochs, args.chains, args.burn_in, args.keep = 1, 10, 5, 5
    rows = []
    for walkback in (0, args.walkback_steps):
        with seeded(args.seed, deterministic=True):  # as `tfae train --deterministic`
            model = tfae.DenoisingAutoencoder(
                (x_train.shape[1],), args.latent_dim, hidden_units=(args.hidden_units,),
                corruption=("salt_and_pepper", args.noise), walkback_steps=walkback, seed=args.seed)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            stop = keras.callbacks.EarlyStopping(monitor="val_denoising", mode="min", patience=5,
                                                 restore_best_weights=True)
            with Timer() as timer:
                history = model.fit(x_train, validation_data=x_valid, epochs=args.epochs,
                                    batch_size=args.batch_size, callbacks=[stop], verbose=2)
            with Timer() as sampling:
                samples = chain_samples(model, args)
            parzen = metrics.parzen_log_likelihood(samples, x_test, valid_data=x_valid)
        rows.append({
            "walkback_steps": walkback,
            "epochs": len(history.history["loss"]),
            "train_s": timer.seconds,
            "valid_denoising": min(history.history["val_denoising"]),
            "test_denoising": float(model.denoising_loss(x_test, seed=1).numpy().mean()),
            "samples": len(samples),
            "sampling_s": sampling.seconds,
            "parzen": parzen.mean,
            "parzen_stderr": parzen.stderr,
            "parzen_sigma": parzen.sigma,
            **spurious_share(samples, x_train, x_test),
        })
        tfae.plotting.image_rows(
            {f"walkback {walkback}: chain {i}": samples[i::args.chains][:10] for i in range(3)},
            args.out.with_name(f"dae_walkback{walkback}_chains.png"))
    print_table(rows, ["walkback_steps", "epochs", ("train_s", ".0f"),
                             ("valid_denoising", ".2f"), ("test_denoising", ".2f"),
                             ("parzen", ".1f"), ("parzen_stderr", ".1f"), ("parzen_sigma", ".3f"),
                             ("spurious_share", ".3f"), ("copy_share", ".4f"),
                             ("median_nn_distance", ".1f")])
    write_json(args.out, {"benchmark": "denoising_autoencoder", "date": now(),
                          "machine": machine(), "args": vars(args), "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
