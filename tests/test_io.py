"""Files and folders written whole or not at all, failed writes leave no folders behind."""

import pytest

from tfae._io import atomic_file, atomic_folder


@pytest.mark.parametrize("write", [atomic_folder, atomic_file])
def test_a_failed_write_removes_the_folders_it_created(tmp_path, write):
    destination = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(RuntimeError, match="failed"), write(destination):
        raise RuntimeError("failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("write", [atomic_folder, atomic_file])
def test_a_successful_write_keeps_the_folders_it_created(tmp_path, write):
    destination = tmp_path / "new" / "run"
    with write(destination) as staging:
        if write is atomic_folder:
            (staging / "a.txt").write_text("a")
        else:
            staging.write_text("a")
    assert destination.exists() and (tmp_path / "new").is_dir()
    assert [path.name for path in (tmp_path / "new").iterdir()] == ["run"]


def test_folders_that_existed_stay(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "kept" / "run"):
        raise RuntimeError("failed")
    assert [path.name for path in tmp_path.iterdir()] == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []


# ------------------------------------------------------------------ model.save


@pytest.fixture
def tiny_model():
    import tfae

    return tfae.Autoencoder((4,), latent_dim=2, hidden_units=(4,))


def test_model_save_is_whole_or_nothing(tmp_path, tiny_model, monkeypatch):
    import keras
    import numpy as np
    from keras.src.saving import saving_lib

    path = tmp_path / "model.keras"
    tiny_model.save(path)
    before = path.read_bytes()
    x = np.eye(4, dtype="float32")
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(x).numpy(), tiny_model(x).numpy())

    def fails_midway(model, filepath, **kwargs):
        with open(filepath, "wb") as file:  # what a crash while Keras writes leaves
            file.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(saving_lib, "save_model", fails_midway)
    with pytest.raises(OSError, match="No space left"):
        tiny_model.save(path)
    assert path.read_bytes() == before  # the previous file, as it was
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no partial file
