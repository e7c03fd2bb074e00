"""The Keras models of a run, each with its spec: ``ae``, ``dae``, ``made``, ``vae``.

They are built from ``model_args``, trained by ``Model.fit`` with Adam and early
stopping on the validation loss, scored by ``Model.evaluate`` beside baselines of
the same quantity (``tfae.runs.baselines``), and saved as ``model.keras``.

``metrics.json`` names every number for what it is (its ``"notes"`` say it in
words): ``*_nll`` is a negative log-likelihood (lower is better), ``*_log_likelihood``
a log-likelihood (higher is better), both in nats per example, averaged over the
split. Only numbers of the same quantity are comparable: the autoencoder's
``reconstruction_nll`` is not a likelihood of x, the denoising autoencoder's
``denoising_nll`` is -log p(x | x~), and MADE's ``nll`` and the VAE's ``iw_nll`` are
-log p(x), like ``pixel_mean_nll``.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from types import MappingProxyType

import keras
import numpy as np
import tensorflow as tf

import tfae
from tfae.runs import baselines, figures, resume
from tfae.runs.spec import ModelSpec

#: Examples per batch of ``Model.evaluate`` when a run scores a Keras model.
EVALUATION_BATCH_SIZE = 256

#: At most this many training examples estimate the identity denoiser's trust in x~.
IDENTITY_BASELINE_EXAMPLES = 10_000

#: What every run's ``metrics.json`` says about its numbers (its ``"notes"``).
COMMON_NOTES = MappingProxyType({
    "units": "*_nll: negative log-likelihoods (lower is better), *_log_likelihood: "
             "log-likelihoods (higher is better), in nats per example, averaged over the "
             "split's examples; numbers are comparable only when they score the same "
             "quantity, as each note says",
    "examples": "the number of examples of the split scored",
})

#: The per-pixel-mean model, the baseline of the Keras models' likelihoods.
PIXEL_MEAN_NOTE = ("-log p(x) under the per-pixel-mean model: independent values, their "
                   "means fitted on the training split (tfae.metrics.pixel_mean_nll)")


def load_model(folder, model_class=None):
    """Loads the ``model.keras`` of a folder (that of any Keras model a run trains).

    Args:
        folder: str or Path, a run folder.
        model_class: type or None, the class the model must be (a run's kind).

    Raises:
        ValueError: the folder holds no ``model.keras``, or one that is not a
            ``.keras`` file (truncated, or another format), or a model of another class.
    """
    path = Path(folder) / "model.keras"
    if not path.is_file():
        raise ValueError(f"{folder} holds no model.keras; pass the --out folder of `tfae train` "
                         "(of an ae, dae, made or vae run).")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras file (not a zip archive: truncated, or a "
                         "file of another format); train the run again.")
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise ValueError(f"{path} is a zip archive but not a .keras file (it holds no "
                             "config.json); train the run again.")
    model = keras.models.load_model(path)
    if model_class is not None and not isinstance(model, model_class):
        raise ValueError(f"{path} holds a {type(model).__name__}, not the "
                         f"{model_class.__name__} of the run; train the run again.")
    return model


class KerasSpec(ModelSpec):
    """What the Keras models share; a subclass names its class and its figures."""

    fields = ("epochs", "batch_size", "learning_rate", "patience", "steps_per_execution",
              "jit_compile", "verbose", "strategy")
    default_args = MappingProxyType({"latent_dim": 16})
    parts = ("decoder", "encoder", "autoencoder")
    score_options = MappingProxyType({"batch_size": EVALUATION_BATCH_SIZE})

    def build(self, config, event_shape: tuple):
        return self.model_class(event_shape, **config.model_args)

    def fit(self, model, config, splits: dict, checkpoint=None) -> dict:
        """Trains with Adam on batches shuffled (and under ``binarize="dynamic"``
        binarized) from (seed, epoch) alone (``tfae.datasets.epoch_batches``), stopping
        early on the validation loss; with a ``tfae.runs.resume.Checkpoint``,
        resumes from it and saves it after every epoch."""
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      steps_per_execution=config.steps_per_execution,
                      jit_compile=config.jit_compile)
        if config.jit_compile and not model.jit_compile:
            raise ValueError(
                "Keras refused jit_compile=True for this model: TensorFlow's op determinism is "
                "on in this process, or a layer does not support XLA; train without "
                "--jit-compile."
            )
        stopping = None if config.patience is None else resume.ResumableEarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True)
        callbacks = [keras.callbacks.TerminateOnNaN(), *([stopping] if stopping else [])]
        done = {"epoch": 0, "history": {}, "seconds": 0.0, "finished": False}
        if checkpoint is not None:
            done = checkpoint.restore(model, stopping) or done
            callbacks.append(resume.CheckpointEveryEpoch(
                checkpoint, done["history"], done["seconds"], config.epochs, stopping))
        history = done["history"]  # the checkpoint's callback extends it epoch by epoch
        if not done["finished"]:
            train = splits["train"]
            batches = tfae.datasets.epoch_batches(
                train, config.batch_size, config.epochs, seed=config.seed,
                initial_epoch=done["epoch"], binarize=config.binarize == "dynamic")
            # One iterator for every epoch (steps_per_epoch); the batches are shuffled
            # from (seed, epoch) already.
            fitted = model.fit(batches, validation_data=splits["valid"], epochs=config.epochs,
                               initial_epoch=done["epoch"], callbacks=callbacks,
                               steps_per_epoch=math.ceil(len(train) / config.batch_size),
                               shuffle=False, verbose=config.verbose).history
            history = history if checkpoint is not None else fitted
        if not np.all(np.isfinite(history["loss"])):
            raise FloatingPointError(
                f"training produced a non-finite loss at epoch {len(history['loss'])}; "
                "lower --learning-rate or check the data. Nothing was written."
            )
        return {name: [float(value) for value in values] for name, values in history.items()}

    #: The model's loss terms (``Model.evaluate``) that ``score`` reports -> their keys.
    term_keys = MappingProxyType({"loss": "reconstruction_nll"})

    #: Key of each score -> what it is (``metrics.json``'s ``"notes"``).
    notes = MappingProxyType({
        "reconstruction_nll": "-log p(x | g(f(x))), the reconstruction error the autoencoder "
                              "minimises: not a likelihood of x (exp(-l(x)) does not sum to 1 "
                              "over x), so no model's NLL compares with it",
        "pixel_mean_nll": PIXEL_MEAN_NOTE + "; as a reconstruction error, that of the "
                          "constant reconstruction r = the per-pixel means",
    })

    def summary_scores(self, model, history: dict) -> dict:
        return {"epochs_run": len(history["loss"]), "parameters": int(model.count_params()),
                "notes": {**COMMON_NOTES, **self.notes}}

    def score(self, model, x, x_train, seed: int = 0, batch_size: int = EVALUATION_BATCH_SIZE):
        """The model's mean loss terms on ``x`` under the keys of ``term_keys`` (see
        ``notes``) beside the per-pixel-mean model's -log p(x) (its per-pixel means
        fitted on ``x_train``)."""
        terms = model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
        baseline = float(tfae.metrics.pixel_mean_nll(x_train, x, model.likelihood).mean())
        return {**{key: float(terms[term]) for term, key in self.term_keys.items()},
                "pixel_mean_nll": baseline, "examples": int(len(x))}

    def save(self, model, folder) -> None:
        model.save(Path(folder) / "model.keras")

    def load(self, folder):
        return load_model(folder, self.model_class)

    def sample(self, model, num_samples: int, seed: int, **options):
        return np.asarray(model.sample(num_samples, seed=seed))

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """Test examples (one per class, see ``figures.showcase``) above their
        reconstructions."""
        originals = figures.showcase(splits["test"], figures.labels_of(splits, "test"), seed)
        figures.write_image_rows(
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
    term_keys = MappingProxyType({"denoising": "denoising_nll", "walkback": "walkback_nll"})
    notes = MappingProxyType({
        "denoising_nll": "-log p(x | x~), x~ ~ C(x~ | x) one seeded corruption per example: "
                         "the denoising term of the training loss",
        "walkback_nll": "the walkback terms of the training loss (0 without walkback_steps), "
                        "-log p(x | x~) at points the chain visits, summed: not a denoising "
                        "NLL of its own; denoising_nll + walkback_nll is history.json's "
                        "val_loss",
        "identity_denoising_nll": "-log p(x | x~) of the denoiser that returns x~, trusting "
                                  "it as much as the corruption keeps values on the training "
                                  "split (tfae.runs.baselines.identity_denoising_nll): the "
                                  "baseline of denoising_nll",
        "pixel_mean_nll": PIXEL_MEAN_NOTE + "; as it ignores x~, also the -log p(x | x~) of "
                          "a denoiser that ignores x~: a baseline of denoising_nll",
    })

    @property
    def model_class(self) -> type:
        return tfae.DenoisingAutoencoder

    def score(self, model, x, x_train, seed: int = 0, batch_size: int = EVALUATION_BATCH_SIZE):
        """The denoising and walkback terms on ``x``, beside the denoising NLL of two
        baselines: the per-pixel-mean model (which ignores x~) and the identity
        denoiser (``baselines.identity_denoising_nll``, its trust in x~ estimated on
        the first ``IDENTITY_BASELINE_EXAMPLES`` examples of ``x_train``), each
        corrupted once with seeds drawn from ``numpy.random.default_rng(seed)``. Under
        dynamic binarization (grey ``x_train``, binary ``x``) the training examples are
        binarized once, from the same generator, as training binarizes them."""
        scores = super().score(model, x, x_train, seed, batch_size)
        train = np.asarray(x_train, np.float32)[:IDENTITY_BASELINE_EXAMPLES]
        held_out = np.asarray(x, np.float32)
        rng = np.random.default_rng(seed)
        train_seed, held_out_seed = (tf.constant(pair, tf.int32)
                                     for pair in rng.integers(0, 2**31 - 1, size=(2, 2)))
        if (isinstance(model.likelihood, tfae.likelihoods.Bernoulli)
                and np.isin(held_out, (0.0, 1.0)).all() and not np.isin(train, (0.0, 1.0)).all()):
            train = (rng.uniform(size=train.shape) < train).astype(np.float32)
        corrupt = model.corruption.corrupt
        identity = baselines.identity_denoising_nll(
            train, np.asarray(corrupt(train, train_seed)),
            held_out, np.asarray(corrupt(held_out, held_out_seed)), model.likelihood)
        return {"denoising_nll": scores["denoising_nll"],
                "walkback_nll": scores["walkback_nll"],
                "identity_denoising_nll": float(identity.mean()),
                "pixel_mean_nll": scores["pixel_mean_nll"], "examples": scores["examples"]}

    def sample(self, model, num_samples: int, seed: int, num_steps: int = 200):
        return np.asarray(model.sample_chain(num_chains=num_samples, num_steps=num_steps,
                                             seed=seed, return_all=False))

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """The lecture's three rows: originals (one per class, see
        ``figures.showcase``), corrupted, reconstructed."""
        originals = figures.showcase(splits["test"], figures.labels_of(splits, "test"), seed)
        corrupted = model.corrupt(originals, seed=seed)
        figures.write_image_rows(
            {"original": originals, "corrupted": corrupted,
             "reconstructed": model.denoise(corrupted)},
            Path(folder) / "reconstructions.png")


class MADESpec(KerasSpec):
    name = "made"
    summary = "MADE, the masked autoencoder with an exact likelihood"
    flatten = True
    default_args = MappingProxyType({})
    parts = ("sampler", "conditionals", "log_prob")
    term_keys = MappingProxyType({"loss": "nll"})
    notes = MappingProxyType({
        "nll": "-log p(x), MADE's exact negative log-likelihood (of its ensemble of masks "
               "when num_masks > 1): the same quantity as pixel_mean_nll",
        "pixel_mean_nll": PIXEL_MEAN_NOTE + ": the baseline of nll",
    })

    @property
    def model_class(self) -> type:
        return tfae.MADE

    def build(self, config, event_shape: tuple):
        return tfae.MADE(math.prod(event_shape), **config.model_args)

    def fit(self, model, config, splits: dict, checkpoint=None) -> dict:
        """Trains as every Keras model does, from output biases at the training data's
        per-value model (``MADE.adapt``), so the first epochs do not learn marginals."""
        model.adapt(splits["train"])
        return super().fit(model, config, splits, checkpoint)

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """The lecture's MADE figure: samples beside their nearest training examples."""
        figures.write_samples(self.sample(model, figures.NUM_SHOWN, seed), splits["train"],
                              Path(folder) / "samples.png")


class VAESpec(KerasSpec):
    name = "vae"
    summary = "the variational autoencoder, trained on the ELBO"
    parts = (*KerasSpec.parts, "sampler")
    fields = (*KerasSpec.fields, "importance_samples")
    score_options = MappingProxyType({**KerasSpec.score_options, "importance_samples": 100})
    term_keys = MappingProxyType({"reconstruction": "reconstruction_nll", "kl": "kl"})
    notes = MappingProxyType({
        "iw_nll": "-log p(x) estimated with importance_samples importance samples per "
                  "example (Burda et al.): in expectation an upper bound on the true NLL, "
                  "tighter as importance_samples grows; the same quantity as pixel_mean_nll",
        "elbo": "the evidence lower bound E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x) "
                "(one draw of z per example, beta not used): a log-likelihood bound, so "
                "elbo <= -iw_nll up to Monte Carlo noise",
        "reconstruction_nll": "E_q[-log p(x | z)], one draw of z per example (the mean over "
                              "training_samples draws for a model trained on the "
                              "importance-weighted bound): the first term of -elbo, not a "
                              "likelihood of x",
        "kl": "KL(q(z | x) || p(z)), the second term of -elbo (reconstruction_nll + kl ~ "
              "-elbo; the training loss weighs it by beta)",
        "importance_samples": "the importance samples per example of iw_nll",
        "pixel_mean_nll": PIXEL_MEAN_NOTE + ": the baseline of iw_nll",
    })

    @property
    def model_class(self) -> type:
        return tfae.VAE

    def run_score_options(self, config) -> dict:
        return {"importance_samples": config.importance_samples}

    def fit(self, model, config, splits: dict, checkpoint=None) -> dict:
        """Trains as every Keras model does; a VampPrior's pseudo-inputs start at
        training examples (``VampPrior.adapt``)."""
        if isinstance(model.prior_layer, tfae.priors.VampPrior):
            model.prior_layer.adapt(splits["train"])
        return super().fit(model, config, splits, checkpoint)

    def score(self, model, x, x_train, seed: int = 0, batch_size: int = EVALUATION_BATCH_SIZE,
              importance_samples: int = 100) -> dict:
        """The ELBO's terms, the ELBO and the importance-weighted -log p(x) (k =
        ``importance_samples``), both seeded by ``seed``, beside the per-pixel-mean
        model's -log p(x)."""
        elbo = np.mean(model.elbo(x, seed=seed).numpy())
        log_prob = np.mean(model.log_prob(x, num_samples=importance_samples, seed=seed).numpy())
        return {**super().score(model, x, x_train, seed, batch_size), "elbo": float(elbo),
                "iw_nll": -float(log_prob), "importance_samples": int(importance_samples)}

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """Originals above reconstructions; samples (draws and means of p(x | z), beside
        the nearest training examples of the means) in ``samples.png``."""
        super().figures(model, splits, folder, seed)
        means = np.asarray(model.sample(figures.NUM_SHOWN, seed=seed, return_means=True))
        figures.write_image_rows(
            {"samples x ~ p(x | z)": self.sample(model, figures.NUM_SHOWN, seed),
             "their means E[x | z]": means,
             "nearest training example": figures.nearest_training_examples(
                 means, splits["train"])},
            Path(folder) / "samples.png")
