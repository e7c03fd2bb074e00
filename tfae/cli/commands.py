"""The ``tfae`` parser, its commands and ``main``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf

from tfae import choices, runs
from tfae.cli.options import (
    DEMO_IMPORTANCE_SAMPLES,
    Parser,
    UsageError,
    config_check,
    integer_option,
    one_line,
    seed_check,
    signature_defaults,
)
from tfae.cli.train import add_train_parser, positive, train_config
from tfae.runs.commands import raised_by_tfae
from tfae.runs.resume import resume_folder

# ------------------------------------------------------------------------ the parser


def _add_evaluate_parser(commands) -> None:
    defaults = signature_defaults(runs.evaluate)
    evaluate = commands.add_parser("evaluate", help="score a trained run on a split",
                                   description="Reload a run folder and score it on a split.")
    evaluate.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    evaluate.add_argument("--split", choices=choices.SPLITS, default=defaults["split"],
                          help="split to score (default: %(default)s)")
    evaluate.add_argument("--data-dir", default=None,
                          help="tensorflow-datasets folder, if it moved since training")
    evaluate.add_argument("--importance-samples", default=None, metavar="K",
                          type=integer_option("importance_samples",
                                        config_check("vae", "importance_samples")),
                          help="VAE runs: importance samples per example of the NLL estimate "
                               "iw_nll (default: "
                               f"{runs.MODELS['vae'].score_options['importance_samples']})")


def _add_export_parser(commands) -> None:
    defaults = signature_defaults(runs.export)
    parts = "; ".join(f"{name}: {', '.join(spec.parts)}" for name, spec in runs.MODELS.items()
                      if spec.parts)
    export = commands.add_parser(
        "export", help="write a part of a run as a verified LiteRT file or SavedModel",
        description="Export one part of a trained run for deployment, run the written file "
                    "on probe batches and print how closely it matches the model (see "
                    f"export/README.md). Parts ({parts}). The default is the generative part: "
                    "the decoder, or the sampler of made and gmm runs and of vae runs whose "
                    "prior is not the standard normal.")
    export.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    export.add_argument("--part", choices=tuple(choices.SIGNATURES), default=defaults["part"],
                        help="what to export (default: the run's generative part: decoder "
                             "or sampler)")
    export.add_argument("--format", choices=runs.EXPORT_FORMATS, default=defaults["format"],
                        help="LiteRT flatbuffer or TensorFlow SavedModel (default: %(default)s)")
    export.add_argument("--out", type=Path, default=None,
                        help="file or folder to write (default: RUN_DIR/PART.tflite, "
                             "RUN_DIR/PART-QUANTIZE.tflite or RUN_DIR/PART_savedmodel)")
    export.add_argument("--quantize", choices=choices.QUANTIZATIONS, default=None,
                        help="LiteRT only: float16 (half the size, within 1e-2), "
                             "dynamic_int8 (int8 weights), int8 (int8 weights and "
                             "activations, calibrated on training data); default: float32")
    export.add_argument("--overwrite", action="store_true",
                        help="replace the file or folder if it exists")


def _add_sample_parser(commands) -> None:
    defaults = signature_defaults(runs.sample)
    sample = commands.add_parser(
        "sample", help="draw samples of a trained generative model",
        description="Draw samples of a run's model and save them beside their nearest "
                    "training examples (PNG, and the samples as .npy).")
    sample.add_argument("run_dir", type=Path, help="a folder written by `tfae train`")
    sample.add_argument("--num", type=positive("num_samples"), default=defaults["num_samples"],
                        help="samples (default: %(default)s)")
    sample.add_argument("--steps", type=positive("num_steps"), default=None,
                        help="denoising autoencoder runs: Markov-chain steps (default: "
                             f"{runs.MODELS['dae'].sample_options['num_steps']})")
    sample.add_argument("--seed", type=positive("seed", minimum=0), default=defaults["seed"],
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
    demo.add_argument("--epochs", type=integer_option("epochs", config_check("vae", "epochs")),
                      default=100, help="epochs (default: %(default)s)")
    demo.add_argument("--seed", type=integer_option("seed", seed_check("vae")), default=0,
                      help="seed (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    """The ``tfae`` parser. Its errors take one line and exit with status 2; every
    value is checked as it is read, by the check of the library that takes it."""
    parser = Parser(
        prog="tfae",
        description="Autoencoders of the lecture: train, evaluate, sample, export, demo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in (add_train_parser, _add_evaluate_parser, _add_export_parser,
                       _add_sample_parser, _add_demo_parser):
        add_parser(commands)
    return parser


# ------------------------------------------------------------------------ commands


def _print_json(payload: dict) -> None:
    print(json.dumps(payload, indent=2))


def run_train(args) -> int:
    config = train_config(args)
    started = time.time()
    try:
        out = runs.train(config, args.out, overwrite=args.overwrite)
    except BaseException as error:  # the error's line says how to resume, if it can be
        state = resume_folder(args.out) / "state.npz"
        if state.is_file() and state.stat().st_mtime >= started:
            error.resume_hint = (f"; {state.parent} keeps the training state: the same "
                                 "command resumes the run")
        raise
    if out is None:
        print("trained as a worker of the TF_CONFIG cluster; its chief (worker 0) writes "
              "the run folder")
        return 0
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
    report = runs.export(args.run_dir, part=args.part, format=args.format, out=args.out,
                         quantize=args.quantize, overwrite=args.overwrite)
    print(report)
    return 0


#: The device-side runner, in tfae's source tree (not in an installed wheel).
DEVICE_RUNNER = Path(__file__).resolve().parents[2] / "export" / "run_litert.py"

#: How many samples the demo draws on the device side.
DEMO_DEVICE_SAMPLES = 20


def _demo_device_side(out: Path, seed: int) -> list[Path]:
    """Exports the demo VAE's decoder and samples from it with the TensorFlow-free
    runner, as a phone would; returns the files written."""
    report = runs.export(out, part="decoder")
    print(f"\ndecoder exported for LiteRT: {report.path.name}, {report.size_bytes:,} bytes, "
          f"verified: max |file - Keras| {report.max_abs_diff:.2g} at batch sizes "
          f"{', '.join(map(str, report.batch_sizes))}")
    if not DEVICE_RUNNER.is_file():
        print(f"the device-side runner export/run_litert.py is in tfae's source tree, not "
              f"here; with it: python export/run_litert.py {report.path} --samples 20 --png "
              "device-samples.png")
        return [report.path]
    png = out / "device-samples.png"
    command = [sys.executable, str(DEVICE_RUNNER), str(report.path), "--samples",
               str(DEMO_DEVICE_SAMPLES), "--seed", str(seed), "--png", str(png)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"the device-side runner failed: {result.stderr.strip()}")
    print(f"sampled on the device side (NumPy and LiteRT only, z ~ N(0, I)): "
          f"python export/run_litert.py {report.path.name} --samples {DEMO_DEVICE_SAMPLES} "
          f"--seed {seed} --png {png.name}")
    return [report.path, png]


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
    device_files = _demo_device_side(out, args.seed)
    print(f"run folder: {out.resolve()}")
    for name in ("model.keras", "metrics.json", "samples.png", "reconstructions.png"):
        print(f"  {out / name}")
    for path in device_files:
        print(f"  {path}")
    return 0


COMMANDS = {"train": run_train, "evaluate": run_evaluate, "sample": run_sample,
            "export": run_export, "demo": run_demo}


def _prog(args) -> str:
    """How the messages name the command: ``tfae train MODEL``, ``tfae evaluate``..."""
    return " ".join(["tfae", args.command, *([args.model] if args.command == "train" else [])])


def _hint(error: BaseException) -> str:
    """What the error's line adds: how to resume a training run (``run_train``)."""
    return getattr(error, "resume_hint", "")


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
        print(f"{prog}: error: {one_line(error)}{_hint(error)}", file=sys.stderr)
    except OSError as error:  # a file or folder that cannot be read or written
        print(f"{prog}: error: {one_line(error)}{_hint(error)}", file=sys.stderr)
    except tf.errors.ResourceExhaustedError as error:
        print(f"{prog}: error: the device ran out of memory ({type(error).__name__}); lower "
              f"--batch-size{_hint(error)}", file=sys.stderr)
    except KeyboardInterrupt as error:
        print(f"{prog}: interrupted{_hint(error)}", file=sys.stderr)
        return 130
    return 2


