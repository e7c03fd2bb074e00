"""Image datasets for the autoencoders, as float32 NumPy arrays in [0, 1].

Three kinds of source are accepted by :func:`load`:

* ``"digits"``: the 8x8 handwritten digits embedded in the package (1797
  images, licence in ``tfae/data/LICENSE-digits.txt``). It works offline and is
  what the tests and the demo use.
* ``"mnist"``, ``"fashion_mnist"``, ``"binarized_mnist"``: read through
  TensorFlow Datasets from an already prepared ``data_dir``. Nothing is
  downloaded unless ``download=True`` is passed.
* A path to an ``.npz`` file holding ``train_data``, ``valid_data`` and
  ``test_data`` (the format of ``../shared/data/binarized_mnist.npz``).

Every source is checked the same way: not empty, finite and inside [0, 1].
Values are never clipped; data outside [0, 1] is refused with a message saying
how to rescale it.

:class:`DynamicBinarization` feeds ``Model.fit`` a fresh Bernoulli draw of the
grey levels every epoch (Salakhutdinov & Murray, 2008).
"""

from __future__ import annotations

import math
import os
import zipfile
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from tfae._checks import (
    as_float_array,
    check_bool,
    check_finite,
    check_not_empty,
    check_positive_int,
)
from tfae.choices import SPLITS

KNOWN_DATASETS = ("digits", "mnist", "fashion_mnist", "binarized_mnist")

_BINARIZE_OPTIONS = (None, "threshold", "stochastic")

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
_TFDS_HAS_LABELS = {"mnist": True, "fashion_mnist": True, "binarized_mnist": False}
# Examples are pulled from tf.data in chunks of this size (instead of
# batch_size=-1, which the tfds test mocks cannot serve) and concatenated.
_TFDS_CHUNK_SIZE = 10_000

_NPZ_KEYS = {"train": "train_data", "valid": "valid_data", "test": "test_data"}


def load(
    name,
    split: str = "train",
    binarize: str | None = None,
    threshold: float = 0.5,
    seed: int = 0,
    flatten: bool = False,
    data_dir=None,
    with_labels: bool = False,
    download: bool = False,
):
    """Loads one split of a dataset as float32 values in [0, 1].

    Splits:

    * ``digits``: a fixed permutation (``np.random.default_rng(0)``) of the
      1797 images gives test = 360, valid = 180 and train = the other 1257
      images; each split keeps the order of the stored file.
    * ``mnist`` / ``fashion_mnist``: train = the first 50000 training images,
      valid = the last 10000 training images, test = the 10000 test images.
    * ``binarized_mnist``: the tfds splits train / validation / test
      (50000 / 10000 / 10000).
    * ``.npz`` files: the arrays ``train_data`` / ``valid_data`` / ``test_data``.

    Args:
        name: One of ``KNOWN_DATASETS``, or the path (``str`` or
            ``os.PathLike``) of an ``.npz`` file holding ``train_data``,
            ``valid_data`` and ``test_data``.
        split: One of ``SPLITS``: ``"train"``, ``"valid"`` or ``"test"``.
        binarize: ``None`` keeps the grey levels; ``"threshold"`` maps values
            above ``threshold`` to 1.0 and the rest to 0.0; ``"stochastic"``
            draws each pixel once from Bernoulli(grey level), seeded by
            ``seed``. For a fresh draw every epoch use
            :class:`DynamicBinarization` instead.
        threshold: Cut-off for ``binarize="threshold"``, strictly between 0
            and 1.
        seed: Non-negative integer seeding ``binarize="stochastic"``.
        flatten: If True, returns shape ``(N, D)`` instead of the image shape.
        data_dir: TensorFlow Datasets folder holding the prepared ``mnist``,
            ``fashion_mnist`` or ``binarized_mnist``; ``None`` means the tfds
            default (``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``). Not
            used by ``digits`` or ``.npz`` files.
        with_labels: If True, also returns the int64 class labels. Only
            ``digits``, ``mnist`` and ``fashion_mnist`` have labels.
        download: If True, lets TensorFlow Datasets download and prepare a
            missing tfds dataset (needs internet). The default False never
            touches the network. Not used by ``digits`` or ``.npz`` files.

    Returns:
        A float32 array with values in [0, 1]: shape ``(N, H, W, 1)`` for the
        image datasets (``(N, 8, 8, 1)`` for digits, ``(N, 28, 28, 1)`` for the
        MNIST family), the stored shape for ``.npz`` files (e.g.
        ``(N, 784)``), or ``(N, D)`` when ``flatten=True``. With
        ``with_labels=True``, a tuple ``(x, y)`` where ``y`` is an int64 array
        of shape ``(N,)``.

    Raises:
        ValueError: For an unknown name, a missing ``.npz`` file or key, an
            invalid ``split``/``binarize``/``threshold``, labels requested
            from a source without labels, a tfds dataset that is not prepared
            in ``data_dir``, or data that is empty, non-finite or outside
            [0, 1].
        TypeError: For arguments of the wrong type.

    Example:
        >>> x_train = load("digits", split="train")
        >>> x_train.shape
        (1257, 8, 8, 1)
        >>> x_bin, y = load("digits", split="test", binarize="threshold", with_labels=True)
        >>> x_bin.shape, y.shape
        ((360, 8, 8, 1), (360,))
    """
    _check_split(split)
    _check_binarize(binarize)
    threshold = _checked_threshold(threshold)
    seed = check_positive_int(seed, "seed", minimum=0)
    for flag_name, flag in (
        ("flatten", flatten),
        ("with_labels", with_labels),
        ("download", download),
    ):
        check_bool(flag, flag_name)

    source, npz_path = _resolve_source(name)
    if with_labels:
        _check_has_labels(source)

    if source == "digits":
        x, y = _load_digits_split(split)
        description = "the embedded digits data"
    elif source == "npz":
        x, y = _load_npz_split(npz_path, split), None
        description = f"array {_NPZ_KEYS[split]!r} of {npz_path}"
    else:
        x, y = _load_tfds_split(source, split, _checked_data_dir(data_dir), download)
        description = f"tfds dataset {source!r} (split {split!r})"

    x = _validated_unit_data(
        x,
        name=description,
        fix="load() returns values in [0, 1], so rescale the stored arrays "
        "(e.g. divide 0..255 grey levels by 255) and save them again",
    )
    x = _binarized(x, binarize, threshold, seed)
    if flatten:
        x = x.reshape(len(x), -1)
    return (x, y) if with_labels else x


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of a fresh Bernoulli binarization of ``x`` in every epoch.

    Each batch is ``x_bin ~ Bernoulli(x)`` drawn anew, so the model never sees
    the same binary image twice (dynamic binarization, Salakhutdinov & Murray,
    2008), which regularizes models trained on binarized MNIST-like data.

    The draw for batch ``idx`` in epoch ``e`` comes from
    ``np.random.default_rng([seed, e, idx])`` and the example order of epoch
    ``e`` from ``np.random.default_rng([seed, e])``. A batch therefore depends
    only on ``(seed, epoch, idx)``, not on the order or the number of times
    Keras asks for it, nor on how many workers fetch batches, so runs are
    reproducible. Batches hold inputs only (no targets), as tfae models take
    none.

    Args:
        x: Grey levels in [0, 1] (Bernoulli probabilities), shape
            ``(N, ...)`` with at least two axes.
        batch_size: Examples per batch (>= 1); the last batch may be smaller.
        shuffle: If True, the example order is reshuffled every epoch.
        seed: Non-negative integer seeding order and draws.
        **kwargs: Passed to ``keras.utils.PyDataset`` (``workers``,
            ``use_multiprocessing``, ``max_queue_size``).

    Attributes:
        epoch: The epoch whose draws ``__getitem__`` serves; starts at 0 and
            is incremented by ``on_epoch_end``.

    Raises:
        ValueError: If ``x`` is empty, non-finite or outside [0, 1], or
            ``batch_size`` < 1 or ``seed`` < 0.
        TypeError: If ``x`` is not numeric or ``batch_size``/``seed`` are not
            integers or ``shuffle`` is not a bool.

    Example:
        >>> grey = load("digits", split="train")
        >>> batches = DynamicBinarization(grey, batch_size=100, seed=1)
        >>> len(batches), batches[0].shape
        (13, (100, 8, 8, 1))
        >>> # model.fit(batches, epochs=10)
    """

    def __init__(self, x, batch_size: int = 100, shuffle: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.x = _validated_unit_data(
            x,
            name="x",
            fix="DynamicBinarization draws Bernoulli(x), so x must hold grey levels in "
            "[0, 1]; rescale it (e.g. x / 255)",
        )
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.epoch = 0
        # (epoch, order) of the last epoch asked for, so the permutation is
        # computed once per epoch instead of once per batch.
        self._cached_order = None

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx: int) -> np.ndarray:
        """Returns batch ``idx`` of the current epoch as float32 zeros and ones."""
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"batch index must be an integer, got {idx!r}.")
        if not 0 <= idx < len(self):
            # IndexError (not ValueError) ends Python's sequence iteration.
            raise IndexError(
                f"batch index {idx} is out of range; use 0 <= idx < {len(self)} (len(self))."
            )
        rows = self._epoch_order()[idx * self.batch_size : (idx + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, int(idx)])
        return _bernoulli_draw(self.x[rows], rng)

    def on_epoch_end(self) -> None:
        """Moves on to the next epoch's order and draws."""
        self.epoch += 1

    def _epoch_order(self) -> np.ndarray:
        epoch = self.epoch
        cached = self._cached_order
        if cached is not None and cached[0] == epoch:
            return cached[1]
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))
        else:
            order = np.arange(len(self.x))
        # One tuple assignment, so worker threads never see a half-updated cache.
        self._cached_order = (epoch, order)
        return order


# --- argument checks -------------------------------------------------------


def _check_split(split) -> None:
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(
            f"split must be one of {SPLITS}, got {split!r}; pass e.g. split='valid' "
            "for the validation split."
        )


def _check_binarize(binarize) -> None:
    if not (binarize is None or (isinstance(binarize, str) and binarize in _BINARIZE_OPTIONS)):
        raise ValueError(
            f"binarize must be one of {_BINARIZE_OPTIONS}, got {binarize!r}; use None to keep "
            "grey levels, 'threshold' for x > threshold, or 'stochastic' for one Bernoulli draw."
        )


def _checked_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
        raise TypeError(f"threshold must be a number in (0, 1), got {threshold!r}.")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(
            f"threshold must lie strictly between 0 and 1, got {threshold!r}; "
            "pass e.g. threshold=0.5."
        )
    return float(threshold)


def _checked_data_dir(data_dir) -> str | None:
    if data_dir is None:
        return None
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir must be a folder path (str or os.PathLike) or None, got {data_dir!r}."
        )
    return os.fspath(Path(data_dir).expanduser())


def _resolve_source(name) -> tuple[str, Path | None]:
    """Returns ``(source, npz_path)``: a known dataset name or ``"npz"``."""
    if isinstance(name, str) and name in KNOWN_DATASETS:
        return name, None
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(
            f"name must be one of {KNOWN_DATASETS} or the path of an .npz file, "
            f"got {type(name).__name__}."
        )
    path = Path(name).expanduser()
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise ValueError(
                f"No .npz file at {path} (file not found); check the path, or use one of "
                f"{KNOWN_DATASETS}."
            )
        return "npz", path
    raise ValueError(
        f"Unknown dataset {os.fspath(name)!r}; use one of {KNOWN_DATASETS}, or pass the path "
        "of an .npz file holding train_data, valid_data and test_data."
    )


def _check_has_labels(source: str) -> None:
    if source == "npz":
        raise ValueError(
            ".npz files in the train_data/valid_data/test_data format hold no labels; "
            "call load(..., with_labels=False)."
        )
    if source in _TFDS_HAS_LABELS and not _TFDS_HAS_LABELS[source]:
        raise ValueError(
            f"{source!r} has no labels; call load(..., with_labels=False), or use 'mnist' "
            "with binarize='threshold' or 'stochastic' for labelled binary images."
        )


# --- data checks and binarization -----------------------------------------


def _validated_unit_data(x, name: str, fix: str) -> np.ndarray:
    """Returns ``x`` as float32 after checking it holds examples in [0, 1]."""
    x = as_float_array(x, name)
    check_not_empty(x, name)
    if x.ndim < 2:
        raise ValueError(
            f"{name} has shape {x.shape}; it needs examples along axis 0 and their values "
            "along the other axes, so reshape it to (N, D), e.g. x.reshape(-1, 1)."
        )
    if x.size == 0:
        raise ValueError(
            f"{name} has examples without values (shape {x.shape}); each example needs at "
            "least one value."
        )
    check_finite(x, name)
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], but its values span [{low:g}, {high:g}]; {fix}. "
            "Values are never clipped."
        )
    return x


def _binarized(x: np.ndarray, binarize: str | None, threshold: float, seed: int) -> np.ndarray:
    if binarize == "threshold":
        return (x > threshold).astype(np.float32)
    if binarize == "stochastic":
        return _bernoulli_draw(x, np.random.default_rng(seed))
    return x


def _bernoulli_draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # P(u < p) = p for u ~ U[0, 1): p = 0 never fires and p = 1 always does.
    uniform = rng.random(probabilities.shape, dtype=np.float32)
    return (uniform < probabilities).astype(np.float32)


# --- sources ---------------------------------------------------------------


def _load_digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
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


def _load_npz_split(path: Path, split: str) -> np.ndarray:
    key = _NPZ_KEYS[split]
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


def _load_tfds_split(
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
        if _TFDS_HAS_LABELS[name]:
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
        "(the format of ../shared/data/binarized_mnist.npz)."
    )
