"""Training runs on disk: one folder per run, written whole or not at all.

A run folder holds ``model.keras``, ``run.json`` (how the run was made: model,
dataset, hyperparameters, seed, versions), ``history.json``, ``metrics.json``
(held-out scores, in nats per example) and ``reconstructions.png``. It is
written in a hidden sibling folder and renamed into place at the end, so a run
that fails or is interrupted leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfae import datasets, metrics, plotting
from tfae.models import Autoencoder

BINARIZATIONS = ("none", "threshold", "stochastic", "dynamic")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``).

    Args:
        model: str, the model to train: ``"ae"``.
        dataset: str, a name known to ``tfae.datasets.load`` or a ``.npz`` path.
        epochs: int, the maximum number of epochs.
        batch_size: int, examples per gradient step.
        learning_rate: float, Adam's step size.
        latent_dim: int, the size of the code h.
        hidden_units: tuple of int or None, see ``tfae.Autoencoder``.
        architecture: str, ``"dense"`` or ``"conv"``.
        likelihood: str, ``"bernoulli"`` or ``"gaussian"``.
        binarize: str, one of ``BINARIZATIONS``: ``"dynamic"`` redraws a
            binarization of the training set every epoch; held-out splits then
            get one fixed stochastic binarization.
        patience: int or None, epochs without validation improvement before
            stopping (the best weights are restored); None trains all epochs.
        seed: int, seeds Python, NumPy, TensorFlow and Keras.
        data_dir: str or None, the tensorflow-datasets data folder.
        verbose: int or str, Keras' progress display (``"auto"``, 0, 1, 2).
    """

    model: str = "ae"
    dataset: str = "digits"
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    latent_dim: int = 16
    hidden_units: tuple | None = None
    architecture: str = "dense"
    likelihood: str = "bernoulli"
    binarize: str = "threshold"
    patience: int | None = 10
    seed: int = 0
    data_dir: str | None = None
    verbose: int | str = "auto"

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Unknown model {self.model!r}; choose one of {sorted(MODELS)}.")
        if self.binarize not in BINARIZATIONS:
            raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {self.binarize!r}.")
        dataset_path = Path(self.dataset)
        if dataset_path.suffix == ".npz":  # so that `tfae evaluate` finds it from anywhere
            self.dataset = str(dataset_path.resolve())
        if self.hidden_units is not None:
            self.hidden_units = tuple(self.hidden_units)


def _build_autoencoder(config: TrainConfig, event_shape: tuple) -> Autoencoder:
    return Autoencoder(
        input_shape=event_shape,
        latent_dim=config.latent_dim,
        hidden_units=config.hidden_units,
        likelihood=config.likelihood,
        architecture=config.architecture,
    )


#: Model name on the command line -> builder from a TrainConfig and the example shape.
MODELS = {"ae": _build_autoencoder}


def load_split(config: TrainConfig, split: str) -> np.ndarray:
    """Loads one split of the run's dataset, binarized as the run was."""
    binarize = {"none": None, "dynamic": "stochastic"}.get(config.binarize, config.binarize)
    if config.binarize == "dynamic" and split == "train":
        binarize = None  # DynamicBinarization draws from the grey levels each epoch
    return datasets.load(
        config.dataset, split=split, binarize=binarize, seed=config.seed, data_dir=config.data_dir
    )


@contextlib.contextmanager
def atomic_folder(out: Path, overwrite: bool = False):
    """Yields a hidden temporary folder that replaces ``out`` only if the block succeeds."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ValueError(
            f"{out} already exists and is not empty; choose another --out or pass --overwrite."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    os.replace(staging, out)


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (tuple, Path)):
        return list(value) if isinstance(value, tuple) else str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def seed_everything(seed: int) -> None:
    """Makes a run reproducible: seeds every generator and asks TF for deterministic ops."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def score(model, x: np.ndarray, x_train: np.ndarray, batch_size: int = 256) -> dict:
    """Returns the model's mean loss on ``x`` beside the per-pixel-mean baseline's, in nats.

    The baseline's per-pixel means come from ``x_train`` (grey levels under dynamic
    binarization: their mean is the expected binarized mean)."""
    model_nll = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)["loss"]
    baseline_nll = float(metrics.pixel_mean_nll(x_train, x, model.likelihood).mean())
    return {"nll": float(model_nll), "pixel_mean_nll": baseline_nll, "examples": int(len(x))}


def train(config: TrainConfig, out, overwrite: bool = False) -> Path:
    """Trains ``config.model`` and writes its run folder to ``out``; returns ``out``.

    Raises:
        ValueError: bad configuration or data, or ``out`` holds another run.
    """
    out = Path(out)
    seed_everything(config.seed)
    x_train, x_valid, x_test = (load_split(config, split) for split in datasets.SPLITS)
    model = MODELS[config.model](config, x_train.shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))

    callbacks = [keras.callbacks.TerminateOnNaN()]
    if config.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True))
    train_data = x_train
    fit_kwargs = {"batch_size": config.batch_size, "shuffle": True}
    if config.binarize == "dynamic":
        train_data = datasets.DynamicBinarization(x_train, config.batch_size, seed=config.seed)
        fit_kwargs = {}

    with atomic_folder(out, overwrite) as staging:
        started = time.perf_counter()
        history = model.fit(train_data, validation_data=x_valid, epochs=config.epochs,
                            callbacks=callbacks, verbose=config.verbose, **fit_kwargs)
        seconds = time.perf_counter() - started
        losses = history.history["loss"]
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(
                f"training produced a non-finite loss at epoch {len(losses)}; "
                "lower --learning-rate or check the data. Nothing was written."
            )
        results = {
            "model": config.model,
            "dataset": config.dataset,
            "epochs_run": len(losses),
            "train_seconds": round(seconds, 3),
            "parameters": int(model.count_params()),
            "valid": score(model, x_valid, x_train),
            "test": score(model, x_test, x_train),
        }
        model.save(staging / "model.keras")
        _write_json(staging / "run.json", dataclasses.asdict(config) | {
            "event_shape": list(x_train.shape[1:]),
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        })
        _write_json(staging / "history.json", {k: [float(v) for v in vs]
                                                 for k, vs in history.history.items()})
        _write_json(staging / "metrics.json", results)
        originals = x_test[:10]
        plotting.image_rows(
            {"original": originals, "reconstructed": np.asarray(model.reconstruct(originals))},
            staging / "reconstructions.png",
        )
    return out


def read_config(run_dir) -> TrainConfig:
    """Returns the TrainConfig saved in a run folder."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a tfae run folder (no run.json); pass the --out "
                         "folder of `tfae train`.")
    saved = json.loads(path.read_text())
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{key: value for key, value in saved.items() if key in fields})


def evaluate(run_dir, split: str = "test", data_dir=None) -> dict:
    """Reloads a run's model and scores it on one split of its dataset.

    Args:
        run_dir: str or Path, a folder written by ``train``.
        split: str, ``"train"``, ``"valid"`` or ``"test"``. Defaults to ``"test"``.
        data_dir: str or None, overrides the tensorflow-datasets folder of the run.

    Returns:
        dict with the model's mean loss (``nll``) and the per-pixel-mean baseline's.
    """
    if split not in datasets.SPLITS:
        raise ValueError(f"split must be one of {datasets.SPLITS}, got {split!r}.")
    config = read_config(run_dir)
    if data_dir is not None:
        config.data_dir = data_dir
    model = keras.models.load_model(Path(run_dir) / "model.keras")
    return {"run": str(run_dir), "split": split,
            **score(model, load_split(config, split), load_split(config, "train"))}


