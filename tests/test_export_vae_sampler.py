"""A VAE's ``sampler`` part: z drawn in the file from the VAE's own prior (standard normal,
a learned MixturePrior or VampPrior, a fixed mixture), decoded; what the runner draws for
it; the default part; a prior it cannot draw from refused."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from ai_edge_litert.interpreter import Interpreter

import tfae
from tfae import export

tfd = tfp.distributions
RUNNER = Path(__file__).resolve().parents[1] / "export" / "run_litert.py"
KINDS = ("standard", "mixture_prior", "vamp_prior", "fixed_mixture")


def _runner():
    spec = importlib.util.spec_from_file_location("run_litert", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _softplus(x):
    return np.logaddexp(0.0, x)


@pytest.fixture(scope="module")
def models():
    """Tiny untrained VAEs, each with its prior's weights, locs and scales computed here
    from the parameters that define it (not from ``vae.prior``)."""
    standard = tfae.VAE((16,), latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)

    mixture = tfae.VAE((8, 8, 1), latent_dim=3, hidden_units=(8,),
                       prior=tfae.priors.MixturePrior(3, seed=0), seed=1)
    layer = mixture.prior_layer
    layer.logits.assign([0.5, -0.5, 1.5])
    layer.loc.assign([[-3.0, 0.0, 1.0], [2.0, 2.0, -1.0], [0.5, -4.0, 3.0]])
    layer.raw_scale.assign([[-1.0, 0.0, 0.5], [1.0, -2.0, 0.0], [0.2, 0.3, -0.4]])
    logits = layer.logits.numpy().astype(np.float64)
    mixture_params = (np.exp(logits) / np.exp(logits).sum(), layer.loc.numpy().astype(np.float64),
                      _softplus(layer.raw_scale.numpy().astype(np.float64)) + layer.min_scale)

    vamp = tfae.VAE((16,), latent_dim=2, hidden_units=(8,), likelihood="gaussian",
                    prior=tfae.priors.VampPrior(4, seed=2), seed=2)
    pseudo = vamp.prior_layer.pseudo_inputs
    pseudo.assign(np.random.default_rng(2).normal(0.0, 3.0, pseudo.shape).astype(np.float32))
    loc, scale = (np.asarray(t, np.float64) for t in vamp.posterior_parameters(pseudo.numpy()))

    weights = np.array([0.2, 0.5, 0.3])
    means = np.array([[-2.0, 1.0], [1.0, 1.5], [3.0, -2.0]])
    scales = np.array([[0.5, 1.0], [0.3, 0.2], [1.5, 0.7]])
    fixed = tfae.VAE((16,), latent_dim=2, hidden_units=(8,), seed=3, prior=tfd.MixtureSameFamily(
        tfd.Categorical(probs=weights),
        tfd.MultivariateNormalDiag(loc=means, scale_diag=scales)))  # float64
    return {
        "standard": (standard, (np.ones(1), np.zeros((1, 2)), np.ones((1, 2)))),
        "mixture_prior": (mixture, mixture_params),
        "vamp_prior": (vamp, (np.full(4, 0.25), loc, scale)),
        "fixed_mixture": (fixed, (weights, means, scales)),
    }


@pytest.fixture(scope="module")
def files(models, tmp_path_factory):
    """Each model's sampler as a LiteRT file (verified by the export itself)."""
    folder = tmp_path_factory.mktemp("samplers")
    written = {}
    for kind, (model, _) in models.items():
        report = export.tflite(model, folder / f"{kind}.tflite", part="sampler")
        assert report.part == "sampler" and report.signature == "sample"
        assert report.max_error <= export.TOLERANCES[None]
        written[kind] = report.path
    return written


def _run(path, u, eps):
    runner = Interpreter(model_path=str(path)).get_signature_runner("sample")
    return runner(u=np.asarray(u, np.float32), eps=np.asarray(eps, np.float32))


def _expected_z(params, u, eps):
    """z = loc_k + scale_k * eps, k the first component whose cumulative weight exceeds u."""
    weights, loc, scale = params
    k = np.searchsorted(np.cumsum(weights), np.asarray(u, np.float64)[:, 0], side="right")
    k = np.minimum(k, len(weights) - 1)
    return loc[k] + scale[k] * np.asarray(eps, np.float64), k


@pytest.mark.parametrize("kind", KINDS)
def test_the_file_draws_z_from_the_prior_and_decodes_it(models, files, kind):
    model, params = models[kind]
    rng = np.random.default_rng(7)
    for n in (1, 37):
        u = rng.random((n, 1), dtype=np.float32)
        eps = rng.standard_normal((n, model.latent_dim), dtype=np.float32)
        out = _run(files[kind], u, eps)
        z, components = _expected_z(params, u, eps)
        np.testing.assert_allclose(out["z"], z, rtol=1e-5, atol=1e-5)
        z32 = tf.constant(z, tf.float32)
        np.testing.assert_allclose(out["mean"], model.decode(z32).mean().numpy(),
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out["params"], model.decoder(z32).numpy(),
                                   rtol=1e-5, atol=1e-5)
        if n == 37 and kind != "standard":  # the choice of component is exercised
            assert len(np.unique(components)) > 1


@pytest.mark.parametrize("kind", ("mixture_prior", "fixed_mixture"))
def test_20000_draws_have_the_priors_mean_and_variance(models, files, kind):
    model, _ = models[kind]
    n = 20_000
    rng = np.random.default_rng(11)
    z = _run(files[kind], rng.random((n, 1), dtype=np.float32),
             rng.standard_normal((n, model.latent_dim), dtype=np.float32))["z"].astype(np.float64)
    mean = np.asarray(model.prior.mean(), np.float64)
    variance = np.asarray(model.prior.variance(), np.float64)
    assert np.all(np.abs(mean) > 0.1)  # N(0, I) draws would fail the check below
    squares = (z - mean) ** 2
    assert np.all(np.abs(z.mean(axis=0) - mean) < 5.0 * np.sqrt(variance / n))
    assert np.all(np.abs(squares.mean(axis=0) - variance)
                  < 5.0 * squares.std(axis=0) / np.sqrt(n))


def test_the_runner_draws_the_samplers_noise_by_name(models, files):
    runner = _runner()
    for kind, (model, params) in models.items():
        parts = export.parts_of(model)
        assert parts == ("encoder", "decoder", "autoencoder", "sampler")
        for part in parts:
            endpoint = export.endpoint_of(model, part)
            for spec in endpoint.inputs:
                if spec.name != "x":
                    assert endpoint.noise[spec.name] == runner.noise_of(spec.name), (kind, part)
        assert export.endpoint_of(model, "sampler").input_names() == ("u", "eps")
        # What `run_litert.py FILE --samples 5` does, and the samples of the model it gives.
        file = runner.Model(files[kind])
        drawn = runner.draw(file, 5, seed=0)
        z, _ = _expected_z(params, drawn["u"], drawn["eps"])
        np.testing.assert_allclose(file(drawn)["z"], z, rtol=1e-5, atol=1e-5)


def test_default_part_is_the_generative_one(models, tmp_path):
    defaults = {kind: export.default_part(model) for kind, (model, _) in models.items()}
    assert defaults == {"standard": "decoder", "mixture_prior": "sampler",
                        "vamp_prior": "sampler", "fixed_mixture": "sampler"}
    # N(0, I) given explicitly is the standard normal: its decoder samples the model.
    explicit = tfae.VAE((16,), latent_dim=2, hidden_units=(8,), prior=tfd.MultivariateNormalDiag(
        loc=[0.0, 0.0], scale_diag=[1.0, 1.0]))
    assert export.default_part(explicit) == "decoder"
    report = export.tflite(models["vamp_prior"][0], tmp_path / "default.tflite")
    assert report.part == "sampler"
    for model in (tfae.Autoencoder((16,), latent_dim=2, hidden_units=(8,)),
                  tfae.DenoisingAutoencoder((16,), latent_dim=2, hidden_units=(8,))):
        assert export.parts_of(model) == ("encoder", "decoder", "autoencoder")
        assert export.default_part(model) == "decoder"
        with pytest.raises(ValueError, match="part must be one of"):
            export.endpoint_of(model, "sampler")


def test_a_prior_with_full_covariance_is_refused(tmp_path):
    prior = tfd.MultivariateNormalTriL(loc=[1.0, 0.0], scale_tril=[[1.0, 0.0], [0.5, 2.0]])
    model = tfae.VAE((16,), latent_dim=2, hidden_units=(8,), prior=prior)
    assert "sampler" in export.parts_of(model) and export.default_part(model) == "sampler"
    path = tmp_path / "sampler.tflite"
    with pytest.raises(ValueError, match=r"MultivariateNormalTriL.*part='decoder'.*vae\.prior"):
        export.tflite(model, path, part="sampler")
    with pytest.raises(ValueError, match="MultivariateNormalTriL"):
        export.tflite(model, path)  # the default part says why too
    assert not path.exists() and list(tmp_path.iterdir()) == []
    export.tflite(model, path, part="decoder")  # what the message says to export instead
    assert path.is_file()


def test_a_choice_flipped_at_a_boundary_is_a_tiny_error_and_elsewhere_a_large_one(models):
    model, (weights, loc, scale) = models["fixed_mixture"]
    endpoint = export.endpoint_of(model, "sampler")
    eps = np.array([[0.3, -1.2], [0.3, -1.2]], np.float32)
    u = np.array([[0.2], [0.5]], np.float32)  # float32 0.2 is just above the boundary 0.2

    def outputs_of(component):  # what a file that picked ``component`` returns
        z = (loc[component] + scale[component] * eps.astype(np.float64)).astype(np.float32)
        return {"z": z, "mean": model.decode(z).mean().numpy(), "params": model.decoder(z).numpy()}

    _, components = _expected_z((weights, loc, scale), u, eps)
    assert components.tolist() == [1, 1]
    flipped = {name: value[:1] for name, value in outputs_of(0).items()}
    assert endpoint.compare({"u": u[:1], "eps": eps[:1]}, flipped)[1] < 1e-6
    wrong = {name: value[1:] for name, value in outputs_of(0).items()}
    assert endpoint.compare({"u": u[1:], "eps": eps[1:]}, wrong)[1] > 0.1
    right = {name: value[1:] for name, value in outputs_of(1).items()}
    assert endpoint.compare({"u": u[1:], "eps": eps[1:]}, right)[1] < 1e-6
