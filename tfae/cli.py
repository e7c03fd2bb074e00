"""The ``tfae`` command: train, evaluate, sample, export and demo.

    tfae train ae --dataset digits --epochs 50 --out runs/ae-digits
    tfae train dae --corruption salt_and_pepper --noise-level 0.2 --out runs/dae-digits
    tfae sample runs/dae-digits --num 20 --steps 200
    tfae train made --hidden-units 500 --num-masks 8 --out runs/made-digits
    tfae sample runs/made-digits --num 20
    tfae train gmm --components 10 --pca-dim 20 --binarize none --out runs/gmm-digits
    tfae train vae --latent-dim 8 --beta 1 --out runs/vae-digits
    tfae evaluate runs/vae-digits --importance-samples 1000
    tfae sample runs/vae-digits --num 20
    tfae evaluate runs/ae-digits
    tfae export runs/ae-digits --part decoder --format tflite
    tfae demo --out runs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: Importance samples per held-out digit of the demo's log p(x) estimate.
DEMO_IMPORTANCE_SAMPLES = 1000


def _hidden_units(text: str) -> tuple[int, ...]:
    try:
        units = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden-units takes comma-separated integers such as 256,128, got {text!r}"
        ) from None
    return units


def _verbose(text: str):
    return text if text == "auto" else int(text)


def _add_run_arguments(parser: argparse.ArgumentParser, defaults) -> None:
    """Arguments every trained model shares: data, optimisation, seed, output."""
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--dataset", default=defaults.dataset,
                        help="digits (embedded), mnist, fashion_mnist, binarized_mnist, or a .npz "
                             "path with train_data/valid_data/test_data (default: %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="tensorflow-datasets folder holding prepared datasets")
    parser.add_argument("--binarize", choices=("none", "threshold", "stochastic", "dynamic"),
                        default=defaults.binarize,
                        help="binarization of the data; dynamic redraws it every epoch "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="maximum number of epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="examples per step (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="Adam step size (default: %(default)s)")
    parser.add_argument("--steps-per-execution", type=int,
                        default=defaults.steps_per_execution,
                        help="training steps per compiled call; e.g. 50 makes small networks "
                             "train faster (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="early-stopping patience on the validation loss, in epochs; "
                             "0 trains all epochs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of every random generator (default: %(default)s)")
    parser.add_argument("--verbose", type=_verbose, default="auto",
                        help="Keras progress display: auto, 0, 1 or 2 (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output folder if it already holds a run")


def _add_autoencoder_arguments(parser: argparse.ArgumentParser) -> None:
    """The encoder/decoder arguments of tfae.Autoencoder and the models built on it."""
    group = parser.add_argument_group("autoencoder")
    group.add_argument("--latent-dim", type=int, default=16,
                       help="size of the code h (default: %(default)s)")
    group.add_argument("--hidden-units", type=_hidden_units, default=None,
                       help="comma-separated hidden widths (dense) or filters (conv), "
                            "e.g. 256,128 (default: the model's)")
    group.add_argument("--architecture", choices=("dense", "conv"), default="dense",
                       help="encoder/decoder networks (default: %(default)s)")
    group.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli",
                       help="decoder likelihood p(x|h) (default: %(default)s)")
    group.add_argument("--activation", default="relu",
                       help="activation of the hidden layers, a Keras name such as relu, tanh, "
                            "elu, or glu for gated linear units a * sigmoid(b) "
                            "(default: %(default)s)")


def _autoencoder_args(args) -> dict:
    return {"latent_dim": args.latent_dim, "hidden_units": args.hidden_units,
            "architecture": args.architecture, "likelihood": args.likelihood,
            "activation": args.activation}


def _add_denoising_arguments(parser: argparse.ArgumentParser) -> None:
    _add_autoencoder_arguments(parser)
    group = parser.add_argument_group("denoising")
    group.add_argument("--corruption", choices=("salt_and_pepper", "masking", "gaussian"),
                       default="salt_and_pepper",
                       help="corruption process C(x~|x) (default: %(default)s)")
    group.add_argument("--noise-level", type=float, default=0.2,
                       help="rate (salt_and_pepper, masking) or stddev (gaussian) "
                            "(default: %(default)s)")
    group.add_argument("--walkback-steps", type=int, default=0,
                       help="most walkback terms per example, 0 for none (default: %(default)s)")
    group.add_argument("--walkback-probability", type=float, default=0.5,
                       help="probability of each further walkback step (default: %(default)s)")


def _denoising_args(args) -> dict:
    return {**_autoencoder_args(args), "corruption": [args.corruption, args.noise_level],
            "walkback_steps": args.walkback_steps,
            "walkback_probability": args.walkback_probability, "seed": args.seed}


def _add_made_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("MADE")
    group.add_argument("--hidden-units", type=_hidden_units, default=(500,),
                       help="comma-separated widths of the masked hidden layers "
                            "(default: 500)")
    group.add_argument("--num-masks", type=int, default=1,
                       help="masks cycled through during training, one per minibatch "
                            "(order/connectivity-agnostic training) (default: %(default)s)")
    group.add_argument("--ordering", choices=("natural", "reversed", "random"),
                       default="natural", help="input ordering (default: %(default)s)")
    group.add_argument("--direct-connection", action="store_true",
                       help="add the masked direct input-to-output connection")
    group.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli",
                       help="conditional likelihood p(x_d | x_<d) (default: %(default)s)")
    group.add_argument("--dropout", type=float, default=0.0,
                       help="dropout rate on the hidden units during training, against "
                            "overfitting of wide one-mask networks (default: %(default)s)")


def _made_args(args) -> dict:
    return {"hidden_units": list(args.hidden_units), "num_masks": args.num_masks,
            "ordering": args.ordering, "direct_connection": args.direct_connection,
            "likelihood": args.likelihood, "dropout": args.dropout, "seed": args.seed}


def _add_vae_arguments(parser: argparse.ArgumentParser) -> None:
    from tfae.runs import TrainConfig

    _add_autoencoder_arguments(parser)
    group = parser.add_argument_group("variational autoencoder")
    group.add_argument("--beta", type=float, default=1.0,
                       help="weight of the KL term; 1 trains on -ELBO (default: %(default)s)")
    group.add_argument("--kl", choices=("analytic", "monte_carlo"), default="analytic",
                       help="closed-form KL(q(z|x) || p(z)) or its Monte Carlo estimate "
                            "(default: %(default)s)")
    group.add_argument("--importance-samples", type=int,
                       default=TrainConfig.importance_samples,
                       help="importance samples per example of the validation and test NLL "
                            "in metrics.json (default: %(default)s)")


def _vae_args(args) -> dict:
    return {**_autoencoder_args(args), "beta": args.beta, "kl": args.kl, "seed": args.seed}


def _add_gmm_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Gaussian mixture (fitted by EM; --epochs, --batch-size, "
                                      "--learning-rate and --patience are not used)")
    group.add_argument("--components", type=int, default=10,
                       help="mixture components K (default: %(default)s)")
    group.add_argument("--covariance-type", choices=("full", "diag", "spherical", "tied"),
                       default="full", help="covariance of each component (default: %(default)s)")
    group.add_argument("--pca-dim", type=int, default=50,
                       help="the mixture is fitted on this many principal components of the "
                            "training images (default: %(default)s)")
    group.add_argument("--max-iter", type=int, default=100,
                       help="most EM iterations (default: %(default)s)")
    group.add_argument("--tol", type=float, default=1e-3,
                       help="stop when the mean log-likelihood gains less (default: %(default)s)")


def _gmm_args(args) -> dict:
    return {"n_components": args.components, "covariance_type": args.covariance_type,
            "pca_dim": args.pca_dim, "max_iter": args.max_iter, "tol": args.tol}


#: Model name -> (help, adds its arguments to a parser, turns parsed arguments into model_args).
TRAINABLE = {
    "ae": ("the vanilla autoencoder h = f(x), r = g(h)", _add_autoencoder_arguments,
           _autoencoder_args),
    "dae": ("the denoising autoencoder, a generative model through its Markov chain",
            _add_denoising_arguments, _denoising_args),
    "made": ("MADE, the masked autoencoder with an exact likelihood", _add_made_arguments,
             _made_args),
    "gmm": ("a Gaussian mixture fitted by EM on principal components", _add_gmm_arguments,
            _gmm_args),
    "vae": ("the variational autoencoder, trained on the ELBO", _add_vae_arguments, _vae_args),
}


def build_parser() -> argparse.ArgumentParser:
    from tfae.runs import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="tfae",
        description="Autoencoders of the lecture: train, evaluate, sample, export, demo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model and write its run folder",
                                description="Train a model and write its run folder.")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, (summary, add_arguments, _) in TRAINABLE.items():
        model_parser = models.add_parser(name, help=summary, description=f"Train {summary}.")
        _add_run_arguments(model_parser, defaults)
        add_arguments(model_parser)

    evaluate = commands.add_parser("evaluate", help="score a trained run on a split",
                                   description="Reload a run folder and score it on a split.")
    evaluate.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    evaluate.add_argument("--split", choices=("train", "valid", "test"), default="test",
                          help="split to score (default: %(default)s)")
    evaluate.add_argument("--data-dir", default=None,
                          help="tensorflow-datasets folder, if it moved since training")
    evaluate.add_argument("--importance-samples", type=int, default=100, metavar="K",
                          help="VAE runs: importance samples per example of the NLL estimate "
                               "iw_nll (default: %(default)s)")

    export = commands.add_parser(
        "export", help="write a run's encoder or decoder as LiteRT or SavedModel",
        description="Export one part of a trained run for deployment (see export/README.md).")
    export.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    export.add_argument("--part", choices=("encoder", "decoder", "autoencoder"),
                        default="decoder", help="what to export (default: %(default)s)")
    export.add_argument("--format", choices=("tflite", "saved_model"), default="tflite",
                        help="LiteRT flatbuffer or TensorFlow SavedModel (default: %(default)s)")
    export.add_argument("--out", type=Path, default=None,
                        help="file or folder to write (default: RUN_DIR/PART.tflite or "
                             "RUN_DIR/PART_savedmodel)")
    export.add_argument("--optimize", action="store_true",
                        help="LiteRT only: 8-bit dynamic-range quantisation of the weights")

    sample = commands.add_parser(
        "sample", help="draw samples of a trained generative model",
        description="Draw samples of a run's model and save them beside their nearest "
                    "training examples (PNG, and the samples as .npy).")
    sample.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    sample.add_argument("--num", type=int, default=16, help="samples (default: %(default)s)")
    sample.add_argument("--steps", type=int, default=200,
                        help="Markov-chain steps, denoising autoencoder (default: %(default)s)")
    sample.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    sample.add_argument("--out", type=Path, default=None,
                        help="PNG to write (default: RUN_DIR/samples.png)")

    demo = commands.add_parser(
        "demo", help="train and evaluate a VAE on the embedded digits",
        description="Train a variational autoencoder on the embedded 8x8 digits (offline), "
                    "evaluate it on held-out digits (ELBO and importance-weighted NLL) against "
                    "the per-pixel-mean model, and save the model, metrics and figures of "
                    "samples and reconstructions in one run folder.")
    demo.add_argument("--out", type=Path, default=Path("runs"),
                      help="parent folder of the demo's run folder (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=100, help="epochs (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    return parser


def _train_config(args):
    from tfae.runs import TrainConfig

    return TrainConfig(
        model=args.model, dataset=args.dataset, model_args=TRAINABLE[args.model][2](args),
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        binarize=args.binarize, patience=args.patience or None, seed=args.seed,
        data_dir=args.data_dir, verbose=args.verbose,
        importance_samples=getattr(args, "importance_samples", TrainConfig.importance_samples),
        steps_per_execution=args.steps_per_execution,
    )


def _print_json(payload: dict) -> None:
    print(json.dumps(payload, indent=2))


def run_train(args) -> int:
    from tfae import runs

    out = runs.train(_train_config(args), args.out, overwrite=args.overwrite)
    _print_json(json.loads((out / "metrics.json").read_text()))
    print(f"run folder: {out}")
    return 0


def run_evaluate(args) -> int:
    from tfae import runs

    _print_json(runs.evaluate(args.run_dir, split=args.split, data_dir=args.data_dir,
                              importance_samples=args.importance_samples))
    return 0


def run_sample(args) -> int:
    from tfae import runs

    out = runs.sample(args.run_dir, num_samples=args.num, num_steps=args.steps, seed=args.seed,
                      out=args.out)
    print(f"samples beside their nearest training examples: {out} (arrays: "
          f"{out.with_suffix('.npy')})")
    return 0


def run_export(args) -> int:
    import keras

    from tfae import export

    model_path = args.run_dir / "model.keras"
    if not model_path.is_file():
        raise ValueError(f"{args.run_dir} holds no model.keras; pass the --out folder of "
                         "`tfae train`.")
    model = keras.models.load_model(model_path)
    if args.format == "tflite":
        out = export.tflite(model, args.out or args.run_dir / f"{args.part}.tflite",
                            part=args.part, optimize=args.optimize)
    else:
        if args.optimize:
            raise ValueError("--optimize applies to --format tflite only.")
        out = export.saved_model(model, args.out or args.run_dir / f"{args.part}_savedmodel",
                                 part=args.part)
    print(f"{args.part} ({export.signature_name(args.part)}) written to {out}")
    return 0


def run_demo(args) -> int:
    from tfae import runs

    config = runs.TrainConfig(model="vae", dataset="digits",
                              model_args={"latent_dim": 8, "seed": args.seed},
                              epochs=args.epochs, seed=args.seed, binarize="threshold",
                              verbose=2, importance_samples=DEMO_IMPORTANCE_SAMPLES)
    out = Path(args.out) / time.strftime("demo-%Y%m%d-%H%M%S")
    print(f"Training a variational autoencoder on the embedded 8x8 digits -> {out}", flush=True)
    runs.train(config, out)
    test = runs.evaluate(out, importance_samples=DEMO_IMPORTANCE_SAMPLES)
    print(f"\nheld-out digits, nats per image: ELBO {test['elbo']:.2f} <= log p(x) ~ "
          f"{-test['iw_nll']:.2f} ({DEMO_IMPORTANCE_SAMPLES} importance samples); "
          f"-log p(x): VAE {test['iw_nll']:.2f} vs per-pixel-mean model "
          f"{test['pixel_mean_nll']:.2f}")
    print(f"run folder: {out.resolve()}")
    for name in ("model.keras", "metrics.json", "samples.png", "reconstructions.png"):
        print(f"  {out / name}")
    return 0


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "sample": run_sample,
            "export": run_export, "demo": run_demo}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FloatingPointError) as error:
        print(f"tfae {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
