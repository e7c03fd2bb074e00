"""The Keras callbacks users reach for work with tfae models, on the loss terms tfae reports."""

import csv
import json

import keras
import numpy as np
import pytest

import tfae


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.random((96, 6)) < 0.3).astype("float32")
    return x[:64], x[64:]


def _autoencoder(seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = tfae.Autoencoder(input_shape=(6,), latent_dim=2, hidden_units=(4,))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_tensorboard_writes_event_files(data, tmp_path):
    """TF 2.21 no longer installs tensorboard; tfae declares it, so the callback works and
    the other callbacks of the same fit keep theirs."""
    train, valid = data
    log = tmp_path / "log.csv"
    history = _autoencoder().fit(
        train, validation_data=valid, epochs=2, batch_size=32, verbose=0,
        callbacks=[keras.callbacks.TensorBoard(tmp_path / "tb"), keras.callbacks.CSVLogger(log)])
    assert len(history.history["loss"]) == 2
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert {path.parent.name for path in events} == {"train", "validation"}
    assert all(path.stat().st_size > 0 for path in events)
    assert log.exists()


def test_model_checkpoint_saves_a_loadable_best_model(data, tmp_path):
    train, valid = data
    path = tmp_path / "best.keras"
    model = _autoencoder()
    history = model.fit(train, validation_data=valid, epochs=3, batch_size=32, verbose=0,
                        callbacks=[keras.callbacks.ModelCheckpoint(
                            path, monitor="val_loss", save_best_only=True)])
    loaded = keras.models.load_model(path)
    best = min(history.history["val_loss"])
    np.testing.assert_allclose(loaded.evaluate(valid, verbose=0), best, rtol=1e-5)


def test_early_stopping_restores_the_best_weights(data):
    train, valid = data
    model = _autoencoder()
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                            restore_best_weights=True, min_delta=10.0)
    history = model.fit(train, validation_data=valid, epochs=10, batch_size=32, verbose=0,
                        callbacks=[stopper])
    assert len(history.history["loss"]) == 2  # no epoch improves by 10 nats: stop at 2
    np.testing.assert_allclose(model.evaluate(valid, verbose=0),
                               history.history["val_loss"][0], rtol=1e-5)


def test_reduce_lr_on_plateau_lowers_the_learning_rate(data):
    train, valid = data
    model = _autoencoder()
    history = model.fit(train, validation_data=valid, epochs=3, batch_size=32, verbose=0,
                        callbacks=[keras.callbacks.ReduceLROnPlateau(
                            monitor="val_loss", factor=0.5, patience=0, min_delta=10.0)])
    # Epoch 1 sets the best val_loss; epochs 2 and 3 do not beat it by 10 nats, and each
    # halves the rate at its end (the history logs the rate each epoch trained with).
    np.testing.assert_allclose(history.history["learning_rate"], [1e-2, 1e-2, 5e-3])
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 2.5e-3)


def test_csv_logger_records_every_loss_term(data, tmp_path):
    train, valid = data
    keras.utils.set_random_seed(0)
    model = tfae.VAE(input_shape=(6,), latent_dim=2, hidden_units=(4,))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    log = tmp_path / "log.csv"
    history = model.fit(train, validation_data=valid, epochs=2, batch_size=32, verbose=0,
                        callbacks=[keras.callbacks.CSVLogger(log)])
    with open(log) as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    for term in model.loss_term_names:
        np.testing.assert_allclose([float(row[term]) for row in rows], history.history[term],
                                   rtol=1e-6)
        assert f"val_{term}" in rows[0]


def _built(model_name):
    keras.utils.set_random_seed(0)
    if model_name == "MADE":
        model = tfae.MADE(6, hidden_units=(8,), seed=0)
    else:
        args = {"seed": 0} if model_name != "Autoencoder" else {}
        model = getattr(tfae, model_name)(input_shape=(6,), latent_dim=2, hidden_units=(4,),
                                          **args)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


_FIT = {"epochs": 4, "batch_size": 32, "shuffle": False, "verbose": 0}


def _interrupted(model_name, train, backup):
    """A fit killed after its second epoch, and the weights it had then."""
    model = _built(model_name)
    saved = {}

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                saved["weights"] = model.get_weights()
                raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(train, callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt()],
                  **_FIT)
    return saved["weights"]


@pytest.mark.parametrize("model_name", ["Autoencoder", "DenoisingAutoencoder", "MADE", "VAE"])
def test_backup_and_restore_resumes_from_the_last_epoch(data, tmp_path, model_name):
    """A fit killed after epoch 2 and run again with BackupAndRestore trains epochs 3
    and 4 only, from the weights and optimizer state it had."""
    train, _ = data
    backup = tmp_path / "backup"
    weights = _interrupted(model_name, train, backup)
    resumed = _built(model_name)
    starts = []

    class Start(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            starts.append((epoch, resumed.get_weights(), int(resumed.optimizer.iterations)))

    history = resumed.fit(train, callbacks=[keras.callbacks.BackupAndRestore(backup), Start()],
                          **_FIT)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    epoch, restored, iterations = starts[0]
    assert (epoch, iterations) == (2, 4)  # 2 steps per epoch of 64 examples
    for expected, actual in zip(weights, restored, strict=True):
        np.testing.assert_array_equal(actual, expected)
    assert not backup.exists()  # removed once the run completes


@pytest.mark.parametrize("model_name", ["Autoencoder", "MADE"])
def test_a_resumed_deterministic_fit_equals_the_uninterrupted_one(data, tmp_path, model_name):
    """Models that draw no noise while training (one MADE mask, no dropout) end a
    resumed fit with the weights of the uninterrupted fit. (The DAE's and VAE's noise
    streams are not in Keras's checkpoint: their exact resumption is issue 15's.)"""
    train, _ = data
    uninterrupted = _built(model_name)
    uninterrupted.fit(train, **_FIT)
    backup = tmp_path / "backup"
    _interrupted(model_name, train, backup)
    resumed = _built(model_name)
    resumed.fit(train, callbacks=[keras.callbacks.BackupAndRestore(backup)], **_FIT)
    for expected, actual in zip(uninterrupted.get_weights(), resumed.get_weights(),
                                strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)


def test_history_and_callbacks_see_every_loss_term(data):
    train, valid = data
    seen = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.update(logs)

    keras.utils.set_random_seed(0)
    model = tfae.DenoisingAutoencoder(input_shape=(6,), latent_dim=2, hidden_units=(4,),
                                      seed=0)
    model.compile(optimizer="adam")
    model.fit(train, validation_data=valid, epochs=1, batch_size=32, verbose=0,
              callbacks=[Record()])
    expected = {*model.loss_term_names, *(f"val_{t}" for t in model.loss_term_names)}
    assert expected <= set(seen)
    assert all(np.isfinite(seen[key]) for key in expected)
    json.dumps({key: float(value) for key, value in seen.items()})
