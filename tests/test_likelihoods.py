"""Decoder likelihoods: the lecture's cross-entropy, normalisation, Gaussian densities."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfae import likelihoods


def test_bernoulli_nll_is_the_lectures_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 7)).astype("float32")
    x = (rng.uniform(size=(5, 7)) < 0.5).astype("float32")
    x_hat = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    cross_entropy = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat)).sum(axis=1)
    nll = -likelihoods.Bernoulli().distribution(tf.constant(logits)).log_prob(x).numpy()
    np.testing.assert_allclose(nll, cross_entropy, rtol=1e-5)


def test_bernoulli_probabilities_of_all_binary_images_sum_to_one():
    logits = tf.random.stateless_normal([1, 2, 2, 1], seed=[1, 2])
    images = np.array(list(itertools.product([0.0, 1.0], repeat=4)), "float32").reshape(-1, 2, 2, 1)
    distribution = likelihoods.Bernoulli().distribution(tf.repeat(logits, len(images), axis=0))
    assert distribution.event_shape == (2, 2, 1)
    total = np.exp(distribution.log_prob(images).numpy().astype("float64")).sum()
    assert total == pytest.approx(1.0, abs=1e-6)


def test_gaussian_fixed_scale_density():
    loc = np.array([[0.0, 1.0, -2.0]], "float32")
    x = np.array([[0.5, 0.5, 0.5]], "float32")
    log_prob = likelihoods.Gaussian(scale=0.5).distribution(tf.constant(loc)).log_prob(x)
    expected = (-0.5 * ((x - loc) / 0.5) ** 2 - np.log(0.5) - 0.5 * np.log(2 * np.pi)).sum()
    np.testing.assert_allclose(log_prob.numpy(), [expected], rtol=1e-6)


def test_gaussian_learned_scale_splits_loc_and_softplus_scale():
    head = likelihoods.Gaussian(scale="learned", min_scale=0.01)
    assert head.params_per_value == 2
    params = tf.constant([[0.0, 1.0, -3.0, 2.0]])  # loc (0, 1), raw scale (-3, 2)
    distribution = head.distribution(params)
    assert distribution.event_shape == (2,)
    scale = np.log1p(np.exp([-3.0, 2.0])) + 0.01
    np.testing.assert_allclose(distribution.distribution.scale.numpy()[0], scale, rtol=1e-6)
    np.testing.assert_allclose(distribution.mean().numpy(), [[0.0, 1.0]])


@pytest.mark.parametrize("head", [likelihoods.Bernoulli(), likelihoods.Gaussian(0.3),
                                  likelihoods.Gaussian("learned", min_scale=0.05)])
def test_heads_round_trip_through_keras_serialization(head):
    config = likelihoods.serialize(head)
    assert config["registered_name"].startswith("tfae>")
    assert likelihoods.get(config) == head
    assert keras.saving.deserialize_keras_object(config) == head


def test_get_by_name_and_errors():
    assert likelihoods.get("Bernoulli") == likelihoods.Bernoulli()
    assert likelihoods.get("gaussian") == likelihoods.Gaussian(1.0)
    with pytest.raises(ValueError, match="bernoulli"):
        likelihoods.get("poisson")
    with pytest.raises(TypeError, match="likelihood"):
        likelihoods.get(3)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), "fixed"])
def test_gaussian_refuses_bad_scales(scale):
    with pytest.raises(ValueError, match="scale"):
        likelihoods.Gaussian(scale=scale)


def test_bernoulli_refuses_data_outside_unit_interval_and_nan():
    head = likelihoods.Bernoulli()
    with pytest.raises(ValueError, match=r"\[0, 1\].*rescale"):
        head.check_data(np.array([[0.0, 255.0]]))
    with pytest.raises(ValueError, match="non-finite"):
        head.check_data(np.array([[0.0, np.nan]]))
    head.check_data(np.array([[0.0, 0.3, 1.0]]))  # grey levels are scored, not refused
    likelihoods.Gaussian().check_data(np.array([[-4.0, 255.0]]))
