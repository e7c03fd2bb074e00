"""GaussianMixture's scikit-learn interface: parameters, clone, random_state, warm_start,
verbose, the deprecated names, the file format and the refusal of bad input."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SklearnMixture

import tfae
import tfae.models
from tfae.mixture import INIT_PARAMS, GaussianMixture, saving


@pytest.fixture(scope="module")
def x():
    """180 points in 2-D around three centres."""
    rng = np.random.default_rng(1)
    centres = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
    return np.concatenate([c + rng.normal(size=(60, 2)) for c in centres])


def _poor_start(x):
    """The three left-most points as means, unit precisions: a start of several iterations."""
    return {"weights_init": np.full(3, 1 / 3), "means_init": x[np.argsort(x[:, 0])[:3]],
            "precisions_init": np.stack([np.eye(2)] * 3)}


# ------------------------------------------------------------------ parameters


def test_parameters_are_scikit_learns_with_its_defaults_plus_dtype_and_jit_compile():
    ours, theirs = GaussianMixture().get_params(), SklearnMixture().get_params()
    assert set(ours) == set(theirs) | {"dtype", "jit_compile"}
    assert {name: ours[name] for name in theirs} == theirs
    assert (ours["dtype"], ours["jit_compile"]) == ("float64", False)
    assert set(INIT_PARAMS) == {"kmeans", "k-means++", "random", "random_from_data"}


def test_get_params_set_params_and_clone_round_trip(x):
    means = np.zeros((3, 2))
    model = GaussianMixture(3, covariance_type="diag", means_init=means, random_state=4,
                            dtype=np.float32)
    params = model.get_params(deep=True)
    assert params["means_init"] is means and params["dtype"] is np.float32  # kept as given
    copy = clone(model)  # scikit-learn checks that the constructor keeps every argument
    assert copy is not model and copy.get_params().keys() == params.keys()
    assert all(np.array_equal(copy.get_params()[k], v) for k, v in params.items())
    assert model.set_params(tol=1e-5, n_init=2) is model
    assert (model.tol, model.n_init) == (1e-5, 2)
    assert clone(model).get_params()["tol"] == 1e-5
    assert not hasattr(clone(GaussianMixture(2).fit(x)), "means_")  # a clone is not fitted
    assert repr(model).startswith("GaussianMixture(n_components=3, covariance_type='diag'")


def test_set_params_refuses_unknown_names_and_bad_values_without_changing_anything():
    model = GaussianMixture(2)
    with pytest.raises(ValueError, match="Invalid parameter 'colour'"):
        model.set_params(colour="red")
    with pytest.raises(ValueError, match="seed is now called random_state"):
        model.set_params(seed=0)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        model.set_params(tol=0.5, max_iter=0)
    assert (model.tol, model.max_iter) == (1e-3, 100)


def test_get_config_is_json_and_from_config_rebuilds_the_settings():
    model = GaussianMixture(4, covariance_type="diag", tol=1e-4, random_state=3,
                            dtype="float32", means_init=np.zeros((4, 2)), verbose=True)
    config = json.loads(json.dumps(model.get_config()))
    assert config.keys() == model.get_params().keys()
    assert GaussianMixture.from_config(config).get_config() == model.get_config()


# ------------------------------------------------------------------ random_state


def test_random_state_int_gives_identical_fits_and_samples(x):
    first = GaussianMixture(3, random_state=7, init_params="random").fit(x)
    second = GaussianMixture(3, random_state=7, init_params="random").fit(x)
    np.testing.assert_array_equal(first.means_, second.means_)
    np.testing.assert_array_equal(first.sample(4)[0], first.sample(4)[0])  # as scikit-learn
    # seed= draws independently of the estimator's state.
    np.testing.assert_array_equal(first.sample(4, seed=1)[0], second.sample(4, seed=1)[0])
    assert not np.allclose(first.sample(4, seed=1)[0], first.sample(4, seed=2)[0])


def test_random_state_none_draws_from_numpys_global_generator(x):
    fits = []
    for _ in range(2):
        np.random.seed(5)
        fits.append(GaussianMixture(3, init_params="random_from_data").fit(x).means_)
    np.testing.assert_array_equal(*fits)


@pytest.mark.parametrize("init_params", ["random", "random_from_data"])
def test_the_same_random_state_draws_scikit_learns_start(x, init_params):
    settings = dict(n_components=3, init_params=init_params, tol=1e-6, max_iter=500)
    ours = GaussianMixture(random_state=np.random.RandomState(3), **settings).fit(x)
    theirs = SklearnMixture(random_state=np.random.RandomState(3), **settings).fit(x)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.means_, theirs.means_, atol=1e-8)
    np.testing.assert_allclose(ours.lower_bounds_[1:], theirs.lower_bounds_[1:], rtol=1e-9)
    same = GaussianMixture(random_state=3, **settings).fit(x)  # an int seeds a RandomState
    np.testing.assert_array_equal(same.means_, ours.means_)


def test_a_generator_goes_on_with_its_stream(x):
    generator = np.random.default_rng(0)
    model = GaussianMixture(3, init_params="random_from_data", max_iter=1, random_state=generator)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        first = model.fit(x).means_
        second = model.fit(x).means_
    assert not np.array_equal(first, second)  # each fit draws other data points


# ------------------------------------------------------------------ warm_start and verbose


def test_warm_start_continues_where_the_previous_fit_stopped(x):
    settings = dict(n_components=3, tol=0.0, **_poor_start(x))
    with pytest.warns(RuntimeWarning, match="did not converge"):
        cold = GaussianMixture(max_iter=6, **settings).fit(x)
        warm = GaussianMixture(max_iter=3, warm_start=True, **settings).fit(x)
        score_after_three = warm.score(x)
        warm.fit(x)
    assert warm.n_iter_ == 3
    # The first bound of the second fit is the likelihood of the first fit's parameters.
    assert warm.lower_bounds_[0] == pytest.approx(score_after_three, abs=1e-12)
    np.testing.assert_allclose(warm.lower_bounds_, cold.lower_bounds_[3:], rtol=1e-12)
    np.testing.assert_allclose(warm.means_, cold.means_, rtol=1e-10)


def test_warm_start_refuses_a_previous_fit_of_another_shape(x):
    model = GaussianMixture(2, warm_start=True, random_state=0).fit(x)
    with pytest.raises(ValueError, match="warm_start=False"):
        model.set_params(n_components=3).fit(x)


def test_verbose_prints_scikit_learns_messages(x, capsys):
    settings = dict(n_components=3, tol=0.0, max_iter=5, n_init=2, verbose=1,
                    verbose_interval=2, **_poor_start(x))
    with pytest.warns(RuntimeWarning):
        model = GaussianMixture(warm_start=True, **settings).fit(x)
    ours = capsys.readouterr().out
    with pytest.warns(UserWarning):  # scikit-learn's ConvergenceWarning
        SklearnMixture(**settings).fit(x)
    assert ours == capsys.readouterr().out
    assert ours.count("  Iteration") == 4 and ours.count("Initialization 1") == 1
    with pytest.warns(RuntimeWarning):
        model.fit(x)  # warm: one run, n_init no longer applies
    assert capsys.readouterr().out.count("Initialization") == 2  # begins and ends once


# ------------------------------------------------------------------ deprecated names


def test_deprecated_seed_and_init_warn_and_fit_like_the_new_names(x):
    with pytest.warns(DeprecationWarning, match="use random_state="):
        old = GaussianMixture(3, seed=2)
    with pytest.warns(DeprecationWarning, match="use init_params="):
        old_init = GaussianMixture(3, init="random_from_data")
    assert old.random_state == 2 and old_init.init_params == "random_from_data"
    np.testing.assert_array_equal(old.fit(x).means_,
                                  GaussianMixture(3, random_state=2).fit(x).means_)
    with pytest.raises(TypeError, match="random_state only"):
        GaussianMixture(3, seed=2, random_state=2)
    assert tfae.models.GaussianMixture is tfae.GaussianMixture is GaussianMixture


# ------------------------------------------------------------------ the file


def test_a_failed_save_leaves_no_file_and_the_previous_one_intact(x, tmp_path, monkeypatch):
    model = GaussianMixture(3, random_state=0).fit(x)
    path = model.save(tmp_path / "gmm.npz")

    def fail(file, **arrays):
        open(file, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(saving.np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "other.npz")
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gmm.npz"]
    np.testing.assert_array_equal(GaussianMixture.load(path).means_, model.means_)


def test_files_of_format_1_load_with_the_new_names(x, tmp_path):
    model = GaussianMixture(3, random_state=0).fit(x)
    old_config = {"n_components": 3, "covariance_type": "full", "max_iter": 100, "tol": 1e-3,
                  "reg_covar": 1e-6, "init": "k-means++", "n_init": 1, "seed": 5,
                  "dtype": "float64", "weights_init": None, "means_init": None,
                  "precisions_init": None, "jit_compile": False}
    np.savez(tmp_path / "old.npz", format=np.array("tfae.GaussianMixture/1"),
             config=np.array(json.dumps(old_config)),
             **{name: np.asarray(getattr(model, f"{name}_")) for name in saving.FITTED})
    loaded = GaussianMixture.load(tmp_path / "old.npz")
    assert (loaded.random_state, loaded.init_params) == (5, "k-means++")
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_save_and_load_refuse_what_is_not_a_fitted_mixture(x, tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        GaussianMixture(2).save(tmp_path / "gmm.npz")
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        GaussianMixture(2, random_state=0).fit(x).save(tmp_path / "gmm.keras")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a GaussianMixture file"):
        GaussianMixture.load(tmp_path / "other.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz"]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "data, error, match",
    [
        (np.zeros(10), ValueError, r"2-D.*reshape\(-1, 1\)"),
        (np.zeros((4, 2, 2)), ValueError, "flatten"),
        (np.zeros((0, 2)), ValueError, "empty"),
        (np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 0.0]]), ValueError, "non-finite"),
        (np.array([[0.0, 1.0], [np.inf, 1.0], [2.0, 0.0]]), ValueError, "non-finite"),
        (np.zeros((2, 2)), ValueError, "n_components=3 is larger than the number of samples"),
        ("abc", TypeError, "array of numbers"),
        (np.array([["a", "b"]]), TypeError, "numbers"),
    ],
)
def test_fit_rejects_bad_data(data, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(n_components=3).fit(data)


def test_predict_rejects_a_different_feature_count_and_nan(x):
    model = GaussianMixture(2, random_state=0).fit(x)
    for method in (model.predict, model.predict_proba, model.score_samples, model.score):
        with pytest.raises(ValueError, match=r"model expects \(2,\)"):
            method(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        model.predict(np.full((2, 2), np.nan))


def test_unfitted_model_says_to_fit_first():
    with pytest.raises(ValueError, match=r"call fit\(x\)"):
        GaussianMixture(2).predict(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "settings, error, match",
    [
        ({"n_components": 0}, ValueError, "n_components must be >= 1"),
        ({"n_components": 2.5}, TypeError, "n_components must be an integer"),
        ({"covariance_type": "banded"}, ValueError, "covariance_type must be one of"),
        ({"init_params": "kmeans++"}, ValueError, "init_params must be one of"),
        ({"tol": -1.0}, ValueError, "tol must be a finite number >= 0"),
        ({"reg_covar": float("nan")}, ValueError, "reg_covar"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
        ({"random_state": "abc"}, TypeError, "random_state must be None, an int"),
        ({"random_state": -1}, ValueError, "random_state must be >= 0"),
        ({"random_state": 2**32}, ValueError, r"random_state must be < 2\*\*32"),
        ({"warm_start": "yes"}, TypeError, "warm_start must be True or False"),
        ({"verbose": -1}, ValueError, "verbose must be >= 0"),
        ({"verbose_interval": 0}, ValueError, "verbose_interval must be >= 1"),
        ({"dtype": "float16"}, ValueError, "dtype must be 'float64' or 'float32'"),
        ({"jit_compile": "yes"}, TypeError, "jit_compile"),
    ],
)
def test_constructor_rejects_bad_settings(settings, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(**{"n_components": 2, **settings})


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"weights_init": [0.5, 0.6]}, "sum to 1"),
        ({"weights_init": [1.0]}, r"weights_init must have shape \(2,\)"),
        ({"means_init": np.zeros((2, 3))}, r"means_init must have shape .* \(2, 2\)"),
        ({"precisions_init": np.ones((2, 2))}, r"precisions_init must have shape \(2, 2, 2\)"),
        ({"precisions_init": np.stack([-np.eye(2)] * 2)}, "positive-definite"),
        ({"covariance_type": "diag", "precisions_init": np.zeros((2, 2))}, "positive"),
    ],
)
def test_fit_rejects_initial_parameters_that_do_not_fit(x, settings, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**{"n_components": 2, **settings}).fit(x)
