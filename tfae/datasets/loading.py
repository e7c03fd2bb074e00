"""``load``: one split of a dataset, checked and binarized, as float32 values in [0, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfae._checks import check_bool, check_positive_int
from tfae.choices import SPLITS
from tfae.datasets.binarization import binarized, validated_unit_data
from tfae.datasets.sources import (
    KNOWN_DATASETS,
    NPZ_KEYS,
    TFDS_HAS_LABELS,
    load_digits_split,
    load_npz_split,
    load_tfds_split,
)

_BINARIZE_OPTIONS = (None, "threshold", "stochastic")


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

    Examples:
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

    data_dir = _checked_data_dir(data_dir)  # checked for every source, used by tfds only
    source, npz_path = _resolve_source(name)
    if with_labels:
        _check_has_labels(source)

    if source == "digits":
        x, y = load_digits_split(split)
        description = "the embedded digits data"
    elif source == "npz":
        x, y = load_npz_split(npz_path, split), None
        description = f"array {NPZ_KEYS[split]!r} of {npz_path}"
    else:
        x, y = load_tfds_split(source, split, data_dir, download)
        description = f"tfds dataset {source!r} (split {split!r})"

    x = validated_unit_data(
        x,
        name=description,
        fix="load() returns values in [0, 1], so rescale the stored arrays "
        "(e.g. divide 0..255 grey levels by 255) and save them again",
    )
    x = binarized(x, binarize, threshold, seed)
    if flatten:
        x = x.reshape(len(x), -1)
    return (x, y) if with_labels else x


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
                f"No .npz file at {path} (file not found); check the path given as name, "
                f"or use one of {KNOWN_DATASETS}."
            )
        return "npz", path
    raise ValueError(
        f"Unknown dataset name {os.fspath(name)!r}; use one of {KNOWN_DATASETS}, or pass the path "
        "of an .npz file holding train_data, valid_data and test_data."
    )


def _check_has_labels(source: str) -> None:
    if source == "npz":
        raise ValueError(
            ".npz files in the train_data/valid_data/test_data format hold no labels; "
            "call load(..., with_labels=False)."
        )
    if source in TFDS_HAS_LABELS and not TFDS_HAS_LABELS[source]:
        raise ValueError(
            f"{source!r} has no labels; call load(..., with_labels=False), or use 'mnist' "
            "with binarize='threshold' or 'stochastic' for labelled binary images."
        )
