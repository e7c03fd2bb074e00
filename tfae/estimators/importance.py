"""Importance-weighted log p(x) and the ELBO, with a proposal q(z | x) from an encoder.

A VAE's encoder gives a proposal that looks at x, q(z | x) = N(z; mu(x), diag
sigma(x)^2). With the importance weights

    w_i = p(x | z_i) p(z_i) / q(z_i | x),    z_i = mu(x) + sigma(x) * eps_i,    eps_i ~ N(0, I),

the two estimates are

    log p(x) ~= log (1/k) sum_{i=1}^k w_i                (importance-weighted, Burda et al.)
    ELBO(x) = E_q[log p(x | z)] - KL(q(z|x) || p(z)) ~= (1/k) sum_{i=1}^k log w_i.

The first is the k-sample bound: its expectation is the ELBO for k = 1 and increases
to log p(x) as k grows. The ELBO may use the closed-form KL term instead of its
Monte Carlo estimate (``elbo(..., kl=...)``).

Memory stays bounded for any k: the draws are taken ``chunk_size`` at a time, and
examples ``batch_size`` at a time, in one compiled loop per batch. The draws of a
given seed are fixed: for batch b (examples b * batch_size onwards) and chunk c,
eps of shape (chunk_size, batch, latent_dim) comes from the stateless seed
``fold_in(fold_in([seed, 0], b), c)`` (``tf.random.experimental.stateless_fold_in``),
and the draws of the last chunk past k are not used. The same seed, ``batch_size``
and ``chunk_size`` therefore give the same estimate.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks, priors

tfd = tfp.distributions

#: Values per chunk of draws when ``chunk_size`` is None: the decoder's activations and
#: outputs for chunk_size x batch_size draws of z. 2**25 float32 values are 128 MiB (a
#: dense 784-500-500 decoder: about 100 draws x 100 images).
CHUNK_VALUES = 2**25

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True, eq=False)
class LatentVariableModel:
    """The parts of p(x, z) = p(z) p(x | z) and of q(z | x) that the estimates need.

    The estimates compile their loop once per instance: keep one instance per model
    and pass it to every call (calls with examples of the same shape then reuse the
    compiled loop; many instances do not trigger TF's excessive-retracing warning).

    Attributes:
        posterior: callable x -> (loc, scale), each (batch, latent_dim) with scale > 0:
            the parameters of q(z | x) = N(z; loc, diag scale^2), e.g. from an encoder.
        log_likelihood: callable (x, z) -> log p(x | z): z of shape (samples, batch,
            latent_dim) to a tensor (samples, batch), e.g. a decoder and its likelihood.
            It receives x in the dtype of ``loc``.
        prior: p(z), a TFP distribution with event shape (latent_dim,), or a callable
            returning one (a prior with weights that change during training, such as
            ``tfae.priors.VampPrior``: called once per compiled batch); z is cast to
            its dtype.
        values_per_draw: int or None, about how many values evaluating log p(x | z)
            keeps per draw of z, which sizes the chunks when ``chunk_size`` is None
            (``decoder_values_per_draw`` counts those of a Keras decoder). None counts
            three per value of one example. Defaults to None.
        flow: callable (z_0, context) -> (z, log_det) or None: a posterior flow (e.g.
            ``tfae.flows.InverseAutoregressiveFlow``) applied to the Gaussian draws
            z_0 = loc + scale * eps, with ``posterior`` then returning (loc, scale,
            context); log q(z | x) = log N(z_0; loc, diag scale^2) - log_det. Defaults
            to None (q(z | x) is the Gaussian).
    """

    posterior: Callable
    log_likelihood: Callable
    prior: tfd.Distribution | Callable
    values_per_draw: int | None = None
    flow: Callable | None = None

    def __post_init__(self):
        for name in ("posterior", "log_likelihood"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {getattr(self, name)!r}.")
        if not isinstance(self.prior, tfd.Distribution) and not callable(self.prior):
            raise TypeError(f"prior must be a TFP distribution or a callable returning one, "
                            f"got {type(self.prior).__name__}.")
        if self.flow is not None and not callable(self.flow):
            raise TypeError(f"flow must be callable or None, got {self.flow!r}.")
        if self.values_per_draw is not None:
            _checks.check_positive_int(self.values_per_draw, "values_per_draw")

    def prior_distribution(self) -> tfd.Distribution:
        """Returns p(z): ``prior`` itself, or what it returns when it is a callable."""
        return self.prior if isinstance(self.prior, tfd.Distribution) else self.prior()

    def draw(self, posterior, eps):
        """Returns (z, log q(z | x)) for noise ``eps`` (..., batch, latent_dim), from the
        output of ``posterior``: z = loc + scale * eps, then the flow if there is one."""
        loc, scale = posterior[:2]
        z, log_q = loc + scale * eps, posterior_log_prob(eps, scale)
        if self.flow is None:
            return z, log_q
        z, log_det = self.flow(z, posterior[2])
        return z, log_q - log_det

    @functools.cached_property
    def _compiled_sums(self):
        # A partial has no code object, so TF counts the traces of each instance on
        # their own (a shared function traced once per model would warn of retracing).
        return tf.function(functools.partial(_log_weight_sums, self), reduce_retracing=True)


def posterior_log_prob(eps, scale):
    """Returns log q(z | x) at z = loc + scale * eps, summed over the last axis.

    Computed from eps itself, so it is exact even where (z - loc) / scale would lose
    digits (scale much smaller than |loc|).
    """
    return tf.reduce_sum(-0.5 * tf.square(eps) - _HALF_LOG_TWO_PI - tf.math.log(scale), axis=-1)


def decoder_log_likelihood(decoder, likelihood, x, z, training=False):
    """Returns log p(x | z) for every draw of z, from a decoder and its likelihood head.

    Args:
        decoder: a Keras model or layer mapping z (n, latent_dim) to the parameters of
            p(x | z).
        likelihood: a ``tfae.likelihoods.Likelihood`` turning them into p(x | z).
        x: tensor (batch, ...), the examples.
        z: tensor (samples, batch, latent_dim), draws of z for each example.
        training: bool, passed to the decoder. Defaults to False.

    Returns:
        tensor (samples, batch).
    """
    samples, batch = tf.shape(z)[0], tf.shape(z)[1]
    latent_dim = z.shape[-1] if z.shape[-1] is not None else tf.shape(z)[-1]
    params = decoder(tf.reshape(z, [-1, latent_dim]), training=training)
    # x once per draw, in the order of the flattened z: (samples * batch, ...).
    tiled = tf.reshape(tf.repeat(x[None], samples, axis=0), tf.concat([[-1], tf.shape(x)[1:]], 0))
    return tf.reshape(likelihood.distribution(params).log_prob(tiled), [samples, batch])


def monte_carlo_kl(loc, scale, prior, num_samples: int = 1000, seed: int | None = None):
    """Returns the Monte Carlo estimate of KL(q || p(z)), q = N(loc, diag scale^2): the mean
    of log q(z) - log p(z) over ``num_samples`` draws z ~ q, shape (batch,).

    Args:
        loc: tensor (batch, latent_dim), the means of q.
        scale: tensor (batch, latent_dim), the standard deviations of q.
        prior: p(z), a TFP distribution with event shape (latent_dim,).
        num_samples: int >= 1, draws per example. Defaults to 1000.
        seed: int or None; the draws come from the stateless seed [seed, 1]. Defaults to
            None (a seed from NumPy's global generator).
    """
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    seed = _checks.resolve_seed(seed)
    loc, scale = _checked_gaussian(loc, scale)
    if not isinstance(prior, tfd.Distribution):
        raise TypeError(f"prior must be a TFP distribution, got {type(prior).__name__}.")
    if prior.event_shape.rank is not None and prior.event_shape[-1:] != loc.shape[-1:]:
        raise ValueError(
            f"the prior has event shape {prior.event_shape}, but loc and scale have "
            f"{loc.shape[-1]} latent values per example.")
    eps = tf.random.stateless_normal([num_samples, *loc.shape], [seed, 1], dtype=loc.dtype)
    z = loc + scale * eps
    return tf.reduce_mean(posterior_log_prob(eps, scale) - priors.log_prob(prior, z), axis=0)


def _checked_gaussian(loc, scale):
    """Returns ``loc`` and ``scale`` as float tensors (batch, latent_dim) of the same shape,
    after checking (when their values are known) that they are finite, scale > 0."""
    tensors = []
    for value, name in ((loc, "loc"), (scale, "scale")):
        if isinstance(value, (tf.Tensor, tf.Variable)):
            tensor = value
            if not tensor.dtype.is_floating:
                raise TypeError(f"{name} must be a float tensor, got dtype {tensor.dtype.name}.")
        else:
            original = np.asarray(_checks.as_float_array(value, name, "float64"))
            dtype = value.dtype if isinstance(value, np.ndarray) and \
                np.issubdtype(value.dtype, np.floating) else np.float32
            tensor = tf.constant(original.astype(dtype))
        if tensor.shape.rank != 2:
            raise ValueError(f"{name} must have shape (batch, latent_dim), got {tensor.shape}.")
        if tf.executing_eagerly():
            _checks.check_finite(tensor.numpy(), name)
        tensors.append(tensor)
    loc, scale = tensors
    if loc.shape != scale.shape:
        raise ValueError(f"loc and scale must have the same shape, got {loc.shape} and "
                         f"{scale.shape}.")
    if tf.executing_eagerly() and not bool(tf.reduce_all(scale > 0)):
        raise ValueError("scale must be > 0 (the standard deviations of q).")
    return loc, tf.cast(scale, loc.dtype)


def decoder_values_per_draw(decoder, event_shape, params_per_value: int = 1) -> int:
    """Counts the values a decoder computes (and keeps for log p(x | z)) per draw of z:
    the outputs of its layers, plus x, the parameters of p(x | z) and their log-densities.

    Args:
        decoder: a Keras model (its layers' outputs are counted) or layer.
        event_shape: tuple, the shape of one example x.
        params_per_value: int, parameters of p(x | z) per value of x. Defaults to 1.
    """
    size = math.prod(event_shape) * (params_per_value + 2)
    for layer in getattr(decoder, "layers", []):
        try:
            size += math.prod(layer.output.shape[1:])
        except (AttributeError, ValueError, TypeError):  # no single output of known shape
            pass
    return max(size, 1)


def importance_weighted_log_prob(model: LatentVariableModel, x, num_samples: int = 100,
                                 seed: int | None = None, batch_size: int = 100,
                                 chunk_size: int | None = None) -> np.ndarray:
    """Returns log (1/k) sum_{i=1}^k w_i for each example, with k = ``num_samples``.

    Args:
        model: ``LatentVariableModel``, q(z | x), log p(x | z) and p(z).
        x: array of examples (batch, ...).
        num_samples: int >= 1, the number k of draws of z ~ q(z | x) per example.
            Defaults to 100.
        seed: int or None, seeds the draws (see the module docstring); None draws a
            seed from NumPy's global generator. Defaults to None.
        batch_size: int >= 1, examples per compiled call. Defaults to 100.
        chunk_size: int or None, draws per example evaluated at once; None chooses it
            so that one chunk holds about ``CHUNK_VALUES`` values. Defaults to None.

    Returns:
        float array (batch,), in nats, in the dtype of q's parameters.

    Raises:
        ValueError: empty x, or a count below 1.

    Examples:
        >>> import numpy as np, tensorflow as tf, tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> def posterior(x):  # z ~ N(0, 1), x | z ~ N(z, 1): p(z | x) = N(x / 2, 1 / 2)
        ...     return x / 2, tf.fill(tf.shape(x), 0.5 ** 0.5)
        >>> def log_likelihood(x, z):  # (samples, batch, 1) -> (samples, batch)
        ...     return tfd.Normal(z, 1.0).log_prob(x)[..., 0]
        >>> prior = tfd.MultivariateNormalDiag([0.0])
        >>> model = LatentVariableModel(posterior, log_likelihood, prior)
        >>> x = np.array([[0.0], [1.5]], "float32")
        >>> exact = tfd.Normal(0.0, 2.0 ** 0.5).log_prob(x[:, 0])  # p(x) = N(0, 2)
        >>> bool(np.allclose(importance_weighted_log_prob(model, x, 10, seed=0), exact, atol=1e-5))
        True

    References:
        Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """
    x, num_samples, batch_size = _check(model, x, num_samples, batch_size)
    log_sum_w, _, _ = _sums(model, x, num_samples, seed, batch_size, chunk_size)
    return log_sum_w - math.log(num_samples)


def elbo(model: LatentVariableModel, x, num_samples: int = 1, seed: int | None = None,
         batch_size: int = 100, chunk_size: int | None = None, kl=None) -> np.ndarray:
    """Returns the evidence lower bound E_q[log p(x | z)] - KL(q(z|x) || p(z)) of each example.

    The expectation is estimated with ``num_samples`` draws z ~ q(z | x); the KL term
    is ``kl(loc, scale)`` when given (a closed form), otherwise its Monte Carlo
    estimate at the same draws, which makes the estimate (1/k) sum_i log w_i.

    Args:
        model: ``LatentVariableModel``, q(z | x), log p(x | z) and p(z).
        x: array of examples (batch, ...).
        num_samples: int >= 1, draws of z per example. Defaults to 1.
        seed: int or None, seeds the draws (see the module docstring). Defaults to None.
        batch_size: int >= 1, examples per compiled call. Defaults to 100.
        chunk_size: int or None, as in ``importance_weighted_log_prob``. Defaults to None.
        kl: callable (loc, scale) -> KL(q(z|x) || p(z)) of shape (batch,), or None for
            the Monte Carlo estimate. Defaults to None.

    Returns:
        float array (batch,), in nats.

    Examples:
        >>> import numpy as np, tensorflow as tf, tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> model = LatentVariableModel(  # the exact posterior: the bound is log p(x) itself
        ...     lambda x: (x / 2, tf.fill(tf.shape(x), 0.5 ** 0.5)),
        ...     lambda x, z: tfd.Normal(z, 1.0).log_prob(x)[..., 0],
        ...     tfd.MultivariateNormalDiag([0.0]))
        >>> x = np.array([[0.0], [1.5]], "float32")
        >>> bool(np.allclose(elbo(model, x, seed=0), tfd.Normal(0.0, 2.0 ** 0.5).log_prob(x[:, 0]),
        ...                  atol=1e-5))
        True
    """
    x, num_samples, batch_size = _check(model, x, num_samples, batch_size)
    if kl is not None and not callable(kl):
        raise TypeError(f"kl must be a callable (loc, scale) -> KL or None, got {kl!r}.")
    if kl is not None and model.flow is not None:
        raise ValueError("a closed-form kl is that of the Gaussian q(z | x); this model's "
                         "posterior has a flow: pass kl=None (the Monte Carlo estimate).")
    _, sum_log_px_z, sum_log_w = _sums(model, x, num_samples, seed, batch_size, chunk_size)
    if kl is None:
        return sum_log_w / num_samples
    terms = [np.asarray(kl(*model.posterior(tf.constant(x[start:start + batch_size]))[:2]))
             for start in range(0, len(x), batch_size)]
    return sum_log_px_z / num_samples - np.concatenate(terms)


def _check(model, x, num_samples, batch_size):
    if not isinstance(model, LatentVariableModel):
        raise TypeError(
            f"model must be a tfae.estimators.LatentVariableModel (posterior, log_likelihood "
            f"and prior), got {type(model).__name__}.")
    x = _checked_examples(x)
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    batch_size = min(_checks.check_positive_int(batch_size, "batch_size"), len(x))
    return x, num_samples, batch_size


def _checked_examples(x, name: str = "x") -> np.ndarray:
    """Returns ``x`` as a NumPy array of finite examples: floats keep their dtype (the
    model's posterior decides the dtype of the computation), other numbers become
    float32."""
    array = _checks.as_float_array(x, name, dtype="float64")  # refuses non-numbers
    original = np.asarray(x)
    array = original if np.issubdtype(original.dtype, np.floating) else \
        original.astype(np.float32)
    _checks.check_not_empty(array, name)
    if array.size == 0:
        raise ValueError(f"{name} has examples without values (shape {array.shape}).")
    _checks.check_finite(array, name)
    return array


def _sums(model, x, num_samples, seed, batch_size, chunk_size):
    """Runs ``_log_weight_sums`` compiled over batches of x; returns NumPy arrays."""
    if chunk_size is None:
        values_per_draw = model.values_per_draw or 3 * math.prod(x.shape[1:])
        chunk_size = max(1, min(num_samples, CHUNK_VALUES // (batch_size * values_per_draw)))
    chunk_size = min(_checks.check_positive_int(chunk_size, "chunk_size"), num_samples)
    base = tf.constant([_checks.resolve_seed(seed), 0], tf.int64)
    parts = []
    for index, start in enumerate(range(0, len(x), batch_size)):
        batch_seed = tf.random.experimental.stateless_fold_in(base, index)
        parts.append([value.numpy() for value in model._compiled_sums(
            tf.constant(x[start:start + batch_size]), batch_seed, tf.constant(num_samples),
            tf.constant(chunk_size))])
    return [np.concatenate(columns) for columns in zip(*parts, strict=True)]


def _log_weight_sums(model, x, seed, num_samples, chunk_size):
    """For one batch, over ``num_samples`` draws of z ~ q(z|x) taken ``chunk_size`` at a
    time: logsumexp_i log w_i, sum_i log p(x|z_i) and sum_i log w_i, each (batch,)."""
    posterior = model.posterior(x)
    loc = posterior[0]
    prior = model.prior_distribution()
    x = tf.cast(x, loc.dtype)
    batch, dtype = tf.shape(loc)[0], loc.dtype
    latent_dim = loc.shape[-1] if loc.shape[-1] is not None else tf.shape(loc)[-1]
    num_chunks = (num_samples + chunk_size - 1) // chunk_size

    def add_chunk(chunk, log_sum_w, sum_log_px_z, sum_log_w):
        eps = tf.random.stateless_normal(
            [chunk_size, batch, latent_dim],
            tf.random.experimental.stateless_fold_in(seed, chunk), dtype=dtype)
        z, log_q = model.draw(posterior, eps)
        log_px_z = model.log_likelihood(x, z)
        log_w = log_px_z + priors.log_prob(prior, z) - log_q
        # The last chunk may run past num_samples: its extra draws do not count.
        used = chunk * chunk_size + tf.range(chunk_size) < num_samples
        used = tf.broadcast_to(used[:, None], tf.shape(log_w))
        zeros = tf.zeros_like(log_w)
        log_w_used = tf.where(used, log_w, tf.fill(tf.shape(log_w),
                                                   tf.constant(-np.inf, log_w.dtype)))
        log_sum_w = tf.reduce_logsumexp(
            tf.stack([log_sum_w, tf.reduce_logsumexp(log_w_used, axis=0)]), axis=0)
        return (chunk + 1, log_sum_w,
                sum_log_px_z + tf.reduce_sum(tf.where(used, log_px_z, zeros), axis=0),
                sum_log_w + tf.reduce_sum(tf.where(used, log_w, zeros), axis=0))

    start = tf.zeros([batch], dtype)
    per_example = tf.TensorShape([None])
    _, log_sum_w, sum_log_px_z, sum_log_w = tf.while_loop(
        lambda chunk, *_: chunk < num_chunks, add_chunk,
        (tf.constant(0), tf.fill([batch], tf.constant(-np.inf, dtype)), start, start),
        shape_invariants=(tf.TensorShape([]), per_example, per_example, per_example))
    return log_sum_w, sum_log_px_z, sum_log_w
