"""Baselines that a run's ``metrics.json`` reports beside its model's scores, each a score
of the same quantity as the number it stands beside (nats per example).

- ``identity_denoising_nll``: -log p(x | x~) of the denoiser that returns its corrupted
  input, beside a denoising autoencoder's ``denoising_nll``.
- ``gaussian_log_likelihood``: the log-density of one Gaussian fitted to the training
  points, beside a mixture's log-likelihood in the same (PCA) space.

The per-pixel-mean model (``tfae.metrics.pixel_mean_nll``) is the third: -log p(x) of
a model that ignores every dependency, and so also -log p(x | x~) of a denoiser that
ignores x~, and -log p(x | r) of the constant reconstruction r = the pixel means.
"""

from __future__ import annotations

import numpy as np

from tfae import _checks, likelihoods


def _bernoulli_nll(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """-sum_d [x_d log m_d + (1 - x_d) log(1 - m_d)] per example (the Bernoulli head's
    cross-entropy, also for grey levels)."""
    per_value = -(x * np.log(means) + (1.0 - x) * np.log1p(-means))
    return per_value.reshape(len(x), -1).sum(axis=1)


def identity_denoising_nll(x_train, x_train_tilde, x, x_tilde, likelihood) -> np.ndarray:
    """-log p(x | x~) per example under the denoiser that returns its corrupted input.

    Its one parameter is how far to trust x~, estimated on corrupted training data
    (``x_train_tilde``, a draw of C(x~ | x_train)) so that the NLL is finite:

    - Bernoulli likelihood: the denoiser guesses b_d = [x~_d > 0.5] for each value
      (x~_d itself for salt-and-pepper and masking noise on binary data; the rounded
      value under Gaussian noise), right with probability q, the share of training
      values that the corruption keeps on the same side of 0.5 (Laplace's rule,
      (kept + 1) / (values + 2), as ``pixel_mean_nll``): p(x_d = 1 | x~) =
      b_d q + (1 - b_d)(1 - q). For salt-and-pepper noise of rate r, q ~ 1 - r/2;
      for masking noise of rate r, q ~ 1 - r * (share of ones).
    - Gaussian likelihood: p(x | x~) = N(x; x~, sigma^2 I), sigma the root mean
      square of x~ - x on the training data plus the head's ``min_scale`` (the
      noise's stddev under Gaussian noise; masking noise's mean squared loss).

    Args:
        x_train: array (N, ...), training examples.
        x_train_tilde: array (N, ...), one corruption of ``x_train``.
        x: array (M, ...), the examples to score.
        x_tilde: array (M, ...), one corruption of ``x``.
        likelihood: str, dict or ``tfae.likelihoods.Likelihood``, the model's head.

    Returns:
        float64 array (M,): -log p(x | x~) of each example, in nats.

    Raises:
        ValueError: empty, non-finite or mismatched arrays.
        TypeError: a likelihood other than Bernoulli or Gaussian.

    Examples:
        >>> x_train = np.array([[0.0, 1.0], [1.0, 1.0]])
        >>> kept = np.array([[0.0, 1.0], [0.0, 1.0]])  # 3 of 4 values kept: q = 4 / 6
        >>> nll = identity_denoising_nll(x_train, kept, x_train[:1], kept[:1], "bernoulli")
        >>> bool(np.isclose(nll[0], -2 * np.log(4 / 6)))
        True
    """
    head = likelihoods.get(likelihood)
    arrays = {}
    for name, array in (("x_train", x_train), ("x_train_tilde", x_train_tilde), ("x", x),
                        ("x_tilde", x_tilde)):
        array = _checks.as_float_array(array, name, dtype="float64")
        _checks.check_not_empty(array, name)
        _checks.check_finite(array, name)
        arrays[name] = array
    _checks.check_example_shape(arrays["x_train_tilde"], arrays["x_train"].shape[1:],
                                "x_train_tilde")
    _checks.check_example_shape(arrays["x"], arrays["x_train"].shape[1:], "x")
    _checks.check_example_shape(arrays["x_tilde"], arrays["x_train"].shape[1:], "x_tilde")
    if len(arrays["x_train_tilde"]) != len(arrays["x_train"]) or len(arrays["x_tilde"]) != len(
            arrays["x"]):
        raise ValueError("x_train_tilde and x_tilde must hold one corruption of each example of "
                         "x_train and x.")
    train, train_tilde = arrays["x_train"], arrays["x_train_tilde"]
    if isinstance(head, likelihoods.Bernoulli):
        guess = (train_tilde > 0.5).astype(np.float64)
        kept = (train * guess + (1.0 - train) * (1.0 - guess)).sum()
        q = (kept + 1.0) / (train.size + 2.0)
        guess = (arrays["x_tilde"] > 0.5).astype(np.float64)
        return _bernoulli_nll(arrays["x"], guess * q + (1.0 - guess) * (1.0 - q))
    if isinstance(head, likelihoods.Gaussian):
        sigma = np.sqrt(np.mean((train_tilde - train) ** 2)) + head.min_scale
        residuals = (arrays["x"] - arrays["x_tilde"]).reshape(len(arrays["x"]), -1)
        per_value = 0.5 * (residuals / sigma) ** 2 + np.log(sigma) + 0.5 * np.log(2.0 * np.pi)
        return per_value.sum(axis=1)
    raise TypeError(f"identity_denoising_nll scores Bernoulli and Gaussian likelihoods, got "
                    f"{type(head).__name__}.")


def gaussian_log_likelihood(z_train, z, reg_covar: float = 1e-6) -> np.ndarray:
    """log N(z; mean, Sigma) per point, the mean and covariance (plus ``reg_covar`` I)
    fitted by maximum likelihood on ``z_train``: a one-component mixture, the baseline
    of a Gaussian mixture scored in the same space.

    Args:
        z_train: array (N, d), the points the Gaussian is fitted on.
        z: array (M, d), the points to score.
        reg_covar: float >= 0, added to the diagonal of the covariance. Defaults to 1e-6.

    Returns:
        float64 array (M,), log-densities in nats.

    Raises:
        ValueError: empty, non-finite or mismatched points, or a negative ``reg_covar``.

    Examples:
        >>> z = np.random.default_rng(0).normal(size=(2000, 2))
        >>> bool(abs(gaussian_log_likelihood(z, z).mean() + np.log(2 * np.pi) + 1) < 0.1)
        True
    """
    z_train = _checks.as_float_array(z_train, "z_train", dtype="float64")
    z = _checks.as_float_array(z, "z", dtype="float64")
    for array, name in ((z_train, "z_train"), (z, "z")):
        _checks.check_not_empty(array, name)
        _checks.check_finite(array, name)
        if array.ndim != 2:
            raise ValueError(f"{name} must be points of shape (N, d), got shape {array.shape}.")
    _checks.check_example_shape(z, z_train.shape[1:], "z")
    reg_covar = _checks.check_number(reg_covar, "reg_covar")
    mean = z_train.mean(axis=0)
    covariance = np.atleast_2d(np.cov(z_train, rowvar=False, bias=True))
    covariance = covariance + reg_covar * np.eye(len(covariance))
    cholesky = np.linalg.cholesky(covariance)
    whitened = np.linalg.solve(cholesky, (z - mean).T)  # (d, M)
    log_det = 2.0 * np.log(np.diag(cholesky)).sum()
    dims = len(covariance)
    return -0.5 * ((whitened**2).sum(axis=0) + log_det + dims * np.log(2.0 * np.pi))
