"""The denoising autoencoder: denoising beats the identity, walkback terms, the Markov chain."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfae
from tfae import corruption, likelihoods


@pytest.fixture(scope="module")
def grey_digits():
    return (tfae.datasets.load("digits", split="train"), tfae.datasets.load("digits", split="test"))


@pytest.fixture(scope="module")
def trained_dae(binary_digits):
    keras.utils.set_random_seed(0)
    model = tfae.DenoisingAutoencoder((8, 8, 1), 32, corruption=("salt_and_pepper", 0.2),
                                      hidden_units=(64,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(binary_digits[0], epochs=10, batch_size=64, verbose=0)
    return model


def test_denoising_beats_the_identity_on_held_out_corrupted_digits(grey_digits):
    """Gaussian noise of stddev s, Gaussian likelihood of scale s: the identity baseline
    scores x under N(x; x~, s^2), the corrupted input itself as the reconstruction."""
    stddev = 0.3
    keras.utils.set_random_seed(1)
    model = tfae.DenoisingAutoencoder((8, 8, 1), 16, corruption=corruption.GaussianNoise(stddev),
                                      likelihood=likelihoods.Gaussian(scale=stddev),
                                      hidden_units=(64,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(grey_digits[0], epochs=20, batch_size=64, verbose=0)
    x_test = grey_digits[1]
    x_noisy = model.corrupt(x_test, seed=7)
    identity = -likelihoods.Gaussian(scale=stddev).distribution(x_noisy).log_prob(x_test)
    denoised = model.denoising_loss(x_test, seed=7)
    assert float(tf.reduce_mean(denoised)) < float(tf.reduce_mean(identity)) - 10.0
    np.testing.assert_allclose(model.denoise(x_noisy).numpy(),
                               model.decode(model.encode(x_noisy)).mean().numpy())


def test_walkback_adds_its_terms_to_the_objective(binary_digits):
    x = binary_digits[0][:32]
    plain = tfae.DenoisingAutoencoder((8, 8, 1), 8, hidden_units=(16,), seed=3)
    terms = plain.loss_terms(tf.constant(x))
    assert np.all(terms["walkback"].numpy() == 0)
    np.testing.assert_array_equal(terms["loss"].numpy(), terms["denoising"].numpy())

    always = tfae.DenoisingAutoencoder((8, 8, 1), 8, hidden_units=(16,), seed=3,
                                       walkback_steps=3, walkback_probability=1.0)
    terms = always.loss_terms(tf.constant(x))
    walkback = terms["walkback"].numpy()
    # Three further corruptions, each scored -log p(x | f(x~)) > 0 nats per example.
    assert np.all(walkback > 0)
    assert np.mean(walkback / terms["denoising"].numpy()) == pytest.approx(3.0, rel=0.3)
    np.testing.assert_allclose(terms["loss"].numpy(), terms["denoising"].numpy() + walkback,
                               rtol=1e-6)

    sometimes = tfae.DenoisingAutoencoder((8, 8, 1), 8, hidden_units=(16,), seed=3,
                                          walkback_steps=1, walkback_probability=0.5)
    taken = sometimes.loss_terms(tf.constant(binary_digits[0]))["walkback"].numpy() > 0
    assert taken.mean() == pytest.approx(0.5, abs=0.08)  # each step is a coin flip


def test_walkback_training_reports_each_term(binary_digits):
    model = tfae.DenoisingAutoencoder((8, 8, 1), 8, hidden_units=(16,), seed=0, walkback_steps=2)
    model.compile(optimizer="adam")
    logs = model.fit(binary_digits[0][:128], epochs=1, verbose=0).history
    assert set(logs) == {"loss", "denoising", "walkback"}
    assert logs["loss"][0] == pytest.approx(logs["denoising"][0] + logs["walkback"][0], rel=1e-5)


def _model(seed=0, corruption_seed=None, walkback_steps=0):
    keras.utils.set_random_seed(0)  # the same initial weights
    return tfae.DenoisingAutoencoder(
        (8, 8, 1), 8, hidden_units=(8,), seed=seed, walkback_steps=walkback_steps,
        corruption=corruption.SaltAndPepper(0.3, seed=corruption_seed))


def test_the_corruption_layers_own_seed_seeds_the_corruption_draws(binary_digits):
    x = tf.constant(binary_digits[0][:64])

    def training_losses(**seeds):  # the first two training steps draw these corruptions
        model = _model(**seeds)
        return np.stack([model.loss_terms(x, training=True)["loss"] for _ in range(2)])

    reference = training_losses(seed=0, corruption_seed=1)
    assert not np.array_equal(training_losses(seed=0, corruption_seed=2), reference)
    # Without walkback every draw is a corruption draw, all from the layer's seed.
    np.testing.assert_array_equal(training_losses(seed=5, corruption_seed=1), reference)
    # A layer without a seed leaves its draws to the model's seed.
    assert not np.array_equal(training_losses(seed=5), training_losses(seed=0))


def test_chains_are_reproducible_and_shaped_as_documented(trained_dae, binary_digits):
    chain = trained_dae.sample_chain(num_chains=5, num_steps=7, seed=11)
    assert chain.shape == (7, 5, 8, 8, 1)
    assert set(np.unique(chain.numpy())) <= {0.0, 1.0}
    np.testing.assert_array_equal(
        trained_dae.sample_chain(num_chains=5, num_steps=7, seed=11).numpy(), chain.numpy())
    assert not np.array_equal(
        trained_dae.sample_chain(num_chains=5, num_steps=7, seed=12).numpy(), chain.numpy())
    last = trained_dae.sample_chain(num_chains=5, num_steps=7, seed=11, return_all=False)
    np.testing.assert_array_equal(last.numpy(), chain[-1].numpy())
    means = trained_dae.sample_chain(x0=binary_digits[1][:3], num_steps=4, seed=0,
                                     return_means=True)
    assert means.shape == (4, 3, 8, 8, 1)
    assert 0 < means.numpy().min() and means.numpy().max() < 1
    with pytest.raises(TypeError, match="return_all must be True or False"):
        trained_dae.sample_chain(num_chains=2, num_steps=2, return_all="no")


def test_chain_samples_look_like_digits_more_than_noise(trained_dae, binary_digits):
    """After a burn-in, chain samples score far better under the model's own denoising
    loss than the coin-flip noise they started from."""
    samples = trained_dae.sample_chain(num_chains=64, num_steps=30, seed=0, return_all=False)
    noise = trained_dae.sample_chain(num_chains=64, num_steps=1, seed=0, return_all=False)
    start = tf.cast(tf.random.stateless_uniform(noise.shape, [0, 1]) < 0.5, tf.float32)
    sample_loss = trained_dae.denoising_loss(samples.numpy(), seed=1).numpy().mean()
    assert sample_loss < 0.5 * trained_dae.denoising_loss(start.numpy(), seed=1).numpy().mean()


def test_save_and_load_keep_the_chain(tmp_path, trained_dae):
    path = tmp_path / "dae.keras"
    trained_dae.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is tfae.DenoisingAutoencoder
    assert loaded.get_config() == trained_dae.get_config()
    chains = [model.sample_chain(num_chains=3, num_steps=5, seed=4).numpy()
              for model in (loaded, trained_dae)]
    np.testing.assert_array_equal(*chains)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: m.sample_chain(num_chains=2, num_steps=0), "num_steps must be >= 1"),
    (lambda m, x: m.sample_chain(num_steps=3), "either num_chains"),
    (lambda m, x: m.sample_chain(x0=np.zeros((2, 64), "float32"), num_steps=3), "shape"),
    (lambda m, x: m.fit(np.full((4, 8, 8, 1), 0.5, "float32"), verbose=0), "binary data"),
])
def test_bad_input_raises_a_clear_value_error(trained_dae, call, message):
    with pytest.raises(ValueError, match=message):
        call(trained_dae, None)


@pytest.mark.parametrize("kwargs, message", [
    (dict(corruption=("salt_and_pepper", 1.5)), r"\[0, 1\]"),
    (dict(walkback_steps=-1), "walkback_steps"),
    (dict(walkback_probability=2.0), "walkback_probability"),
    (dict(seed=-1), "seed must be >= 0"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfae.DenoisingAutoencoder((8, 8, 1), 8, **kwargs)


def test_gaussian_corrupted_input_can_be_denoised_with_a_bernoulli_decoder(binary_digits):
    model = tfae.DenoisingAutoencoder((8, 8, 1), 8, corruption=corruption.GaussianNoise(0.5),
                                      hidden_units=(16,))
    x_noisy = model.corrupt(binary_digits[1][:4], seed=0).numpy()
    assert x_noisy.min() < 0 or x_noisy.max() > 1  # outside the Bernoulli's support
    assert model.denoise(x_noisy).shape == (4, 8, 8, 1)


def test_a_denoising_autoencoder_may_be_overcomplete():
    assert tfae.DenoisingAutoencoder((8, 8, 1), 128).latent_dim == 128
