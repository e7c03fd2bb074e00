"""Beyond the lecture's VAE: learned priors (a trained mixture of Gaussians, the VampPrior)
and a posterior flow (inverse autoregressive steps): the densities against direct
computations, the bounds' order, training, saving and refusals."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

import tfae
from tfae import priors


def _vae(prior=None, steps=0, **kwargs):
    settings = dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), prior=prior,
                    posterior_flow_steps=steps, posterior_flow_units=(12,), seed=0)
    return tfae.VAE(**{**settings, **kwargs})


def _trained(model, x, epochs=3):
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def combined(binary_digits):
    """A VAE with a VampPrior, two flow steps and k = 2, trained a few epochs."""
    keras.utils.set_random_seed(0)
    prior = priors.VampPrior(num_pseudo_inputs=6, seed=0)
    model = _vae(prior, steps=2, training_samples=2)
    prior.adapt(binary_digits[0])
    return _trained(model, binary_digits[0], epochs=4)


def _log_normal(z, loc, scale):
    return np.sum(-0.5 * ((z - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi), -1)


# ------------------------------------------------------------------ learned priors


def test_mixture_prior_is_the_mixture_of_its_weights():
    keras.utils.set_random_seed(1)
    prior = priors.MixturePrior(num_components=4, seed=3)
    model = _vae(prior)
    prior.logits.assign([0.3, -1.0, 2.0, 0.0])
    z = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    logits, loc, scale = (np.float64(v) for v in prior.components())
    log_pi = logits - logsumexp(logits)
    expected = logsumexp(log_pi + _log_normal(z[:, None], loc, scale), axis=1)
    np.testing.assert_allclose(model.prior.log_prob(z), expected, rtol=1e-5)
    np.testing.assert_allclose(prior(z), expected, rtol=1e-5)
    assert model.kl_method == "monte_carlo"


def test_vamp_prior_is_the_average_posterior_at_its_pseudo_inputs(combined):
    prior = combined.prior_layer
    # (The trained pseudo-inputs have left [0, 1]: the encoder is called on them directly.)
    loc, scale = (np.float64(v) for v in combined._posterior_parameters(
        tf.convert_to_tensor(prior.pseudo_inputs))[:2])
    z = np.random.default_rng(1).normal(size=(9, 3))
    expected = logsumexp(_log_normal(z[:, None], loc, scale), axis=1) - np.log(6)
    np.testing.assert_allclose(combined.prior.log_prob(z.astype("float32")), expected,
                               rtol=1e-5)


def test_learned_priors_are_trained_with_the_model(binary_digits):
    for prior in (priors.MixturePrior(3, seed=0), priors.VampPrior(4, seed=0)):
        model = _vae(prior)
        before = [w.numpy().copy() for w in prior.trainable_weights]
        assert len(before) == len(prior.trainable_weights) > 0
        assert all(any(w is v for v in model.trainable_weights) for w in prior.trainable_weights)
        _trained(model, binary_digits[0], epochs=1)
        for old, new in zip(before, prior.trainable_weights, strict=True):
            assert not np.allclose(old, new.numpy())


def test_the_kl_term_uses_the_learned_prior(binary_digits):
    model = _vae(priors.MixturePrior(2, seed=0))
    x = tf.constant(binary_digits[1][:20])
    # The draw of loss_terms (the first evaluation seed) reproduced by hand.
    seed = model.evaluation_seed(model.seed_generator)
    model._evaluation_draws.assign(0)
    terms = model.loss_terms(x)
    loc, scale = model.posterior_parameters(x)
    eps = tf.random.stateless_normal(tf.shape(loc), seed)
    z = loc + scale * eps
    log_q = _log_normal(z.numpy(), loc.numpy(), scale.numpy())
    np.testing.assert_allclose(terms["kl"], log_q - model.prior.log_prob(z), rtol=1e-4,
                               atol=1e-4)


def test_vamp_prior_adapt_picks_examples_and_refuses_bad_input(binary_digits):
    x = binary_digits[0]
    prior = priors.VampPrior(5, seed=2)
    with pytest.raises(ValueError, match="give it to a tfae.VAE first"):
        prior.adapt(x)
    _vae(prior)
    chosen = prior.adapt(x).pseudo_inputs.numpy()
    assert all((x == row).all(axis=(1, 2, 3)).any() for row in chosen)
    with pytest.raises(ValueError, match="fewer than num_pseudo_inputs"):
        prior.adapt(x[:4])
    with pytest.raises(ValueError, match="shape"):
        prior.adapt(np.zeros((10, 64), "float32"))


def test_a_learned_prior_is_refused_after_training_and_never_swapped(binary_digits):
    model = _trained(_vae(), binary_digits[0][:64], epochs=1)
    with pytest.raises(ValueError, match="pass it to the constructor"):
        model.prior = priors.MixturePrior(2)
    learned = _vae(priors.MixturePrior(2, seed=0))
    weights = len(learned.weights)
    for other in (None, priors.standard_normal(3), priors.VampPrior(2)):
        with pytest.raises(ValueError, match="keeps it"):
            learned.prior = other
    assert len(learned.weights) == weights and learned.kl_method == "monte_carlo"


@pytest.mark.parametrize("bad, error", [
    (lambda: priors.MixturePrior(0), ValueError),
    (lambda: priors.MixturePrior(2.5), TypeError),
    (lambda: priors.MixturePrior(2, min_scale=0.0), ValueError),
    (lambda: priors.VampPrior(-1), ValueError),
    (lambda: _vae(steps=-1), ValueError),
    (lambda: _vae(steps=1, posterior_flow_units=()), ValueError),
])
def test_bad_settings_are_refused(bad, error):
    with pytest.raises(error):
        bad()


# ------------------------------------------------------------------ the posterior flow


def test_flow_log_q_matches_the_change_of_variables(combined, binary_digits):
    x = tf.constant(binary_digits[1][:4])
    loc, scale, context = combined._posterior_parameters(x)
    eps = tf.random.stateless_normal(tf.shape(loc), [3, 4])
    z0 = loc + scale * eps
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z, log_det = combined.posterior_flow(z0, context)
    jacobian = tape.batch_jacobian(z, z0)
    _, log_abs_det = np.linalg.slogdet(np.float64(jacobian))
    expected = _log_normal(z0.numpy(), loc.numpy(), scale.numpy()) - log_abs_det
    z_model, log_q = combined._latent_model.draw((loc, scale, context), eps)
    np.testing.assert_allclose(z_model, z, rtol=1e-6)
    np.testing.assert_allclose(log_q, expected, rtol=1e-4, atol=1e-4)
    # The flow is not the identity: it moved z and changed the density.
    assert np.abs(z - z0).max() > 1e-2 and np.abs(log_abs_det).max() > 1e-2


def test_elbo_is_below_the_importance_weighted_estimate(combined, binary_digits):
    x = binary_digits[1][:30]
    elbo = combined.elbo(x, num_samples=200, seed=0).numpy()
    iw = combined.log_prob(x, num_samples=200, seed=0).numpy()
    assert (elbo <= iw + 1e-4).all() and (iw - elbo).mean() > 0.05
    assert combined.kl_method == "monte_carlo"


def test_training_with_the_flow_and_the_vamp_prior_raises_the_bound(combined, binary_digits):
    fresh = _vae(priors.VampPrior(6, seed=0), steps=2, training_samples=2)
    x = binary_digits[1][:100]
    assert combined.elbo(x, seed=0).numpy().mean() > fresh.elbo(x, seed=0).numpy().mean() + 5
    assert len(combined.posterior_flow.trainable_weights) > 0


def test_round_trip_keeps_the_learned_prior_and_the_flow(combined, binary_digits, tmp_path):
    path = tmp_path / "vae.keras"
    combined.save(path)
    loaded = keras.models.load_model(path)
    x = binary_digits[1][:20]
    assert isinstance(loaded.prior_layer, priors.VampPrior)
    assert json.dumps(loaded.get_config()) == json.dumps(combined.get_config())
    for method in (lambda m: m.elbo(x, num_samples=3, seed=1),
                   lambda m: m.log_prob(x, num_samples=10, seed=1),
                   lambda m: m.sample(4, seed=2),
                   lambda m: m.posterior_sample(x, 2, seed=3)[1],
                   lambda m: m.prior.log_prob(np.ones((2, 3), "float32"))):
        np.testing.assert_array_equal(method(loaded), method(combined))
    mixture = _vae(priors.MixturePrior(3, seed=1))
    mixture.save(tmp_path / "mixture.keras")
    loaded = keras.models.load_model(tmp_path / "mixture.keras")
    np.testing.assert_array_equal(loaded.elbo(x, seed=1), mixture.elbo(x, seed=1))


def test_the_flow_changes_what_the_gaussian_methods_say(combined, binary_digits):
    x = binary_digits[1][:3]
    with pytest.raises(ValueError, match="posterior_sample"):
        combined.encode(x)
    with pytest.raises(ValueError, match="monte_carlo"):
        combined.kl_divergence(x, method="analytic")
    z, log_q = combined.posterior_sample(x, num_samples=5, seed=0)
    assert z.shape == (5, 3, 3) and log_q.shape == (5, 3)
    kl = combined.kl_divergence(x, num_samples=5, seed=0)
    np.testing.assert_allclose(kl, np.mean(log_q - combined.prior.log_prob(z), axis=0),
                               rtol=1e-5)
    # The reconstruction decodes the posterior's center, the flow applied at eps = 0.
    parameters = combined._posterior_parameters(tf.constant(x))
    center = combined.posterior_flow(parameters[0], parameters[2])[0]
    np.testing.assert_allclose(combined.reconstruct(x), combined.decode(center).mean(),
                               rtol=1e-6)


def test_a_custom_encoder_must_give_the_flow_its_context():
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(6)])
    with pytest.raises(ValueError, match="context"):
        tfae.VAE(input_shape=(8, 8, 1), latent_dim=3, encoder=encoder, posterior_flow_steps=1)


# ------------------------------------------------------------------ the command line


def test_the_command_line_trains_a_vamp_prior_with_a_flow(tmp_path, capsys):
    from tfae.cli import main

    out = tmp_path / "run"
    assert main(["train", "vae", "--epochs", "1", "--latent-dim", "3", "--hidden-units", "16",
                 "--prior", "vamp", "--prior-components", "7", "--posterior-flow-steps", "1",
                 "--posterior-flow-units", "8", "--out", str(out)]) == 0
    loaded = keras.models.load_model(out / "model.keras")
    assert isinstance(loaded.prior_layer, priors.VampPrior)
    assert loaded.prior_layer.num_pseudo_inputs == 7 and loaded.posterior_flow_steps == 1
    # The pseudo-inputs started at training examples and moved with training.
    assert not np.isin(loaded.prior_layer.pseudo_inputs.numpy(), [0.0, 1.0]).all()
    # Its generative part is the sampler of its prior (the decoder fed N(0, I) is not).
    assert main(["export", str(out)]) == 0
    assert (out / "sampler.tflite").is_file() and not (out / "decoder.tflite").exists()
    capsys.readouterr()
    assert main(["train", "vae", "--prior-components", "3", "--out",
                 str(tmp_path / "other")]) == 2
    assert "--prior-components applies to --prior mixture" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
