"""The exportable parts of a fitted ``tfae.GaussianMixture``.

- ``"log_prob"``: ``log_prob(x) -> {"log_prob": log p(x)}``, shape (batch,): anomaly
  scores on the device, ``GaussianMixture.score_samples`` in the file.
- ``"sampler"``: ``sample(u, eps) -> {"x": mu_z + A_z eps, "z": z}`` for u (batch, 1)
  uniform on [0, 1) and eps (batch, d) standard normal: z is the component whose
  interval of cumulative weights holds u (as NumPy's ``choice(K, p=weights)`` picks
  it), A_z the Cholesky factor of Sigma_z, and z comes out as float32. Fed the noise
  that ``GaussianMixture.sample(n, seed=s)`` draws, it gives the same samples
  (``tfae.mixture.sampling.from_noise``).

The files hold the fitted parameters as float32 constants and compute in float32
with builtin LiteRT ops only. The log-density whitens each component's data,
y = L_k^T (x - mu_k) with the precision Cholesky factor L_k (as EM does); the means,
the log-weight offsets and the cumulative weights are stored as pairs hi + lo with hi
a float16 number, so that x - mu_k keeps its digits for data far from the origin (and
under ``quantize="float16"``); log-sum-exp over the components is written as
max + log(sum(exp(. - max))). float32 reaches 1e-5 (scaled) against the float64
mixture while the covariances' condition numbers stay below about 1e4: beyond, the
rounding of x - mu_k to float32 alone costs about 6e-8 sqrt(condition) in y, whatever
the formulation (measured: 1.6e-5 at 9e3, 3e-4 at 5e5).

Quantization of these files of constants:

- ``"float16"``: every constant stored as float16; the hi + lo pairs keep the means,
  offsets and boundaries to 2^-22, the L_k and A_k lose 2^-11 (scaled errors of
  2e-4 to 8e-4 on small mixtures).
- ``"dynamic_int8"``: the converter quantizes only constant matrices of 1024 entries
  or more that feed a matmul (L_k or A_k of full or tied covariances when
  K d^2 or d^2 reaches 1024); a smaller mixture's file is the float32 file.
- ``"int8"``: everything, exp and log included, in 8-bit integers: errors of about
  0.05 in log p, and z comes out only near an integer (``errors`` counts the gap).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfae.choices import SIGNATURES
from tfae.export.endpoint import (
    Endpoint,
    component_of,
    float_spec,
    scaled_difference,
    split_float32,
)
from tfae.mixture import sampling
from tfae.mixture.gaussian_mixture import GaussianMixture
from tfae.mixture.parameters import scale_tril

PARTS = ("log_prob", "sampler")


def is_mixture(model) -> bool:
    """Whether ``model`` is a ``tfae.GaussianMixture`` (fitted or not: ``endpoint``
    refuses an unfitted one)."""
    return isinstance(model, GaussianMixture)


def _check_fitted(model) -> None:
    if not hasattr(model, "weights_"):
        raise ValueError(
            "This GaussianMixture is not fitted yet, so it has nothing to export; call "
            "fit(x) or GaussianMixture.load(path) first.")


def _parameters(model) -> dict:
    """The fitted parameters in float64."""
    return {"weights": np.asarray(model.weights_, np.float64),
            "means": np.asarray(model.means_, np.float64),
            "covariances": np.asarray(model.covariances_, np.float64),
            "precisions_cholesky": np.asarray(model.precisions_cholesky_, np.float64)}


def _log_sum_exp(joint):
    """log sum_k exp(joint[:, k]), shape (batch,), with builtin ops only."""
    top = tf.reduce_max(joint, axis=1)
    return top + tf.math.log(tf.reduce_sum(tf.exp(joint - top[:, None]), axis=1))


def _log_prob_function(params: dict, covariance_type: str):
    """The file's log p(x), float32 constants and compute."""
    weights, means, cholesky = params["weights"], params["means"], params["precisions_cholesky"]
    k, d = means.shape
    if covariance_type in ("full", "tied"):
        log_det = np.sum(np.log(np.diagonal(cholesky, axis1=-2, axis2=-1)), axis=-1)
    elif covariance_type == "diag":
        log_det = np.sum(np.log(cholesky), axis=-1)
    else:
        log_det = d * np.log(cholesky)
    # log pi_k + log det L_k - d/2 log(2 pi), in float64 before the cast.
    offset_hi, offset_lo = split_float32(
        np.log(weights) + log_det - 0.5 * d * math.log(2.0 * math.pi))
    means_hi, means_lo = split_float32(means)
    cholesky32 = cholesky.astype(np.float32)

    def log_prob(x):
        diff = (x[:, None, :] - tf.constant(means_hi)) - tf.constant(means_lo)  # (n, K, d)
        if covariance_type == "full":  # y_k = L_k^T (x - mu_k): a batch of K matmuls
            y = tf.matmul(tf.transpose(diff, [1, 0, 2]), tf.constant(cholesky32))  # (K, n, d)
            squared = tf.transpose(tf.reduce_sum(tf.square(y), axis=-1))
        elif covariance_type == "tied":
            y = tf.matmul(tf.reshape(diff, [-1, d]), tf.constant(cholesky32))
            squared = tf.reshape(tf.reduce_sum(tf.square(y), axis=-1), [-1, k])
        elif covariance_type == "diag":
            squared = tf.reduce_sum(tf.square(diff * tf.constant(cholesky32)), axis=-1)
        else:
            squared = (tf.reduce_sum(tf.square(diff), axis=-1)
                       * tf.constant(np.square(cholesky32)))
        joint = (tf.constant(offset_lo) - 0.5 * squared) + tf.constant(offset_hi)
        return {"log_prob": _log_sum_exp(joint)}

    return log_prob


def _sampler_function(params: dict, covariance_type: str):
    """The file's (x, z) from (u, eps), float32 constants and compute."""
    means, covariances = params["means"], params["covariances"]
    k, d = means.shape
    cdf = sampling.cumulative_weights(params["weights"])
    means_hi, means_lo = split_float32(means)
    if covariance_type in ("full", "tied"):
        scale = scale_tril(covariances, covariance_type, k, d)[
            0 if covariance_type == "tied" else slice(None)].astype(np.float32)
    else:
        scale = np.sqrt(covariances).astype(np.float32)

    def sample(u, eps):
        index = tf.zeros_like(u[:, 0], tf.int32) if k == 1 else component_of(u, cdf)
        z = tf.cast(index, tf.float32)
        if covariance_type == "full":
            step = tf.matmul(tf.gather(tf.constant(scale), index), eps[:, :, None])[:, :, 0]
        elif covariance_type == "tied":
            step = tf.matmul(eps, tf.constant(scale), transpose_b=True)
        elif covariance_type == "diag":
            step = tf.gather(tf.constant(scale), index) * eps
        else:
            step = tf.gather(tf.constant(scale), index)[:, None] * eps
        x = (step + tf.gather(tf.constant(means_lo), index)) + tf.gather(tf.constant(means_hi),
                                                                         index)
        return {"x": x, "z": z}

    return sample


def _sample_inputs(params: dict, n: int, rng: np.random.Generator) -> tuple:
    """u (n, 1) uniform on [0, 1) and eps (n, d) standard normal, float32."""
    u = rng.random((n, 1), dtype=np.float32)  # float32 draws stay below 1
    eps = rng.standard_normal((n, params["means"].shape[1])).astype(np.float32)
    return u, eps


def endpoint(model, part: str) -> Endpoint:
    """The ``Endpoint`` of a fitted ``tfae.GaussianMixture``'s ``part`` (module docstring).

    Args:
        model: a fitted ``tfae.GaussianMixture`` (float32 or float64).
        part: ``"log_prob"`` or ``"sampler"``.

    Returns:
        The part's ``Endpoint``.

    Raises:
        ValueError: the mixture is not fitted, or ``part`` is not one of ``PARTS``.
    """
    if not isinstance(part, str) or part not in PARTS:
        raise ValueError(f"part must be one of {PARTS} for a tfae.GaussianMixture, got "
                         f"{part!r}.")
    _check_fitted(model)
    params = _parameters(model)
    covariance_type = model.covariance_type
    d = params["means"].shape[1]
    from_noise = (model.weights_, model.means_, model.covariances_, covariance_type)

    if part == "log_prob":
        def probe(n: int, rng: np.random.Generator) -> dict:
            """Draws of the mixture with its noise widened 1.5 times, into its tails."""
            u, eps = _sample_inputs(params, n, rng)
            x, _ = sampling.from_noise(*from_noise, u[:, 0], 1.5 * eps)
            return {"x": x.astype(np.float32)}

        def reference(inputs: dict) -> dict:
            return {"log_prob": np.asarray(model.score_samples(inputs["x"]))}

        return Endpoint(part, SIGNATURES[part],
                        tf.function(_log_prob_function(params, covariance_type)),
                        (float_spec("x", (d,)),), probe, reference)

    def probe(n: int, rng: np.random.Generator) -> dict:
        u, eps = _sample_inputs(params, n, rng)
        return {"u": u, "eps": eps}

    def reference(inputs: dict) -> dict:
        x, z = sampling.from_noise(*from_noise, np.asarray(inputs["u"])[:, 0], inputs["eps"])
        return {"x": x, "z": z.astype(np.float32)}

    def errors(inputs: dict, outputs: dict) -> dict:
        """z: 0 where the file picks the model's component; else how far u is from
        the boundaries between the two picks (rounding the cumulative weights moves a
        boundary, and flips only the u that close to it), plus how far the file's z is
        from a component number (an int8 file's z is not an exact integer). x: the
        scaled difference from mu_z + A_z eps for the file's own z (rounded)."""
        u = np.asarray(inputs["u"], np.float64)[:, 0]
        expected = sampling.components(params["weights"], u)
        raw = np.asarray(outputs["z"], np.float64)
        finite = np.isfinite(raw)
        chosen = np.clip(np.round(np.where(finite, raw, 0.0)), 0, len(params["weights"]) - 1)
        chosen = chosen.astype(np.int64)
        z_error = np.where(finite, np.abs(raw - chosen), np.inf)
        z_error += sampling.boundary_gap(params["weights"], u, chosen, expected)
        x = sampling.locate(params["means"], params["covariances"], covariance_type, chosen,
                            inputs["eps"])
        return {"x": scaled_difference(outputs["x"], x), "z": z_error}

    return Endpoint(part, SIGNATURES[part],
                    tf.function(_sampler_function(params, covariance_type)),
                    (float_spec("u", (1,)), float_spec("eps", (d,))), probe, reference,
                    errors=errors, noise={"u": "uniform", "eps": "normal"})
