"""A fitted mixture as a TensorFlow Probability distribution with trainable parameters."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors


def mixture_distribution(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                         covariance_type: str) -> tfd.MixtureSameFamily:
    """p(x) = sum_k pi_k N(x; mu_k, Sigma_k) as a TFP ``MixtureSameFamily``.

    The mixture is Categorical(logits = log pi) over ``MultivariateNormalTriL``
    components (full, tied) or ``MultivariateNormalDiag`` / a scaled identity (diag,
    spherical). Its parameters are new ``tf.Variable``s set to the given values
    (scales through positive bijectors), so it can be fine-tuned by gradient on its
    ``trainable_variables`` without changing the arrays.

    Args:
        weights: array (K,), pi.
        means: array (K, d), mu.
        covariances: array, Sigma: (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
        covariance_type: ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.

    Returns:
        ``tfd.MixtureSameFamily`` with batch shape () and event shape (d,), in the
        means' dtype.
    """
    dtype = means.dtype
    mixture = tfd.Categorical(logits=tf.Variable(np.log(weights), name="logits"))
    loc = tf.Variable(means, name="loc")
    if covariance_type in ("full", "tied"):
        scale_tril = tfp.util.TransformedVariable(
            np.linalg.cholesky(covariances.astype(np.float64)).astype(dtype),
            tfb.FillScaleTriL(diag_shift=None), name="scale_tril",
        )
        components = tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
    elif covariance_type == "diag":
        scale = tfp.util.TransformedVariable(np.sqrt(covariances), tfb.Softplus(),
                                             name="scale_diag")
        components = tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
    else:
        scale = tfp.util.TransformedVariable(np.sqrt(covariances), tfb.Softplus(), name="scale")
        identity = tf.linalg.LinearOperatorScaledIdentity(means.shape[1], scale)
        components = tfd.MultivariateNormalLinearOperator(loc=loc, scale=identity)
    return tfd.MixtureSameFamily(mixture, components, name="GaussianMixture")
