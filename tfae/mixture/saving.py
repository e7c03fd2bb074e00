"""The file format of a fitted ``GaussianMixture``: one ``.npz`` file, written atomically.

The file holds a format tag, the constructor's settings as JSON and the fitted
arrays. Files of format 1 (tfae before the scikit-learn names ``random_state`` and
``init_params``) are read too: their ``seed`` and ``init`` become the new names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tfae._io import atomic_file
from tfae.mixture.settings import RENAMED

FORMAT = "tfae.GaussianMixture/2"

#: The formats ``read`` accepts -> whether their settings use the deprecated names.
_READABLE = {"tfae.GaussianMixture/1": True, FORMAT: False}

#: The fitted arrays of a file, by the estimator's attribute names without the "_".
FITTED = ("weights", "means", "covariances", "precisions_cholesky", "lower_bounds",
          "converged")


def write(path, config: dict, fitted: dict) -> Path:
    """Writes settings and fitted arrays to ``path``, whole or not at all.

    Args:
        path: str or Path ending in ``.npz``; an existing file is replaced.
        config: the estimator's ``get_config()``. A ``random_state`` that is a NumPy
            generator is written as None (a generator's state is not a setting).
        fitted: the arrays named in ``FITTED``.

    Returns:
        The path written.

    Raises:
        ValueError: the path does not end in ``.npz``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}.")
    random_state = config["random_state"]
    if not isinstance(random_state, int):
        config = {**config, "random_state": None}
    arrays = {"format": np.array(FORMAT), "config": np.array(json.dumps(config)),
              **{name: np.asarray(fitted[name]) for name in FITTED}}
    with atomic_file(path) as temporary:
        np.savez(temporary, **arrays)
    return path


def read(path) -> tuple[dict, dict]:
    """(config, fitted arrays) of a file written by ``write``.

    Raises:
        ValueError: the file is not a Gaussian mixture file.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        tag = str(data["format"]) if "format" in data else None
        if tag not in _READABLE:
            raise ValueError(
                f"{str(path)!r} is not a GaussianMixture file (expected format {FORMAT!r}); "
                "write one with GaussianMixture.save."
            )
        config = json.loads(str(data["config"]))
        fitted = {name: data[name] for name in FITTED}
    if _READABLE[tag]:
        config = {RENAMED.get(name, name): value for name, value in config.items()}
    return config, fitted
