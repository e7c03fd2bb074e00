"""The ``tfae`` command: train, evaluate, sample, export and demo.

    tfae train ae --dataset digits --epochs 50 --out runs/ae-digits
    tfae train dae --corruption salt_and_pepper --noise-level 0.2 --out runs/dae-digits
    tfae sample runs/dae-digits --num 20 --steps 200
    tfae train made --hidden-units 500 --num-masks 8 --out runs/made-digits
    tfae train made --jit-compile --steps-per-execution 50 --out runs/made-fast
    tfae sample runs/made-digits --num 20
    tfae train gmm --components 10 --pca-dim 20 --binarize none --out runs/gmm-digits
    tfae train vae --latent-dim 8 --beta 1 --out runs/vae-digits
    tfae evaluate runs/vae-digits --importance-samples 1000
    tfae sample runs/vae-digits --num 20
    tfae evaluate runs/ae-digits
    tfae export runs/ae-digits --part decoder --format tflite
    tfae demo --out runs

Choices and defaults come from the library: ``tfae.choices``, ``tfae.masks``,
``TrainConfig``, the run specs (``tfae.runs.MODELS``) and the models' constructors.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import tfae
from tfae import _checks, choices, masks, runs
from tfae.datasets import loading as _datasets
from tfae.models import builders
from tfae.models import made as _made
from tfae.runs.commands import raised_by_tfae
from tfae.runs.spec import COMMON_FIELDS

#: Importance samples per held-out digit of the demo's log p(x) estimate.
DEMO_IMPORTANCE_SAMPLES = 1000


#: How ``tfae train made`` applies masks unless --mask-op says: as measured in
#: docs/benchmarks.md, a select is fastest under XLA, a product without it.
MADE_MASK_OP = {False: "multiply", True: "select"}

#: Where the parsed constructor arguments of a model go (``model_args``).
_MODEL_ARG = "model_args."

#: How the help names a constructor default of None (the model chooses).
_MODEL_DEFAULT = "the model's"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors take one line, ``PROG: error: MESSAGE`` (exit 2),
    without the usage (``PROG --help`` shows it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A command's arguments do not go together (found after parsing, before anything
    runs); the command line prints it as a parse error."""


def _one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (an OSError's without its errno)."""
    message = str(error)
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        message = f"{error.strerror}: {error.filename}"
    return " ".join(message.split()) or type(error).__name__


def _reworded(error: Exception, name: str) -> str:
    """A library check's message, for ``argument --FLAG: ...``: without the leading
    argument name (the flag names it) and the final period."""
    message = _one_line(error).removeprefix(f"{name} ")
    return message.removesuffix(".")


def _option_type(parse, check, name: str, expected: str):
    """An argparse ``type``: ``parse`` reads the text (``expected`` says what it
    takes), then ``check``, a check of the library that gets the value as ``name``,
    returns it or raises; its ValueError or TypeError becomes the parse error."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            return check(value)
        except (ValueError, TypeError) as error:
            raise argparse.ArgumentTypeError(_reworded(error, name)) from None

    convert.__name__ = name
    return convert


def _integer(name: str, check):
    return _option_type(int, check, name, "an integer")


def _number(name: str, check):
    return _option_type(float, check, name, "a number")


def _config_check(model: str, field: str):
    """``TrainConfig``'s own check of ``field`` for ``model`` runs."""

    def check(value):
        return getattr(runs.TrainConfig(model=model, **{field: value}), field)

    return check


def _numpy_seed(value: int) -> int:
    """Refuses what NumPy cannot seed with (``runs.seeded`` seeds NumPy with it)."""
    try:
        np.random.RandomState(value)
    except ValueError as error:
        raise ValueError(f"seed must be a seed of NumPy's ({error}), got {value}.") from None
    return value


def _seed_check(model: str):
    config_check = _config_check(model, "seed")
    return lambda value: _numpy_seed(config_check(value))


def _hidden_units_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _hidden_units(check):
    return _option_type(_hidden_units_list, check, "hidden_units",
                        "comma-separated integers such as 256,128")


def _verbose_text(text: str):
    return text if text == "auto" or not text.lstrip("-").isdigit() else int(text)


def _patience_check(model: str):
    config_check = _config_check(model, "patience")

    def check(value: int):
        if value == 0:
            return None
        if isinstance(value, int) and value < 0:
            raise ValueError(f"patience must be >= 0 (0 trains all epochs), got {value}.")
        return config_check(value)

    return check


def _returns_value(check):
    """A check that returns None, as one that returns the value it checked."""

    def checked(value):
        check(value)
        return value

    return checked


def _mixture_check(param: str):
    """``tfae.GaussianMixture``'s own check of its constructor argument ``param``."""
    return _returns_value(lambda value: tfae.GaussianMixture(**{param: value}))


def _shown(value, none: str = "none") -> str:
    if value is None:
        return none
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def _signature_defaults(function) -> dict:
    return {name: parameter.default
            for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def _constructor_defaults(cls) -> dict:
    """The defaults of a tfae model's constructor arguments, those it passes on to its
    tfae base classes included (the subclass's own win)."""
    defaults = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("tfae.") and "__init__" in vars(klass):
            defaults = _signature_defaults(klass.__init__) | defaults
    return defaults


# ------------------------------------------------------------------------ tfae train


def _run_arguments(spec) -> dict:
    """TrainConfig field -> (flag, argparse options) of a run's settings, each value
    checked by TrainConfig itself as the parser reads it."""
    model = spec.name

    def integer(field: str):
        return _integer(field, _config_check(model, field))

    return {
        "dataset": ("--dataset", {
            "help": "digits (embedded), mnist, fashion_mnist, binarized_mnist, or a .npz path "
                    "with train_data/valid_data/test_data"}),
        "data_dir": ("--data-dir", {"help": "tensorflow-datasets folder of prepared datasets"}),
        "binarize": ("--binarize", {
            "choices": spec.binarizations,
            "help": "binarization of the data; dynamic redraws it every epoch"}),
        "epochs": ("--epochs", {"type": integer("epochs"), "help": "maximum number of epochs"}),
        "batch_size": ("--batch-size", {"type": integer("batch_size"),
                                        "help": "examples per step"}),
        "learning_rate": ("--learning-rate", {
            "type": _number("learning_rate", _config_check(model, "learning_rate")),
            "help": "Adam step size"}),
        "steps_per_execution": ("--steps-per-execution", {
            "type": integer("steps_per_execution"),
            "help": "training steps per compiled call; e.g. 50 makes small networks train "
                    "faster"}),
        "patience": ("--patience", {
            "type": _integer("patience", _patience_check(model)),
            "help": "early-stopping patience on the validation loss, in epochs; 0 trains all "
                    "epochs"}),
        "seed": ("--seed", {"type": _integer("seed", _seed_check(model)),
                            "help": "seed of the run and of the model"}),
        "verbose": ("--verbose", {
            "type": _option_type(_verbose_text, _config_check(model, "verbose"), "verbose",
                                 "auto, 0, 1 or 2"),
            "metavar": "{auto,0,1,2}", "help": "Keras progress display"}),
        "importance_samples": ("--importance-samples", {
            "type": integer("importance_samples"),
            "help": "importance samples per example of the validation and test NLL in "
                    "metrics.json"}),
        "deterministic": ("--deterministic", {
            "action": "store_true",
            "help": "TensorFlow's op determinism on for the run (not with --jit-compile)"}),
        "jit_compile": ("--jit-compile", {
            "action": "store_true",
            "help": "compile the training (or EM) steps with XLA, not with --deterministic; "
                    "made: with --steps-per-execution 50, the fastest setting of "
                    "docs/benchmarks.md"}),
    }


def _add_run_arguments(parser: argparse.ArgumentParser, spec) -> None:
    """The TrainConfig fields that the model uses, with TrainConfig's defaults."""
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output folder if it already holds a run")
    defaults = runs.TrainConfig(model=spec.name)
    arguments = _run_arguments(spec)
    used = (*COMMON_FIELDS, *spec.fields)
    group = parser.add_argument_group("run")
    for field in dataclasses.fields(runs.TrainConfig):
        if field.name not in used or field.name not in arguments:
            continue
        flag, options = arguments[field.name]
        if options.get("action") != "store_true":
            default = getattr(defaults, field.name)
            options = {**options, "default": default,
                       "help": f"{options['help']} (default: {_shown(default)})"}
        group.add_argument(flag, dest=field.name, **options)


def _model_option(group, flag: str, param: str, defaults: dict, help: str, **options) -> None:
    """Adds ``flag``, which sets the constructor argument ``param``."""
    default = defaults[param]
    if options.get("action") != "store_true":
        options["default"] = default
        help = f"{help} (default: {_shown(default, none=_MODEL_DEFAULT)})"
    if "choices" not in options and "action" not in options:
        options["metavar"] = flag.removeprefix("--").replace("-", "_").upper()
    group.add_argument(flag, dest=_MODEL_ARG + param, help=help, **options)


def _positive(param: str, minimum: int = 1):
    """The models' check of a count such as ``latent_dim`` (``minimum`` or more)."""
    return _integer(param, lambda value: _checks.check_positive_int(value, param, minimum))


def _autoencoder_options(group, defaults: dict) -> None:
    _model_option(group, "--latent-dim", "latent_dim", defaults, "size of the code h",
                  type=_positive("latent_dim"))
    _model_option(group, "--hidden-units", "hidden_units", defaults,
                  "comma-separated hidden widths (dense) or filters (conv), e.g. 256,128; "
                  "'' for none",
                  type=_hidden_units(lambda units: builders.resolve_hidden_units(units, "dense")))
    _model_option(group, "--architecture", "architecture", defaults,
                  "encoder/decoder networks", choices=choices.ARCHITECTURES)
    _model_option(group, "--likelihood", "likelihood", defaults, "decoder likelihood p(x|h)",
                  choices=choices.LIKELIHOODS)
    _model_option(group, "--activation", "activation", defaults,
                  "activation of the hidden layers, a Keras name such as relu, tanh, elu, or "
                  "glu for gated linear units a * sigmoid(b)",
                  type=_option_type(str, _returns_value(builders.check_activation),
                                    "activation", "a Keras activation name"))


def _denoising_options(group, defaults: dict) -> None:
    _autoencoder_options(group, defaults)
    corruption, noise_level = defaults["corruption"]
    group.add_argument("--corruption", choices=choices.CORRUPTIONS, default=corruption,
                       help=f"corruption process C(x~|x) (default: {corruption})")
    group.add_argument("--noise-level", type=_number("noise_level", lambda value: value),
                       default=noise_level, metavar="NOISE_LEVEL",
                       help="rate (salt_and_pepper, masking) or stddev (gaussian) "
                            f"(default: {noise_level})")
    _model_option(group, "--walkback-steps", "walkback_steps", defaults,
                  "most walkback terms per example, 0 for none",
                  type=_positive("walkback_steps", minimum=0))
    _model_option(group, "--walkback-probability", "walkback_probability", defaults,
                  "probability of each further walkback step",
                  type=_number("walkback_probability", lambda value: tfae.corruption.check_rate(
                      value, "walkback_probability")))


def _denoising_args(args, model_args: dict) -> dict:
    """Adds the corruption, checked by the corruption layer it makes."""
    try:
        tfae.corruption.get((args.corruption, args.noise_level))
    except (ValueError, TypeError) as error:
        raise UsageError(f"argument --noise-level: {_one_line(error).removesuffix('.')}"
                         ) from None
    return {**model_args, "corruption": [args.corruption, args.noise_level]}


def _made_options(group, defaults: dict) -> None:
    _model_option(group, "--hidden-units", "hidden_units", defaults,
                  "comma-separated widths of the masked hidden layers",
                  type=_hidden_units(_checks.check_hidden_units))
    _model_option(group, "--num-masks", "num_masks", defaults,
                  "masks cycled through during training, one per minibatch "
                  "(order/connectivity-agnostic training)", type=_positive("num_masks"))
    _model_option(group, "--ordering", "ordering", defaults, "input ordering",
                  choices=masks.ORDERINGS)
    _model_option(group, "--direct-connection", "direct_connection", defaults,
                  "add the masked direct input-to-output connection", action="store_true")
    _model_option(group, "--likelihood", "likelihood", defaults,
                  "conditional likelihood p(x_d | x_<d)", choices=choices.LIKELIHOODS)
    _model_option(group, "--dropout", "dropout", defaults,
                  "dropout rate on the hidden units during training, against overfitting "
                  "of wide one-mask networks", type=_number("dropout", _made._check_dropout))
    group.add_argument("--mask-op", choices=choices.MASK_OPS, default=None,
                       help="how the layers apply their masks (default: "
                            f"{MADE_MASK_OP[True]} with --jit-compile, else "
                            f"{MADE_MASK_OP[False]}: the faster of each, as measured in "
                            "docs/benchmarks.md)")


def _made_args(args, model_args: dict) -> dict:
    return {**model_args, "mask_op": args.mask_op or MADE_MASK_OP[args.jit_compile]}


def _vae_options(group, defaults: dict) -> None:
    _autoencoder_options(group, defaults)
    _model_option(group, "--beta", "beta", defaults, "weight of the KL term; 1 trains on -ELBO",
                  type=_number("beta", lambda value: _checks.check_number(value, "beta")))
    _model_option(group, "--kl", "kl", defaults,
                  "closed-form KL(q(z|x) || p(z)) or its Monte Carlo estimate",
                  choices=choices.KL_METHODS)


def _mixture_options(group, defaults: dict) -> None:
    _model_option(group, "--components", "n_components", defaults, "mixture components K",
                  type=_integer("n_components", _mixture_check("n_components")))
    _model_option(group, "--covariance-type", "covariance_type", defaults,
                  "covariance of each component", choices=choices.COVARIANCE_TYPES)
    _model_option(group, "--pca-dim", "pca_dim", defaults,
                  "the mixture is fitted on this many principal components of the training "
                  "images", type=_positive("pca_dim"))
    _model_option(group, "--max-iter", "max_iter", defaults, "most EM iterations",
                  type=_integer("max_iter", _mixture_check("max_iter")))
    _model_option(group, "--tol", "tol", defaults,
                  "stop when the mean log-likelihood gains less",
                  type=_number("tol", _mixture_check("tol")))


#: Model name -> (adds its options to a group, completes model_args from the arguments).
MODEL_OPTIONS = {
    "ae": (_autoencoder_options, None),
    "dae": (_denoising_options, _denoising_args),
    "made": (_made_options, _made_args),
    "vae": (_vae_options, None),
    "gmm": (_mixture_options, None),
}


def _add_train_arguments(parser: argparse.ArgumentParser, spec) -> None:
    _add_run_arguments(parser, spec)
    add_options, _ = MODEL_OPTIONS[spec.name]
    defaults = _constructor_defaults(spec.constructor) | dict(spec.default_args)
    add_options(parser.add_argument_group(f"{spec.name} model"), defaults)


def _train_config(args) -> runs.TrainConfig:
    """The run's TrainConfig, checked as a whole before anything runs.

    Raises:
        UsageError: options that do not go together, or an unknown dataset.
    """
    spec = runs.MODELS[args.model]
    try:
        _datasets._resolve_source(args.dataset)
    except (ValueError, TypeError) as error:
        raise UsageError(f"argument --dataset: {_reworded(error, 'dataset')}") from None
    model_args = {name.removeprefix(_MODEL_ARG): value for name, value in vars(args).items()
                  if name.startswith(_MODEL_ARG)}
    _, complete = MODEL_OPTIONS[args.model]
    if complete is not None:
        model_args = complete(args, model_args)
    if spec.seed_arg is not None:
        model_args[spec.seed_arg] = args.seed
    settings = {field.name: getattr(args, field.name)
                for field in dataclasses.fields(runs.TrainConfig) if hasattr(args, field.name)}
    try:
        return runs.TrainConfig(**{**settings, "model_args": model_args})
    except (ValueError, TypeError) as error:
        raise UsageError(_one_line(error)) from None


# ------------------------------------------------------------------------ the parser


def _add_train_parser(commands) -> None:
    train = commands.add_parser("train", help="train a model and write its run folder",
                                description="Train a model and write its run folder.")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, spec in runs.MODELS.items():
        parser = models.add_parser(name, help=spec.summary, description=f"Train {spec.summary}.")
        _add_train_arguments(parser, spec=spec)


def _add_evaluate_parser(commands) -> None:
    defaults = _signature_defaults(runs.evaluate)
    evaluate = commands.add_parser("evaluate", help="score a trained run on a split",
                                   description="Reload a run folder and score it on a split.")
    evaluate.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    evaluate.add_argument("--split", choices=choices.SPLITS, default=defaults["split"],
                          help="split to score (default: %(default)s)")
    evaluate.add_argument("--data-dir", default=None,
                          help="tensorflow-datasets folder, if it moved since training")
    evaluate.add_argument("--importance-samples", default=None, metavar="K",
                          type=_integer("importance_samples",
                                        _config_check("vae", "importance_samples")),
                          help="VAE runs: importance samples per example of the NLL estimate "
                               "iw_nll (default: "
                               f"{runs.MODELS['vae'].score_options['importance_samples']})")


def _add_export_parser(commands) -> None:
    defaults = _signature_defaults(runs.export)
    exportable = [name for name, spec in runs.MODELS.items() if spec.parts]
    export = commands.add_parser(
        "export", help="write a run's encoder or decoder as LiteRT or SavedModel",
        description="Export one part of a trained run for deployment (see export/README.md); "
                    f"{', '.join(exportable)} runs have parts to export.")
    export.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    export.add_argument("--part", choices=tuple(choices.SIGNATURES), default=defaults["part"],
                        help="what to export (default: %(default)s)")
    export.add_argument("--format", choices=runs.EXPORT_FORMATS, default=defaults["format"],
                        help="LiteRT flatbuffer or TensorFlow SavedModel (default: %(default)s)")
    export.add_argument("--out", type=Path, default=None,
                        help="file or folder to write (default: RUN_DIR/PART.tflite or "
                             "RUN_DIR/PART_savedmodel)")
    export.add_argument("--optimize", action="store_true",
                        help="LiteRT only: 8-bit dynamic-range quantisation of the weights")
    export.add_argument("--overwrite", action="store_true",
                        help="replace the file or folder if it exists")


def _add_sample_parser(commands) -> None:
    defaults = _signature_defaults(runs.sample)
    sample = commands.add_parser(
        "sample", help="draw samples of a trained generative model",
        description="Draw samples of a run's model and save them beside their nearest "
                    "training examples (PNG, and the samples as .npy).")
    sample.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    sample.add_argument("--num", type=_positive("num_samples"), default=defaults["num_samples"],
                        help="samples (default: %(default)s)")
    sample.add_argument("--steps", type=_positive("num_steps"), default=None,
                        help="denoising autoencoder runs: Markov-chain steps (default: "
                             f"{runs.MODELS['dae'].sample_options['num_steps']})")
    sample.add_argument("--seed", type=_positive("seed", minimum=0), default=defaults["seed"],
                        help="seed (default: %(default)s)")
    sample.add_argument("--out", type=Path, default=None,
                        help="PNG to write (default: RUN_DIR/samples-seed<SEED>.png)")
    sample.add_argument("--overwrite", action="store_true",
                        help="replace the PNG and its .npy if they exist")


def _add_demo_parser(commands) -> None:
    demo = commands.add_parser(
        "demo", help="train and evaluate a VAE on the embedded digits",
        description="Train a variational autoencoder on the embedded 8x8 digits (offline), "
                    "evaluate it on held-out digits (ELBO and importance-weighted NLL) against "
                    "the per-pixel-mean model, and save the model, metrics and figures of "
                    "samples and reconstructions in one run folder.")
    demo.add_argument("--out", type=Path, default=Path("runs"),
                      help="parent folder of the demo's run folder (default: %(default)s)")
    demo.add_argument("--epochs", type=_integer("epochs", _config_check("vae", "epochs")),
                      default=100, help="epochs (default: %(default)s)")
    demo.add_argument("--seed", type=_integer("seed", _seed_check("vae")), default=0,
                      help="seed (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    """The ``tfae`` parser. Its errors take one line and exit with status 2; every
    value is checked as it is read, by the check of the library that takes it."""
    parser = _Parser(
        prog="tfae",
        description="Autoencoders of the lecture: train, evaluate, sample, export, demo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in (_add_train_parser, _add_evaluate_parser, _add_export_parser,
                       _add_sample_parser, _add_demo_parser):
        add_parser(commands)
    return parser


# ------------------------------------------------------------------------ commands


def _print_json(payload: dict) -> None:
    print(json.dumps(payload, indent=2))


def run_train(args) -> int:
    config = _train_config(args)
    out = runs.train(config, args.out, overwrite=args.overwrite)
    _print_json(json.loads((out / "metrics.json").read_text()))
    print(f"run folder: {out}")
    return 0


def run_evaluate(args) -> int:
    _print_json(runs.evaluate(args.run_dir, split=args.split, data_dir=args.data_dir,
                              importance_samples=args.importance_samples))
    return 0


def run_sample(args) -> int:
    out = runs.sample(args.run_dir, num_samples=args.num, num_steps=args.steps, seed=args.seed,
                      out=args.out, overwrite=args.overwrite)
    print(f"samples beside their nearest training examples: {out} (arrays: "
          f"{out.with_suffix('.npy')})")
    return 0


def run_export(args) -> int:
    out = runs.export(args.run_dir, part=args.part, format=args.format, out=args.out,
                      optimize=args.optimize, overwrite=args.overwrite)
    print(f"{args.part} ({choices.SIGNATURES[args.part]}) written to {out}")
    return 0


def run_demo(args) -> int:
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


def _prog(args) -> str:
    """How the messages name the command: ``tfae train MODEL``, ``tfae evaluate``..."""
    return " ".join(["tfae", args.command, *([args.model] if args.command == "train" else [])])


def main(argv=None) -> int:
    """Runs the ``tfae`` command line ``argv`` (default: ``sys.argv[1:]``).

    A bad argument, a run folder that cannot be used, a model that cannot do what is
    asked, a file that cannot be read or written, a non-finite loss: each is reported
    in one line, ``tfae COMMAND: error: ...`` on stderr, with exit status 2, and
    leaves nothing half-written. A ValueError raised inside TensorFlow, Keras or NumPy
    rather than by a check of tfae is a bug, and keeps its traceback. An interruption
    (Ctrl-C) exits with status 130.

    Returns:
        int, the exit status: 0 on success (and after ``--help``).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a parse error already printed
        return exit.code
    prog = _prog(args)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
    except (ValueError, FloatingPointError) as error:
        if not raised_by_tfae(error):  # not one of tfae's checks: a bug, with its traceback
            raise
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
    except OSError as error:  # a file or folder that cannot be read or written
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
    except tf.errors.ResourceExhaustedError as error:
        print(f"{prog}: error: the device ran out of memory ({type(error).__name__}); lower "
              "--batch-size", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
