"""The variational autoencoder: the ELBO, its KL term, importance-weighted log p(x) against
exact quadrature, priors, saving, generating, active units, plots, bad input."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfae

tfd = tfp.distributions


@pytest.fixture(scope="module")
def trained_vae(binary_digits):
    """A small dense VAE trained a few seconds on the binary digits."""
    keras.utils.set_random_seed(0)
    model = tfae.VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(binary_digits[0], epochs=20, batch_size=64, verbose=0)
    return model, history


def _copy(model, **changes):
    """The same weights in a model whose config differs by ``changes``."""
    clone = tfae.VAE.from_config({**model.get_config(), **changes})
    clone.set_weights(model.get_weights())
    return clone


def _mean(values) -> float:
    return float(np.mean(np.asarray(values, np.float64)))


# ------------------------------------------------------------------------------- the ELBO


def test_training_raises_the_elbo_and_reports_its_terms(trained_vae, binary_digits):
    model, history = trained_vae
    assert set(history.history) == {"loss", "reconstruction", "kl"}
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    x = binary_digits[1]
    terms = model.evaluate(x, verbose=0, return_dict=True)
    assert terms["loss"] == pytest.approx(terms["reconstruction"] + terms["kl"], rel=1e-5)
    assert terms["kl"] > 0
    # -ELBO, estimated by evaluate() and by elbo() with other draws, and below the baseline.
    elbo = _mean(model.elbo(x, num_samples=20, seed=0))
    assert -elbo == pytest.approx(terms["loss"], abs=0.3)
    assert -elbo < tfae.metrics.pixel_mean_nll(binary_digits[0], x).mean()


def test_loss_is_reconstruction_plus_beta_times_kl(trained_vae, binary_digits):
    model, _ = trained_vae
    x = tf.constant(binary_digits[1][:50])
    weighted = _copy(model, beta=0.25)
    terms = weighted.loss_terms(x)
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + 0.25 * terms["kl"],
                               rtol=1e-5)
    weighted.beta = 2.0  # a variable: the compiled step sees the new value
    weighted.compile(optimizer="adam")
    logs = weighted.evaluate(x, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 2.0 * logs["kl"], rel=1e-5)
    assert weighted.get_config()["beta"] == 2.0


def test_analytic_kl_equals_a_large_monte_carlo_estimate(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1][:40]
    analytic = model.kl_divergence(x, method="analytic").numpy()
    q = model.encode(x)
    closed_form = tfd.kl_divergence(q, tfd.MultivariateNormalDiag(tf.zeros(4), tf.ones(4)))
    np.testing.assert_allclose(analytic, closed_form.numpy(), rtol=1e-4, atol=1e-5)
    # 20 independent means of 1000 draws each: their spread gives the standard error.
    means = np.stack([model.kl_divergence(x, method="monte_carlo", num_samples=1000,
                                          seed=seed).numpy() for seed in range(20)])
    standard_error = means.std(axis=0, ddof=1) / np.sqrt(len(means))
    assert np.all(np.abs(means.mean(axis=0) - analytic) < 5 * standard_error + 1e-4)
    assert analytic.mean() > 0.5  # not a trivial posterior equal to the prior


def test_monte_carlo_kl_agrees_with_the_analytic_kl_in_expectation(trained_vae, binary_digits):
    model, _ = trained_vae
    monte_carlo = _copy(model, kl="monte_carlo")
    assert model.kl_method == "analytic" and monte_carlo.kl_method == "monte_carlo"
    x = binary_digits[1][:100]
    # The same seed draws the same z: the two ELBOs differ only by the KL estimate.
    exact = model.elbo(x, num_samples=2000, seed=4).numpy()
    estimated = monte_carlo.elbo(x, num_samples=2000, seed=4).numpy()
    assert abs(_mean(exact) - _mean(estimated)) < 0.02
    # And the training loss uses it: one draw per example, unbiased.
    loss_terms = tf.function(monte_carlo.loss_terms)  # draws from the seed generator
    kl = np.mean([loss_terms(tf.constant(x))["kl"].numpy() for _ in range(200)], axis=0)
    analytic = model.kl_divergence(x, method="analytic").numpy()
    assert abs(kl.mean() - analytic.mean()) < 0.05


# ------------------------------------------------------------------------------- log p(x)


def test_importance_weighting_tightens_the_bound(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1]
    seeds = range(3)
    elbo = np.mean([_mean(model.elbo(x, seed=seed)) for seed in seeds])
    iw = {k: np.mean([_mean(model.log_prob(x, num_samples=k, seed=seed)) for seed in seeds])
          for k in (1, 10, 100)}
    assert elbo <= iw[100] and elbo <= iw[10]
    assert iw[1] < iw[10] - 0.01 and iw[10] < iw[100] + 0.01
    assert iw[100] < 0


def test_one_importance_sample_is_the_elbo_in_expectation(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1]
    # With the Monte Carlo KL and the same seed, both are log w at the same z: equal.
    monte_carlo = _copy(model, kl="monte_carlo")
    np.testing.assert_allclose(monte_carlo.log_prob(x, num_samples=1, seed=7).numpy(),
                               monte_carlo.elbo(x, num_samples=1, seed=7).numpy(),
                               rtol=1e-5, atol=1e-4)
    # Against the analytic-KL ELBO: equal in expectation over the draws.
    draws = np.array([_mean(model.log_prob(x, num_samples=1, seed=seed)) for seed in range(20)])
    elbo = _mean(model.elbo(x, num_samples=500, seed=99))
    assert abs(draws.mean() - elbo) < 4 * draws.std(ddof=1) / np.sqrt(len(draws)) + 0.01


def test_log_prob_does_not_depend_on_how_it_is_chunked(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1][:30]
    whole = model.log_prob(x, num_samples=50, seed=3, batch_size=30, chunk_size=50).numpy()
    chunked = model.log_prob(x, num_samples=50, seed=3, batch_size=30, chunk_size=7).numpy()
    # Other chunks draw other z, so only the estimates agree, not the draws.
    assert abs(whole.mean() - chunked.mean()) < 0.05
    again = model.log_prob(x, num_samples=50, seed=3, batch_size=30, chunk_size=7).numpy()
    np.testing.assert_array_equal(chunked, again)
    batched = model.log_prob(x, num_samples=50, seed=3, batch_size=8, chunk_size=7).numpy()
    assert batched.shape == (30,) and np.all(np.isfinite(batched))


@pytest.fixture(scope="module")
def toy_problem():
    """3 binary pixels and a 1-D latent: log p(x) by quadrature is exact."""
    rng = np.random.default_rng(0)
    probabilities = np.array([0.3, 0.05, 0.05, 0.1, 0.1, 0.05, 0.05, 0.3])
    patterns = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype("float32")
    data = patterns[rng.choice(8, size=3000, p=probabilities)]
    keras.utils.set_random_seed(0)
    model = tfae.VAE((3,), latent_dim=1, hidden_units=(16,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(data, epochs=30, batch_size=100, verbose=0)
    # Integrals over z on a fine grid (the tails beyond |z| = 10 are negligible):
    # log p(x) = log integral p(x|z) N(z; 0, 1) dz, and the ELBO's
    # E_q[log p(x|z)] = integral q(z|x) log p(x|z) dz with the KL term in closed form.
    z = np.linspace(-10.0, 10.0, 4001)
    dz = z[1] - z[0]
    log_px_z = np.stack([model.decode(z[:, None].astype("float32")).log_prob(x).numpy()
                         for x in patterns]).astype(np.float64)  # (8, grid)
    log_pz = -0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    exact = np.logaddexp.reduce(log_px_z + log_pz, axis=1) + np.log(dz)
    q = model.encode(patterns)
    mu, sigma = (q.mean().numpy()[:, 0].astype(np.float64),
                 q.stddev().numpy()[:, 0].astype(np.float64))
    q_density = np.exp(-0.5 * ((z - mu[:, None]) / sigma[:, None]) ** 2) / (
        sigma[:, None] * np.sqrt(2 * np.pi))
    kl = 0.5 * (mu**2 + sigma**2 - 1.0) - np.log(sigma)
    elbo = (q_density * log_px_z).sum(axis=1) * dz - kl
    return model, patterns, exact, elbo, np.log(probabilities)


def test_quadrature_log_prob_is_normalised_and_fits_the_data(toy_problem):
    _, _, exact, elbo, true_log_prob = toy_problem
    assert np.exp(exact).sum() == pytest.approx(1.0, abs=1e-3)
    assert np.abs(exact - true_log_prob).max() < 0.3  # the model learned the distribution
    assert np.all(elbo <= exact)  # the bound, with this decoder and encoder


def test_importance_weighted_estimate_converges_to_exact_log_prob(toy_problem):
    model, patterns, exact, _, _ = toy_problem
    errors = {k: np.abs(model.log_prob(patterns, num_samples=k, seed=1).numpy() - exact)
              for k in (1, 2000)}
    assert errors[2000].max() < 0.02
    assert errors[2000].mean() < errors[1].mean()


def test_elbo_estimate_equals_the_elbo_by_quadrature(toy_problem):
    model, patterns, _, elbo, _ = toy_problem
    estimate = model.elbo(patterns, num_samples=2000, seed=2).numpy()
    np.testing.assert_allclose(estimate, elbo, atol=0.06)
    assert abs(estimate.mean() - elbo.mean()) < 0.02


# ------------------------------------------------------------------------------- priors


def _mixture_prior(latent_dim=2, dtype=tf.float32):
    locs = tf.constant([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]], dtype)[:, :latent_dim]
    return tfd.MixtureSameFamily(tfd.Categorical(logits=tf.zeros(3, dtype)),
                                 tfd.MultivariateNormalDiag(locs, tf.ones_like(locs)))


def test_a_mixture_prior_uses_the_monte_carlo_kl_and_trains(binary_digits):
    prior = _mixture_prior()
    model = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(16,), prior=prior, seed=0)
    assert model.kl_method == "monte_carlo"  # no closed form for a mixture
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(binary_digits[0], epochs=3, batch_size=64, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    x = binary_digits[1][:20]
    # The KL term is log q(z|x) - log p(z) under this prior, not the standard normal.
    standard = _copy(model, prior=None)
    assert abs(_mean(standard.elbo(x, num_samples=200, seed=0))
               - _mean(model.elbo(x, num_samples=200, seed=0))) > 0.1
    z = model.sample(500, seed=0, return_means=True)
    assert z.shape == (500, 8, 8, 1)


def test_a_gaussian_mixture_fitted_on_codes_is_a_prior(trained_vae, binary_digits):
    model, _ = trained_vae
    codes = model.encode(binary_digits[0]).mean().numpy()
    mixture = tfae.GaussianMixture(n_components=3, covariance_type="diag", random_state=0)
    mixture = mixture.fit(codes)
    assert mixture.distribution.dtype == tf.float64  # cast to and from float32 inside
    with_mixture = _copy(model)
    with_mixture.prior = mixture.distribution
    x = binary_digits[1][:50]
    log_prob = with_mixture.log_prob(x, num_samples=50, seed=0).numpy()
    assert log_prob.dtype == np.float32 and np.all(np.isfinite(log_prob))
    # A prior fitted to the codes sits closer to q(z|x) than N(0, I): a smaller KL term.
    assert (_mean(with_mixture.kl_divergence(x, seed=0))
            < _mean(model.kl_divergence(x, method="analytic")))
    assert with_mixture.sample(4, seed=1).shape == (4, 8, 8, 1)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_a_fitted_gaussian_mixture_prior_loads_back_with_the_same_elbo(
        tmp_path, trained_vae, binary_digits, covariance_type):
    model, _ = trained_vae
    codes = model.encode(binary_digits[0][:300]).mean().numpy()
    mixture = tfae.GaussianMixture(n_components=2, covariance_type=covariance_type,
                                   seed=0).fit(codes)
    with_mixture = _copy(model, prior=None)
    with_mixture.prior = mixture.distribution
    with_mixture.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert type(loaded.prior.components_distribution) is type(
        with_mixture.prior.components_distribution)
    assert loaded.prior.dtype == tf.float64 and loaded.kl_method == with_mixture.kl_method
    x = binary_digits[1][:20]
    np.testing.assert_array_equal(loaded.elbo(x, seed=0).numpy(),
                                  with_mixture.elbo(x, seed=0).numpy())
    np.testing.assert_array_equal(loaded.sample(3, seed=1).numpy(),
                                  with_mixture.sample(3, seed=1).numpy())
    assert json.dumps(loaded.get_config()) == json.dumps(with_mixture.get_config())


def test_a_prior_that_cannot_be_saved_is_refused_before_any_file_is_written(tmp_path):
    logistic = tfd.Independent(tfd.Logistic(tf.zeros(2), tf.ones(2)), 1)
    model = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(4,), prior=logistic)
    message = r"Logistic.*MultivariateNormalDiag.*save_weights"
    with pytest.raises(ValueError, match=message):
        model.save(tmp_path / "new.keras")
    assert not (tmp_path / "new.keras").exists()
    earlier = tmp_path / "earlier.keras"
    earlier.write_bytes(b"an earlier save")
    with pytest.raises(ValueError, match=message):
        model.save(earlier)
    assert earlier.read_bytes() == b"an earlier save"  # not truncated
    with pytest.raises(ValueError, match=message):
        model.get_config()
    assert list(tmp_path.iterdir()) == [earlier]
    # Files of tfae 0.1.0 held a placeholder instead: loading says how to get the weights.
    legacy = {**tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(4,)).get_config(),
              "prior": {"custom": "Independent"}}
    with pytest.raises(ValueError, match=r"does not hold \(Independent\).*load_weights"):
        tfae.VAE.from_config(legacy)


# ------------------------------------------------------------------------------- saving


def test_save_and_load_round_trip_is_identical(tmp_path, trained_vae, binary_digits):
    model, _ = trained_vae
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert type(loaded) is tfae.VAE
    assert loaded.get_config() == model.get_config()
    for mine, theirs in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    x = binary_digits[1][:64]
    np.testing.assert_array_equal(loaded.elbo(x, seed=5).numpy(), model.elbo(x, seed=5).numpy())
    np.testing.assert_array_equal(loaded.log_prob(x, 20, seed=5).numpy(),
                                  model.log_prob(x, 20, seed=5).numpy())
    np.testing.assert_array_equal(loaded.sample(3, seed=2).numpy(), model.sample(3, seed=2).numpy())
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("kwargs", [
    dict(architecture="conv", hidden_units=(4, 8), likelihood="gaussian", kl="monte_carlo"),
    dict(likelihood=tfae.likelihoods.Gaussian(scale="learned"), beta=0.5, min_scale=1e-3),
])
def test_other_settings_round_trip(tmp_path, kwargs):
    x = tfae.datasets.load("digits", split="test")[:32]  # grey levels
    model = tfae.VAE((8, 8, 1), latent_dim=3, seed=1, **kwargs)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, verbose=0)
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.elbo(x, seed=0).numpy(), model.elbo(x, seed=0).numpy())
    loaded.fit(x, epochs=1, verbose=0)  # the optimizer state came back too


def test_custom_networks_round_trip(tmp_path, binary_digits):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(12, activation="tanh"), keras.layers.Dense(6)])
    decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(64),
                                keras.layers.Reshape((8, 8, 1))])
    model = tfae.VAE((8, 8, 1), latent_dim=3, encoder=encoder, decoder=decoder, seed=0)
    assert model.encoder is encoder and model.decoder is decoder
    model.compile(optimizer="adam")
    model.fit(binary_digits[0][:128], epochs=1, verbose=0)
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    # JSON: the loaded config holds lists where the original holds tuples.
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    x = binary_digits[1][:16]
    np.testing.assert_array_equal(loaded.elbo(x, seed=0).numpy(), model.elbo(x, seed=0).numpy())


def test_get_config_holds_every_init_argument():
    import inspect

    model = tfae.VAE((8, 8, 1), latent_dim=5, hidden_units=(8,), architecture="dense",
                     likelihood="gaussian", beta=0.5, kl="monte_carlo", activation="elu",
                     min_scale=1e-3, seed=3)
    config = model.get_config()
    arguments = set(inspect.signature(tfae.VAE.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)
    for name in arguments - {"input_shape", "likelihood", "prior", "encoder", "decoder"}:
        value = getattr(model, name)
        assert config[name] == (list(value) if isinstance(value, tuple) else value), name
    clone = tfae.VAE.from_config(config)
    assert clone.get_config() == config
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_models_compile_their_own_estimates_without_retracing_warnings(caplog):
    x = np.zeros((6, 8, 8, 1), "float32")
    with caplog.at_level("WARNING", logger="tensorflow"):
        for _ in range(6):
            model = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(4,), seed=0)
            model.log_prob(x, num_samples=3, seed=0)
    assert "retracing" not in caplog.text


# ------------------------------------------------------------------------------- the maps


def test_encode_decode_reconstruct_sample_interpolate(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1][:6]
    q = model.encode(x)
    assert isinstance(q, tfd.MultivariateNormalDiag)
    assert q.batch_shape == (6,) and q.event_shape == (4,)
    assert np.all(q.stddev().numpy() >= model.min_scale)
    p = model.decode(q.mean())
    assert p.batch_shape == (6,) and p.event_shape == (8, 8, 1)
    reconstruction = model.reconstruct(x).numpy()
    np.testing.assert_allclose(reconstruction, p.mean().numpy(), atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), reconstruction, atol=1e-6)

    samples = model.sample(5, seed=0).numpy()
    assert samples.shape == (5, 8, 8, 1) and set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_array_equal(model.sample(5, seed=0).numpy(), samples)
    assert not np.array_equal(model.sample(5, seed=1).numpy(), samples)
    means = model.sample(5, seed=0, return_means=True).numpy()
    assert 0 < means.min() and means.max() < 1

    path = model.interpolate(x[0], x[1], num_steps=4).numpy()
    assert path.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(path[0], reconstruction[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], reconstruction[1], atol=1e-6)
    assert model.interpolate(x[:3], x[3:], num_steps=5).shape == (3, 5, 8, 8, 1)


def test_a_unit_whose_posterior_mean_is_constant_is_not_active(trained_vae, binary_digits):
    model, _ = trained_vae
    x = binary_digits[1]
    count, variances = model.active_units(x)
    means = model.encode(x).mean().numpy().astype(np.float64)
    np.testing.assert_allclose(variances, means.var(axis=0), rtol=1e-6)
    assert count == int((means.var(axis=0) > 1e-2).sum()) and count >= 1
    # Cut unit 0's mean off from x: E[z_0 | x] is then its bias for every x.
    silenced = _copy(model)
    code = silenced.encoder.get_layer("code")
    kernel, bias = code.get_weights()
    kernel[:, 0] = 0.0
    code.set_weights([kernel, bias])
    silenced_count, silenced_variances = silenced.active_units(x)
    assert silenced_variances[0] == pytest.approx(0.0, abs=1e-12)
    assert silenced_count == count - int(variances[0] > 1e-2)
    assert silenced.active_units(x, threshold=1e9)[0] == 0


def test_latent_plots(trained_vae, binary_digits, tmp_path):
    from matplotlib.figure import Figure

    model, _ = trained_vae
    x, labels = tfae.datasets.load("digits", split="test", binarize="threshold", with_labels=True)
    figure = tfae.plotting.latent_scatter(model, x, labels, path=tmp_path / "scatter.png",
                                          dims=(1, 3))
    assert isinstance(figure, Figure) and (tmp_path / "scatter.png").stat().st_size > 0
    assert len(figure.axes[0].collections) == len(np.unique(labels))
    assert isinstance(tfae.plotting.latent_scatter(model, x), Figure)
    with pytest.raises(ValueError, match="latent_dim=2"):
        tfae.plotting.latent_manifold(model)
    flat = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(8,))
    figure = tfae.plotting.latent_manifold(flat, num_per_side=5, path=tmp_path / "grid.png")
    (image,) = figure.axes[0].get_images()
    assert image.get_array().shape == (50, 50)  # 5 x 5 tiles of 8 x 8, each in a 1-pixel frame
    flat.prior = _mixture_prior()
    assert isinstance(tfae.plotting.latent_manifold(flat, num_per_side=3), Figure)


# ------------------------------------------------------------------------------- bad input


def _call(name, *args, **kwargs):
    return lambda model: getattr(model, name)(*args, **kwargs)


X = np.zeros((4, 8, 8, 1), "float32")


@pytest.mark.parametrize("action, error, message", [
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=0), ValueError, "latent_dim must be >= 1"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=3, prior=_mixture_prior(2)), ValueError,
     r"event shape \(2,\).*\(3,\)"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, prior=tfd.Normal(tf.zeros(2), 1.0)),
     ValueError, r"event shape \(\).*\(2,\)"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, prior="normal"), TypeError,
     "TFP distribution"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, beta=-1.0), ValueError, "beta must be"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, beta="1"), TypeError, "beta must be a number"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, kl="exact"), ValueError, "monte_carlo"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, architecture="mlp"), ValueError, "dense"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2, likelihood="laplace"), ValueError,
     "bernoulli"),
    (lambda _: tfae.VAE((8, 8, 1), latent_dim=2,
                        encoder=keras.Sequential([keras.layers.Flatten(),
                                                  keras.layers.Dense(3)])),
     ValueError, r"2 \* latent_dim"),
    (_call("log_prob", X, num_samples=0), ValueError, "num_samples must be >= 1"),
    (_call("elbo", X, num_samples=0), ValueError, "num_samples must be >= 1"),
    (_call("log_prob", X, chunk_size=0), ValueError, "chunk_size must be >= 1"),
    (_call("log_prob", np.zeros((4, 64), "float32")), ValueError,
     r"shape \(64,\).*expects \(8, 8, 1\)"),
    (_call("elbo", np.full((4, 8, 8, 1), 2.0, "float32")), ValueError, r"\[0, 1\]"),
    (_call("fit", np.full((4, 8, 8, 1), -1.0, "float32")), ValueError, r"\[0, 1\]"),
    (_call("log_prob", np.full((4, 8, 8, 1), np.nan, "float32")), ValueError, "non-finite"),
    (_call("encode", np.zeros((4, 8, 8), "float32")), ValueError, "reshape"),
    (_call("decode", np.zeros((4, 3), "float32")), ValueError, r"\(batch, 2\)"),
    (_call("sample", 0), ValueError, "n must be >= 1"),
    (_call("interpolate", X[0], X[0], num_steps=1), ValueError, "num_steps must be >= 2"),
    (_call("active_units", X[:1]), ValueError, "at least 2"),
    (_call("active_units", X, threshold=-1.0), ValueError, "threshold"),
    (_call("kl_divergence", X, method="exact"), ValueError, "monte_carlo"),
])
def test_bad_input_raises_a_clear_error(action, error, message):
    model = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(4,))
    model.compile(optimizer="adam")
    with pytest.raises(error, match=message):
        action(model)


def test_changing_beta_to_a_bad_value_is_refused(trained_vae):
    model, _ = trained_vae
    with pytest.raises(ValueError, match="beta"):
        model.beta = float("nan")
    assert model.beta == 1.0


# ------------------------------------------------------------------ importance-weighted training


def test_one_draw_terms_are_the_monte_carlo_elbo_at_the_seeded_draw(trained_vae, binary_digits):
    model = _copy(trained_vae[0], kl="monte_carlo")
    x = tf.constant(binary_digits[1][:64])
    seed = model.evaluation_seed(model.seed_generator)
    model._evaluation_draws.assign(0)  # loss_terms takes the same (first) evaluation seed
    terms = model.loss_terms(x)
    loc, scale = model.posterior_parameters(x)
    z = loc + scale * tf.random.stateless_normal(tf.shape(loc), seed)
    reconstruction = -model.decode(z).log_prob(x)
    kl = model.encode(x).log_prob(z) - model.prior.log_prob(z)
    for name, value in (("reconstruction", reconstruction), ("kl", kl),
                        ("loss", reconstruction + kl)):
        np.testing.assert_allclose(terms[name], value, rtol=1e-5, atol=1e-4)


def test_importance_weighted_training_tightens_the_bound(trained_vae, binary_digits):
    x = tf.constant(binary_digits[1][:200])
    vae = trained_vae[0]
    model = _copy(vae, training_samples=64)
    terms = model.loss_terms(x)
    # Jensen: log of the mean weight >= the mean log weight, example by example.
    assert np.all(terms["loss"].numpy() <= (terms["reconstruction"] + terms["kl"]).numpy() + 1e-4)
    bound = -_mean(terms["loss"])
    elbo = _mean(vae.elbo(x, seed=0))
    log_p = _mean(vae.log_prob(x, num_samples=1000, seed=0))
    # ELBO <= L_64 <= log p(x) (here -20.92, -20.62 and -20.61 nats; the estimate of
    # log p(x) by k = 1000 is itself a bound from below, so L_64 may pass it by noise).
    assert elbo + 0.15 < bound < log_p + 0.05, (elbo, bound, log_p)


def test_importance_weighted_training_trains_and_round_trips(binary_digits, tmp_path):
    keras.utils.set_random_seed(0)
    model = tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(16,), seed=0, training_samples=4)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(binary_digits[0][:256], epochs=2, batch_size=64, verbose=0).history
    assert history["loss"][1] < history["loss"][0]
    model.save(tmp_path / "iwae.keras")
    loaded = keras.models.load_model(tmp_path / "iwae.keras")
    assert loaded.training_samples == 4
    x = binary_digits[1][:32]
    np.testing.assert_array_equal(loaded.loss_terms(tf.constant(x))["loss"],
                                  model.loss_terms(tf.constant(x))["loss"])
    with pytest.raises(ValueError, match="training_samples"):
        tfae.VAE((8, 8, 1), latent_dim=2, training_samples=0)
