"""The settings of ``GaussianMixture``: their checks, their old names and ``random_state``.

The estimator keeps every constructor argument exactly as given (scikit-learn's
contract, which ``sklearn.base.clone`` verifies); ``check_settings`` validates them
and returns the values that fitting and prediction use.
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfae import _checks
from tfae.choices import COVARIANCE_TYPES

#: How ``init_params`` starts EM, as in scikit-learn: k-means labels, the k-means++
#: seeds, random responsibilities, or random data points.
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")

#: The floating-point precisions EM runs in.
DTYPES = ("float64", "float32")

#: Deprecated constructor keywords -> their scikit-learn names.
RENAMED = {"seed": "random_state", "init": "init_params"}


class Settings(NamedTuple):
    """The constructor's arguments, checked: plain Python values and NumPy arrays."""

    n_components: int
    covariance_type: str
    tol: float
    reg_covar: float
    max_iter: int
    n_init: int
    init_params: str
    weights_init: np.ndarray | None
    means_init: np.ndarray | None
    precisions_init: np.ndarray | None
    random_state: object
    warm_start: bool
    verbose: int
    verbose_interval: int
    dtype: str
    jit_compile: bool


def check_settings(params: dict) -> Settings:
    """Checks the constructor's arguments (``get_params()``) and returns them as ``Settings``.

    Raises:
        ValueError: a value out of range or not among the choices.
        TypeError: a value of the wrong type.
    """
    return Settings(
        n_components=_checks.check_positive_int(params["n_components"], "n_components"),
        covariance_type=check_choice(params["covariance_type"], "covariance_type",
                                     COVARIANCE_TYPES),
        tol=_checks.check_number(params["tol"], "tol"),
        reg_covar=_checks.check_number(params["reg_covar"], "reg_covar"),
        max_iter=_checks.check_positive_int(params["max_iter"], "max_iter"),
        n_init=_checks.check_positive_int(params["n_init"], "n_init"),
        init_params=check_choice(params["init_params"], "init_params", INIT_PARAMS),
        weights_init=_optional_array(params["weights_init"], "weights_init"),
        means_init=_optional_array(params["means_init"], "means_init"),
        precisions_init=_optional_array(params["precisions_init"], "precisions_init"),
        random_state=check_random_state(params["random_state"]),
        warm_start=_checks.check_bool(params["warm_start"], "warm_start"),
        verbose=_check_verbose(params["verbose"]),
        verbose_interval=_checks.check_positive_int(params["verbose_interval"],
                                                    "verbose_interval"),
        dtype=check_dtype(params["dtype"]),
        jit_compile=_checks.check_bool(params["jit_compile"], "jit_compile"),
    )


def check_choice(value, name: str, choices: tuple) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


def check_dtype(dtype) -> str:
    """The name of a float64 or float32 dtype given as a string, NumPy or TensorFlow dtype."""
    try:
        name = tf.as_dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}.")
    return name


def check_random_state(random_state):
    """Returns ``random_state`` after checking that ``random_generator`` accepts it."""
    if random_state is None or isinstance(random_state,
                                          (np.random.RandomState, np.random.Generator)):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(
            "random_state must be None, an int, a numpy.random.RandomState or a "
            f"numpy.random.Generator, got {random_state!r}."
        )
    random_state = _checks.check_positive_int(random_state, "random_state", minimum=0)
    if random_state >= 2**32:
        raise ValueError(f"random_state must be < 2**32 (NumPy's seeds), got {random_state}.")
    return random_state


def random_generator(random_state):
    """The NumPy generator that ``random_state`` stands for, as scikit-learn reads it.

    None is NumPy's global generator (the ``numpy.random`` functions, which
    ``numpy.random.seed`` and ``keras.utils.set_random_seed`` seed); an int, a new
    ``RandomState`` seeded by it (each call starts the same stream); a ``RandomState``
    or a ``Generator``, itself (its stream goes on from call to call).
    """
    if random_state is None:
        return np.random
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    return np.random.RandomState(random_state)


def stateless_seed(rng) -> tf.Tensor:
    """A seed for TensorFlow's stateless random ops, drawn from a NumPy generator."""
    integers = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    return tf.constant(integers(0, 2**31 - 1, size=2), tf.int64)


def accept_renamed(init):
    """Wraps ``__init__`` so that the deprecated keywords of ``RENAMED`` still work.

    Each one warns (a ``DeprecationWarning`` naming its replacement) and passes its
    value on under the new name; passing both the old and the new name is a
    ``TypeError``, as passing one keyword twice is.
    """

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        for old, new in RENAMED.items():
            if old not in kwargs:
                continue
            if new in kwargs:
                raise TypeError(f"pass {new} only: {old} is its deprecated name, not both.")
            warnings.warn(f"{old}= is deprecated; use {new}= instead (scikit-learn's name).",
                          DeprecationWarning, stacklevel=2)
            kwargs[new] = kwargs.pop(old)
        init(self, *args, **kwargs)

    return wrapper


def _check_verbose(verbose) -> int:
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return _checks.check_positive_int(verbose, "verbose", minimum=0)


def _optional_array(value, name: str) -> np.ndarray | None:
    if value is None:
        return None
    array = _checks.as_float_array(value, name, dtype="float64")
    _checks.check_finite(array, name)
    return array
