"""tfae.runs: configs that each model honours in full, seeding that leaves the process
as it was, and one spec per model behind train, evaluate, sample and score."""

import json
import random
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfae import runs

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
    assert scores["examples"] == len(x_test) and scores["loss"] < scores["pixel_mean_nll"]
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
