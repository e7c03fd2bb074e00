"""Fixed priors p(z) of the VAE: the standard normal, checks, and their description in a config.

A ``tfae.VAE`` saves its prior in its config, so that a ``.keras`` file holds the
whole model. ``serialize`` describes a prior as JSON-ready values: the class name
of each distribution (and linear operator) with its constructor parameters, every
tensor parameter as nested lists with its dtype and shape. ``deserialize`` builds
the same distribution back, with the same parameter values to the last bit, so
that ``log_prob`` (and every estimate built on it) is unchanged.

Priors that can be described are built from these classes, nested in any way
(their parameters being tensors, variables or numbers):

- ``tfd.MultivariateNormalDiag``, ``tfd.MultivariateNormalTriL``,
  ``tfd.MultivariateNormalLinearOperator`` (with a diagonal, lower-triangular,
  scaled-identity or full-matrix scale);
- ``tfd.Normal``, ``tfd.Independent``;
- ``tfd.Categorical`` and ``tfd.MixtureSameFamily``, which covers every
  ``tfae.GaussianMixture(...).fit(z).distribution``.

Examples:
    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> from tfae import priors
    >>> tfd = tfp.distributions
    >>> prior = tfd.MixtureSameFamily(
    ...     tfd.Categorical(logits=[0.0, 1.0]),
    ...     tfd.MultivariateNormalDiag(loc=[[-1.0, 0.0], [1.0, 0.0]], scale_diag=[[1.0, 1.0]] * 2))
    >>> copy = priors.deserialize(priors.serialize(prior))
    >>> float(copy.log_prob([0.5, 0.5])) == float(prior.log_prob([0.5, 0.5]))
    True
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks

tfd = tfp.distributions

#: Distributions that ``serialize`` can describe, by class name.
DISTRIBUTIONS = {cls.__name__: cls for cls in (
    tfd.MultivariateNormalDiag, tfd.MultivariateNormalTriL, tfd.MultivariateNormalLinearOperator,
    tfd.Normal, tfd.Independent, tfd.Categorical, tfd.MixtureSameFamily)}

#: Scales of ``tfd.MultivariateNormalLinearOperator`` that ``serialize`` can describe.
LINEAR_OPERATORS = {cls.__name__: cls for cls in (
    tf.linalg.LinearOperatorDiag, tf.linalg.LinearOperatorLowerTriangular,
    tf.linalg.LinearOperatorScaledIdentity, tf.linalg.LinearOperatorFullMatrix)}

_SAVABLE = ("MultivariateNormalDiag, MultivariateNormalTriL, MultivariateNormalLinearOperator, "
            "Normal, Independent, Categorical and MixtureSameFamily of these (such as "
            "tfae.GaussianMixture(...).fit(z).distribution), with tensor or number parameters")


def standard_normal(latent_dim: int, dtype="float32") -> tfd.Distribution:
    """Returns N(0, I) over vectors of ``latent_dim`` values, named ``"StandardNormal"``.

    Raises:
        ValueError, TypeError: ``latent_dim`` is not an int >= 1.
    """
    shape = [_checks.check_positive_int(latent_dim, "latent_dim")]
    return tfd.MultivariateNormalDiag(loc=tf.zeros(shape, dtype), scale_diag=tf.ones(shape, dtype),
                                      name="StandardNormal")


def check(prior, latent_dim: int) -> tfd.Distribution:
    """Returns ``prior`` after checking that it is one distribution over real z of
    shape (``latent_dim``,)."""
    if not isinstance(prior, tfd.Distribution):
        raise TypeError(
            "prior must be a TFP distribution over z (e.g. tfd.MixtureSameFamily or "
            f"tfae.GaussianMixture(...).fit(z).distribution) or None, got "
            f"{type(prior).__name__}."
        )
    event_shape = tuple(prior.event_shape.as_list()) if prior.event_shape.is_fully_defined() \
        else tuple(int(d) for d in prior.event_shape_tensor())
    batch_shape = tuple(prior.batch_shape.as_list()) if prior.batch_shape.is_fully_defined() \
        else tuple(int(d) for d in prior.batch_shape_tensor())
    if event_shape != (latent_dim,):
        raise ValueError(
            f"the prior has event shape {event_shape}, but z has shape ({latent_dim},) "
            f"(latent_dim={latent_dim}); give a distribution over vectors of {latent_dim} "
            "values (e.g. wrap independent ones in tfd.Independent), or change latent_dim."
        )
    if batch_shape != ():
        raise ValueError(
            f"the prior has batch shape {batch_shape}; it must be one distribution over z "
            "(batch shape ()), e.g. tfd.MixtureSameFamily rather than a batch of Gaussians."
        )
    if not prior.dtype.is_floating:
        raise TypeError(f"the prior must be over real z, got dtype {prior.dtype.name}.")
    return prior


def has_analytic_kl(prior, latent_dim: int) -> bool:
    """True when TFP knows KL(q || prior) in closed form for a diagonal Gaussian q."""
    q = tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim], prior.dtype),
                                   scale_diag=tf.ones([latent_dim], prior.dtype))
    try:
        tfd.kl_divergence(q, prior)
    except NotImplementedError:
        return False
    return True


def log_prob(prior, z):
    """Returns log p(z) in z's dtype (z is cast to the prior's dtype first)."""
    return tf.cast(prior.log_prob(tf.cast(z, prior.dtype)), z.dtype)


def standard_normal_kl(loc, scale):
    """Returns KL(N(loc, diag scale^2) || N(0, I)) in closed form, summed over the last axis."""
    return tf.reduce_sum(0.5 * (tf.square(loc) + tf.square(scale) - 1.0) - tf.math.log(scale),
                         axis=-1)


def analytic_kl(loc, scale, prior):
    """Returns KL(N(loc, diag scale^2) || prior) from TFP's closed forms, in loc's dtype.

    Raises:
        NotImplementedError: TFP knows no closed form for this prior (``has_analytic_kl``).
    """
    q = tfd.MultivariateNormalDiag(loc=tf.cast(loc, prior.dtype),
                                   scale_diag=tf.cast(scale, prior.dtype))
    return tf.cast(tfd.kl_divergence(q, prior), loc.dtype)


# ------------------------------------------------------------------ saving


def serialize(prior) -> dict:
    """Describes ``prior`` as JSON-ready values (see the module docstring).

    Raises:
        ValueError: the prior, or a distribution or parameter inside it, is not one
            that tfae can describe; the message names it and says how to proceed.
    """
    if not isinstance(prior, tfd.Distribution):
        raise TypeError(f"prior must be a TFP distribution, got {type(prior).__name__}.")
    return _describe(prior, "the prior")


def deserialize(config: dict) -> tfd.Distribution:
    """Builds the distribution that ``serialize`` described."""
    if isinstance(config, dict) and set(config) == {"custom"}:  # written by tfae 0.1.0
        raise ValueError(
            f"this VAE was saved with a prior that the file does not hold ({config['custom']}); "
            "build the VAE again with the same arguments and that prior, then load the "
            "weights from the file: vae = tfae.VAE(..., prior=<the distribution>); "
            "vae.load_weights(path)."
        )
    if not isinstance(config, dict) or "distribution" not in config:
        raise ValueError(
            f"a prior config is a dict with the key 'distribution' (from tfae.priors.serialize), "
            f"got {config!r}."
        )
    try:
        return _build(config)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ValueError(
            f"this prior config cannot be built back into a distribution ({type(error).__name__}: "
            f"{error}); pass a config written by tfae.priors.serialize."
        ) from error


def _unsavable(what: str) -> str:
    return (
        f"tfae cannot save a prior that is (or holds) {what} in a .keras file: it saves "
        f"priors built from {_SAVABLE}. To keep this model, save its weights "
        "(model.save_weights('vae.weights.h5')), and to restore it build the VAE again with "
        "the same prior and call load_weights."
    )


def _describe(value, where: str):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tf.DType):
        return {"dtype": value.name}
    if isinstance(value, (tfd.Distribution, tf.linalg.LinearOperator)):
        kind, known = (("distribution", DISTRIBUTIONS) if isinstance(value, tfd.Distribution)
                       else ("linear_operator", LINEAR_OPERATORS))
        name = type(value).__name__
        if known.get(name) is not type(value):
            raise ValueError(_unsavable(f"a {name} ({where})"))
        return {kind: name, "parameters": {key: _describe(parameter, f"{where}.{key}")
                                           for key, parameter in value.parameters.items()}}
    try:
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError):
        raise ValueError(_unsavable(f"a parameter of type {type(value).__name__} ({where})")) \
            from None
    array = tensor.numpy()
    return {"tensor": array.tolist(), "dtype": tensor.dtype.name, "shape": list(array.shape)}


def _build(value):
    if not isinstance(value, dict):
        return value
    if "tensor" in value:
        array = np.asarray(value["tensor"], dtype=value["dtype"]).reshape(value["shape"])
        return tf.constant(array, dtype=value["dtype"])
    if set(value) == {"dtype"}:
        return tf.as_dtype(value["dtype"])
    kind = "distribution" if "distribution" in value else "linear_operator"
    known = DISTRIBUTIONS if kind == "distribution" else LINEAR_OPERATORS
    if value.get(kind) not in known:
        raise ValueError(f"unknown {kind} {value.get(kind)!r} in a prior config; tfae builds "
                         f"{sorted(known)}.")
    return known[value[kind]](**{key: _build(parameter)
                                 for key, parameter in value["parameters"].items()})
