"""Where the images come from: the embedded digits, .npz files and TensorFlow Datasets.

Each loader returns one split as stored (grey levels scaled to [0, 1] for tfds
images); ``tfae.datasets.load`` checks and binarizes what they return.
"""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

KNOWN_DATASETS = ("digits", "mnist", "fashion_mnist", "binarized_mnist")



# The digits data has no official split, so a fixed permutation (independent of
# the `seed` argument, which only drives stochastic binarization) defines one.
_DIGITS_PERMUTATION_SEED = 0
_DIGITS_TEST_SIZE = 360
_DIGITS_VALID_SIZE = 180
_DIGITS_GREY_LEVELS = 16.0  # the stored pixels are counts 0..16

# MNIST and Fashion-MNIST ship only train/test; the last 10k training images
# become the validation split (the usual 50k/10k/10k convention).
_MNIST_STYLE_SPLITS = {"train": "train[:50000]", "valid": "train[50000:]", "test": "test"}
_TFDS_SPLITS = {
    "mnist": _MNIST_STYLE_SPLITS,
    "fashion_mnist": _MNIST_STYLE_SPLITS,
    "binarized_mnist": {"train": "train", "valid": "validation", "test": "test"},
}
# binarized_mnist is stored as 0/1 already; the others are 0..255 grey levels.
_TFDS_PIXEL_SCALE = {"mnist": 255.0, "fashion_mnist": 255.0, "binarized_mnist": 1.0}
TFDS_HAS_LABELS = {"mnist": True, "fashion_mnist": True, "binarized_mnist": False}
# Examples are pulled from tf.data in chunks of this size (instead of
# batch_size=-1, which the tfds test mocks cannot serve) and concatenated.
_TFDS_CHUNK_SIZE = 10_000

NPZ_KEYS = {"train": "train_data", "valid": "valid_data", "test": "test_data"}

def load_digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    # importlib.resources finds the file inside an installed package (even a
    # zipped one), where a path relative to __file__ may not exist.
    digits_file = resources.files("tfae").joinpath("data", "digits.npz")
    with resources.as_file(digits_file) as path, np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    rows = _digits_split_rows(len(images))[split]
    x = images[rows].astype(np.float32)[..., np.newaxis] / np.float32(_DIGITS_GREY_LEVELS)
    return x, labels[rows].astype(np.int64)


def _digits_split_rows(count: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(_DIGITS_PERMUTATION_SEED).permutation(count)
    valid_end = _DIGITS_TEST_SIZE + _DIGITS_VALID_SIZE
    return {
        "test": np.sort(order[:_DIGITS_TEST_SIZE]),
        "valid": np.sort(order[_DIGITS_TEST_SIZE:valid_end]),
        "train": np.sort(order[valid_end:]),
    }


def load_npz_split(path: Path, split: str) -> np.ndarray:
    key = NPZ_KEYS[split]
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"Could not read {path} as an .npz file ({error}); save it with "
            "numpy.savez(path, train_data=..., valid_data=..., test_data=...)."
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        # np.load returns a bare array for a .npy file that was named .npz.
        raise ValueError(
            f"{path} holds a single array, not an .npz archive; save it with "
            "numpy.savez(path, train_data=..., valid_data=..., test_data=...)."
        )
    with archive:
        if key not in archive.files:
            raise ValueError(
                f"{path} has no array {key!r} (needed for split {split!r}); it holds "
                f"{sorted(archive.files)}. Save the splits as train_data, valid_data and "
                "test_data."
            )
        try:
            return archive[key]
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            # e.g. an object array, which allow_pickle=False refuses to unpickle.
            raise ValueError(
                f"Could not read array {key!r} of {path} ({error}); store it as a plain "
                "numeric array (e.g. uint8 or float32)."
            ) from error


def load_tfds_split(
    name: str, split: str, data_dir: str | None, download: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    # Imported here: tensorflow_datasets takes seconds to import and only these
    # three datasets need it.
    import tensorflow_datasets as tfds

    try:
        dataset = tfds.load(
            name,
            split=_TFDS_SPLITS[name][split],
            data_dir=data_dir,
            download=download,
            shuffle_files=False,
        )
    except AssertionError as error:
        # tfds 4.9 raises a bare AssertionError ("Dataset mnist: could not find
        # data in ...") when the prepared files are missing and download=False.
        raise ValueError(_not_prepared_message(name, data_dir, download, error)) from error

    image_chunks, label_chunks = [], []
    for chunk in tfds.as_numpy(dataset.batch(_TFDS_CHUNK_SIZE)):
        image_chunks.append(chunk["image"])
        if TFDS_HAS_LABELS[name]:
            label_chunks.append(chunk["label"])
    if not image_chunks:
        raise ValueError(
            f"tfds dataset {name!r} split {_TFDS_SPLITS[name][split]!r} in "
            f"{data_dir or 'the default tfds data_dir'} holds no examples; prepare it again "
            f"with `tfds build {name} --data_dir DIR`."
        )
    images = np.concatenate(image_chunks).astype(np.float32) / np.float32(_TFDS_PIXEL_SCALE[name])
    labels = np.concatenate(label_chunks).astype(np.int64) if label_chunks else None
    return images, labels


def _not_prepared_message(name: str, data_dir: str | None, download: bool, error: Exception) -> str:
    where = data_dir or "the default tfds data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"
    not_downloaded = "" if download else ", and load() does not download it (download=False)"
    return (
        f"Dataset {name!r} is not prepared in {where}{not_downloaded}, so it is not "
        f"available offline (tfds said: {error}). Fix: on a "
        f"machine with internet run `tfds build {name} --data_dir DIR`, copy DIR here and "
        f"pass data_dir=DIR; or call load({name!r}, download=True) where there is internet; "
        "or pass the path of an .npz file holding train_data, valid_data and test_data "
        "(the layout of the MADE authors' public binarized_mnist.npz)."
    )
