"""Training runs on disk: one folder per run, written whole or not at all.

A run folder holds ``model.keras``, ``run.json`` (how the run was made: model,
dataset, hyperparameters, seed, versions), ``history.json``, ``metrics.json``
(held-out scores, in nats per example; for a VAE also the ELBO and the
importance-weighted NLL) and ``reconstructions.png`` (a VAE also writes
``samples.png``). It is
written in a hidden sibling folder and renamed into place at the end, so a run
that fails or is interrupted leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks, datasets, metrics, plotting
from tfae.models import MADE, VAE, Autoencoder, DenoisingAutoencoder, GaussianMixture

BINARIZATIONS = ("none", "threshold", "stochastic", "dynamic")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``).

    Args:
        model: str, the model to train, a key of ``MODELS`` (``"ae"``, ``"dae"``,
            ``"made"``, ``"vae"``, ``"gmm"``).
        dataset: str, a name known to ``tfae.datasets.load`` or a ``.npz`` path.
        model_args: dict, the model's constructor arguments besides the example
            shape, e.g. ``{"latent_dim": 16, "hidden_units": [256, 128]}``.
        epochs: int, the maximum number of epochs.
        batch_size: int, examples per gradient step.
        learning_rate: float, Adam's step size.
        binarize: str, one of ``BINARIZATIONS``: ``"dynamic"`` redraws a
            binarization of the training set every epoch; held-out splits then
            get one fixed stochastic binarization.
        patience: int or None, epochs without validation improvement before
            stopping (the best weights are restored); None trains all epochs.
        seed: int, seeds Python, NumPy, TensorFlow and Keras.
        data_dir: str or None, the tensorflow-datasets data folder.
        verbose: int or str, Keras' progress display (``"auto"``, 0, 1, 2).
        importance_samples: int, VAE runs only: the importance samples k of the
            test and validation NLL estimates written to ``metrics.json``.
        steps_per_execution: int, training steps per compiled call (Keras'
            ``compile(steps_per_execution=...)``): fewer round trips from Python,
            faster epochs for small networks; callbacks still run once per epoch.
            Defaults to 1.
    """

    model: str = "ae"
    dataset: str = "digits"
    model_args: dict = dataclasses.field(default_factory=lambda: {"latent_dim": 16})
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    binarize: str = "threshold"
    patience: int | None = 10
    seed: int = 0
    data_dir: str | None = None
    verbose: int | str = "auto"
    importance_samples: int = 100
    steps_per_execution: int = 1

    def __post_init__(self):
        _checks.check_positive_int(self.steps_per_execution, "steps_per_execution")
        if self.model not in MODELS:
            raise ValueError(f"Unknown model {self.model!r}; choose one of {sorted(MODELS)}.")
        if self.binarize not in BINARIZATIONS:
            raise ValueError(f"binarize must be one of {BINARIZATIONS}, got {self.binarize!r}.")
        dataset_path = Path(self.dataset)
        if dataset_path.suffix == ".npz":  # so that `tfae evaluate` finds it from anywhere
            self.dataset = str(dataset_path.resolve())


def _nearest_training_examples(samples, x_train) -> np.ndarray:
    """The training example nearest to each sample: the lecture's check that a model
    does not merely copy its training set."""
    nearest, _ = metrics.nearest_neighbours(samples, x_train)
    return x_train[nearest]


def _sample_figure(model, x_train, x_test, path, seed) -> None:
    """The lecture's MADE figure: samples beside their nearest training examples."""
    samples = np.asarray(model.sample(10, seed=seed))
    plotting.image_rows({"samples": samples,
                         "nearest training example": _nearest_training_examples(samples, x_train)},
                        path)


def _reconstruction_figure(model, x_train, x_test, path, seed) -> None:
    originals = x_test[:10]
    plotting.image_rows(
        {"original": originals, "reconstructed": np.asarray(model.reconstruct(originals))}, path)


def _denoising_figures(model, x_train, x_test, path, seed) -> None:
    """The lecture's three rows, and the Markov chain's samples beside it."""
    originals = x_test[:10]
    corrupted = model.corrupt(originals, seed=seed)
    plotting.image_rows({"original": originals, "corrupted": np.asarray(corrupted),
                         "reconstructed": np.asarray(model.denoise(corrupted))}, path)


def _vae_figures(model, x_train, x_test, path, seed) -> None:
    """Originals above reconstructions at ``path``; samples (draws and means of p(x|z),
    beside the nearest training examples of the means) in ``samples.png`` beside it."""
    _reconstruction_figure(model, x_train, x_test, path, seed)
    means = np.asarray(model.sample(10, seed=seed, return_means=True))
    plotting.image_rows({"samples x ~ p(x | z)": np.asarray(model.sample(10, seed=seed)),
                         "their means E[x | z]": means,
                         "nearest training example": _nearest_training_examples(means, x_train)},
                        Path(path).parent / "samples.png")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How a run builds and shows one kind of model.

    Attributes:
        build: callable (example shape, model_args) -> an untrained model.
        figure: callable (model, x_train, x_test, path, seed) writing a PNG.
        figure_name: the PNG's file name in the run folder.
        flatten: bool, whether the model takes flat vectors (N, D).
    """

    build: object
    figure: object
    figure_name: str = "reconstructions.png"
    flatten: bool = False


#: Model name on the command line -> how to build it and what figure to write.
MODELS = {
    "ae": ModelSpec(lambda shape, args: Autoencoder(shape, **args), _reconstruction_figure),
    "dae": ModelSpec(lambda shape, args: DenoisingAutoencoder(shape, **args), _denoising_figures),
    "made": ModelSpec(lambda shape, args: MADE(math.prod(shape), **args), _sample_figure,
                      figure_name="samples.png", flatten=True),
    "vae": ModelSpec(lambda shape, args: VAE(shape, **args), _vae_figures),
    # Not a Keras model: fitted by EM on principal components (see _train_gmm).
    "gmm": ModelSpec(None, None, figure_name="samples.png", flatten=True),
}


def load_split(config: TrainConfig, split: str) -> np.ndarray:
    """Loads one split of the run's dataset, binarized as the run was."""
    binarize = {"none": None, "dynamic": "stochastic"}.get(config.binarize, config.binarize)
    if config.binarize == "dynamic" and split == "train":
        binarize = None  # DynamicBinarization draws from the grey levels each epoch
    return datasets.load(
        config.dataset, split=split, binarize=binarize, seed=config.seed, data_dir=config.data_dir,
        flatten=MODELS[config.model].flatten,
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


def score(model, x: np.ndarray, x_train: np.ndarray, batch_size: int = 256,
          importance_samples: int = 100, seed: int = 0) -> dict:
    """Returns the model's mean loss terms on ``x`` beside the per-pixel-mean model's
    negative log-likelihood, in nats per example.

    ``loss`` is what the model minimises: -log p(x | g(f(x))) for the autoencoder,
    the denoising loss (plus walkback terms) for the denoising autoencoder, a
    one-sample estimate of -ELBO (with beta) for the VAE. The baseline's per-pixel
    means come from ``x_train`` (grey levels under dynamic binarization: their mean
    is the expected binarized mean).

    For a VAE the result also holds ``elbo`` (the mean ELBO, one draw of z per
    example, seeded by ``seed``) and ``iw_nll``, -log p(x) estimated with
    ``importance_samples`` importance samples per example (``VAE.log_prob``): a
    tighter bound, so that elbo <= -iw_nll up to Monte Carlo noise."""
    terms = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
    baseline_nll = float(metrics.pixel_mean_nll(x_train, x, model.likelihood).mean())
    result = {**{name: float(value) for name, value in terms.items()},
              "pixel_mean_nll": baseline_nll, "examples": int(len(x))}
    if isinstance(model, VAE):
        result["elbo"] = float(np.mean(model.elbo(x, seed=seed).numpy()))
        result["iw_nll"] = -float(np.mean(model.log_prob(
            x, num_samples=importance_samples, seed=seed).numpy()))
        result["importance_samples"] = int(importance_samples)
    return result


def train(config: TrainConfig, out, overwrite: bool = False) -> Path:
    """Trains ``config.model`` and writes its run folder to ``out``; returns ``out``.

    Raises:
        ValueError: bad configuration or data, or ``out`` holds another run.
    """
    out = Path(out)
    seed_everything(config.seed)
    if config.model == "gmm":
        return _train_gmm(config, out, overwrite)
    x_train, x_valid, x_test = (load_split(config, split) for split in datasets.SPLITS)
    spec = MODELS[config.model]
    model = spec.build(x_train.shape[1:], dict(config.model_args))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  steps_per_execution=config.steps_per_execution)

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
            "valid": score(model, x_valid, x_train,
                           importance_samples=config.importance_samples),
            "test": score(model, x_test, x_train, importance_samples=config.importance_samples),
        }
        model.save(staging / "model.keras")
        _write_json(staging / "run.json", dataclasses.asdict(config) | {
            "event_shape": list(x_train.shape[1:]),
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        })
        _write_json(staging / "history.json", {k: [float(v) for v in vs]
                                                 for k, vs in history.history.items()})
        _write_json(staging / "metrics.json", results)
        spec.figure(model, x_train, x_test, staging / spec.figure_name, config.seed)
    return out


@dataclasses.dataclass(frozen=True)
class PrincipalComponents:
    """x ~= mean + z @ components: the top principal directions of the training data.

    A Gaussian mixture on raw 784-pixel images needs 784 x 784 covariances per
    component; ``tfae train gmm`` fits it on the top ``pca_dim`` directions instead.
    """

    mean: np.ndarray
    components: np.ndarray  # (pca_dim, D), orthonormal rows

    @classmethod
    def fit(cls, x: np.ndarray, dims: int) -> PrincipalComponents:
        if not 1 <= dims <= min(x.shape):
            raise ValueError(f"pca_dim must be in [1, {min(x.shape)}] for data of shape "
                             f"{x.shape}, got {dims}.")
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        return cls(mean, vt[:dims])

    def project(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) @ self.components.T

    def reconstruct(self, z: np.ndarray) -> np.ndarray:
        return self.mean + z @ self.components


def _train_gmm(config: TrainConfig, out: Path, overwrite: bool) -> Path:
    """Fits a Gaussian mixture by EM on the principal components of the training split."""
    args = dict(config.model_args)
    pca_dim = args.pop("pca_dim")
    x_train, x_valid, x_test = (load_split(config, split).astype(np.float64)
                                for split in datasets.SPLITS)
    pca = PrincipalComponents.fit(x_train, pca_dim)
    gmm = GaussianMixture(seed=config.seed, **args)
    with atomic_folder(out, overwrite) as staging:
        started = time.perf_counter()
        gmm.fit(pca.project(x_train))
        seconds = time.perf_counter() - started
        results = {
            "model": "gmm", "dataset": config.dataset, "em_iterations": int(gmm.n_iter_),
            "converged": bool(gmm.converged_), "train_seconds": round(seconds, 3),
            "note": f"log-likelihoods are per example in the {pca_dim}-dimensional PCA space, "
                    "not comparable with pixel-space NLLs",
            **{split: {"log_likelihood": gmm.score(pca.project(x)), "examples": len(x)}
               for split, x in (("valid", x_valid), ("test", x_test))},
        }
        gmm.save(staging / "model.npz")
        np.savez(staging / "pca.npz", mean=pca.mean, components=pca.components)
        _write_json(staging / "run.json", dataclasses.asdict(config) | {
            "event_shape": list(x_train.shape[1:])})
        _write_json(staging / "metrics.json", results)
        samples, _ = gmm.sample(10, seed=config.seed)
        plotting.image_rows({"samples": pca.reconstruct(samples),
                             "means": pca.reconstruct(gmm.means_)}, staging / "samples.png")
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


def evaluate(run_dir, split: str = "test", data_dir=None, importance_samples: int = 100) -> dict:
    """Reloads a run's model and scores it on one split of its dataset.

    Args:
        run_dir: str or Path, a folder written by ``train``.
        split: str, ``"train"``, ``"valid"`` or ``"test"``. Defaults to ``"test"``.
        data_dir: str or None, overrides the tensorflow-datasets folder of the run.
        importance_samples: int, VAE runs only: importance samples per example of
            the NLL estimate ``iw_nll``. Defaults to 100.

    Returns:
        dict with the model's mean loss terms and the per-pixel-mean model's NLL
        (see ``score``).
    """
    if split not in datasets.SPLITS:
        raise ValueError(f"split must be one of {datasets.SPLITS}, got {split!r}.")
    config = read_config(run_dir)
    if data_dir is not None:
        config.data_dir = data_dir
    if config.model == "gmm":
        pca = PrincipalComponents(**np.load(Path(run_dir) / "pca.npz"))
        gmm = GaussianMixture.load(Path(run_dir) / "model.npz")
        x = load_split(config, split).astype(np.float64)
        return {"run": str(run_dir), "split": split, "examples": len(x),
                "log_likelihood": gmm.score(pca.project(x))}
    model = keras.models.load_model(Path(run_dir) / "model.keras")
    return {"run": str(run_dir), "split": split,
            **score(model, load_split(config, split), load_split(config, "train"),
                    importance_samples=importance_samples)}




def sample(run_dir, num_samples: int = 16, num_steps: int = 200, seed: int = 0,
           out=None) -> Path:
    """Draws samples of a run's generative model and saves them beside their nearest
    training examples (the lecture's figure), as ``out`` (PNG) and ``out`` with a
    ``.npy`` suffix.

    Args:
        run_dir: str or Path, a folder written by ``train``.
        num_samples: int, the number of samples. Defaults to 16.
        num_steps: int, Markov-chain steps (denoising autoencoder). Defaults to 200.
        seed: int, the same seed gives the same samples. Defaults to 0.
        out: str or Path or None, the PNG to write. Defaults to ``run_dir/samples.png``.

    Raises:
        ValueError: the run's model is not generative (the vanilla autoencoder).
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if config.model == "gmm":
        pca = PrincipalComponents(**np.load(run_dir / "pca.npz"))
        samples = pca.reconstruct(GaussianMixture.load(run_dir / "model.npz").sample(
            num_samples, seed=seed)[0])
    else:
        samples = _sample_keras_model(run_dir, num_samples, num_steps, seed)
    x_train = load_split(config, "train")
    out = Path(out) if out is not None else run_dir / "samples.png"
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.partial-") as scratch:
        figure, array = Path(scratch) / "samples.png", Path(scratch) / "samples.npy"
        plotting.image_rows({"samples": samples,
                             "nearest training example": _nearest_training_examples(samples,
                                                                                    x_train)},
                            figure, max_images=num_samples)
        np.save(array, samples)
        os.replace(figure, out)
        os.replace(array, out.with_suffix(".npy"))
    return out


def _sample_keras_model(run_dir: Path, num_samples: int, num_steps: int, seed: int):
    model = keras.models.load_model(run_dir / "model.keras")
    if hasattr(model, "sample_chain"):
        samples = model.sample_chain(num_chains=num_samples, num_steps=num_steps, seed=seed,
                                     return_all=False)
    elif hasattr(model, "sample"):
        samples = model.sample(num_samples, seed=seed)
    else:
        raise ValueError(
            f"the {type(model).__name__} of {run_dir} is not a generative model: exp(-l(x)) "
            "does not sum to 1 over x, so there is no distribution to sample. Train a "
            "denoising autoencoder (`tfae train dae`) to sample with its Markov chain."
        )
    return np.asarray(samples)
