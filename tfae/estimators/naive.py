"""Naive Monte Carlo estimates of p(x): proposals q(z) that ignore x.

The lecture's naive estimates of p(x) = E_{z ~ q} [ p(x, z) / q(z) ] are two
choices of q that do not look at x:

- a discrete latent with q uniform over its |Z| values:
  p(x) = |Z| E_{z ~ Uniform(Z)} p(x, z);
- a continuous latent with q = p(z), the prior: p(x) = E_{z ~ p(z)} p(x | z).

Both are exact in expectation, but when p(x | z) is peaked, a few z carry almost all
of the weight, and the variance grows exponentially with the dimension of z: the
motivation for the evidence lower bound (ELBO) and for proposals q(z | x) that look
at x (``tfae.estimators.importance``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks

tfd = tfp.distributions


@dataclasses.dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate p^(x) = (1/S) sum_s w_s of p(x), kept in log space.

    p(x) of an image is often far below the smallest float (e^-100), so the estimate
    and its standard error are stored as logarithms.

    Attributes:
        log_prob: array (batch...), log p^(x), the log of the unbiased estimate of p(x).
            It is itself biased low (Jensen's inequality: E log p^ <= log E p^).
        log_standard_error: array (batch...), the log of the standard error of p^(x),
            log( s / sqrt(S) ), with s^2 the unbiased sample variance of the weights w_s.
        effective_sample_size: array (batch...), (sum_s w_s)^2 / sum_s w_s^2, between
            1 (one sample carries all the weight) and S (all weights equal).
        num_samples: int, S.
    """

    log_prob: np.ndarray
    log_standard_error: np.ndarray
    effective_sample_size: np.ndarray
    num_samples: int

    @property
    def relative_standard_error(self) -> np.ndarray:
        """SE(p^) / p^, which is also the delta-method standard error of log p^(x), in nats."""
        return np.exp(self.log_standard_error - self.log_prob)


def naive_monte_carlo_log_prob(
    log_joint: Callable,
    proposal: tfd.Distribution,
    num_samples: int,
    seed: int | None = None,
) -> MonteCarloEstimate:
    """Estimates log p(x) as log (1/S) sum_s p(x, z_s) / q(z_s) with z_s ~ q.

    The weights w_s = p(x, z_s) / q(z_s) are combined in log space (log-sum-exp), so
    that neither p(x, z) nor the estimate underflow.

    - Discrete latent, the lecture's formula p(x) = |Z| E_{z ~ Uniform(Z)} p(x, z):
      pass ``proposal=tfd.Categorical(logits=tf.zeros(num_states))``; then
      -log q(z) = log |Z|.
    - Continuous latent, p(x) = E_{z ~ p(z)} p(x | z): pass the prior as ``proposal``
      and ``log_joint(z) = prior.log_prob(z) + log p(x | z)``.

    The same S draws of z serve every x of a batch: each estimate is unbiased, but
    estimates of different x are correlated.

    Args:
        log_joint: callable mapping z, a tensor (S, *latent_shape) drawn from
            ``proposal``, to log p(x, z) of shape (S,) for one x or (S, *batch) for a
            batch of x.
        proposal: ``tfd.Distribution`` q(z) with ``sample`` and ``log_prob``, positive
            wherever p(x, z) is. Its batch shape, if any, must broadcast against the
            batch of ``log_joint``.
        num_samples: int >= 2, S (two at least, for a standard error).
        seed: int or None, seeds the draws. Defaults to None (a different draw each call).

    Returns:
        ``MonteCarloEstimate`` with arrays of the batch shape (float64).

    Raises:
        ValueError: num_samples < 2, ``log_joint`` returns a tensor whose first axis is
            not S, or NaN or +inf log-weights (-inf, p(x, z) = 0, is allowed).
        TypeError: ``log_joint`` is not callable, or ``proposal`` is not a distribution.

    Examples:
        >>> import tensorflow as tf, tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> prior = tfd.Normal(0.0, 1.0)                       # z ~ N(0, 1), x | z ~ N(z, 1)
        >>> x = 0.5
        >>> estimate = naive_monte_carlo_log_prob(
        ...     lambda z: prior.log_prob(z) + tfd.Normal(z, 1.0).log_prob(x), prior, 20000, seed=0)
        >>> exact = tfd.Normal(0.0, 2.0 ** 0.5).log_prob(x)    # p(x) = N(0, 2)
        >>> abs(float(estimate.log_prob - exact)) < 4 * float(estimate.relative_standard_error)
        True

    References:
        The lecture, slide "Estimating likelihood: Naive Monte-Carlo".
        MacKay, "Information Theory, Inference, and Learning Algorithms", chapter 29
        (2003).
        Burda, Grosse, Salakhutdinov, "Importance weighted autoencoders", ICLR (2016).
    """
    if not callable(log_joint):
        raise TypeError(f"log_joint must be a callable z -> log p(x, z), got {log_joint!r}.")
    if not isinstance(proposal, tfd.Distribution):
        raise TypeError(
            f"proposal must be a tfp.distributions.Distribution, got {type(proposal).__name__}; "
            "for a discrete latent use tfd.Categorical(logits=tf.zeros(num_states))."
        )
    num_samples = _checks.check_positive_int(num_samples, "num_samples", minimum=2)
    if seed is not None:
        seed = _checks.check_positive_int(seed, "seed", minimum=0)

    z = proposal.sample(num_samples, seed=tfp.random.sanitize_seed(seed))
    log_p = tf.convert_to_tensor(log_joint(z))
    if log_p.shape.rank == 0 or log_p.shape[0] != num_samples:
        raise ValueError(
            f"log_joint must return log p(x, z) with the {num_samples} samples on axis 0, "
            f"shape ({num_samples},) or ({num_samples}, batch...); got shape {log_p.shape}."
        )
    log_q = proposal.log_prob(z)
    # A proposal without batch shape gives log q of shape (S,): align it with axis 0.
    log_q = tf.reshape(log_q, log_q.shape + [1] * (log_p.shape.rank - log_q.shape.rank))
    log_weights = tf.cast(log_p, tf.float64) - tf.cast(log_q, tf.float64)
    return estimate_from_log_weights(log_weights.numpy())


def estimate_from_log_weights(log_weights) -> MonteCarloEstimate:
    """Combines log-weights log w_s (axis 0) into the estimate (1/S) sum_s w_s of p(x).

    The weights are scaled by their largest value before leaving log space, as
    log-sum-exp does, so that the mean and the standard deviation are computed
    without overflow or underflow:

        log p^ = m + log mean_s exp(log w_s - m),    m = max_s log w_s.

    Args:
        log_weights: array (S, batch...), S >= 2, of log w_s = log p(x, z_s) - log q(z_s);
            -inf (a zero weight) is allowed.

    Returns:
        ``MonteCarloEstimate`` with arrays of the batch shape (float64).

    Raises:
        ValueError: fewer than 2 samples, or NaN or +inf log-weights.
    """
    log_weights = _checks.as_float_array(log_weights, "log_weights", dtype=np.float64)
    if log_weights.ndim == 0 or log_weights.shape[0] < 2:
        raise ValueError(
            f"log_weights must have at least 2 samples on axis 0, got shape {log_weights.shape}."
        )
    if np.isnan(log_weights).any() or np.isposinf(log_weights).any():
        raise ValueError(
            "log_weights (log p(x, z) - log q(z)) contain NaN or +inf; check that log_joint "
            "is finite where the proposal puts mass, and that the proposal is positive "
            "wherever p(x, z) is."
        )
    num_samples = log_weights.shape[0]
    largest = log_weights.max(axis=0)
    # Where every weight is 0 (log w = -inf), p^ = 0 and so is its standard error.
    finite_largest = np.where(np.isfinite(largest), largest, 0.0)
    scaled = np.exp(log_weights - finite_largest)  # in [0, 1]
    mean = scaled.mean(axis=0)
    deviation = scaled.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prob = finite_largest + np.log(mean)
        log_standard_error = finite_largest + np.log(deviation) - 0.5 * math.log(num_samples)
        # The largest scaled weight is 1, so the mean square is >= 1/S unless all are 0.
        effective = np.where(mean > 0, num_samples * mean**2 / (scaled**2).mean(axis=0), 0.0)
    return MonteCarloEstimate(
        log_prob=log_prob,
        log_standard_error=log_standard_error,
        effective_sample_size=effective,
        num_samples=num_samples,
    )
