"""Tests for tfae.datasets: digits, .npz files, mocked tfds and dynamic binarization.

Nothing here touches the network: the MNIST family is served by
``tfds.testing.mock_data`` or read from an empty ``data_dir``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from tfae import datasets

DIGITS_SPLIT_SIZES = {"train": 1257, "valid": 180, "test": 360}


def _stored_digits() -> tuple[np.ndarray, np.ndarray]:
    digits_file = resources.files("tfae").joinpath("data", "digits.npz")
    with resources.as_file(digits_file) as path, np.load(path) as archive:
        return archive["images"], archive["labels"]


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


def _save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _binary_npz(tmp_path, rows=(6, 4, 5)):
    rng = np.random.default_rng(7)
    arrays = {
        key: rng.integers(0, 2, size=(count, 784), dtype=np.uint8)
        for key, count in zip(("train_data", "valid_data", "test_data"), rows, strict=True)
    }
    return _save_npz(tmp_path / "binary.npz", **arrays), arrays


# --- digits ----------------------------------------------------------------


@pytest.mark.parametrize("split", datasets.SPLITS)
def test_digits_split_shape_dtype_and_range(split):
    x = datasets.load("digits", split=split)
    assert x.shape == (DIGITS_SPLIT_SIZES[split], 8, 8, 1)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert x.max() == 1.0  # scaled by 16, not by 255


def test_digits_splits_partition_the_stored_images():
    images, _ = _stored_digits()
    parts = [datasets.load("digits", split=split) for split in datasets.SPLITS]
    assert sum(len(part) for part in parts) == len(images) == 1797
    # Same multiset of rows as the file: every image is in exactly one split.
    together = np.concatenate(parts).reshape(len(images), -1) * 16
    np.testing.assert_array_equal(_sorted_rows(together), _sorted_rows(images.astype(np.float32)))


def test_digits_is_deterministic():
    first_x, first_y = datasets.load("digits", split="valid", with_labels=True)
    second_x, second_y = datasets.load("digits", split="valid", with_labels=True)
    np.testing.assert_array_equal(first_x, second_x)
    np.testing.assert_array_equal(first_y, second_y)


def test_digits_labels_match_images():
    images, labels = _stored_digits()
    x, y = datasets.load("digits", split="test", with_labels=True)
    assert y.shape == (360,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    # Each returned (image, label) pair is a pair of the stored file.
    stored = {(row.tobytes(), int(label)) for row, label in zip(images, labels, strict=True)}
    returned = np.rint(x[..., 0] * 16).astype(np.uint8)
    assert all(
        (row.tobytes(), int(label)) in stored for row, label in zip(returned, y, strict=True)
    )


def test_digits_flatten():
    x = datasets.load("digits", split="train", flatten=True)
    assert x.shape == (1257, 64)
    np.testing.assert_array_equal(x, datasets.load("digits").reshape(1257, 64))


# --- binarization ------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_threshold_binarization_respects_threshold(threshold):
    grey = datasets.load("digits")
    binary = datasets.load("digits", binarize="threshold", threshold=threshold)
    assert binary.dtype == np.float32
    assert set(np.unique(binary)) <= {0.0, 1.0}
    np.testing.assert_array_equal(binary, (grey > threshold).astype(np.float32))


def test_stochastic_binarization_is_binary_seeded_and_unbiased():
    grey = datasets.load("digits")
    first = datasets.load("digits", binarize="stochastic", seed=3)
    again = datasets.load("digits", binarize="stochastic", seed=3)
    other = datasets.load("digits", binarize="stochastic", seed=4)
    assert first.dtype == np.float32
    assert set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # 80k pixels: the standard error of the mean is below 0.002.
    assert abs(first.mean() - grey.mean()) < 0.01
    # Probabilities 0 and 1 are never flipped.
    assert np.all(first[grey == 0.0] == 0.0)
    assert np.all(first[grey == 1.0] == 1.0)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"split": "validation"}, ValueError, ["valid", "split"]),
        ({"split": None}, ValueError, ["split"]),
        ({"binarize": "bernoulli"}, ValueError, ["threshold", "stochastic"]),
        ({"binarize": True}, ValueError, ["binarize"]),
        ({"threshold": 0.0}, ValueError, ["between 0 and 1"]),
        ({"threshold": 1.5}, ValueError, ["between 0 and 1"]),
        ({"threshold": "0.5"}, TypeError, ["threshold"]),
        ({"seed": -1}, ValueError, ["seed"]),
        ({"seed": 1.5}, TypeError, ["seed"]),
        ({"flatten": "yes"}, TypeError, ["flatten"]),
        ({"with_labels": 1}, TypeError, ["with_labels"]),
        ({"data_dir": 3}, TypeError, ["data_dir"]),
    ],
)
def test_bad_arguments_are_refused_with_a_fix(kwargs, error, words):
    if "data_dir" in kwargs:
        kwargs = {**kwargs, "download": False}
        name = "mnist"
    else:
        name = "digits"
    with pytest.raises(error) as raised:
        datasets.load(name, **kwargs)
    for word in words:
        assert word in str(raised.value)


def test_unknown_name_lists_known_names_and_npz():
    with pytest.raises(ValueError) as raised:
        datasets.load("mnits")
    message = str(raised.value)
    for name in datasets.KNOWN_DATASETS:
        assert name in message
    assert ".npz" in message


def test_name_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="npz"):
        datasets.load(42)


def test_existing_file_that_is_not_npz_is_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\.npz"):
        datasets.load(path)


# --- .npz files --------------------------------------------------------------


@pytest.mark.parametrize("as_str", [False, True])
def test_npz_round_trip(tmp_path, as_str):
    path, arrays = _binary_npz(tmp_path)
    for split, key in zip(datasets.SPLITS, ("train_data", "valid_data", "test_data"), strict=True):
        x = datasets.load(str(path) if as_str else path, split=split)
        assert x.dtype == np.float32
        assert x.shape == arrays[key].shape
        np.testing.assert_array_equal(x, arrays[key].astype(np.float32))


def test_npz_grey_levels_are_kept_and_can_be_binarized(tmp_path):
    grey = np.linspace(0.0, 1.0, 30, dtype=np.float32).reshape(3, 10)
    path = _save_npz(tmp_path / "grey.npz", train_data=grey, valid_data=grey, test_data=grey)
    np.testing.assert_array_equal(datasets.load(path), grey)
    binary = datasets.load(path, binarize="threshold", threshold=0.5)
    np.testing.assert_array_equal(binary, (grey > 0.5).astype(np.float32))


def test_npz_missing_key_names_it_and_the_keys_present(tmp_path):
    path = _save_npz(tmp_path / "partial.npz", train_data=np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError) as raised:
        datasets.load(path, split="valid")
    assert "valid_data" in str(raised.value)
    assert "train_data" in str(raised.value)


def test_npz_with_0_to_255_values_asks_to_rescale(tmp_path):
    pixels = np.array([[0, 128, 255]], dtype=np.uint8)
    path = _save_npz(tmp_path / "bytes.npz", train_data=pixels, valid_data=pixels, test_data=pixels)
    with pytest.raises(ValueError, match="rescale") as raised:
        datasets.load(path)
    assert "255" in str(raised.value)


def test_npz_with_negative_values_is_refused(tmp_path):
    values = np.array([[-0.5, 0.5]], dtype=np.float32)
    path = _save_npz(tmp_path / "neg.npz", train_data=values, valid_data=values, test_data=values)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        datasets.load(path)


def test_npz_with_nan_is_refused(tmp_path):
    values = np.array([[0.5, np.nan]], dtype=np.float32)
    path = _save_npz(tmp_path / "nan.npz", train_data=values, valid_data=values, test_data=values)
    with pytest.raises(ValueError, match="non-finite"):
        datasets.load(path)


def test_npz_with_empty_split_is_refused(tmp_path):
    empty = np.zeros((0, 784), dtype=np.uint8)
    path = _save_npz(tmp_path / "empty.npz", train_data=empty, valid_data=empty, test_data=empty)
    with pytest.raises(ValueError, match="empty"):
        datasets.load(path)


def test_npz_with_one_dimensional_split_is_refused(tmp_path):
    flat = np.zeros(5, dtype=np.uint8)
    path = _save_npz(tmp_path / "flat.npz", train_data=flat, valid_data=flat, test_data=flat)
    with pytest.raises(ValueError, match="reshape"):
        datasets.load(path)


def test_npz_holding_strings_is_refused(tmp_path):
    words = np.array([["a", "b"]])
    path = _save_npz(tmp_path / "words.npz", train_data=words, valid_data=words, test_data=words)
    with pytest.raises(TypeError, match="numbers"):
        datasets.load(path)


def test_missing_npz_file_says_not_found(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        datasets.load(tmp_path / "nowhere.npz")


def test_corrupt_npz_file_is_refused(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_text("not an archive")
    with pytest.raises(ValueError, match="savez"):
        datasets.load(path)


def test_npz_has_no_labels(tmp_path):
    path, _ = _binary_npz(tmp_path)
    with pytest.raises(ValueError, match="with_labels=False"):
        datasets.load(path, with_labels=True)


# --- tensorflow_datasets (mocked, offline) ----------------------------------


@pytest.fixture(scope="module")
def tfds():
    return pytest.importorskip("tensorflow_datasets")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_family_splits_through_mocked_tfds(tfds, tmp_path, name):
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        for split in datasets.SPLITS:
            x, y = datasets.load(name, split=split, data_dir=tmp_path, with_labels=True)
            assert x.shape == (5, 28, 28, 1)
            assert x.dtype == np.float32
            assert 0.0 <= x.min() and x.max() <= 1.0
            assert x.max() > 0.5  # scaled by 255 from 0..255 grey levels
            assert y.shape == (5,) and y.dtype == np.int64
        flat = datasets.load(name, data_dir=tmp_path, flatten=True, binarize="threshold")
    assert flat.shape == (5, 784)
    assert set(np.unique(flat)) <= {0.0, 1.0}


def test_binarized_mnist_through_mocked_tfds(tfds, tmp_path):
    # max_value=2 makes the mock draw pixels from {0, 1}, as the real data holds.
    with tfds.testing.mock_data(
        num_examples=4, max_value=2, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        for split in datasets.SPLITS:
            x = datasets.load("binarized_mnist", split=split, data_dir=tmp_path)
            assert x.shape == (4, 28, 28, 1)
            assert set(np.unique(x)) <= {0.0, 1.0}
        with pytest.raises(ValueError, match="no labels"):
            datasets.load("binarized_mnist", data_dir=tmp_path, with_labels=True)


def test_tfds_data_outside_unit_interval_is_refused(tfds, tmp_path):
    # binarized_mnist is not rescaled, so 0..255 mock pixels must be caught.
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        with pytest.raises(ValueError, match="rescale"):
            datasets.load("binarized_mnist", data_dir=tmp_path)


def test_unprepared_tfds_dataset_explains_the_offline_fix(tfds, tmp_path):
    with pytest.raises(ValueError) as raised:
        datasets.load("mnist", split="valid", data_dir=tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message
    for words in ("not available offline", "tfds build mnist", "data_dir", ".npz"):
        assert words in message
    assert isinstance(raised.value.__cause__, AssertionError)


# --- DynamicBinarization ------------------------------------------------------


@pytest.fixture(scope="module")
def grey_digits():
    return datasets.load("digits", flatten=True)


def _one_epoch(batches) -> list[np.ndarray]:
    return [batches[idx] for idx in range(len(batches))]


def test_dynamic_binarization_batches(grey_digits):
    batches = datasets.DynamicBinarization(grey_digits, batch_size=100)
    assert len(batches) == 13
    epoch = _one_epoch(batches)
    assert [len(batch) for batch in epoch] == [100] * 12 + [57]
    for batch in epoch:
        assert batch.shape[1:] == (64,)
        assert batch.dtype == np.float32
        assert set(np.unique(batch)) <= {0.0, 1.0}


def test_dynamic_binarization_keeps_image_shape():
    x = datasets.load("digits", split="valid")
    batch = datasets.DynamicBinarization(x, batch_size=32)[0]
    assert batch.shape == (32, 8, 8, 1)


def test_dynamic_binarization_draws_anew_each_epoch(grey_digits):
    batches = datasets.DynamicBinarization(grey_digits, batch_size=100, shuffle=False)
    first = batches[0]
    np.testing.assert_array_equal(batches[0], first)  # same epoch, same draw
    batches.on_epoch_end()
    assert batches.epoch == 1
    assert not np.array_equal(batches[0], first)


def test_dynamic_binarization_is_reproducible_and_order_independent(grey_digits):
    def three_epochs(batches, reverse=False):
        draws = []
        for _ in range(3):
            order = range(len(batches))
            by_index = {idx: batches[idx] for idx in (reversed(order) if reverse else order)}
            draws.append(np.concatenate([by_index[idx] for idx in order]))
            batches.on_epoch_end()
        return draws

    made = three_epochs(datasets.DynamicBinarization(grey_digits, batch_size=64, seed=5))
    remade = three_epochs(
        datasets.DynamicBinarization(grey_digits, batch_size=64, seed=5), reverse=True
    )
    for first, second in zip(made, remade, strict=True):
        np.testing.assert_array_equal(first, second)
    other_seed = three_epochs(datasets.DynamicBinarization(grey_digits, batch_size=64, seed=6))
    assert not np.array_equal(made[0], other_seed[0])


def test_dynamic_binarization_shuffles_each_epoch_into_a_permutation():
    # Rows of 0/1 are drawn deterministically, so they identify the examples.
    codes = ((np.arange(40)[:, None] >> np.arange(6)) & 1).astype(np.float32)

    def epoch_rows(batches):
        rows = np.concatenate(_one_epoch(batches))
        return [int(row @ (1 << np.arange(6))) for row in rows]

    kept = datasets.DynamicBinarization(codes, batch_size=7, shuffle=False)
    assert epoch_rows(kept) == list(range(40))

    shuffled = datasets.DynamicBinarization(codes, batch_size=7, shuffle=True, seed=2)
    first = epoch_rows(shuffled)
    shuffled.on_epoch_end()
    second = epoch_rows(shuffled)
    assert sorted(first) == sorted(second) == list(range(40))
    assert first != list(range(40)) and first != second


def test_dynamic_binarization_mean_matches_grey_levels():
    grey = np.random.default_rng(0).random((10, 16)).astype(np.float32)
    batches = datasets.DynamicBinarization(grey, batch_size=4, shuffle=False, seed=1)
    total = np.zeros_like(grey)
    epochs = 400
    for _ in range(epochs):
        total += np.concatenate(_one_epoch(batches))
        batches.on_epoch_end()
    # Per-pixel standard error is at most 0.5 / sqrt(400) = 0.025.
    assert np.abs(total / epochs - grey).max() < 0.1


def test_dynamic_binarization_passes_pydataset_options(grey_digits):
    batches = datasets.DynamicBinarization(grey_digits, workers=2, max_queue_size=3)
    assert batches.workers == 2
    assert batches.max_queue_size == 3


@pytest.mark.parametrize(
    "x, kwargs, error, match",
    [
        (np.full((4, 3), 2.0), {}, ValueError, "rescale"),
        (np.full((4, 3), np.nan), {}, ValueError, "non-finite"),
        (np.zeros((0, 3)), {}, ValueError, "empty"),
        (np.zeros(4), {}, ValueError, "reshape"),
        ("pixels", {}, TypeError, "array"),
        (np.zeros((4, 3)), {"batch_size": 0}, ValueError, "batch_size"),
        (np.zeros((4, 3)), {"batch_size": 2.0}, TypeError, "batch_size"),
        (np.zeros((4, 3)), {"seed": -2}, ValueError, "seed"),
        (np.zeros((4, 3)), {"shuffle": "no"}, TypeError, "shuffle"),
    ],
)
def test_dynamic_binarization_refuses_bad_input(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.DynamicBinarization(x, **kwargs)


def test_dynamic_binarization_index_out_of_range(grey_digits):
    batches = datasets.DynamicBinarization(grey_digits, batch_size=1000)
    with pytest.raises(IndexError, match="out of range"):
        batches[2]
    with pytest.raises(IndexError):
        batches[-1]
