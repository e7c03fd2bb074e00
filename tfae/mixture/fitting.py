"""EM to convergence: the iterations of each initialisation, and the best of ``n_init``.

Each EM iteration is one compiled TensorFlow call (``tfae.mixture.em``) over the
data's row blocks; this module drives them from Python, stops by ``tol`` or
``max_iter`` as scikit-learn does, and stops with a clear error when a covariance
stops being positive definite.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfae.mixture import em
from tfae.mixture.blocks import split_rows
from tfae.mixture.data import Data
from tfae.mixture.initialization import initial_responsibilities
from tfae.mixture.parameters import covariance_shape
from tfae.mixture.progress import Progress
from tfae.mixture.settings import Settings, random_generator


class Run(NamedTuple):
    """One run of EM from one start."""

    parameters: tuple  # (weights, means, covariances, precisions_cholesky), data centred
    lower_bounds: list  # the mean log-likelihood before each iteration's M-step
    converged: bool  # stopped because the lower bound changed by less than tol
    change: float  # the last change of the lower bound


def fit_em(data: Data, settings: Settings, initial, warm, progress: Progress) -> Run:
    """EM from ``n_init`` initialisations, or from a previous fit; the run that ends highest.

    Args:
        data: the prepared data.
        settings: the estimator's checked settings.
        initial: (weights, means, precisions_cholesky) of the ``*_init`` arrays, None
            where not given (``tfae.mixture.initialization.check_initial_parameters``).
        warm: None, or the (weights, means, precisions_cholesky) of a previous fit and
            its lower bound: then EM runs once, from there (``warm_start``).
        progress: prints the progress (``verbose``).
    """
    rng = random_generator(settings.random_state) if warm is None else None
    best = None
    for init in range(settings.n_init if warm is None else 1):
        progress.init_begin(init)
        if warm is None:
            start, previous = _initial_parameters(data, settings, initial, rng), -math.inf
        else:
            *start, previous = warm
            start = _centred(start, data, settings.dtype)
        run = _run_em(data, settings, start, previous, progress)
        progress.init_end(run.lower_bounds[-1], run.converged)
        if best is None or run.lower_bounds[-1] > best.lower_bounds[-1]:
            best = run
    return best


def _centred(parameters, data: Data, dtype: str) -> tuple:
    """(weights, means, None, precisions_cholesky) as tensors, the means centred like the data."""
    weights, means, precisions_cholesky = parameters
    return (tf.constant(weights, dtype), tf.constant(means - data.shift, dtype), None,
            tf.constant(precisions_cholesky, dtype))


def _initial_parameters(data: Data, settings: Settings, initial, rng) -> tuple:
    """(weights, means, covariances, precisions_cholesky) to start EM from, centred.

    ``init_params`` gives responsibilities, the M-step turns them into parameters, and
    the ``*_init`` arrays then replace their counterparts; ``init_params`` is skipped
    when all three arrays are given.
    """
    weights_init, means_init, precisions_cholesky_init = initial
    if all(p is not None for p in initial):
        parameters = (None, None, None, None)
    else:
        resp = initial_responsibilities(data.x, settings.init_params, settings.n_components,
                                        rng)
        resp_blocks, resp_tail = split_rows(resp, data.rows)
        parameters = em.compiled(em.m_step_from_resp, settings.jit_compile)(
            data.blocks, data.tail, resp_blocks, resp_tail, data.sum_xx_tied,
            tf.constant(settings.reg_covar, settings.dtype),
            covariance_type=settings.covariance_type,
        )
        check_positive_definite(parameters[3], 0, settings)
    weights, means, covariances, precisions_cholesky = parameters
    if weights_init is not None:
        weights = weights_init
    if means_init is not None:
        means = means_init - data.shift
    if precisions_cholesky_init is not None:
        precisions_cholesky = precisions_cholesky_init
    return tuple(None if p is None else tf.constant(np.asarray(p), settings.dtype)
                 for p in (weights, means, covariances, precisions_cholesky))


def _run_em(data: Data, settings: Settings, parameters, previous: float,
            progress: Progress) -> Run:
    """EM from ``parameters`` until the lower bound changes by less than tol.

    ``previous`` is the lower bound before the first iteration: -inf for a new start,
    the last one of the previous fit for a warm start (as in scikit-learn).
    """
    weights, means, _, precisions_cholesky = parameters
    reg_covar = tf.constant(settings.reg_covar, settings.dtype)
    iteration = em.compiled(em.em_iteration, settings.jit_compile)
    lower_bounds, converged, change = [], False, math.inf
    for n_iter in range(1, settings.max_iter + 1):
        lower_bound, parameters = iteration(
            data.blocks, data.tail, weights, means, precisions_cholesky, data.sum_xx_tied,
            reg_covar, covariance_type=settings.covariance_type,
        )
        lower_bound = float(lower_bound)
        if not np.isfinite(lower_bound):
            raise ValueError(
                f"The log-likelihood became {lower_bound} at EM iteration {n_iter}: some "
                f"covariance is numerically singular. Increase reg_covar (now "
                f"{settings.reg_covar:g}), reduce n_components, rescale the data or use "
                "dtype='float64'."
            )
        check_positive_definite(parameters[3], n_iter, settings)
        weights, means, _, precisions_cholesky = parameters
        lower_bounds.append(lower_bound)
        change, previous = lower_bound - previous, lower_bound
        progress.iteration_end(n_iter, change)
        if abs(change) < settings.tol:
            converged = True
            break
    return Run(parameters, lower_bounds, converged, change)


def check_warm_start(means: np.ndarray, precisions_cholesky: np.ndarray, settings: Settings,
                     d: int) -> None:
    """Raises a ``ValueError`` if a previous fit cannot start EM for these settings and d."""
    k, kind = settings.n_components, settings.covariance_type
    if means.shape != (k, d) or precisions_cholesky.shape != covariance_shape(kind, k, d):
        raise ValueError(
            f"warm_start=True continues the previous fit, whose parameters (means "
            f"{means.shape}, precisions {precisions_cholesky.shape}) do not fit "
            f"n_components={k}, covariance_type={kind!r} and {d} features; pass "
            "warm_start=False to start afresh."
        )


def check_positive_definite(precisions_cholesky, iteration: int, settings: Settings) -> None:
    """Raises a ``ValueError`` that says what to change if a covariance is not positive
    definite (its precision Cholesky factor has NaN)."""
    if not np.all(np.isfinite(precisions_cholesky)):
        raise ValueError(
            f"EM failed at iteration {iteration}: a covariance is not positive definite "
            "although reg_covar was added to its diagonal (a component collapsed onto a "
            "point or a lower-dimensional set, or a feature is constant within it). "
            f"Increase reg_covar (now {settings.reg_covar:g}), reduce n_components "
            f"(now {settings.n_components}), rescale the data"
            + (" or use dtype='float64'." if settings.dtype == "float32" else ".")
        )
