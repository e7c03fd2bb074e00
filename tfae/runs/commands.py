"""What the command line does with runs: train, evaluate, sample, export, score.

Each works through the run's ``ModelSpec`` and treats every kind of model alike.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

import tfae
from tfae import _checks
from tfae._io import _check_destination, atomic_file, atomic_folder, write_json
from tfae.runs import distribution, figures, keras_models
from tfae.runs.config import TrainConfig, read_config
from tfae.runs.data import load_split, load_splits
from tfae.runs.resume import Checkpoint
from tfae.runs.seeding import seeded
from tfae.runs.specs import get_spec, spec_of

#: How the messages of the run functions name their ``overwrite`` argument.
_OVERWRITE = "overwrite=True (--overwrite)"

#: What ``export`` writes: a LiteRT flatbuffer or a TensorFlow SavedModel folder.
EXPORT_FORMATS = tfae.choices.EXPORT_FORMATS


def _run_config(run_dir) -> TrainConfig:
    """The TrainConfig of a run folder (see ``read_config``).

    Raises:
        ValueError: ``run_dir`` holds no ``run.json``, or one that is not a run's record.
    """
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        return read_config(run_dir)  # says why it is not a run folder
    try:
        return read_config(run_dir)
    except (ValueError, TypeError, AttributeError) as error:  # ValueError: bad JSON too
        raise ValueError(
            f"{path} is not the record of a tfae run ({error}); it was changed since `tfae "
            "train` wrote it: restore it or train the run again."
        ) from error


#: The folder of the tfae package, where its checks raise.
_PACKAGE = Path(tfae.__file__).resolve().parent


def raised_by_tfae(error: BaseException) -> bool:
    """Whether ``error`` was raised by tfae's own code (its checks, which say what is
    wrong and how to fix it) rather than inside a library it calls.

    Examples:
        >>> try:
        ...     _checks.check_positive_int(0, "epochs")
        ... except ValueError as error:
        ...     raised_by_tfae(error)
        True
        >>> raised_by_tfae(ValueError("never raised"))
        False
    """
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_PACKAGE)


def _load(spec, run_dir):
    """The model of a run folder, or a ValueError that says why it cannot be loaded."""
    return _loaded(spec.load, run_dir, f"the {spec.name} model of {run_dir}")


def _loaded(load, folder, what: str):
    """``load(folder)``; a failure other than a ValueError of tfae's checks (a damaged
    or foreign file: whatever its reader raises) becomes a ValueError naming ``what``."""
    try:
        return load(folder)
    except ValueError as error:
        if raised_by_tfae(error):  # it says what is wrong
            raise
        failure = error
    except Exception as error:
        failure = error
    raise ValueError(
        f"{what} could not be loaded ({type(failure).__name__}: {failure}); its files were "
        "changed since `tfae train` wrote them, or written by another version of tfae: "
        "train the run again."
    ) from failure


def _exportable_parts(spec, part: str | None) -> str:
    """``part`` (None stays None: the model's generative part, chosen once it is loaded)
    if ``spec``'s models export it; else a ValueError naming those they do."""
    if not spec.parts:
        raise ValueError(f"{spec.name} runs have no part to export.")
    if part is None or part in spec.parts:
        return part
    raise ValueError(f"{spec.name} runs have no part {part!r} to export; choose one of "
                     f"{spec.parts}.")


def _versions() -> dict:
    return {name: importlib.metadata.version(name)
            for name in ("tfae", "tensorflow", "keras", "numpy")}


def train(config: TrainConfig, out, overwrite: bool = False) -> Path | None:
    """Trains ``config.model`` and writes its run folder to ``out``; returns ``out``
    (None on a worker of a multi-worker run that does not write it).

    The folder is written whole or not at all. The run is seeded by ``config.seed``
    (and made op-deterministic by ``config.deterministic``) through ``seeded``, which
    leaves the process's random state and op determinism as they were. It trains
    where ``config.strategy`` says (``tfae.runs.distribution``); under
    ``"multiworker"`` only the chief writes ``out``.

    A Keras model's run saves its training state after every epoch in the hidden
    folder ``.OUT.resume`` beside ``out`` (``tfae.runs.resume``): if the run is
    killed, the same call resumes at its first unfinished epoch and ends with the
    weights of an uninterrupted run. The folder is removed once ``out`` is written.

    Raises:
        ValueError: bad configuration or data, ``out`` holds another run, or
            ``.OUT.resume`` holds an unfinished run with other settings (``overwrite``
            discards it).
        FloatingPointError: training produced a non-finite loss.
    """
    spec = get_spec(config.model)
    out = Path(out)
    _check_destination(out, overwrite, _OVERWRITE)
    strategy = distribution.make_strategy(config.strategy)  # before TensorFlow runs ops
    worker = distribution.worker_name(strategy)
    checkpoint = Checkpoint(out, config.record(), worker)
    checkpoint.check(discard=overwrite, flag=_OVERWRITE)
    with seeded(config.seed, config.deterministic):
        splits = load_splits(config)
        started = time.perf_counter()
        with strategy.scope():
            model = spec.build(config, splits["train"].shape[1:])
            history = spec.fit(model, config, splits, checkpoint)
        seconds = (checkpoint.seconds() if checkpoint.exists()
                   else time.perf_counter() - started)
        options = spec.settings("score", spec.run_score_options(config))
        results = {
            "model": config.model,
            "dataset": config.dataset,
            **spec.summary_scores(model, history),
            "train_seconds": round(seconds, 3),
            **{split: spec.score(model, splits[split], splits["train"], seed=config.seed,
                                 **options) for split in ("valid", "test")},
        }
        try:
            with _run_folder(out, overwrite, worker, checkpoint.folder) as staging:
                spec.save(model, staging)
                write_json(staging / "run.json", config.record() | {
                    "event_shape": list(splits["train"].shape[1:]),
                    "versions": _versions()})
                if history is not None:
                    write_json(staging / "history.json", history)
                write_json(staging / "metrics.json", results)
                spec.figures(model, splits, staging, config.seed)
        except BaseException:
            if not checkpoint.exists():  # a folder made for the staging folder only
                checkpoint.remove()
            raise
    checkpoint.remove()
    return None if worker else out


@contextlib.contextmanager
def _run_folder(out: Path, overwrite: bool, worker: str, within: Path):
    """The staging folder of ``out`` (see ``atomic_folder``), made in ``within`` (the
    checkpoint's folder, removed once ``out`` is written, so a process killed while
    writing leaves nothing that stays); a worker that does not write the run folder
    writes into a temporary folder that is then removed."""
    if not worker:
        with atomic_folder(out, overwrite, _OVERWRITE, within=within) as staging:
            yield staging
        return
    with tempfile.TemporaryDirectory(prefix=f"tfae-{worker}-") as folder:
        yield Path(folder)


def evaluate(run_dir, split: str = "test", data_dir=None, importance_samples=None) -> dict:
    """Reloads a run's model and scores it on one split of its dataset.

    Args:
        run_dir: str or Path, a folder written by ``train``.
        split: str, ``"train"``, ``"valid"`` or ``"test"``. Defaults to ``"test"``.
        data_dir: str or None, overrides the tensorflow-datasets folder of the run.
        importance_samples: int or None, VAE runs only: importance samples per
            example of the NLL estimate ``iw_nll``. Defaults to 100.

    Returns:
        dict with the run, the split and the model's scores (see ``score``; a
        mixture's ``log_likelihood``).

    Raises:
        ValueError: not a run folder, a bad split, or an option that does not apply
            to the run's model.
    """
    if split not in tfae.datasets.SPLITS:
        raise ValueError(f"split must be one of {tfae.datasets.SPLITS}, got {split!r}.")
    config = _run_config(run_dir)
    spec = get_spec(config.model)
    options = spec.settings("score", {"importance_samples": importance_samples})
    if data_dir is not None:
        config.data_dir = data_dir
    model = _load(spec, run_dir)
    return {"run": str(run_dir), "split": split,
            **spec.score(model, load_split(config, split), load_split(config, "train"),
                         seed=config.seed, **options)}


def sample(run_dir, num_samples: int = 16, num_steps=None, seed: int = 0, out=None,
           overwrite: bool = False) -> Path:
    """Draws samples of a run's generative model and saves them beside their nearest
    training examples (the lecture's figure), as ``out`` (PNG) and ``out`` with a
    ``.npy`` suffix; returns ``out``.

    Args:
        run_dir: str or Path, a folder written by ``train``.
        num_samples: int, the number of samples. Defaults to 16.
        num_steps: int or None, denoising autoencoder runs only: Markov-chain steps.
            Defaults to 200.
        seed: int, the same seed gives the same samples. Defaults to 0.
        out: str or Path or None, the PNG to write. Defaults to
            ``run_dir/samples-seed<seed>.png`` (the run's own ``samples.png`` stays).
        overwrite: bool, replace existing files. Defaults to False.

    Raises:
        ValueError: the run's model is not generative (the vanilla autoencoder), an
            option does not apply to it, or ``out`` (or its ``.npy``) exists and
            ``overwrite`` is False.
    """
    run_dir = Path(run_dir)
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    seed = _checks.check_positive_int(seed, "seed", minimum=0)
    overwrite = _checks.check_bool(overwrite, "overwrite")
    config = _run_config(run_dir)
    spec = get_spec(config.model)
    options = spec.settings("sample", {"num_steps": num_steps})
    out = Path(out) if out is not None else run_dir / f"samples-seed{seed}.png"
    if out.suffix != ".png":
        raise ValueError(f"the samples' figure is a PNG file; pass an --out ending in .png, "
                         f"got {out.name!r}.")
    with atomic_file(out, overwrite, _OVERWRITE) as figure, \
            atomic_file(out.with_suffix(".npy"), overwrite, _OVERWRITE) as array:
        samples = spec.sample(_load(spec, run_dir), num_samples, seed, **options)
        figures.write_samples(samples, load_split(config, "train"), figure,
                              max_images=num_samples)
        np.save(array, samples)
    return out


def export(run_dir, part: str | None = None, format: str = "tflite", out=None,
           quantize: str | None = None, overwrite: bool = False):
    """Writes one part of a run's model for deployment, verified (see ``tfae.export``).

    Args:
        run_dir: str or Path, a folder written by ``train`` (or any folder holding a
            tfae model saved as ``model.keras``).
        part: str or None, one of the run's parts: ``"decoder"``, ``"encoder"``,
            ``"autoencoder"`` for ae, dae and vae runs, and ``"sampler"`` for vae
            runs; ``"sampler"``, ``"conditionals"``, ``"log_prob"`` for made runs;
            ``"sampler"``, ``"log_prob"`` for gmm runs (in image space: see
            ``tfae.runs.mixture``). None: the generative part
            (``tfae.export.default_part``): the decoder, or the sampler of a made or
            gmm run and of a vae run whose prior is not the standard normal.
        format: str, ``"tflite"`` or ``"saved_model"``. Defaults to ``"tflite"``.
        out: str or Path or None, the file or folder to write. Defaults to
            ``run_dir/PART.tflite`` (``PART-QUANTIZE.tflite`` when quantized) or
            ``run_dir/PART_savedmodel``.
        quantize: None, ``"float16"``, ``"dynamic_int8"`` or ``"int8"`` (LiteRT only;
            ``"int8"`` is calibrated on up to 500 training examples of the run's data,
            or codes/noise for a part that takes codes or noise).
        overwrite: bool, replace ``out`` if it exists. Defaults to False.

    Returns:
        The ``tfae.export.ExportReport``.

    Raises:
        ValueError: the run's model has no such part, a bad format or option, ``out``
            exists and ``overwrite`` is False, or ``out`` is the run folder or holds it.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}.")
    overwrite = _checks.check_bool(overwrite, "overwrite")
    if quantize is not None and format != "tflite":
        raise ValueError("quantize (--quantize) applies to format 'tflite' only.")
    if quantize is not None and quantize not in tfae.choices.QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {tfae.choices.QUANTIZATIONS}, got "
                         f"{quantize!r}.")
    run_dir = Path(run_dir)
    if (run_dir / "run.json").is_file() or not (run_dir / "model.keras").is_file():
        config = _run_config(run_dir)
        spec = get_spec(config.model)
        part = _exportable_parts(spec, part)
        model = None
    else:  # a model.keras saved outside a run
        config = None
        model = _loaded(keras_models.load_model, run_dir, f"{run_dir / 'model.keras'}")
        try:
            spec = spec_of(model)
        except TypeError as error:
            raise ValueError(f"{run_dir / 'model.keras'}: {error}") from None
        part = _exportable_parts(spec, part)
    if part is None:  # the model's generative part (a VAE's depends on its prior)
        model = _load(spec, run_dir) if model is None else model
        part = tfae.export.default_part(spec.exportable(model))
    suffix = ".tflite" if format == "tflite" else "_savedmodel"
    name = part if quantize is None else f"{part}-{quantize}"
    out = Path(out) if out is not None else run_dir / f"{name}{suffix}"
    if out.resolve() == run_dir.resolve() or out.resolve() in run_dir.resolve().parents:
        raise ValueError(f"out (--out) {out} is the run folder {run_dir} or holds it: the "
                         "export would replace the run; choose another path.")
    _check_destination(out, overwrite, _OVERWRITE)
    if model is None:
        model = _load(spec, run_dir)
    exported = spec.exportable(model)
    if format == "saved_model":
        return tfae.export.saved_model(exported, out, part=part, overwrite=overwrite)
    representative = None
    if quantize == "int8":
        representative = _representative(exported, part, config)
    return tfae.export.tflite(exported, out, part=part, quantize=quantize,
                              representative_data=representative, overwrite=overwrite)


#: How many examples calibrate a full-integer (``int8``) export of a run.
INT8_CALIBRATION_EXAMPLES = 500


def _representative(model, part: str, config):
    """Calibration inputs of ``part``: training examples for a part that takes data
    (x), else draws of the part's own noise or codes."""
    endpoint = tfae.export.endpoint_of(model, part)
    if endpoint.input_names() == ("x",) and config is not None:
        return load_split(config, "train")[:INT8_CALIBRATION_EXAMPLES]
    if endpoint.input_names() == ("x",):
        raise ValueError("quantize='int8' calibrates on the training data of a run; this "
                         "model.keras has no run.json to find it: choose "
                         "quantize='dynamic_int8', or call tfae.export.tflite with "
                         "representative_data.")
    return endpoint.probe(INT8_CALIBRATION_EXAMPLES, np.random.default_rng(0))


def score(model, x, x_train, batch_size=None, importance_samples=None, seed: int = 0) -> dict:
    """Returns a model's scores on ``x``, in nats per example, as its run writes them
    to ``metrics.json``.

    For the Keras models, the mean loss terms (``loss`` is what the model
    minimises: -log p(x | g(f(x))) for the autoencoder, the denoising loss plus
    walkback terms for the denoising autoencoder, the exact NLL for MADE, a
    one-sample estimate of -ELBO with beta for the VAE) beside the per-pixel-mean
    model's negative log-likelihood ``pixel_mean_nll``, its per-pixel means fitted
    on ``x_train`` (grey levels under dynamic binarization: their mean is the
    expected binarized mean). For a VAE also ``elbo`` (one draw of z per example)
    and ``iw_nll``, -log p(x) estimated with ``importance_samples`` importance
    samples per example: a tighter bound, so that elbo <= -iw_nll up to Monte Carlo
    noise.

    Args:
        model: a model of a kind that runs train (see ``tfae.runs.MODELS``).
        x: array of the examples to score.
        x_train: array of training examples, for the baseline.
        batch_size: int or None, Keras models: examples per evaluation batch.
            Defaults to 256.
        importance_samples: int or None, VAE only: importance samples per example.
            Defaults to 100.
        seed: int, seeds the estimates that draw. Defaults to 0.

    Raises:
        ValueError: an option that does not apply to the model.
    """
    spec = spec_of(model)
    options = spec.settings("score", {"batch_size": batch_size,
                                      "importance_samples": importance_samples})
    return spec.score(model, x, x_train, seed=seed, **options)
