"""The Keras models of a run, each with its spec: ``ae``, ``dae``, ``made``, ``vae``.

They are built from ``model_args``, trained by ``Model.fit`` with Adam and early
stopping on the validation loss, scored by ``Model.evaluate`` beside the
per-pixel-mean model, and saved as ``model.keras``.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import MappingProxyType

import keras
import numpy as np

import tfae
from tfae.choices import SIGNATURES
from tfae.runs import figures
from tfae.runs.spec import ModelSpec

#: Examples per batch of ``Model.evaluate`` when a run scores a Keras model.
EVALUATION_BATCH_SIZE = 256


def load_model(folder):
    """Loads the ``model.keras`` of a folder (that of any Keras model a run trains).

    Raises:
        ValueError: the folder holds no ``model.keras``.
    """
    path = Path(folder) / "model.keras"
    if not path.is_file():
        raise ValueError(f"{folder} holds no model.keras; pass the --out folder of `tfae train` "
                         "(of an ae, dae, made or vae run).")
    return keras.models.load_model(path)


class KerasSpec(ModelSpec):
    """What the Keras models share; a subclass names its class and its figures."""

    fields = ("epochs", "batch_size", "learning_rate", "patience", "steps_per_execution",
              "jit_compile", "verbose")
    default_args = MappingProxyType({"latent_dim": 16})
    parts = tuple(SIGNATURES)
    score_options = MappingProxyType({"batch_size": EVALUATION_BATCH_SIZE})

    def build(self, config, event_shape: tuple):
        return self.model_class(event_shape, **config.model_args)

    def fit(self, model, config, splits: dict) -> dict:
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      steps_per_execution=config.steps_per_execution,
                      jit_compile=config.jit_compile)
        if config.jit_compile and not model.jit_compile:
            raise ValueError(
                "Keras refused jit_compile=True for this model: TensorFlow's op determinism is "
                "on in this process, or a layer does not support XLA; train without "
                "--jit-compile."
            )
        callbacks = [keras.callbacks.TerminateOnNaN()]
        if config.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True))
        data, batching = splits["train"], {"batch_size": config.batch_size, "shuffle": True}
        if config.binarize == "dynamic":
            data = tfae.datasets.DynamicBinarization(data, config.batch_size, seed=config.seed)
            batching = {}
        history = model.fit(data, validation_data=splits["valid"], epochs=config.epochs,
                            callbacks=callbacks, verbose=config.verbose, **batching).history
        if not np.all(np.isfinite(history["loss"])):
            raise FloatingPointError(
                f"training produced a non-finite loss at epoch {len(history['loss'])}; "
                "lower --learning-rate or check the data. Nothing was written."
            )
        return {name: [float(value) for value in values] for name, values in history.items()}

    def summary_scores(self, model, history: dict) -> dict:
        return {"epochs_run": len(history["loss"]), "parameters": int(model.count_params())}

    def score(self, model, x, x_train, seed: int = 0, batch_size: int = EVALUATION_BATCH_SIZE):
        """The mean loss terms on ``x`` beside the per-pixel-mean model's negative
        log-likelihood (its per-pixel means fitted on ``x_train``)."""
        terms = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
        baseline = float(tfae.metrics.pixel_mean_nll(x_train, x, model.likelihood).mean())
        return {**{name: float(value) for name, value in terms.items()},
                "pixel_mean_nll": baseline, "examples": int(len(x))}

    def save(self, model, folder) -> None:
        model.save(Path(folder) / "model.keras")

    def load(self, folder):
        return load_model(folder)

    def sample(self, model, num_samples: int, seed: int, **options):
        return np.asarray(model.sample(num_samples, seed=seed))

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        originals = splits["test"][:10]
        tfae.plotting.image_rows(
            {"original": originals, "reconstructed": model.reconstruct(originals)},
            Path(folder) / "reconstructions.png")


class AutoencoderSpec(KerasSpec):
    name = "ae"
    summary = "the vanilla autoencoder h = f(x), r = g(h)"
    seed_arg = None

    @property
    def model_class(self) -> type:
        return tfae.Autoencoder

    def sample(self, model, num_samples: int, seed: int, **options):
        raise ValueError(
            "an ae run holds a vanilla autoencoder, not a generative model: exp(-l(x)) does "
            "not sum to 1 over x, so there is no distribution to sample. Train a denoising "
            "autoencoder (`tfae train dae`) to sample with its Markov chain."
        )


class DenoisingSpec(KerasSpec):
    name = "dae"
    summary = "the denoising autoencoder, a generative model through its Markov chain"
    sample_options = MappingProxyType({"num_steps": 200})

    @property
    def model_class(self) -> type:
        return tfae.DenoisingAutoencoder

    def sample(self, model, num_samples: int, seed: int, num_steps: int = 200):
        return np.asarray(model.sample_chain(num_chains=num_samples, num_steps=num_steps,
                                             seed=seed, return_all=False))

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """The lecture's three rows: originals, corrupted, reconstructed."""
        originals = splits["test"][:10]
        corrupted = model.corrupt(originals, seed=seed)
        tfae.plotting.image_rows(
            {"original": originals, "corrupted": corrupted,
             "reconstructed": model.denoise(corrupted)},
            Path(folder) / "reconstructions.png")


class MADESpec(KerasSpec):
    name = "made"
    summary = "MADE, the masked autoencoder with an exact likelihood"
    flatten = True
    default_args = MappingProxyType({})
    parts = ()

    @property
    def model_class(self) -> type:
        return tfae.MADE

    def build(self, config, event_shape: tuple):
        return tfae.MADE(math.prod(event_shape), **config.model_args)

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """The lecture's MADE figure: samples beside their nearest training examples."""
        figures.write_samples(self.sample(model, 10, seed), splits["train"],
                              Path(folder) / "samples.png")


class VAESpec(KerasSpec):
    name = "vae"
    summary = "the variational autoencoder, trained on the ELBO"
    fields = (*KerasSpec.fields, "importance_samples")
    score_options = MappingProxyType({**KerasSpec.score_options, "importance_samples": 100})

    @property
    def model_class(self) -> type:
        return tfae.VAE

    def run_score_options(self, config) -> dict:
        return {"importance_samples": config.importance_samples}

    def score(self, model, x, x_train, seed: int = 0, batch_size: int = EVALUATION_BATCH_SIZE,
              importance_samples: int = 100) -> dict:
        """The loss terms, and the ELBO and the importance-weighted -log p(x) (k =
        ``importance_samples``), both seeded by ``seed``."""
        elbo = np.mean(model.elbo(x, seed=seed).numpy())
        log_prob = np.mean(model.log_prob(x, num_samples=importance_samples, seed=seed).numpy())
        return {**super().score(model, x, x_train, seed, batch_size), "elbo": float(elbo),
                "iw_nll": -float(log_prob), "importance_samples": int(importance_samples)}

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """Originals above reconstructions; samples (draws and means of p(x | z), beside
        the nearest training examples of the means) in ``samples.png``."""
        super().figures(model, splits, folder, seed)
        means = np.asarray(model.sample(10, seed=seed, return_means=True))
        tfae.plotting.image_rows(
            {"samples x ~ p(x | z)": self.sample(model, 10, seed),
             "their means E[x | z]": means,
             "nearest training example": figures.nearest_training_examples(
                 means, splits["train"])},
            Path(folder) / "samples.png")
