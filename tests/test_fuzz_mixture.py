"""Fuzzing the likelihood heads and the Gaussian mixture with hypothesis.

The contract and the settings profile are those of ``test_fuzz.py`` (see its
docstring; ``TFAE_FUZZ_EXAMPLES`` and ``TFAE_FUZZ_ALL_BUGS`` apply here too).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_fuzz import (
    ARRAY_FAULTS,
    NEGATIVE,
    NON_FINITE,
    NOT_A_BOOL,
    NOT_A_NUMBER,
    NOT_AN_INT,
    assert_finite,
    assert_refused,
    bad_arrays,
    fuzz,
    good_arrays,
)

import tfae
from tfae import likelihoods

EVENT = (4,)
COUNT = st.one_of(NOT_AN_INT, NEGATIVE, st.just(0))


# ----------------------------------------------------------------------------- likelihoods


@pytest.mark.parametrize("function", ["get", "scale", "min_scale", "check_data"])
@fuzz(4)
@given(data=st.data())
def test_likelihoods_refuse_bad_arguments(function, data):
    if function == "get":
        identifier = data.draw(st.sampled_from(["poisson", None, 3, ["bernoulli"], 1.5]))
        assert_refused(lambda: likelihoods.get(identifier), "likelihood")
    elif function == "check_data":
        x = data.draw(bad_arrays(EVENT).filter(
            lambda x: isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size > 0
            and x.ndim == 2 and x.shape[1:] == EVENT))
        assert_refused(lambda: likelihoods.Bernoulli().check_data(x), "x")
    else:
        value = data.draw(st.one_of(NOT_A_NUMBER, NON_FINITE, st.sampled_from([0.0, -1.0])))
        kwargs = {function: value}
        assert_refused(lambda: likelihoods.Gaussian(**kwargs), function)


# ----------------------------------------------------------------------------- GaussianMixture


@pytest.fixture(scope="module")
def fitted_mixture():
    x = np.random.default_rng(0).normal(size=(30, 2))
    return tfae.GaussianMixture(2, random_state=0, max_iter=5).fit(x)


@pytest.mark.parametrize("method", ["fit", "predict", "predict_proba", "score",
                                    "score_samples", "bic", "aic"])
@pytest.mark.parametrize("kind", [kind for kind in ARRAY_FAULTS if kind != "range"])
@fuzz(2)
@given(data=st.data())
def test_gaussian_mixture_methods_refuse_bad_arrays(fitted_mixture, method, kind, data):
    x = data.draw(bad_arrays((2,), kind=kind))
    if method == "fit":  # fit takes any number of features d: (n >= 2, d >= 1) is valid
        assume(not (kind == "shape" and x.ndim == 2 and len(x) >= 2 and x.shape[1] >= 1))
        assert_refused(lambda: tfae.GaussianMixture(2, max_iter=2).fit(x), "x")
    else:
        assert_refused(lambda: getattr(fitted_mixture, method)(x), "x")


@fuzz(10)
@given(st.data())
def test_gaussian_mixture_of_valid_data_is_finite(fitted_mixture, data):
    x = data.draw(good_arrays((2,), batch=(1, 4)))
    assert_finite(fitted_mixture.score_samples(x), fitted_mixture.predict_proba(x),
                  fitted_mixture.bic(x))


@fuzz(15)
@given(st.sampled_from(["n_components", "covariance_type", "tol", "reg_covar", "max_iter",
                        "n_init", "init_params", "random_state", "warm_start", "verbose",
                        "dtype"]), st.data())
def test_gaussian_mixture_refuses_bad_settings(argument, data):
    value = data.draw({
        "n_components": COUNT, "n_init": COUNT, "max_iter": COUNT,
        "covariance_type": st.sampled_from(["round", None, 1]),
        "tol": st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(-1.0)),
        "reg_covar": st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(-1.0)),
        "init_params": st.sampled_from(["kmeans+", None]),
        "random_state": st.sampled_from([-1, 2.5, "0", True]),
        "warm_start": NOT_A_BOOL,
        "verbose": st.sampled_from([-1, 1.5, "1", None]),
        "dtype": st.sampled_from(["int32", "float16", None, 3]),
    }[argument])
    kwargs = {argument: value}
    assert_refused(lambda: tfae.GaussianMixture(**kwargs).fit(np.zeros((4, 2))), argument)


@fuzz(5)
@given(st.one_of(COUNT, st.just(2.0)))
def test_gaussian_mixture_sample_refuses_bad_counts(fitted_mixture, n_samples):
    assert_refused(lambda: fitted_mixture.sample(n_samples), "n_samples")
