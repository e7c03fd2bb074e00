"""Shared fixtures: small data and one tiny trained autoencoder for the whole session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def binary_digits():
    """The embedded digits, thresholded: (train, test) arrays of shape (N, 8, 8, 1)."""
    from tfae import datasets

    return (datasets.load("digits", split="train", binarize="threshold"),
            datasets.load("digits", split="test", binarize="threshold"))


@pytest.fixture(scope="session")
def trained_autoencoder(binary_digits):
    """A small dense autoencoder trained a few epochs on the binary digits."""
    import tfae

    keras.utils.set_random_seed(0)
    model = tfae.Autoencoder(input_shape=(8, 8, 1), latent_dim=8, hidden_units=(32,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(binary_digits[0], epochs=15, batch_size=64, verbose=0)
    return model, history


@pytest.fixture
def rng():
    return np.random.default_rng(0)
