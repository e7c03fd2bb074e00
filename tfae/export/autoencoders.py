"""The exportable parts of an autoencoder (``Autoencoder``, ``DenoisingAutoencoder``, ``VAE``).

- ``"encoder"``: ``encode(x) -> {"h": f(x)}``; for a ``tfae.VAE``,
  ``encode(x) -> {"h": E[z | x], "scale": the standard deviations of q(z | x)}``.
- ``"decoder"``: ``decode(h) -> {"mean": E[x | h], "params": g(h)}``, the mean of
  p(x | h) (an image) and the raw decoder outputs (logits, or loc and scale), so
  that an app can draw or sample without TFP. Fed h ~ N(0, I), it is the generative
  model of a VAE with the standard normal prior.
- ``"autoencoder"``: ``reconstruct(x) -> {"mean": g(f(x))}`` (for a VAE, the mean of
  p(x | z) at z = E[z | x], or with a posterior flow at the posterior's center).
- ``"sampler"`` (a ``tfae.VAE`` only): ``sample(u, eps) -> {"mean": E[x | z],
  "params": g(z), "z": z}``, the VAE's generative model whatever its prior, for
  u (batch, 1) uniform on [0, 1) and eps (batch, latent_dim) standard normal:
  z = loc_k + scale_k * eps, k the component of the prior whose interval of cumulative
  weights holds u (as NumPy's ``choice(K, p=weights)`` picks it). The prior must be a
  diagonal Gaussian (the standard normal included) or a mixture of diagonal Gaussians
  (``tfd.MixtureSameFamily``, e.g. ``tfae.GaussianMixture(..., covariance_type="diag")
  .fit(z).distribution``; the learned ``tfae.priors.MixturePrior`` and ``VampPrior``):
  its weights, locs and scales are read when the part is built (for a learned prior,
  ``vae.prior`` of the current weights; a VampPrior's posteriors at its
  pseudo-inputs) and stored in the file as float32 constants. Every VAE sampler takes
  ``u``, so that an app feeds all of them alike; with one Gaussian it does not read it.

``default_part`` is the generative part: the decoder, or the sampler for a VAE whose
prior is not N(0, I).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae.choices import SIGNATURES
from tfae.export.endpoint import (
    Endpoint,
    as_numpy,
    component_of,
    data_probe,
    float_spec,
    scaled_difference,
)
from tfae.mixture import sampling

tfd = tfp.distributions

PARTS = ("encoder", "decoder", "autoencoder")

#: A VAE's parts: those of every autoencoder and its sampler.
VAE_PARTS = (*PARTS, "sampler")

#: The scales of ``tfd.MultivariateNormalLinearOperator`` that make it a diagonal Gaussian.
_DIAGONAL_SCALES = (tf.linalg.LinearOperatorDiag, tf.linalg.LinearOperatorScaledIdentity,
                    tf.linalg.LinearOperatorIdentity)


def is_autoencoder(model) -> bool:
    return all(hasattr(model, name) for name in ("encoder", "decoder", "latent_dim",
                                                  "event_shape", "likelihood"))


def _is_vae(model) -> bool:
    return hasattr(model, "posterior_parameters") and hasattr(model, "prior")


def model_parts(model) -> tuple[str, ...]:
    """The parts of ``model``: ``VAE_PARTS`` for a VAE, else ``PARTS``."""
    return VAE_PARTS if _is_vae(model) else PARTS


def default_part(model) -> str:
    """The generative part: ``"sampler"`` for a VAE whose prior is not N(0, I) (one
    that the sampler cannot draw from included: exporting it then says why), else
    ``"decoder"``."""
    if not _is_vae(model):
        return "decoder"
    try:
        _, loc, scale = prior_components(model.prior)
    except ValueError:
        return "sampler"
    return "decoder" if np.all(loc == 0.0) and np.all(scale == 1.0) else "sampler"


def _is_diagonal_gaussian(distribution) -> bool:
    if isinstance(distribution, tfd.Independent):
        return isinstance(distribution.distribution, tfd.Normal)
    return (isinstance(distribution, tfd.MultivariateNormalLinearOperator)
            and isinstance(distribution.scale, _DIAGONAL_SCALES))


def prior_components(prior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights (K,), locs (K, D) and scales (K, D) of a diagonal Gaussian prior
    (K = 1) or a mixture of them, float64.

    Raises:
        ValueError: the prior is neither (e.g. a ``tfd.MultivariateNormalTriL``).
    """
    if (isinstance(prior, tfd.MixtureSameFamily)
            and _is_diagonal_gaussian(prior.components_distribution)):
        logits = np.asarray(prior.mixture_distribution.logits_parameter(), np.float64)
        weights = np.exp(logits - np.max(logits))
        components = prior.components_distribution
    elif _is_diagonal_gaussian(prior):
        weights, components = np.ones(1), prior
    else:
        inner = (f" of {type(prior.components_distribution).__name__}"
                 if isinstance(prior, tfd.MixtureSameFamily) else "")
        raise ValueError(
            f"this VAE's prior is a {type(prior).__name__}{inner}: the 'sampler' part draws z "
            "in the file only from a diagonal Gaussian (tfd.MultivariateNormalDiag, "
            "tfd.Independent(tfd.Normal)) or a tfd.MixtureSameFamily of them (such as "
            "tfae.priors.MixturePrior, VampPrior or tfae.GaussianMixture(..., "
            "covariance_type='diag').fit(z).distribution). Export part='decoder' instead and "
            "feed it z drawn from vae.prior (vae.prior.sample(n)), not from N(0, I).")
    k = len(weights)
    loc = np.asarray(components.mean(), np.float64).reshape(k, -1)
    scale = np.asarray(components.stddev(), np.float64).reshape(k, -1)
    return weights / weights.sum(), loc, scale


def _code_probe(model):
    def probe(n: int, rng: np.random.Generator) -> dict:
        return {"h": rng.standard_normal((n, model.latent_dim)).astype(np.float32)}
    return probe


def _decoded(model, z) -> dict:
    """E[x | z] and g(z) of the model at z (NumPy), through its own methods."""
    z = tf.constant(np.asarray(z, np.float32))
    return {"mean": np.asarray(model.decode(z).mean()), "params": np.asarray(model.decoder(z))}


def _sampler(model) -> Endpoint:
    """The VAE's ``sampler`` (module docstring): the prior's parameters as constants."""
    weights, loc, scale = prior_components(model.prior)
    count, latent_dim = loc.shape
    cdf = sampling.cumulative_weights(weights)
    loc32, scale32 = loc.astype(np.float32), scale.astype(np.float32)

    def sample(u, eps):
        if count == 1:
            z = tf.constant(scale32[0]) * eps + tf.constant(loc32[0])
        else:
            index = component_of(u, cdf)
            z = (tf.gather(tf.constant(scale32), index) * eps
                 + tf.gather(tf.constant(loc32), index))
        params = model.decoder(z)
        return {"mean": model.likelihood.distribution(params).mean(), "params": params, "z": z}

    def probe(n: int, rng: np.random.Generator) -> dict:
        return {"u": rng.random((n, 1), dtype=np.float32),
                "eps": rng.standard_normal((n, latent_dim)).astype(np.float32)}

    def reference(inputs: dict) -> dict:
        k = sampling.components(weights, np.asarray(inputs["u"], np.float64)[:, 0])
        z = loc[k] + scale[k] * np.asarray(inputs["eps"], np.float64)
        return {"z": z, **_decoded(model, z)}

    def errors(inputs: dict, outputs: dict) -> dict:
        """Against the component that explains the file's z best: its z and the
        model's decoding of it differ by the scaled difference, plus (where that is
        not u's component) how far u is from the boundaries between the two, which
        only rounding the cumulative weights could cross."""
        u = np.asarray(inputs["u"], np.float64)[:, :1]
        points = loc + scale * np.asarray(inputs["eps"], np.float64)[:, None, :]  # (n, K, D)
        expected = sampling.components(weights, u[:, 0])[:, None]
        gap = sampling.boundary_gap(weights, u, np.arange(count)[None, :], expected)  # (n, K)
        z = np.asarray(outputs["z"], np.float64)
        fit = np.max(scaled_difference(z[:, None, :], points), axis=-1) + gap
        best = np.argmin(np.nan_to_num(fit, nan=np.inf), axis=1)
        rows = np.arange(len(z))
        chosen, penalty = points[rows, best], gap[rows, best]
        decoded = _decoded(model, chosen)
        result = {"z": scaled_difference(z, chosen) + penalty[:, None]}
        for name, value in decoded.items():
            shape = (-1,) + (1,) * (value.ndim - 1)
            result[name] = scaled_difference(outputs[name], value) + penalty.reshape(shape)
        return result

    return Endpoint("sampler", SIGNATURES["sampler"], tf.function(sample),
                    (float_spec("u", (1,)), float_spec("eps", (latent_dim,))), probe, reference,
                    errors=errors, noise={"u": "uniform", "eps": "normal"})


def endpoint(model, part: str) -> Endpoint:
    """The ``Endpoint`` of an autoencoder's ``part`` (see the module docstring).

    Raises:
        ValueError: ``part`` is not one of ``model_parts(model)``; the encoder of a VAE
            with a posterior flow; the sampler of a VAE whose prior is not a diagonal
            Gaussian or a mixture of them (``prior_components``).
    """
    if part not in model_parts(model):
        raise ValueError(f"part must be one of {model_parts(model)} for a "
                         f"{type(model).__name__}, got {part!r}.")
    if part == "sampler":
        return _sampler(model)
    is_vae = _is_vae(model)
    x_spec = float_spec("x", model.event_shape)
    if part == "decoder":
        def decode(h):
            params = model.decoder(h)
            return {"mean": model.likelihood.distribution(params).mean(), "params": params}

        def reference(inputs):
            return {"mean": model.decode(inputs["h"]).mean(),
                    "params": model.decoder(inputs["h"])}

        return Endpoint(part, SIGNATURES[part], tf.function(decode),
                        (float_spec("h", (model.latent_dim,)),), _code_probe(model),
                        lambda inputs: as_numpy(reference(inputs)), noise={"h": "normal"})
    if part == "encoder" and getattr(model, "posterior_flow", None) is not None:
        raise ValueError(
            "this VAE's q(z|x) has a posterior flow: it is no Gaussian N(h, diag scale^2) "
            "that an encoder file could return; export the 'autoencoder' (reconstructions "
            "at the posterior's center) or the 'decoder'.")
    if part == "encoder" and is_vae:  # q(z | x) = N(h, diag(scale^2))
        def encode(x):
            loc, scale = model.posterior_parameters(x)
            return {"h": loc, "scale": scale}

        def reference(inputs):
            posterior = model.encode(inputs["x"])
            return {"h": posterior.mean(), "scale": posterior.stddev()}
    elif part == "encoder":
        def encode(x):
            return {"h": model.encoder(x)}

        def reference(inputs):
            return {"h": model.encode(inputs["x"])}
    else:
        def encode(x):
            return {"mean": model.reconstruct(x)}

        def reference(inputs):
            return {"mean": model.reconstruct(inputs["x"])}
    return Endpoint(part, SIGNATURES[part], tf.function(encode), (x_spec,),
                    data_probe(model), lambda inputs: as_numpy(reference(inputs)))
