"""The Gaussian mixture of a run (``gmm``): fitted by EM on the principal components
of the training images, with its spec."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

import numpy as np
import tensorflow as tf

import tfae
from tfae.choices import BINARIZATIONS
from tfae.export.endpoint import float_spec
from tfae.export.mixture import endpoint as mixture_endpoint
from tfae.runs import baselines, figures
from tfae.runs.pca import PrincipalComponents
from tfae.runs.spec import ModelSpec


@dataclasses.dataclass
class ComponentMixture:
    """A ``tfae.GaussianMixture`` on the top ``pca_dim`` principal components of the
    data: images go in and come out, the mixture sees their coordinates.

    Attributes:
        pca_dim: int, the number of principal components.
        mixture: the ``tfae.GaussianMixture`` to fit on them.
        pca: the ``PrincipalComponents``, once fitted.
    """

    pca_dim: int
    mixture: object
    pca: PrincipalComponents | None = None

    def fit(self, x) -> ComponentMixture:
        """Fits the principal components of ``x`` (N, D), then the mixture by EM."""
        x = np.asarray(x, np.float64)
        self.pca = PrincipalComponents.fit(x, self.pca_dim)
        self.mixture.fit(self.pca.project(x))
        return self

    def score(self, x) -> float:
        """The mean log-likelihood per example of ``x``'s coordinates along the
        components (a density on R^pca_dim, not on the images)."""
        return float(self.mixture.score(self.project(x)))

    def project(self, x) -> np.ndarray:
        """The coordinates (N, pca_dim) of images ``x`` (N, D) along the components."""
        return self.pca.project(np.asarray(x, np.float64))

    def sample(self, num_samples: int, seed: int) -> np.ndarray:
        """Images (N, D) of draws of the mixture."""
        return self.pca.reconstruct(self.mixture.sample(num_samples, seed=seed)[0])

    def means(self) -> np.ndarray:
        """Images (K, D) of the component means."""
        return self.pca.reconstruct(self.mixture.means_)

    #: The parts ``tfae.export`` writes, in image space (see ``export_endpoint``).
    export_parts = ("sampler", "log_prob")

    def export_endpoint(self, part: str):
        """The mixture's exportable ``part`` with the principal components in the file:
        ``log_prob`` takes images x (batch, D) and gives log p(z) of their coordinates z
        (a density on the PCA space, as ``metrics.json``'s ``pca_log_likelihood``);
        ``sampler`` gives images x = mean + z @ components of the mixture's draws z,
        with their component (see ``tfae.export.mixture``)."""
        inner = mixture_endpoint(self.mixture, part)
        mean32, components32 = (self.pca.mean.astype(np.float32),
                                self.pca.components.astype(np.float32))
        if part == "log_prob":
            def log_prob(x):
                return inner.function((x - mean32) @ components32.T)

            def reference(inputs):
                return {"log_prob": self.mixture.score_samples(self.project(inputs["x"]))}

            def probe(n, rng):  # images near the data: draws of the mixture, reconstructed
                return {"x": self.sample(n, int(rng.integers(2**31))).astype(np.float32)}

            return dataclasses.replace(
                inner, function=tf.function(log_prob),
                inputs=(float_spec("x", self.pca.mean.shape),), probe=probe,
                reference=reference)

        def sample(*noise):
            outputs = inner.function(*noise)
            return {**outputs, "x": mean32 + outputs["x"] @ components32}

        def images(outputs):
            return {**outputs, "x": self.pca.reconstruct(np.asarray(outputs["x"], np.float64))}

        def coordinates(outputs):  # the file's images back on the components (orthonormal)
            return {**outputs, "x": self.project(outputs["x"])}

        return dataclasses.replace(
            inner, function=tf.function(sample),
            reference=lambda inputs: images(inner.reference(inputs)),
            errors=None if inner.errors is None else (
                lambda inputs, outputs: inner.errors(inputs, coordinates(outputs))))

    def save(self, folder) -> None:
        """Writes ``model.npz`` (the mixture) and ``pca.npz`` into ``folder``."""
        self.mixture.save(Path(folder) / "model.npz")
        self.pca.save(Path(folder) / "pca.npz")

    @classmethod
    def load(cls, folder) -> ComponentMixture:
        """Reads what ``save`` wrote into ``folder``."""
        folder = Path(folder)
        if not (folder / "model.npz").is_file():
            raise ValueError(f"{folder} holds no model.npz; pass the --out folder of "
                             "`tfae train gmm`.")
        pca = PrincipalComponents.load(folder / "pca.npz")
        return cls(len(pca.components), tfae.GaussianMixture.load(folder / "model.npz"), pca)


class MixtureSpec(ModelSpec):
    """``model_args``: ``pca_dim``, and ``tfae.GaussianMixture``'s arguments."""

    name = "gmm"
    summary = "a Gaussian mixture fitted by EM on principal components"
    fields = ("jit_compile",)
    flatten = True
    # Fitted once: a binarization redrawn every epoch has nothing to redraw for.
    binarizations = tuple(b for b in BINARIZATIONS if b != "dynamic")
    default_args = MappingProxyType({"n_components": 10, "pca_dim": 50})
    seed_arg = "random_state"
    parts = ComponentMixture.export_parts

    @property
    def model_class(self) -> type:
        return ComponentMixture

    @property
    def constructor(self) -> type:
        return tfae.GaussianMixture

    def check_model_args(self, model_args: dict) -> None:
        if "jit_compile" in model_args:
            raise ValueError("a gmm run compiles its EM steps with XLA when jit_compile=True "
                             "(--jit-compile); leave jit_compile out of model_args.")

    def build(self, config, event_shape: tuple) -> ComponentMixture:
        args = dict(config.model_args)
        pca_dim = args.pop("pca_dim", self.default_args["pca_dim"])
        return ComponentMixture(
            pca_dim, tfae.GaussianMixture(**args, jit_compile=config.jit_compile))

    def fit(self, model, config, splits: dict, checkpoint=None) -> None:
        """EM takes seconds: a killed gmm run starts over (``checkpoint`` unused)."""
        model.fit(splits["train"])

    def summary_scores(self, model, history) -> dict:
        space = f"the {model.pca_dim} principal-component coordinates of x"
        return {"em_iterations": int(model.mixture.n_iter_),
                "converged": bool(model.mixture.converged_),
                "notes": {
                    "units": "*_log_likelihood: log-likelihoods (higher is better), in nats "
                             "per example, averaged over the split's examples",
                    "pca_log_likelihood": f"log p(z), z = {space}, under the mixture: a "
                                          "density on the PCA space, not on the images, so "
                                          "comparable with no pixel-space NLL of the other "
                                          "models, only with pca_gaussian_log_likelihood",
                    "pca_gaussian_log_likelihood": f"log N(z; mean, covariance), z = {space}, "
                                                   "the Gaussian fitted to the training "
                                                   "split's z (a one-component mixture): the "
                                                   "baseline of pca_log_likelihood",
                    "examples": "the number of examples of the split scored",
                }}

    def score(self, model, x, x_train, seed: int = 0) -> dict:
        """The mixture's mean log-likelihood of the PCA coordinates of ``x``, beside that
        of one Gaussian fitted to those of ``x_train`` (see ``summary_scores``)."""
        reg_covar = getattr(model.mixture, "reg_covar", 1e-6)
        baseline = baselines.gaussian_log_likelihood(model.project(x_train), model.project(x),
                                                     reg_covar)
        return {"pca_log_likelihood": model.score(x),
                "pca_gaussian_log_likelihood": float(baseline.mean()), "examples": int(len(x))}

    def save(self, model, folder) -> None:
        model.save(folder)

    def load(self, folder) -> ComponentMixture:
        return ComponentMixture.load(folder)

    def sample(self, model, num_samples: int, seed: int) -> np.ndarray:
        return model.sample(num_samples, seed)

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        figures.write_image_rows(
            {"samples": model.sample(figures.NUM_SHOWN, seed), "means": model.means()},
            Path(folder) / "samples.png")
