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
