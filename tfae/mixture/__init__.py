"""The Gaussian mixture fitted by EM, with scikit-learn's interface, one idea per module.

- ``gaussian_mixture``: the estimator ``GaussianMixture``.
- ``settings``: its constructor's settings: checks, deprecated names, ``random_state``.
- ``estimator``: scikit-learn's ``get_params``, ``set_params`` and repr.
- ``data``: data checked, centred and cut into blocks of rows, to fit or to score.
- ``blocks``: sums over blocks of rows, so that memory stays bounded for large N.
- ``em``: the E-step, the M-step and the log densities as tensor functions.
- ``kmeans``: k-means++ seeding and Lloyd's k-means.
- ``initialization``: where EM starts (``init_params`` and the ``*_init`` arrays).
- ``fitting``: EM runs to convergence, the best of ``n_init``.
- ``parameters``: covariances, precisions and their factors in NumPy.
- ``sampling``: draws of (x, z) from a mixture.
- ``progress``: the messages of ``verbose``.
- ``distribution``: a fitted mixture as a TensorFlow Probability distribution.
- ``saving``: the ``.npz`` file format.
"""

from tfae.choices import COVARIANCE_TYPES
from tfae.mixture.gaussian_mixture import GaussianMixture
from tfae.mixture.settings import DTYPES, INIT_PARAMS

__all__ = ["COVARIANCE_TYPES", "DTYPES", "INIT_PARAMS", "GaussianMixture"]
