"""Corruption processes C(x~ | x): rates, reproducibility, the data each accepts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfae import corruption


@pytest.fixture(scope="module")
def binary():
    return (np.random.default_rng(0).uniform(size=(200, 50)) < 0.3).astype("float32")


def test_salt_and_pepper_replaces_the_given_share_by_coin_flips(binary):
    noisy = corruption.salt_and_pepper(binary, 0.4, seed=1).numpy()
    assert set(np.unique(noisy)) <= {0.0, 1.0}
    # A replaced value differs from the original half of the time: 0.4 * 0.5 flips.
    assert np.mean(noisy != binary) == pytest.approx(0.2, abs=0.02)
    assert np.array_equal(corruption.salt_and_pepper(binary, 0.0, seed=1).numpy(), binary)


def test_masking_noise_zeroes_the_given_share():
    ones = np.ones((100, 100), "float32")
    noisy = corruption.masking_noise(ones, 0.3, seed=2).numpy()
    assert set(np.unique(noisy)) == {0.0, 1.0}
    assert np.mean(noisy == 0) == pytest.approx(0.3, abs=0.02)


def test_gaussian_noise_has_the_given_stddev():
    noisy = corruption.gaussian_noise(np.zeros((200, 200), "float32"), 0.5, seed=3).numpy()
    assert noisy.mean() == pytest.approx(0.0, abs=0.01)
    assert noisy.std() == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize("function, level", [(corruption.salt_and_pepper, 0.3),
                                             (corruption.masking_noise, 0.3),
                                             (corruption.gaussian_noise, 0.3)])
def test_the_same_seed_gives_the_same_corruption(binary, function, level):
    first, again, other = (function(binary, level, seed).numpy() for seed in (5, 5, 6))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    compiled = tf.function(lambda x: function(x, level, tf.constant([5, 0])))
    assert np.array_equal(compiled(tf.constant(binary)).numpy(), first)


def test_layers_corrupt_in_training_only_and_serialize(binary):
    layer = corruption.SaltAndPepper(0.5, seed=0)
    assert np.array_equal(layer(binary).numpy(), binary)
    assert not np.array_equal(layer(binary, training=True).numpy(), binary)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is corruption.SaltAndPepper and clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((50,)), corruption.MaskingNoise(0.2),
                              corruption.GaussianNoise(0.1)])
    assert model(binary).shape == binary.shape


def test_a_layer_draws_from_its_own_seed(binary):
    first, again, other = (corruption.MaskingNoise(0.5, seed=seed)(binary, training=True).numpy()
                           for seed in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        corruption.MaskingNoise(0.5, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        corruption.MaskingNoise(0.5, seed="3")


@pytest.mark.parametrize("make", [lambda: corruption.SaltAndPepper(1.5),
                                  lambda: corruption.MaskingNoise(-0.1),
                                  lambda: corruption.GaussianNoise(-1.0),
                                  lambda: corruption.salt_and_pepper(np.zeros((2, 2)), 2.0, 0)])
def test_levels_outside_their_range_are_refused(make):
    with pytest.raises(ValueError, match=r"\[0, 1\]|>= 0"):
        make()


def test_salt_and_pepper_refuses_grey_levels():
    grey = np.full((2, 3), 0.5, "float32")
    with pytest.raises(ValueError, match="binary data"):
        corruption.salt_and_pepper(grey, 0.2, seed=0)
    with pytest.raises(ValueError, match="binarize"):
        corruption.SaltAndPepper(0.2).check_data(grey)


def test_get_builds_from_pairs_layers_and_configs():
    assert corruption.get(("masking", 0.3)).rate == 0.3
    layer = corruption.GaussianNoise(0.2)
    assert corruption.get(layer) is layer
    assert corruption.get(keras.saving.serialize_keras_object(layer)).stddev == 0.2
    with pytest.raises(ValueError, match="salt_and_pepper"):
        corruption.get(("speckle", 0.1))
    with pytest.raises(TypeError, match="corruption"):
        corruption.get("salt_and_pepper")
