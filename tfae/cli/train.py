"""The ``tfae train MODEL`` parsers: a run's settings (``TrainConfig``) and each model's
constructor arguments, their choices and defaults read from the library."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import tfae
from tfae import _checks, choices, masks, runs
from tfae.cli.options import (
    MADE_MASK_OP,
    MODEL_ARG,
    MODEL_DEFAULT,
    UsageError,
    config_check,
    constructor_defaults,
    hidden_units_option,
    integer_option,
    mixture_check,
    number_option,
    one_line,
    option_type,
    patience_check,
    returns_value,
    reworded,
    seed_check,
    shown,
    verbose_text,
)
from tfae.datasets import loading as _datasets
from tfae.models import builders
from tfae.models import made as _made
from tfae.runs.spec import COMMON_FIELDS


def _run_arguments(spec) -> dict:
    """TrainConfig field -> (flag, argparse options) of a run's settings, each value
    checked by TrainConfig itself as the parser reads it."""
    model = spec.name

    def field_integer(field: str):
        return integer_option(field, config_check(model, field))

    return {
        "dataset": ("--dataset", {
            "help": "digits (embedded), mnist, fashion_mnist, binarized_mnist, or a .npz path "
                    "with train_data/valid_data/test_data"}),
        "data_dir": ("--data-dir", {"help": "tensorflow-datasets folder of prepared datasets"}),
        "binarize": ("--binarize", {
            "choices": spec.binarizations,
            "help": "binarization of the data; dynamic redraws it every epoch"}),
        "epochs": ("--epochs", {"type": field_integer("epochs"),
                                "help": "maximum number of epochs"}),
        "batch_size": ("--batch-size", {"type": field_integer("batch_size"),
                                        "help": "examples per step"}),
        "learning_rate": ("--learning-rate", {
            "type": number_option("learning_rate", config_check(model, "learning_rate")),
            "help": "Adam step size"}),
        "steps_per_execution": ("--steps-per-execution", {
            "type": field_integer("steps_per_execution"),
            "help": "training steps per compiled call; e.g. 50 makes small networks train "
                    "faster"}),
        "patience": ("--patience", {
            "type": integer_option("patience", patience_check(model)),
            "help": "early-stopping patience on the validation loss, in epochs; 0 trains all "
                    "epochs"}),
        "seed": ("--seed", {"type": integer_option("seed", seed_check(model)),
                            "help": "seed of the run and of the model"}),
        "verbose": ("--verbose", {
            "type": option_type(verbose_text, config_check(model, "verbose"), "verbose",
                                 "auto, 0, 1 or 2"),
            "metavar": "{auto,0,1,2}", "help": "Keras progress display"}),
        "importance_samples": ("--importance-samples", {
            "type": field_integer("importance_samples"),
            "help": "importance samples per example of the validation and test NLL in "
                    "metrics.json"}),
        "deterministic": ("--deterministic", {
            "action": "store_true",
            "help": "TensorFlow's op determinism on for the run (not with --jit-compile)"}),
        "strategy": ("--strategy", {
            "choices": choices.STRATEGIES,
            "help": "where to train: one device, every local GPU (mirrored), or the workers "
                    "of the TF_CONFIG environment variable (multiworker: run the same command "
                    "on every worker; worker 0 writes --out); --batch-size is the global "
                    "batch"}),
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
                        help="replace the output folder if it already holds a run, or start "
                             "over an unfinished run with other settings (a killed run "
                             "resumes when its command is run again)")
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
                       "help": f"{options['help']} (default: {shown(default)})"}
        group.add_argument(flag, dest=field.name, **options)


def _model_option(group, flag: str, param: str, defaults: dict, help: str, **options) -> None:
    """Adds ``flag``, which sets the constructor argument ``param``."""
    default = defaults[param]
    if options.get("action") != "store_true":
        options["default"] = default
        help = f"{help} (default: {shown(default, none=MODEL_DEFAULT)})"
    if "choices" not in options and "action" not in options:
        options["metavar"] = flag.removeprefix("--").replace("-", "_").upper()
    group.add_argument(flag, dest=MODEL_ARG + param, help=help, **options)


def positive(param: str, minimum: int = 1):
    """The models' check of a count such as ``latent_dim`` (``minimum`` or more)."""
    return integer_option(param, lambda value: _checks.check_positive_int(value, param, minimum))


def _autoencoder_options(group, defaults: dict) -> None:
    _model_option(group, "--latent-dim", "latent_dim", defaults, "size of the code h",
                  type=positive("latent_dim"))
    _model_option(group, "--hidden-units", "hidden_units", defaults,
                  "comma-separated hidden widths (dense) or filters (conv), e.g. 256,128; "
                  "'' for none",
                  type=hidden_units_option(
                      lambda units: builders.resolve_hidden_units(units, "dense")))
    _model_option(group, "--architecture", "architecture", defaults,
                  "encoder/decoder networks", choices=choices.ARCHITECTURES)
    _model_option(group, "--likelihood", "likelihood", defaults, "decoder likelihood p(x|h)",
                  choices=choices.LIKELIHOODS)
    _model_option(group, "--activation", "activation", defaults,
                  "activation of the hidden layers, a Keras name such as relu, tanh, elu, or "
                  "glu for gated linear units a * sigmoid(b)",
                  type=option_type(str, returns_value(builders.check_activation),
                                    "activation", "a Keras activation name"))


def _denoising_options(group, defaults: dict) -> None:
    _autoencoder_options(group, defaults)
    corruption, noise_level = defaults["corruption"]
    group.add_argument("--corruption", choices=choices.CORRUPTIONS, default=corruption,
                       help=f"corruption process C(x~|x) (default: {corruption})")
    group.add_argument("--noise-level", type=number_option("noise_level", lambda value: value),
                       default=noise_level, metavar="NOISE_LEVEL",
                       help="rate (salt_and_pepper, masking) or stddev (gaussian) "
                            f"(default: {noise_level})")
    _model_option(group, "--walkback-steps", "walkback_steps", defaults,
                  "most walkback terms per example, 0 for none",
                  type=positive("walkback_steps", minimum=0))
    _model_option(group, "--walkback-probability", "walkback_probability", defaults,
                  "probability of each further walkback step",
                  type=number_option("walkback_probability",
                                     lambda value: tfae.corruption.check_rate(
                                         value, "walkback_probability")))


def _denoising_args(args, model_args: dict) -> dict:
    """Adds the corruption, checked by the corruption layer it makes."""
    try:
        tfae.corruption.get((args.corruption, args.noise_level))
    except (ValueError, TypeError) as error:
        raise UsageError(f"argument --noise-level: {one_line(error).removesuffix('.')}"
                         ) from None
    return {**model_args, "corruption": [args.corruption, args.noise_level]}


def _made_options(group, defaults: dict) -> None:
    _model_option(group, "--hidden-units", "hidden_units", defaults,
                  "comma-separated widths of the masked hidden layers",
                  type=hidden_units_option(_checks.check_hidden_units))
    _model_option(group, "--num-masks", "num_masks", defaults,
                  "masks cycled through during training, one per minibatch "
                  "(order/connectivity-agnostic training)", type=positive("num_masks"))
    _model_option(group, "--ordering", "ordering", defaults, "input ordering",
                  choices=masks.ORDERINGS)
    _model_option(group, "--direct-connection", "direct_connection", defaults,
                  "add the masked direct input-to-output connection", action="store_true")
    _model_option(group, "--likelihood", "likelihood", defaults,
                  "conditional likelihood p(x_d | x_<d)", choices=choices.LIKELIHOODS)
    _model_option(group, "--dropout", "dropout", defaults,
                  "dropout rate on the hidden units during training, against overfitting "
                  "of wide one-mask networks", type=number_option("dropout", _made._check_dropout))
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
                  type=number_option("beta", lambda value: _checks.check_number(value, "beta")))
    _model_option(group, "--kl", "kl", defaults,
                  "closed-form KL(q(z|x) || p(z)) or its Monte Carlo estimate",
                  choices=choices.KL_METHODS)
    _model_option(group, "--training-samples", "training_samples", defaults,
                  "draws of z per example in the loss: 1 trains on -ELBO, k > 1 on the "
                  "importance-weighted bound (IWAE)", type=positive("training_samples"))
    group.add_argument("--prior", choices=VAE_PRIORS, default="standard",
                       help="p(z): the standard normal, a mixture of Gaussians trained with "
                            "the model (tfae.priors.MixturePrior) or the VampPrior, the "
                            "posterior averaged over learned pseudo-inputs that start at "
                            "training examples (default: standard)")
    group.add_argument("--prior-components", type=positive("prior_components"), default=None,
                       metavar="K", help="components of --prior mixture or pseudo-inputs of "
                                         f"--prior vamp (default: {PRIOR_COMPONENTS})")
    _model_option(group, "--posterior-flow-steps", "posterior_flow_steps", defaults,
                  "inverse autoregressive flow steps of q(z|x), each a MADE",
                  type=positive("posterior_flow_steps", minimum=0))
    _model_option(group, "--posterior-flow-units", "posterior_flow_units", defaults,
                  "comma-separated hidden widths of each flow step's MADE",
                  type=hidden_units_option(
                      lambda units: _checks.check_hidden_units(units, "posterior_flow_units")))


#: --prior's choices, and its default number of components.
VAE_PRIORS = ("standard", "mixture", "vamp")
PRIOR_COMPONENTS = 100


def _vae_args(args, model_args: dict) -> dict:
    """The prior as the config a VAE takes (JSON, kept in run.json), seeded by --seed."""
    if args.prior == "standard":
        if args.prior_components is not None:
            raise UsageError("--prior-components applies to --prior mixture or --prior vamp; "
                             "leave it out with the standard normal prior.")
        return model_args
    name, count = {"mixture": ("MixturePrior", "num_components"),
                   "vamp": ("VampPrior", "num_pseudo_inputs")}[args.prior]
    config = {count: args.prior_components or PRIOR_COMPONENTS, "seed": args.seed}
    return {**model_args, "prior": {"class_name": name, "config": config}}


def _mixture_options(group, defaults: dict) -> None:
    _model_option(group, "--components", "n_components", defaults, "mixture components K",
                  type=integer_option("n_components", mixture_check("n_components")))
    _model_option(group, "--covariance-type", "covariance_type", defaults,
                  "covariance of each component", choices=choices.COVARIANCE_TYPES)
    _model_option(group, "--pca-dim", "pca_dim", defaults,
                  "the mixture is fitted on this many principal components of the training "
                  "images", type=positive("pca_dim"))
    _model_option(group, "--max-iter", "max_iter", defaults, "most EM iterations",
                  type=integer_option("max_iter", mixture_check("max_iter")))
    _model_option(group, "--tol", "tol", defaults,
                  "stop when the mean log-likelihood gains less",
                  type=number_option("tol", mixture_check("tol")))


#: Model name -> (adds its options to a group, completes model_args from the arguments).
MODEL_OPTIONS = {
    "ae": (_autoencoder_options, None),
    "dae": (_denoising_options, _denoising_args),
    "made": (_made_options, _made_args),
    "vae": (_vae_options, _vae_args),
    "gmm": (_mixture_options, None),
}


def _add_train_arguments(parser: argparse.ArgumentParser, spec) -> None:
    _add_run_arguments(parser, spec)
    add_options, _ = MODEL_OPTIONS[spec.name]
    defaults = constructor_defaults(spec.constructor) | dict(spec.default_args)
    add_options(parser.add_argument_group(f"{spec.name} model"), defaults)


def train_config(args) -> runs.TrainConfig:
    """The run's TrainConfig, checked as a whole before anything runs.

    Raises:
        UsageError: options that do not go together, or an unknown dataset.
    """
    spec = runs.MODELS[args.model]
    try:
        _datasets._resolve_source(args.dataset)
    except (ValueError, TypeError) as error:
        raise UsageError(f"argument --dataset: {reworded(error, 'dataset')}") from None
    model_args = {name.removeprefix(MODEL_ARG): value for name, value in vars(args).items()
                  if name.startswith(MODEL_ARG)}
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
        raise UsageError(one_line(error)) from None


def add_train_parser(commands) -> None:
    train = commands.add_parser("train", help="train a model and write its run folder",
                                description="Train a model and write its run folder.")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, spec in runs.MODELS.items():
        parser = models.add_parser(name, help=spec.summary, description=f"Train {spec.summary}.")
        _add_train_arguments(parser, spec=spec)
