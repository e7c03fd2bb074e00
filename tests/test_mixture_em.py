"""GaussianMixture's EM against scikit-learn's, the EM guarantee, sampling and the TFP export."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.mixture import GaussianMixture as SklearnMixture

from tfae.mixture import COVARIANCE_TYPES, GaussianMixture, blocks

TRUE_MEANS = np.array([[-4.0, 0.0, 1.0], [0.0, 3.0, 0.0], [4.0, -1.0, -1.0]])


@pytest.fixture(scope="module")
def labelled_blobs():
    """300 points in 3-D from three Gaussians of different shapes and sizes, and their labels."""
    rng = np.random.default_rng(0)
    scales = [np.diag([1.0, 0.5, 0.8]), [[1.0, 0.0, 0.0], [0.6, 1.2, 0.0], [0.0, 0.3, 0.5]],
              np.eye(3) * 1.3]
    sizes = [150, 100, 50]
    x = np.concatenate([m + rng.normal(size=(s, 3)) @ np.asarray(a).T
                        for m, a, s in zip(TRUE_MEANS, scales, sizes, strict=True)])
    order = rng.permutation(len(x))
    return x[order], np.repeat([0, 1, 2], sizes)[order]


@pytest.fixture(scope="module")
def blobs(labelled_blobs):
    return labelled_blobs[0]


def _start(x, covariance_type, k=3):
    """A deliberately poor start (three points of one cluster), shared by tfae and sklearn."""
    d = x.shape[1]
    means = x[np.argsort(x[:, 0])[:k]]  # the three left-most points
    precisions = {"full": np.stack([np.eye(d)] * k), "tied": np.eye(d),
                  "diag": np.ones((k, d)), "spherical": np.ones(k)}[covariance_type]
    return {"weights_init": np.full(k, 1.0 / k), "means_init": means,
            "precisions_init": precisions}


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def pair(request, blobs):
    """(tfae, sklearn) mixtures fitted by EM from the same start, tol small."""
    settings = dict(n_components=3, covariance_type=request.param, tol=1e-7, max_iter=300,
                    **_start(blobs, request.param))
    ours = GaussianMixture(**settings).fit(blobs)
    theirs = SklearnMixture(**settings).fit(blobs)
    return ours, theirs


def _sklearn_with_parameters_of(model):
    """A scikit-learn mixture holding the parameters of a fitted tfae mixture."""
    clone = SklearnMixture(model.n_components, covariance_type=model.covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(clone, name, getattr(model, name))
    clone.n_features_in_ = model.n_features_in_
    return clone


# ------------------------------------------------------------------ EM, compared with sklearn


def test_em_matches_scikit_learn_from_the_same_start(pair, blobs):
    ours, theirs = pair
    assert ours.converged_ and theirs.converged_
    assert ours.n_iter_ == theirs.n_iter_ > 5
    # The parity: the same final mean log-likelihood within 1e-4 nats per sample.
    assert abs(ours.score(blobs) - theirs.score(blobs)) < 1e-4
    # In float64 the two follow the same iterations to rounding (about 1e-14 here).
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=0, atol=1e-9)
    assert ours.lower_bound_ == ours.lower_bounds_[-1]
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=0,
                                   atol=1e-9, err_msg=name)


def test_log_likelihood_never_decreases_across_em_iterations(pair, blobs):
    ours, _ = pair
    bounds = np.array(ours.lower_bounds_)
    assert bounds[-1] > bounds[0] + 0.1  # EM did climb from the poor start
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))
    # The last bound is the likelihood of the previous parameters: the final ones are not worse.
    assert ours.score(blobs) >= ours.lower_bound_ - 1e-9


def test_densities_and_posteriors_match_scikit_learn_for_the_same_parameters(pair, blobs):
    ours, _ = pair
    theirs = _sklearn_with_parameters_of(ours)
    x = blobs + 0.5  # points the model was not fitted on
    np.testing.assert_allclose(ours.score_samples(x), theirs.score_samples(x), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=1e-10)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(x))
    np.testing.assert_allclose(np.exp(ours.log_joint(x)).sum(axis=1),
                               np.exp(ours.score_samples(x)), rtol=1e-10)


def test_bic_and_aic_follow_scikit_learns_formulas(pair, blobs):
    ours, _ = pair
    theirs = _sklearn_with_parameters_of(ours)
    assert ours.bic(blobs) == pytest.approx(theirs.bic(blobs), rel=1e-10)
    assert ours.aic(blobs) == pytest.approx(theirs.aic(blobs), rel=1e-10)
    free = {"full": 3 * 6, "tied": 6, "diag": 3 * 3, "spherical": 3}[ours.covariance_type]
    log_likelihood = ours.score(blobs) * len(blobs)
    free += 3 * 3 + 2  # means and weights
    assert ours.aic(blobs) == pytest.approx(-2 * log_likelihood + 2 * free, rel=1e-12)


def test_default_fit_recovers_the_clusters(labelled_blobs):
    x, labels = labelled_blobs
    model = GaussianMixture(n_components=3, random_state=0).fit(x)
    # Components are found in some order: match each to the true cluster of its mean.
    component_of_cluster = np.argmin(
        ((TRUE_MEANS[:, None] - model.means_[None]) ** 2).sum(-1), axis=1)
    assert sorted(component_of_cluster) == [0, 1, 2]
    assert np.mean(model.predict(x) == component_of_cluster[labels]) > 0.97
    for cluster, component in enumerate(component_of_cluster):
        np.testing.assert_allclose(model.means_[component], x[labels == cluster].mean(0),
                                   atol=0.1)
    np.testing.assert_allclose(model.weights_[component_of_cluster], [0.5, 1 / 3, 1 / 6],
                               atol=0.02)
    again = GaussianMixture(n_components=3, random_state=0).fit(x)
    np.testing.assert_array_equal(again.means_, model.means_)  # random_state fixes the fit


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_every_init_reaches_the_likelihood_of_the_kmeans_init(blobs, init_params):
    reference = GaussianMixture(n_components=3, random_state=0).fit(blobs).score(blobs)
    model = GaussianMixture(n_components=3, init_params=init_params, n_init=2, random_state=1,
                            max_iter=500).fit(blobs)
    assert model.converged_
    assert model.score(blobs) == pytest.approx(reference, abs=1e-3)


def test_float32_fit_agrees_with_float64(blobs):
    settings = dict(n_components=3, tol=1e-6, **_start(blobs, "full"))
    double = GaussianMixture(**settings).fit(blobs)
    single = GaussianMixture(dtype="float32", **settings).fit(blobs)
    assert single.means_.dtype == np.float32 and single.covariances_.dtype == np.float32
    assert single.score(blobs) == pytest.approx(double.score(blobs), abs=1e-4)
    np.testing.assert_allclose(single.means_, double.means_, atol=1e-3)


def test_fitting_in_row_blocks_gives_the_same_model(blobs, monkeypatch):
    settings = dict(n_components=3, tol=1e-7, **_start(blobs, "full"))
    whole = GaussianMixture(**settings).fit(blobs)
    # 64 rows per block: 4 full blocks of 64 and a tail of 44 rows.
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", 64 * 3 * 3)
    blocked = GaussianMixture(**settings).fit(blobs)
    assert blocked.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(blocked.lower_bounds_, whole.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(blocked.covariances_, whole.covariances_, rtol=1e-10)
    np.testing.assert_allclose(blocked.score_samples(blobs), whole.score_samples(blobs),
                               rtol=1e-12)


# ------------------------------------------------------------------ sampling and TFP


def test_samples_reproduce_the_fitted_weights_means_and_covariances(pair):
    model, _ = pair
    n = 200_000
    x, z = model.sample(n)
    assert x.shape == (n, 3) and z.shape == (n,)
    np.testing.assert_allclose(np.bincount(z, minlength=3) / n, model.weights_, atol=0.005)
    covariances = {  # every covariance type as K full (d, d) matrices
        "full": lambda c: c,
        "tied": lambda c: np.stack([c] * 3),
        "diag": lambda c: np.stack([np.diag(v) for v in c]),
        "spherical": lambda c: np.stack([v * np.eye(3) for v in c]),
    }[model.covariance_type](model.covariances_)
    for k in range(3):
        chosen = x[z == k]
        np.testing.assert_allclose(chosen.mean(axis=0), model.means_[k], atol=0.03)
        np.testing.assert_allclose(np.cov(chosen.T), covariances[k], atol=0.05)
    # The mixture as a whole: E[x] = sum_k pi_k mu_k.
    np.testing.assert_allclose(x.mean(axis=0), model.weights_ @ model.means_, atol=0.03)
    other, _ = model.sample(5)
    assert not np.allclose(other, x[:5])  # each call draws anew...
    np.testing.assert_array_equal(model.sample(5, seed=1)[0], model.sample(5, seed=1)[0])


def test_distribution_is_the_fitted_mixture(pair, blobs):
    model, _ = pair
    distribution = model.distribution
    assert distribution.event_shape == (3,) and distribution.batch_shape == ()
    np.testing.assert_allclose(distribution.log_prob(blobs).numpy(), model.score_samples(blobs),
                               rtol=1e-9)
    assert distribution.sample(4, seed=1).shape == (4, 3)
    assert len(distribution.trainable_variables) == 3  # logits, locations, scales


def test_distribution_fine_tunes_by_gradient_without_changing_the_model(blobs):
    model = GaussianMixture(n_components=3, **_start(blobs, "full")).fit(blobs)
    distribution = model.distribution
    target = tf.constant(blobs * 1.2 + 1.0)  # other data: its likelihood must rise
    means = model.means_.copy()
    variables = distribution.trainable_variables
    optimizer = keras.optimizers.Adam(0.05)
    losses = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(target))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 0.1
    np.testing.assert_array_equal(model.means_, means)


# ------------------------------------------------------------------ saving


def test_save_and_load_round_trip(pair, blobs, tmp_path):
    model, _ = pair
    path = model.save(tmp_path / "gmm.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gmm.npz"]  # no temporary file left
    loaded = GaussianMixture.load(path)
    assert loaded.get_config() == model.get_config()
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    assert (loaded.n_iter_, loaded.converged_, loaded.lower_bounds_) == (
        model.n_iter_, model.converged_, model.lower_bounds_)
    np.testing.assert_array_equal(loaded.score_samples(blobs), model.score_samples(blobs))
    json.dumps(model.get_config())  # the config is plain JSON


# ------------------------------------------------------------------ numerics


def test_collapsed_component_fails_clearly_without_reg_covar_and_fits_with_it():
    # Three distinct points, each repeated: every component collapses onto one point.
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]), 10, axis=0)
    with pytest.raises(ValueError, match="not positive definite.*Increase reg_covar"):
        GaussianMixture(n_components=3, reg_covar=0.0, random_state=0).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converges, no NaN on the way
        model = GaussianMixture(n_components=3, random_state=0).fit(x)
    np.testing.assert_allclose(np.sort(model.covariances_[:, 0, 0]), 1e-6, rtol=1e-6)
    assert np.isfinite(model.score(x))


def test_warns_when_em_stops_at_max_iter(blobs):
    with pytest.warns(RuntimeWarning, match="did not converge in max_iter=2"):
        model = GaussianMixture(n_components=3, max_iter=2, **_start(blobs, "full")).fit(blobs)
    assert not model.converged_ and model.n_iter_ == 2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_xla_compiled_em_follows_the_same_iterations(blobs, covariance_type):
    settings = dict(n_components=3, covariance_type=covariance_type, tol=1e-6,
                    **_start(blobs, covariance_type))
    graph = GaussianMixture(**settings).fit(blobs)
    xla = GaussianMixture(jit_compile=True, **settings).fit(blobs)
    assert xla.n_iter_ == graph.n_iter_
    np.testing.assert_allclose(xla.lower_bounds_, graph.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(xla.covariances_, graph.covariances_, rtol=1e-8, atol=1e-12)
