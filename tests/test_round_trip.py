"""A .keras round trip (model.save, then keras.models.load_model) of every model and setting
gives identical outputs, state and training; a fitted mixture's .npz round trip too; damaged
and foreign files are refused with what Keras, the run folders and the CLI say about them."""

import json
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfae
from tfae.cli import main
from tfae.corruption import GaussianNoise, MaskingNoise
from tfae.likelihoods import Gaussian
from tfae.runs import TrainConfig, keras_models

tfd = tfp.distributions
D, N, BATCH = 16, 40, 16

# Narrow MADE layers with random degrees leave some outputs unconnected (built and loaded).
pytestmark = pytest.mark.filterwarnings("ignore:MADE. some outputs are connected to no input")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"binary": (rng.random((N, D)) < 0.3).astype("float32"),
            "grey": rng.random((N, D)).astype("float32")}


# ------------------------------------------------------------------ the models' settings

def _made(**kwargs):
    return tfae.MADE(D, **kwargs)


def _vae(prior=None, **kwargs):
    return tfae.VAE((D,), latent_dim=2, hidden_units=(4,), prior=prior, **kwargs)


def _tril_mixture_prior():
    """A mixture of full-covariance Gaussians in float64, as tfae.GaussianMixture gives."""
    return tfd.MixtureSameFamily(
        tfd.Categorical(logits=tf.constant([0.3, -0.2], tf.float64)),
        tfd.MultivariateNormalTriL(loc=tf.constant([[-1.0, 0.5], [1.0, 0.0]], tf.float64),
                                   scale_tril=tf.constant([[[1.0, 0.0], [0.3, 0.8]],
                                                           [[0.7, 0.0], [-0.2, 1.2]]],
                                                          tf.float64)))


def _operator_prior(operator):
    return tfd.MultivariateNormalLinearOperator(loc=[0.5, -0.5], scale=operator)


class ResumedTrainingDiffers(AssertionError):
    """Training after the reload went another way than training without it."""


#: compile() settings of most cases: eager steps, faster than tracing for 3 batches.
EAGER = {"run_eagerly": True}
#: Those of the cases that train in compiled steps (tf.function, without XLA).
GRAPH = {"jit_compile": False}


@dataclass(frozen=True)
class Case:
    build: Callable
    data: str  # "binary" or "grey"
    compile_args: dict


def _case(name, build, data="binary", compile_args=EAGER):
    """A table row."""
    return pytest.param(Case(build, data, compile_args), id=name)


CASES = [
    _case("ae-gaussian-glu", lambda: tfae.Autoencoder(
        (D,), 3, hidden_units=(4,), likelihood=Gaussian(scale=0.5), activation="glu",
        latent_activation="tanh"), "grey"),
    _case("dae-salt-and-pepper-walkback", lambda: tfae.DenoisingAutoencoder(
        (D,), 3, hidden_units=(4,), corruption=("salt_and_pepper", 0.3), walkback_steps=2,
        walkback_probability=0.9, seed=1)),
    _case("dae-masking-own-seed-learned-scale", lambda: tfae.DenoisingAutoencoder(
        (D,), 20, hidden_units=(4,), corruption=MaskingNoise(0.4, seed=5), seed=2,
        likelihood=Gaussian(scale="learned")), "grey"),
    _case("dae-gaussian-noise", lambda: tfae.DenoisingAutoencoder(
        (D,), 3, hidden_units=(4,), corruption=GaussianNoise(0.3), likelihood="gaussian",
        walkback_steps=1, seed=3), "grey"),
    # 4 masks, 3 steps an epoch: the next epoch starts at mask 3, not at mask 0.
    _case("made-4-masks-random-order", lambda: _made(
        hidden_units=(12,), num_masks=4, ordering="random", seed=0), compile_args=GRAPH),
    _case("made-gaussian-direct-reversed", lambda: _made(
        hidden_units=(8, 8), num_masks=2, likelihood="gaussian", direct_connection=True,
        ordering="reversed", hidden_degrees="equal", mask_op="select",
        kernel_regularizer=keras.regularizers.L2(1e-3), seed=1), "grey"),
    _case("made-permutation-dropout", lambda: _made(
        hidden_units=(12,), ordering=list(np.random.default_rng(1).permutation(D)),
        dropout=0.2, activation="tanh", seed=2)),
    _case("vae-standard-normal-beta", lambda: _vae(beta=0.5, seed=0)),
    _case("vae-independent-normal-gaussian-monte-carlo", lambda: _vae(
        tfd.Independent(tfd.Normal([0.0, 1.0], [1.0, 2.0]), 1), likelihood=Gaussian(0.5),
        beta=2.0, kl="monte_carlo", seed=1), "grey"),
    _case("vae-tril-mixture-learned-scale", lambda: _vae(
        _tril_mixture_prior(), likelihood=Gaussian(scale="learned"), seed=2), "grey"),
    _case("vae-full-matrix-operator", lambda: _vae(
        _operator_prior(tf.linalg.LinearOperatorFullMatrix([[1.0, 0.0], [0.5, 2.0]])),
        seed=3)),
]


# ------------------------------------------------------------------ what is compared

def _autoencoder_outputs(model, x):
    return {"encode": model.encode(x), "reconstruct": model.reconstruct(x)}


def _dae_outputs(model, x):
    corrupted = model.corrupt(x, seed=3)
    return {**_autoencoder_outputs(model, x), "corrupt": corrupted,
            "denoise": model.denoise(corrupted),
            "denoising_loss": model.denoising_loss(x, seed=3),
            "sample_chain": model.sample_chain(num_chains=2, num_steps=3, seed=4)}


def _made_outputs(model, x):
    outputs = {"log_prob": model.log_prob(x), "mask_step": model.mask_step,
               # The naive path (tests/test_made.py reloads the fast one).
               "sample": model.sample(4, seed=1, fast=False, jit_compile=False)}
    for k in range(model.num_masks):
        outputs |= {f"call/mask {k}": model(x, mask_index=k),
                    f"log_prob/mask {k}": model.log_prob(x, mask_index=k),
                    f"generation_order/mask {k}": model.generation_order(k)}
    return outputs


def _vae_outputs(model, x):
    loc, scale = model.posterior_parameters(x)
    return {"loc": loc, "scale": scale, "reconstruct": model.reconstruct(x),
            "elbo": model.elbo(x, seed=0), "log_prob": model.log_prob(x, 4, seed=0),
            "kl": model.kl_divergence(x, method="monte_carlo", num_samples=4, seed=0),
            "prior": model.prior.log_prob(tf.cast(loc, model.prior.dtype)),
            "sample": model.sample(4, seed=1),
            "sample means": model.sample(4, seed=1, return_means=True)}


_OUTPUTS = [(tfae.DenoisingAutoencoder, _dae_outputs), (tfae.Autoencoder, _autoencoder_outputs),
            (tfae.MADE, _made_outputs), (tfae.VAE, _vae_outputs)]


def _outputs(model, x) -> dict:
    """Every output of ``model`` on ``x``, as NumPy arrays; the same calls in the same
    order for every model, so that the draws counted by the model match."""
    outputs = {f"loss_terms/{name}": value
               for name, value in model.loss_terms(tf.constant(x)).items()}
    outputs |= {f"evaluate/{name}": value for name, value in
                model.evaluate(x, batch_size=BATCH, verbose=0, return_dict=True).items()}
    outputs |= next(kind for cls, kind in _OUTPUTS if isinstance(model, cls))(model, x)
    return {name: np.asarray(value) for name, value in outputs.items()}


def _state(model) -> dict:
    """Every variable of the model and its optimizer, by path."""
    variables = [*model.weights, *model.optimizer.variables]
    return {variable.path: variable.numpy() for variable in variables}


def _generator_states(model) -> dict:
    """The states of the model's random generators (keras.random.SeedGenerator), in order:
    the variables that are not weights."""
    weights = {id(variable) for variable in model.weights}
    return {f"random generator {index}": variable.numpy() for index, variable in enumerate(
        variable for variable in model.variables if id(variable) not in weights)}


def _assert_same(actual: dict, expected: dict, error=AssertionError):
    try:
        assert actual.keys() == expected.keys()
        for name, value in expected.items():
            np.testing.assert_array_equal(actual[name], value, err_msg=name)
    except AssertionError as failure:
        if error is AssertionError:
            raise
        raise error(str(failure)) from failure


@pytest.mark.parametrize("case", CASES)
def test_a_keras_round_trip_gives_identical_outputs_state_and_training(case, data, tmp_path):
    x = data[case.data]
    keras.utils.set_random_seed(0)
    model = case.build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["mae"], **case.compile_args)
    model.fit(x, batch_size=BATCH, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert type(loaded) is type(model)
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    assert loaded.get_compile_config() == model.get_compile_config()
    _assert_same(_state(loaded), _state(model))
    outputs = _outputs(loaded, x)
    assert "evaluate/mae" in outputs  # the compiled metrics came back
    _assert_same(outputs, _outputs(model, x))

    # The next epoch (optimizer moments, MADE's mask counter, the training draws) goes
    # as it would have gone without the reload.
    _assert_same(_generator_states(loaded), _generator_states(model), ResumedTrainingDiffers)
    histories = [m.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
                 for m in (model, loaded)]
    _assert_same(_state(loaded), _state(model), ResumedTrainingDiffers)
    _assert_same(histories[1], histories[0], ResumedTrainingDiffers)
    if isinstance(model, tfae.MADE) and model.num_masks > 1:
        assert int(loaded.mask_step) == 2 * -(-N // BATCH)  # two epochs of 3 steps each


#: The other prior forms a .keras file holds (tfae.priors), beyond those of CASES and of the
#: GaussianMixture priors of tests/test_vae.py.
PRIORS = {
    "diag": lambda: tfd.MultivariateNormalDiag([0.5, -0.5], [1.5, 0.7]),
    "tril": lambda: tfd.MultivariateNormalTriL(
        tf.constant([0.5, -0.5], tf.float64), tf.constant([[1.0, 0.0], [0.4, 0.9]], tf.float64)),
    "operator-diag": lambda: _operator_prior(tf.linalg.LinearOperatorDiag([1.5, 0.7])),
    "operator-lower-triangular": lambda: _operator_prior(
        tf.linalg.LinearOperatorLowerTriangular([[1.0, 0.0], [0.4, 0.9]])),
    "operator-scaled-identity": lambda: _operator_prior(
        tf.linalg.LinearOperatorScaledIdentity(2, 1.5)),
}


@pytest.mark.parametrize("prior", PRIORS)
def test_every_other_prior_form_loads_back_with_identical_terms(prior, data, tmp_path):
    x = data["binary"]
    model = _vae(PRIORS[prior](), seed=4)  # untrained: the prior is not trained
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert type(loaded.prior) is type(model.prior) and loaded.kl_method == model.kl_method

    def outputs(vae):
        z = vae.prior.sample(5, seed=tf.constant([1, 2]))
        terms = vae.loss_terms(tf.constant(x))
        return {"z": z, "log p(z)": vae.prior.log_prob(z),
                **{name: np.asarray(value) for name, value in terms.items()}}

    _assert_same(outputs(loaded), outputs(model))


@pytest.mark.parametrize("build", [
    lambda: tfae.VAE((D,), 2, hidden_units=(4,)),
    lambda: tfae.DenoisingAutoencoder((D,), 3, hidden_units=(4,)),
], ids=["vae", "dae"])
def test_a_model_built_without_a_seed_scores_the_same_after_a_reload(build, data, tmp_path):
    x = tf.constant(data["binary"])
    model = build()
    model.save(tmp_path / "model.keras")
    # Its config alone (no random generator states) seeds the same draws: the drawn seed
    # is the generator's.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    loaded = keras.models.load_model(tmp_path / "model.keras")
    expected = {name: np.asarray(value) for name, value in model.loss_terms(x).items()}
    for other in (loaded, copy):
        _assert_same({name: np.asarray(value) for name, value in other.loss_terms(x).items()},
                     expected)


# ------------------------------------------------------------------ the Gaussian mixture

def test_a_fitted_mixture_saved_as_npz_loads_back_identical_and_refits_the_same(tmp_path):
    # tfae.GaussianMixture is not a Keras model: save/load write and read one .npz file
    # (tests/test_mixture_em.py compares the fitted arrays, config and score_samples).
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2.0, 1.0, (20, 3)), rng.normal(2.0, 0.5, (20, 3))])
    model = tfae.GaussianMixture(2, covariance_type="diag", max_iter=2, random_state=3,
                                 warm_start=True)
    with warnings.catch_warnings():  # EM stops at max_iter: the refit goes on from there
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x)
        loaded = tfae.GaussianMixture.load(model.save(tmp_path / "gmm.npz"))

        def outputs(mixture):
            samples, components = mixture.sample(6, seed=2)
            from_state, _ = mixture.sample(6)  # drawn from random_state=3
            return {"sample": samples, "components": components, "from_state": from_state,
                    "predict": mixture.predict(x), "log_joint": mixture.log_joint(x),
                    "bic": mixture.bic(x), "distribution": mixture.distribution.log_prob(x)}

        _assert_same(outputs(loaded), outputs(model))
        # warm_start: a second fit goes on from the loaded parameters as from the original.
        _assert_same({"means": loaded.fit(x).means_, "bounds": loaded.lower_bounds_},
                     {"means": model.fit(x).means_, "bounds": model.lower_bounds_})


# ------------------------------------------------------------------ damaged and foreign files

def _saved(tmp_path):
    path = tmp_path / "saved.keras"
    tfae.Autoencoder((D,), 2, hidden_units=(4,)).save(path)
    return path.read_bytes()


def _truncated(tmp_path):
    saved = _saved(tmp_path)
    return saved[:len(saved) // 2]


def _npz(tmp_path):
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    return (tmp_path / "arrays.npz").read_bytes()


def _unknown_class(tmp_path):
    """A .keras file of a model class that this tfae does not define (a newer version's)."""
    source, target = tmp_path / "saved.keras", tmp_path / "unknown.keras"
    source.write_bytes(_saved(tmp_path))
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            content = old.read(item.filename)
            if item.filename == "config.json":
                content = content.replace(b'"tfae>Autoencoder"', b'"tfae>Flow"').replace(
                    b'"Autoencoder"', b'"Flow"')
            new.writestr(item, content)
    return target.read_bytes()


_NOT_ZIP = "{path} is not a .keras file \\(not a zip archive: truncated, or a file of another"
_KERAS_NOT_ZIP = "{path}.*accessible `.keras` zip file"

#: Damage -> (its bytes, what keras.models.load_model raises and a regex of its message,
#: what a run's loader raises and a regex of its message; "{path}" stands for the path).
DAMAGE = {
    "truncated": (_truncated, ValueError, _KERAS_NOT_ZIP, ValueError, _NOT_ZIP),
    "text": (lambda tmp_path: b"not a model\n", ValueError, _KERAS_NOT_ZIP, ValueError,
             _NOT_ZIP),
    "png": (lambda tmp_path: b"\x89PNG\r\n\x1a\n" + bytes(64), ValueError, _KERAS_NOT_ZIP,
            ValueError, _NOT_ZIP),
    "npz": (_npz, KeyError, "no item named 'config.json'", ValueError,
            "{path} is a zip archive but not a .keras file \\(it holds no config.json\\)"),
    "unknown-class": (_unknown_class, TypeError,
                      "Could not locate class 'Flow'.*register_keras_serializable", TypeError,
                      "Could not locate class 'Flow'"),
}


def _run_folder(tmp_path, content: bytes):
    """An ae run folder (run.json as `tfae train` writes it) holding ``content`` as model."""
    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(model="ae", model_args={"latent_dim": 2, "hidden_units": [4]})
    (run / "run.json").write_text(json.dumps(config.record()))
    (run / "model.keras").write_bytes(content)
    return run


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_or_foreign_model_file_is_refused_by_keras_the_run_and_the_cli(
        damage, tmp_path, capsys):
    make, keras_error, keras_message, run_error, run_message = DAMAGE[damage]
    run = _run_folder(tmp_path, make(tmp_path))
    path = run / "model.keras"
    # What Keras says (the truncated file is no zip archive, so Keras calls it "not found").
    with pytest.raises(keras_error, match=keras_message.format(path=re.escape(str(path)))):
        keras.models.load_model(path)
    # A run's loader names the file and says what it is.
    with pytest.raises(run_error, match=run_message.format(path=re.escape(str(path)))):
        keras_models.load_model(run)
    # The command line says it in one line.
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("tfae evaluate: error: ")
    assert "train the run again" in err
    if run_error is TypeError:  # Keras' reason, wrapped with the run's name
        assert f"the ae model of {run} could not be loaded (TypeError: " in err
    else:
        assert str(path) in err


def test_a_plain_keras_model_file_loads(tmp_path):
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    run = _run_folder(tmp_path, b"")
    sequential.save(run / "model.keras")
    x = np.ones((2, 3), "float32")
    for loaded in (keras.models.load_model(run / "model.keras"), keras_models.load_model(run)):
        assert type(loaded) is keras.Sequential
        np.testing.assert_array_equal(loaded(x), sequential(x))


def test_the_cli_refuses_a_run_whose_model_file_holds_a_foreign_model(tmp_path, capsys):
    run = _run_folder(tmp_path, b"")
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(64),
                      keras.layers.Reshape((8, 8, 1))]).save(run / "model.keras")
    assert main(["evaluate", str(run)]) == 2
    assert str(run / "model.keras") in capsys.readouterr().err
