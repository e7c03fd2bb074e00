"""tfae.runs: configs that each model honours in full, seeding that leaves the process
as it was, and one spec per model behind train, evaluate, sample and score."""

import json
import random
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

import tfae
from tfae import runs
from tfae.runs import baselines, data, figures

TINY = {"model_args": {"latent_dim": 4, "hidden_units": [16]}, "epochs": 1, "verbose": 0}


def _xla_allowed() -> bool:
    """Whether Keras compiles with XLA: not while TensorFlow's op determinism is on."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' warning when it refuses
        model.compile(loss="mse", jit_compile=True)
    return model.jit_compile is True


def _global_state():
    return random.getstate(), np.random.get_state(), tf.compat.v1.random.get_seed(None)[0]


def _assert_unchanged(before):
    python_state, numpy_state, tf_seed = before
    assert random.getstate() == python_state
    for now, then in zip(np.random.get_state(), numpy_state, strict=True):
        np.testing.assert_array_equal(now, then)
    assert tf.compat.v1.random.get_seed(None)[0] == tf_seed


def test_seeded_blocks_draw_the_same_and_leave_the_global_state_as_it_was():
    before = _global_state()
    draws = []
    for _ in range(2):
        with runs.seeded(7):
            draws.append((random.random(), np.random.uniform(), float(tf.random.uniform([]))))
    assert draws[0] == draws[1]
    _assert_unchanged(before)


def test_a_deterministic_block_turns_op_determinism_off_again():
    assert _xla_allowed()
    with pytest.raises(RuntimeError, match="inside"):
        with runs.seeded(0, deterministic=True):
            assert not _xla_allowed()
            raise RuntimeError("inside")
    assert _xla_allowed()


def test_a_deterministic_run_leaves_the_process_as_it_was(tmp_path, monkeypatch):
    before = _global_state()
    out = runs.train(runs.TrainConfig(**TINY, deterministic=True), tmp_path / "run")
    assert json.loads((out / "run.json").read_text())["deterministic"] is True
    _assert_unchanged(before)
    assert _xla_allowed()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        runs.train(runs.TrainConfig(**TINY, deterministic=True), tmp_path / "failed")
    assert not (tmp_path / "failed").exists()
    _assert_unchanged(before)
    assert _xla_allowed()


def test_two_deterministic_runs_with_a_seed_train_the_same_weights_bit_for_bit(tmp_path):
    # The VAE draws z in every step; dynamic binarization redraws the data every epoch.
    config = runs.TrainConfig(**{**TINY, "epochs": 2}, model="vae", binarize="dynamic",
                              seed=3, deterministic=True)
    first, second = (keras.models.load_model(runs.train(config, tmp_path / name)
                                             / "model.keras").get_weights()
                     for name in ("first", "second"))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("changes, message", [
    ({"model": "gmm", "epochs": 5}, "epochs does not apply to gmm runs"),
    ({"model": "ae", "importance_samples": 5}, "importance_samples does not apply to ae runs"),
    ({"model": "gmm", "binarize": "dynamic"}, "binarize must be one of"),
    ({"deterministic": True, "jit_compile": True}, "cannot both be on"),
    ({"model": "gmm", "model_args": {"jit_compile": True}}, "leave jit_compile out"),
    ({"model": "rbm"}, "Unknown model 'rbm'"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
    ({"verbose": 3}, "verbose must be one of"),
])
def test_settings_a_run_cannot_honour_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        runs.TrainConfig(**changes)


def test_flags_must_be_booleans():
    with pytest.raises(TypeError, match="jit_compile must be True or False"):
        runs.TrainConfig(jit_compile="yes")


def test_a_run_records_the_settings_its_model_uses_and_reads_them_back(tmp_path):
    gmm = runs.TrainConfig(model="gmm", seed=None, jit_compile=True)
    assert isinstance(gmm.seed, int) and gmm.model_args == {"n_components": 10, "pca_dim": 50}
    assert "epochs" not in gmm.record() and gmm.record()["jit_compile"] is True
    vae = runs.TrainConfig(model="vae", importance_samples=7, steps_per_execution=5)
    for config in (gmm, vae):
        (tmp_path / "run.json").write_text(json.dumps(config.record()))
        assert runs.read_config(tmp_path) == config


def test_score_goes_through_the_models_spec(trained_autoencoder, binary_digits):
    model, _ = trained_autoencoder
    x_train, x_test = binary_digits
    scores = runs.score(model, x_test, x_train)
    assert scores["examples"] == len(x_test)
    assert scores["reconstruction_nll"] < scores["pixel_mean_nll"]
    with pytest.raises(ValueError, match="importance_samples does not apply to ae runs"):
        runs.score(model, x_test, x_train, importance_samples=10)


def test_every_model_has_one_spec():
    assert set(runs.MODELS) == {"ae", "dae", "made", "vae", "gmm"}
    fields = set(runs.TrainConfig.__dataclass_fields__)
    for name, spec in runs.MODELS.items():
        assert spec.name == name and set(spec.fields) <= fields
        runs.TrainConfig(model=name)  # its defaults make a valid config


def test_seed_everything_is_deprecated_in_favour_of_seeded():
    assert runs.seed_everything.__module__ == "tfae.runs.seeding"
    with pytest.warns(DeprecationWarning, match="tfae.runs.seeded"):
        with pytest.MonkeyPatch.context() as patch:  # keep the process as it is
            patch.setattr(keras.utils, "set_random_seed", lambda seed: None)
            patch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)
            runs.seed_everything(0)


# ------------------------------------------------------------ what a run folder records

#: Tiny runs, trained once for the tests below (MADE and the VAE, slower to score, are
#: scored through their specs: ``train`` writes what the spec returns).
RUNS = {
    "ae": {"model_args": {"latent_dim": 2, "hidden_units": [8]}, "epochs": 1, "verbose": 0},
    "dae": {"model_args": {"latent_dim": 2, "hidden_units": [8], "walkback_steps": 1,
                           "walkback_probability": 1.0}, "epochs": 1, "verbose": 0},
    "gmm": {"model_args": {"n_components": 2, "pca_dim": 3}},
}
UNTRAINED = {"made": {"hidden_units": [64]},
             "vae": {"latent_dim": 2, "hidden_units": [8], "seed": 0}}

#: The held-out scores of each kind in metrics.json: every number named for what it is.
SCORE_KEYS = {
    "ae": {"reconstruction_nll", "pixel_mean_nll", "examples"},
    "dae": {"denoising_nll", "walkback_nll", "identity_denoising_nll", "pixel_mean_nll",
            "examples"},
    "made": {"nll", "pixel_mean_nll", "examples"},
    "vae": {"reconstruction_nll", "kl", "elbo", "iw_nll", "importance_samples",
            "pixel_mean_nll", "examples"},
    "gmm": {"pca_log_likelihood", "pca_gaussian_log_likelihood", "examples"},
}


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    """name -> folder of a tiny run of each kind, and the pyplot figures open before and
    after training them all."""
    root = tmp_path_factory.mktemp("runs")
    before = plt.get_fignums()
    folders = {name: runs.train(runs.TrainConfig(model=name, **settings), root / name)
               for name, settings in RUNS.items()}
    return folders, (before, plt.get_fignums())


def _read(folder, name):
    return json.loads((folder / name).read_text())


def _metrics(run_folders, kind, binary_digits):
    """What metrics.json holds for a run of ``kind``: the file, or what ``train`` writes
    from the spec of an untrained model."""
    if kind in RUNS:
        return _read(run_folders[0][kind], "metrics.json")
    spec = runs.MODELS[kind]
    x_train, x_test = (x.reshape(len(x), -1) if spec.flatten else x for x in binary_digits)
    config = runs.TrainConfig(model=kind, model_args=UNTRAINED[kind],
                              **({"importance_samples": 2} if kind == "vae" else {}))
    model = spec.build(config, x_train.shape[1:])
    model.compile(optimizer="adam")
    options = spec.settings("score", spec.run_score_options(config))
    return {**spec.summary_scores(model, {"loss": [1.0]}),
            "test": spec.score(model, x_test, x_train, seed=0, **options)}


@pytest.mark.parametrize("kind", sorted(runs.MODELS))
def test_metrics_json_names_each_number_and_says_what_it_is(run_folders, kind, binary_digits):
    metrics = _metrics(run_folders, kind, binary_digits)
    for split in ("valid", "test") if kind in RUNS else ("test",):
        assert set(metrics[split]) == SCORE_KEYS[kind]
    assert SCORE_KEYS[kind] | {"units"} <= set(metrics["notes"])
    if kind == "made":  # an exact NLL, of the same quantity as its baseline's
        x_train, x_test = (x.reshape(len(x), -1) for x in binary_digits)
        assert metrics["test"]["pixel_mean_nll"] == pytest.approx(
            tfae.metrics.pixel_mean_nll(x_train, x_test).mean(), rel=1e-6)


def test_a_dae_run_reports_its_denoising_nll_beside_baselines_of_the_same_quantity(
        run_folders):
    folder = run_folders[0]["dae"]
    metrics, history = _read(folder, "metrics.json"), _read(folder, "history.json")
    valid = metrics["valid"]
    # The training loss is the denoising term plus the walkback terms, reported apart.
    assert valid["walkback_nll"] > 0
    # (up to the corruption draws, which depend on the batch size of the evaluation)
    assert valid["denoising_nll"] + valid["walkback_nll"] == pytest.approx(
        history["val_loss"][-1], rel=0.01)
    config = runs.read_config(folder)
    x_train, x_test = (runs.load_split(config, split) for split in ("train", "test"))
    assert metrics["test"]["pixel_mean_nll"] == pytest.approx(
        tfae.metrics.pixel_mean_nll(x_train, x_test).mean(), rel=1e-6)
    # Salt-and-pepper noise of rate 0.2 keeps a value with probability 1 - 0.2 / 2: the
    # identity denoiser is right 90% of the time, -log 0.9 or -log 0.1 per value.
    expected = -64 * (0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    assert metrics["test"]["identity_denoising_nll"] == pytest.approx(expected, rel=0.05)
    model = runs.MODELS["dae"].load(folder)
    again = runs.score(model, x_test, x_train, seed=config.seed)
    assert again["identity_denoising_nll"] == metrics["test"]["identity_denoising_nll"]


def test_the_identity_denoiser_by_hand():
    x_train = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    # Corruption kept 6 of the 8 training values: q = (6 + 1) / (8 + 2).
    x_train_tilde = np.array([[1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    x, x_tilde = np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0, 0.0]])
    q = 0.7  # right on 3 values, wrong on one
    nll = baselines.identity_denoising_nll(x_train, x_train_tilde, x, x_tilde, "bernoulli")
    np.testing.assert_allclose(nll, [-3 * np.log(q) - np.log(1 - q)])
    # Gaussian noise on a Gaussian head: N(x; x~, sigma^2), sigma the training residuals'
    # root mean square (plus min_scale).
    head = tfae.likelihoods.Gaussian(min_scale=1e-3)
    residual_train = np.array([[0.3, -0.3], [0.3, -0.3]])
    x = np.array([[0.5, 0.1]])
    x_tilde = x + np.array([[0.2, 0.0]])
    sigma = 0.3 + 1e-3
    expected = 2 * np.log(sigma * np.sqrt(2 * np.pi)) + 0.5 * (0.2 / sigma) ** 2
    nll = baselines.identity_denoising_nll(np.zeros((2, 2)), residual_train, x, x_tilde, head)
    np.testing.assert_allclose(nll, [expected])
    # Gaussian noise on binary data (Bernoulli head): the guess is x~ rounded.
    nll = baselines.identity_denoising_nll(x_train, x_train + 0.2, x_train, x_train - 0.4,
                                           "bernoulli")
    q = (8 + 1) / (8 + 2)  # x_train + 0.2 rounds back to x_train: all 8 values kept
    np.testing.assert_allclose(nll, [-4 * np.log(q)] * 2)  # x~ = x - 0.4 rounds to x too


def test_the_pca_gaussian_baseline_is_a_one_component_mixture():
    z = np.random.default_rng(0).normal(size=(300, 3)) @ np.array(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.2], [0.0, 0.0, 0.3]])
    mixture = tfae.GaussianMixture(n_components=1, random_state=0).fit(z)
    assert baselines.gaussian_log_likelihood(z, z).mean() == pytest.approx(
        mixture.score(z), rel=1e-5)


def test_run_json_records_only_the_settings_the_model_uses(run_folders):
    training = {"epochs", "learning_rate", "batch_size", "patience", "steps_per_execution",
                "verbose"}
    gmm, ae = (_read(run_folders[0][name], "run.json") for name in ("gmm", "ae"))
    assert not training & set(gmm) and "importance_samples" not in gmm
    assert training <= set(ae) and "importance_samples" not in ae
    assert {"seed", "binarize", "jit_compile", "deterministic", "model_args"} <= set(gmm)


def test_a_run_writes_its_figures_without_leaving_pyplot_figures_open(run_folders):
    folders, (before, after) = run_folders
    assert after == before
    for name, figure in [("ae", "reconstructions.png"), ("dae", "reconstructions.png"),
                         ("gmm", "samples.png")]:
        assert plt.imread(folders[name] / figure)[..., :3].var() > 0


def _rows_drawn(monkeypatch, kind, config, model, splits, folder):
    drawn = {}
    monkeypatch.setattr(figures, "write_image_rows",
                        lambda rows, path, **options: drawn.update(rows))
    runs.MODELS[kind].figures(model, splits, folder, config.seed)
    return drawn["original"]


@pytest.mark.parametrize("kind", ["ae", "dae"])
def test_reconstructions_show_one_test_example_of_each_class(run_folders, kind, monkeypatch,
                                                             tmp_path):
    folder = run_folders[0][kind]
    config = runs.read_config(folder)
    splits = data.load_splits(config)
    _, labels = tfae.datasets.load("digits", split="test", with_labels=True)
    np.testing.assert_array_equal(splits.labels["test"], labels)
    shown = _rows_drawn(monkeypatch, kind, config, runs.MODELS[kind].load(folder), splits,
                        tmp_path)
    first_of_each = [np.flatnonzero(labels == digit)[0] for digit in range(10)]
    np.testing.assert_array_equal(shown, splits["test"][first_of_each])


def test_reconstructions_of_unlabelled_data_are_a_seeded_random_choice(monkeypatch, tmp_path):
    arrays = {f"{split}_data": tfae.datasets.load("digits", split=split, flatten=True)
              for split in ("train", "valid", "test")}
    np.savez(tmp_path / "digits.npz", **arrays)
    config = runs.TrainConfig(dataset=str(tmp_path / "digits.npz"), seed=5,
                              model_args={"latent_dim": 2, "hidden_units": [8]})
    splits = data.load_splits(config)
    assert splits.labels == {"train": None, "valid": None, "test": None}
    model = runs.MODELS["ae"].build(config, splits["train"].shape[1:])
    shown = _rows_drawn(monkeypatch, "ae", config, model, splits, tmp_path)
    test = splits["test"]
    chosen = np.sort(np.random.default_rng(5).choice(len(test), size=10, replace=False))
    np.testing.assert_array_equal(shown, test[chosen])
    assert not np.array_equal(shown, test[:10])
    assert not np.array_equal(figures.showcase(test, None, seed=6), shown)


def test_tfae_sample_never_overwrites_the_runs_own_samples_png(run_folders):
    folder = run_folders[0]["gmm"]
    own = (folder / "samples.png").read_bytes()
    out = runs.sample(folder, num_samples=3)
    assert out == folder / "samples-seed0.png" and out.stat().st_size > 0
    assert (folder / "samples.png").read_bytes() == own
