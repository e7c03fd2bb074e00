"""Small helpers shared by the scripts in ``benchmarks/``.

Each benchmark prints a table and writes a JSON file under ``benchmarks/results/``
(git-ignored); the figures are then copied by hand into ``docs/benchmarks.md``
with the exact command and the machine.

Run the scripts from the repository root, e.g. ``.venv/bin/python benchmarks/autoencoder.py``;
Python then finds this module next to the script.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

#: The repository root (the folder above ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]

#: Where the project's shared data lives: ``../shared/data`` beside the repository.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

#: Where benchmarks write their JSON by default (git-ignored).
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def cpu_model() -> str:
    """Returns the CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """Describes the machine and software a benchmark ran on, for its JSON."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
        "tensorflow_probability": _version("tensorflow-probability"),
        "numpy": _version("numpy"),
        # Other jobs on a shared machine slow a benchmark down: record how busy it was.
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def now() -> str:
    """Returns the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class Timer:
    """Wall-clock seconds of a ``with`` block, and the CPU seconds of this process.

    ``cpu_seconds`` counts every thread of the process (user + system): on a machine
    that other jobs share it varies less than ``seconds``, which they stretch.

    Example:
    >>> with Timer() as timer:
    ...     pass
    >>> timer.seconds >= 0
    True
    """

    def __init__(self):
        self.seconds: float | None = None
        self.cpu_seconds: float | None = None
        self._start = self._cpu_start = 0.0

    def __enter__(self) -> Timer:
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start


def _jsonable(value):
    # NumPy scalars and arrays, paths and tuples, without importing NumPy here.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json(path, payload: dict) -> Path:
    """Writes ``payload`` as indented JSON to ``path`` (creating folders); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def print_table(rows: Sequence[dict], columns: Sequence) -> str:
    """Prints ``rows`` as a Markdown table (ready to paste into the docs) and returns it.

    Args:
        rows: one dict per row.
        columns: the keys to show, in order; an entry may be a ``(key, format_spec)``
            pair such as ``("nll", ".2f")``. A missing or None value prints as ``-``.
    """
    specs = [(column, "") if isinstance(column, str) else tuple(column) for column in columns]

    def cell(row, key, spec):
        value = row.get(key)
        return "-" if value is None else format(value, spec)

    table = [[key for key, _ in specs]]
    table += [[cell(row, key, spec) for key, spec in specs] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(specs))]

    def line(cells):
        padded = (text.rjust(width) for text, width in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    text = "\n".join(
        [line(table[0]), "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"]
        + [line(cells) for cells in table[1:]]
    )
    print(text, flush=True)
    return text


def epoch_timer():
    """Returns a Keras callback whose ``seconds`` lists the wall time of each epoch
    and ``cpu_seconds`` the CPU time of this process's threads over the same span.

    An epoch's time includes its validation pass, if any. Keras is imported here so
    that the rest of this module does not need it.
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.cpu_seconds: list[float] = []
            self._start = self._cpu_start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start, self._cpu_start = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu_seconds.append(time.process_time() - self._cpu_start)

    return EpochTimer()


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block, the trainable weights hold the optimizer's moving averages.

    Keras keeps the averages (``use_ema=True``) but only writes them into the model at
    the end of ``fit``; validation after each epoch has to swap them in and back. A
    model whose optimizer keeps no averages is left as it is.
    """
    optimizer = model.optimizer
    if not optimizer.use_ema:
        yield
        return
    variables = model.trainable_variables
    averages = optimizer._model_variables_moving_average  # Keras 3: same order as variables
    current = [variable.numpy() for variable in variables]
    for variable, average in zip(variables, averages, strict=True):
        variable.assign(average)
    try:
        yield
    finally:
        for variable, value in zip(variables, current, strict=True):
            variable.assign(value)


def add_ema_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``--ema M``: the momentum of the weights' moving average (0: none)."""

    def momentum(text: str) -> float:
        value = float(text)
        if not 0.0 <= value < 1.0:
            raise argparse.ArgumentTypeError(
                f"expected a momentum in [0, 1) such as 0.999, got {value}.")
        return value

    parser.add_argument("--ema", type=momentum, default=0.0,
                        help="momentum of an exponential moving average of the weights kept by "
                             "the optimizer (Polyak averaging; 0: off); validation, the kept "
                             "weights and the test use the average (default: 0)")


def adam(learning_rate: float, ema: float = 0.0):
    """Keras' Adam, keeping a moving average of the weights with momentum ``ema`` (0: none).

    Pair it with ``averaged_weights`` to validate the averages during ``fit``.
    """
    import keras

    return keras.optimizers.Adam(learning_rate, use_ema=ema > 0, ema_momentum=ema or 0.99)
