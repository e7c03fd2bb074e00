"""The estimator ``GaussianMixture``: scikit-learn's interface over tfae's EM."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.mixture import parameters, saving
from tfae.mixture.data import check_data, log_joint_in_blocks, prepare
from tfae.mixture.distribution import mixture_distribution
from tfae.mixture.estimator import Estimator
from tfae.mixture.fitting import check_warm_start, fit_em
from tfae.mixture.initialization import check_initial_parameters
from tfae.mixture.progress import Progress
from tfae.mixture.sampling import draw
from tfae.mixture.settings import accept_renamed, random_generator


class GaussianMixture(Estimator):
    """A Gaussian mixture fitted by expectation-maximisation, with scikit-learn's interface.

    The lecture's shallow latent variable model: z ~ Categorical(pi),
    x | z = k ~ N(mu_k, Sigma_k), so that

        p(x) = sum_k p(z = k) N(x; mu_k, Sigma_k).

    ``fit`` maximises the log-likelihood sum_n log p(x_n) by EM in TensorFlow: the
    E-step computes the responsibilities r_nk = p(z = k | x_n) with a log-sum-exp,
    the M-step re-estimates pi, mu and Sigma in closed form, and log densities use the
    Cholesky factor of each precision. Each iteration is one compiled call
    (``tf.function``) that streams over blocks of rows, so memory does not grow with
    N beyond the data and the (N, K) responsibilities.

    The constructor takes scikit-learn's ``GaussianMixture`` parameters, with its names
    and defaults, and the fitted model has its attributes and methods; ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work as on a scikit-learn estimator. Given
    the same initial parameters EM follows scikit-learn's iteration for iteration (same
    stopping rule: the change of the mean log-likelihood below ``tol``); with
    ``init_params="random"`` or ``"random_from_data"`` and the same ``random_state``
    it also draws the same start. The differences: ``"kmeans"`` and ``"k-means++"``
    run tfae's own k-means (same algorithm, other random draws), ``sample`` returns
    the draws in the order drawn (not grouped by component) and takes an optional
    ``seed``, a run that stops at ``max_iter`` warns with a ``RuntimeWarning``, and
    ``max_iter`` must be at least 1.

    Args:
        n_components: int, K, the number of mixture components. Defaults to 1.
        covariance_type: str, the form of Sigma_k: ``"full"`` (one full matrix per
            component), ``"tied"`` (one full matrix shared by all), ``"diag"`` (one
            diagonal per component) or ``"spherical"`` (one variance per component).
            Defaults to ``"full"``.
        tol: float >= 0, EM stops when the mean log-likelihood per example changes by
            less than ``tol`` nats between iterations. Defaults to 1e-3.
        reg_covar: float >= 0, added to the diagonal of every covariance so that a
            component that collapses onto a few points keeps a positive-definite
            covariance. Defaults to 1e-6.
        max_iter: int >= 1, the most EM iterations per initialisation. Defaults to 100.
        n_init: int >= 1, the number of initialisations; the one with the highest final
            lower bound is kept. Defaults to 1.
        init_params: str, how EM starts, as in scikit-learn: ``"kmeans"`` (the
            responsibilities are the labels of k-means: k-means++ seeding, then Lloyd's
            iterations), ``"k-means++"`` (K points chosen by k-means++ seeding, one per
            component), ``"random"`` (uniform random responsibilities, normalised) or
            ``"random_from_data"`` (K distinct data points drawn at random, one per
            component). Defaults to ``"kmeans"``.
        weights_init: array (K,) or None, initial pi (non-negative, summing to 1).
        means_init: array (K, d) or None, initial mu.
        precisions_init: array or None, initial precisions Sigma^-1, shaped like
            ``covariances_``. The three ``*_init`` replace the parameters that
            ``init_params`` gives, as in scikit-learn; ``init_params`` is skipped when
            all three are given.
        random_state: None, an int >= 0, a ``numpy.random.RandomState`` or a
            ``numpy.random.Generator``; the randomness of the initialisation and of
            ``sample``. None draws from NumPy's global generator (which
            ``numpy.random.seed`` and ``keras.utils.set_random_seed`` seed); an int gives
            the same fit (and the same samples) at every call; a generator goes on with
            its stream from call to call. Defaults to None.
        warm_start: bool, a ``fit`` after the first starts from the previous solution
            (one EM run: ``n_init``, ``init_params`` and the ``*_init`` arrays apply to
            the first fit only), as in scikit-learn. Defaults to False.
        verbose: int >= 0, 0 prints nothing; 1 prints each initialisation and every
            ``verbose_interval``-th iteration; 2 also the time between messages and the
            change of the lower bound. Defaults to 0.
        verbose_interval: int >= 1, EM iterations between two messages. Defaults to 10.
        dtype: ``"float64"`` or ``"float32"`` (or the NumPy / TensorFlow dtype).
            float32 is faster; float64 matches scikit-learn to rounding.
            Defaults to ``"float64"``.
        jit_compile: bool, compile the EM iteration with XLA. Defaults to False: on a
            2-core CPU XLA was no faster per iteration and its compilation adds seconds
            to every fit of a new shape (benchmarks/gaussian_mixture.py).

    Deprecated keywords, which still work with a ``DeprecationWarning``: ``seed``
    (use ``random_state``) and ``init`` (use ``init_params``).

    Attributes:
        weights_: array (K,), pi.
        means_: array (K, d), mu.
        covariances_: array, Sigma: (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
        precisions_: array shaped like ``covariances_``, Sigma^-1.
        precisions_cholesky_: array shaped like ``covariances_``, L with L L^T = Sigma^-1
            (1 / sigma for diag and spherical).
        converged_: bool, whether the kept initialisation stopped by ``tol``.
        n_iter_: int, EM iterations of the kept initialisation.
        lower_bound_: float, the last entry of ``lower_bounds_``.
        lower_bounds_: list of float, for each EM iteration of the kept initialisation,
            the mean log-likelihood (1/N) sum_n log p(x_n) of the parameters that
            iteration started from (as in scikit-learn; ``score(x)`` gives that of the
            final parameters).
        n_features_in_: int, d.

    Raises:
        ValueError: an invalid setting (the message names it and the accepted values).
        TypeError: a setting of the wrong type.

    Examples:
        >>> import numpy as np, tfae
        >>> rng = np.random.default_rng(0)
        >>> x = np.concatenate([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])
        >>> gmm = tfae.GaussianMixture(n_components=2, random_state=0).fit(x)
        >>> np.sort(gmm.means_[:, 0]).round(0)
        array([-3.,  3.])
        >>> gmm.predict_proba(x[:2]).sum(axis=1)
        array([1., 1.])
        >>> gmm.distribution.log_prob(x[:3]).shape
        TensorShape([3])

    References:
        Bishop, "Pattern Recognition and Machine Learning", section 9.2 (2006).
        Dempster, Laird, Rubin, "Maximum likelihood from incomplete data via the EM
        algorithm", JRSS B 39 (1977).
        Pedregosa et al., "Scikit-learn: machine learning in Python", JMLR 12 (2011).
    """

    @accept_renamed
    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        dtype="float64",
        jit_compile: bool = False,
    ):
        # Kept as given (scikit-learn's contract); checked here and again by fit.
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.dtype = dtype
        self.jit_compile = jit_compile
        self._settings()

    # ------------------------------------------------------------------ settings

    def get_config(self) -> dict:
        """The constructor's arguments, checked and JSON-serialisable (arrays as lists).

        A ``random_state`` that is a NumPy generator is returned as is.
        """
        config = self._settings()._asdict()
        for name in ("weights_init", "means_init", "precisions_init"):
            if config[name] is not None:
                config[name] = config[name].tolist()
        return config

    @classmethod
    def from_config(cls, config: dict) -> GaussianMixture:
        """An unfitted model with the settings of ``get_config()``."""
        return cls(**config)

    # ------------------------------------------------------------------ fitting

    def fit(self, x, y=None) -> GaussianMixture:
        """Estimates pi, mu and Sigma by EM, keeping the best of ``n_init`` runs.

        With ``warm_start=True`` and a fitted model (by ``fit`` or ``load``), one EM run
        starts from the current parameters instead.

        Args:
            x: array (N, d) of finite numbers, N >= ``n_components``.
            y: ignored (scikit-learn's signature).

        Returns:
            The fitted model itself.

        Raises:
            ValueError: x is not 2-D, empty, has NaN or inf, fewer rows than
                components or a feature count that the ``*_init`` arrays (or, with
                ``warm_start``, the previous fit) do not match; or a covariance stopped
                being positive definite during EM (a component collapsed onto too few
                points; increase ``reg_covar`` or reduce ``n_components``).
            TypeError: x does not hold real numbers.

        Warns:
            RuntimeWarning: EM stopped at ``max_iter`` before the change fell below ``tol``.
        """
        del y
        settings = self._settings()
        x = check_data(x, settings.dtype)
        n, d = x.shape
        k = settings.n_components
        if n < k:
            raise ValueError(
                f"n_components={k} is larger than the number of samples ({n}); pass at "
                f"least {k} samples or reduce n_components."
            )
        initial, warm = None, None
        if settings.warm_start and hasattr(self, "converged_"):
            check_warm_start(self.means_, self.precisions_cholesky_, settings, d)
            warm = (self.weights_, self.means_, self.precisions_cholesky_, self.lower_bound_)
        else:
            initial = check_initial_parameters(settings, d)
        data = prepare(x, k, settings.covariance_type, settings.jit_compile)
        run = fit_em(data, settings, initial, warm,
                     Progress(settings.verbose, settings.verbose_interval))
        weights, means, covariances, precisions_cholesky = (np.asarray(p)
                                                            for p in run.parameters)
        self._set_fitted(weights, (means + data.shift).astype(settings.dtype), covariances,
                         precisions_cholesky, run.lower_bounds, run.converged)
        if not run.converged:
            warnings.warn(
                f"EM did not converge in max_iter={settings.max_iter} iterations: the mean "
                f"log-likelihood still changed by {abs(run.change):.3g} > "
                f"tol={settings.tol:g}. Increase max_iter or tol.",
                RuntimeWarning,
                stacklevel=2,
            )
        return self

    def fit_predict(self, x, y=None) -> np.ndarray:
        """Fits the model on x, then returns ``predict(x)``: the component of each row."""
        return self.fit(x, y).predict(x)

    def _set_fitted(self, weights, means, covariances, precisions_cholesky, lower_bounds,
                    converged) -> None:
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = precisions_cholesky
        self.precisions_ = parameters.precisions_from_cholesky(precisions_cholesky,
                                                               self.covariance_type)
        self.converged_ = bool(converged)
        self.lower_bounds_ = [float(bound) for bound in lower_bounds]
        self.lower_bound_ = self.lower_bounds_[-1]
        self.n_iter_ = len(self.lower_bounds_)
        self.n_features_in_ = means.shape[1]

    # ------------------------------------------------------------------ the fitted model

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise ValueError(
                "This GaussianMixture is not fitted yet; call fit(x) or GaussianMixture.load "
                "first."
            )

    def log_joint(self, x) -> np.ndarray:
        """log p(x_n, z = k) = log pi_k + log N(x_n; mu_k, Sigma_k) for every n and k.

        The lecture's p(x, z), whose sum over z is p(x): ``score_samples(x)`` is its
        log-sum-exp over k and ``predict_proba(x)`` the normalised exp.

        Args:
            x: array (n, d) of finite numbers.

        Returns:
            Array (n, K) in the fitted parameters' dtype, in nats.

        Raises:
            ValueError: the model is not fitted, or x is not a finite (n, d) array.
        """
        self._check_fitted()
        settings = self._settings()
        x = check_data(x, self.means_.dtype.name)
        _checks.check_example_shape(x, (self.n_features_in_,), "x")
        return log_joint_in_blocks(x, self.weights_, self.means_, self.precisions_cholesky_,
                                   settings.covariance_type, settings.jit_compile)

    def score_samples(self, x) -> np.ndarray:
        """log p(x_n) = logsumexp_k [log pi_k + log N(x_n; mu_k, Sigma_k)], shape (n,)."""
        return tf.reduce_logsumexp(self.log_joint(x), axis=1).numpy()

    def score(self, x, y=None) -> float:
        """The mean log-likelihood (1/n) sum_n log p(x_n), in nats per example."""
        del y
        return float(np.mean(self.score_samples(x)))

    def predict_proba(self, x) -> np.ndarray:
        """The responsibilities p(z = k | x_n), shape (n, K), each row summing to 1."""
        return tf.nn.softmax(self.log_joint(x), axis=1).numpy()

    def predict(self, x) -> np.ndarray:
        """The most probable component argmax_k p(z = k | x_n), int64 array (n,)."""
        return np.argmax(self.log_joint(x), axis=1)

    def sample(self, n_samples: int = 1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draws from the generative process: z ~ Categorical(pi), x ~ N(mu_z, Sigma_z).

        Unlike scikit-learn, which returns the samples grouped by component, they are
        returned in the order drawn.

        Args:
            n_samples: int >= 1.
            seed: int >= 0 or None (tfae's addition). An int makes this call
                reproducible on its own, whatever ``random_state`` is; None draws from
                ``random_state`` as scikit-learn does: the same samples at every call for
                an int, a stream that goes on for None or a NumPy generator.

        Returns:
            (x, z): arrays (n_samples, d) in the fitted parameters' dtype and
            (n_samples,) int64.
        """
        self._check_fitted()
        n_samples = _checks.check_positive_int(n_samples, "n_samples")
        if seed is not None:
            seed = _checks.check_positive_int(seed, "seed", minimum=0)
        rng = random_generator(self._settings().random_state if seed is None else seed)
        return draw(self.weights_, self.means_, self.covariances_, self.covariance_type,
                    n_samples, rng)

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        return parameters.n_parameters(self.covariance_type, k, d)

    def bic(self, x) -> float:
        """The Bayesian information criterion -2 log L + p log n (lower is better).

        log L = sum_n log p(x_n) and p is the number of free parameters (K d means,
        K - 1 weights and the covariances); the same formula as scikit-learn's
        ``GaussianMixture.bic``.
        """
        log_prob = self.score_samples(x)
        return -2.0 * log_prob.sum() + self._n_parameters() * math.log(len(log_prob))

    def aic(self, x) -> float:
        """The Akaike information criterion -2 log L + 2 p (lower is better); see ``bic``."""
        return -2.0 * self.score_samples(x).sum() + 2.0 * self._n_parameters()

    @property
    def distribution(self):
        """The fitted p(x) as a TFP ``MixtureSameFamily``, with trainable parameters.

        Each access builds a new distribution whose parameters are new ``tf.Variable``s
        set to the fitted values, so it can be used as a prior or fine-tuned by gradient
        on its ``trainable_variables`` without changing this object (see
        ``tfae.mixture.distribution.mixture_distribution``).

        Returns:
            ``tfd.MixtureSameFamily`` with batch shape () and event shape (d,).
        """
        self._check_fitted()
        return mixture_distribution(self.weights_, self.means_, self.covariances_,
                                    self.covariance_type)

    # ------------------------------------------------------------------ saving

    def save(self, path) -> Path:
        """Writes the fitted model (settings and parameters) to one ``.npz`` file.

        The file is written beside its destination and renamed onto it when complete,
        so that a failure never leaves a partial file at ``path``. A ``random_state``
        that is a NumPy generator is saved as None.

        Args:
            path: str or Path ending in ``.npz``; an existing file is replaced.

        Returns:
            The path written.

        Raises:
            ValueError: the model is not fitted or the path does not end in ``.npz``.
        """
        self._check_fitted()
        return saving.write(path, self.get_config(),
                            {name: getattr(self, f"{name}_") for name in saving.FITTED})

    @classmethod
    def load(cls, path) -> GaussianMixture:
        """Reads a model written by ``save``; it predicts and samples like the original.

        Raises:
            ValueError: the file is not a model written by ``GaussianMixture.save``.
        """
        config, fitted = saving.read(path)
        model = cls.from_config(config)
        model._set_fitted(**fitted)
        return model
