"""The ``tfae`` console command: TensorFlow's start-up logs kept off the terminal.

``tfae.cli`` lives inside the package, and ``import tfae`` imports TensorFlow, whose
C++ libraries print their start-up lines on stderr (the oneDNN notice, "Could not find
cuda drivers", the CPU instructions the binary was not built with, a failed
``cuInit`` on a machine without a GPU...). Some are written before TensorFlow's
logging reads ``TF_CPP_MIN_LOG_LEVEL``, so that variable alone cannot silence them.
This module runs before ``tfae`` is imported: unless the user set
``TF_CPP_MIN_LOG_LEVEL`` (then TensorFlow logs as they asked), ``main`` sets it to 2
and holds back what is written to file descriptor 2 while TensorFlow is imported and
its devices are found, then writes back every line that is not one of the known
start-up lines (everything, if the import fails), so that no genuine warning or
error is hidden.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

#: The environment variable that sets TensorFlow's C++ log level.
LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"

#: What TensorFlow's start-up lines say (abseil's "I0000 00:00:... file.cc:153] "
#: prefix left out): informational lines of every start, and the failed CUDA set-up
#: of a machine without a (usable) GPU.
STARTUP_MESSAGES = (
    rb"oneDNN custom operations are on\b",
    rb"Could not find cuda drivers on your machine",
    rb"This TensorFlow binary is optimized to use available CPU instructions",
    rb"failed call to cuInit",
    rb"Unable to register cu(DNN|FFT|BLAS) factory",
    rb"computation placer already registered",
    rb"Cannot dlopen some GPU libraries",
)

_ABSL_PREFIX = rb"[IWE]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] "

#: Whole lines of the start-up: the abseil lines above, abseil's notice, and the
#: second line of the CPU-instructions message.
_STARTUP_LINE = re.compile(
    rb"^(?:" + _ABSL_PREFIX + rb"(?:" + rb"|".join(STARTUP_MESSAGES) + rb")"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written "
    rb"to STDERR"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow "
    rb"with the appropriate compiler flags\.)"
)


def is_startup_line(line: bytes) -> bool:
    """Whether ``line`` (bytes, one line of stderr) is one of TensorFlow's known
    start-up lines."""
    return _STARTUP_LINE.match(line) is not None


def _start_tensorflow() -> None:
    """Imports tfae (and so TensorFlow) and finds the devices, whose first search
    prints the CUDA lines."""
    import tensorflow as tf

    import tfae  # noqa: F401  (registers the models' classes for Keras)

    tf.config.list_physical_devices()


def start_quietly() -> None:
    """Runs ``_start_tensorflow`` with file descriptor 2 held back, then writes back
    every held-back line that is not a known start-up line (all of them if the start
    failed)."""
    sys.stderr.flush()
    saved = os.dup(2)
    started = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            _start_tensorflow()
            started = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().splitlines(keepends=True)
            kept = [line for line in lines if not (started and is_startup_line(line))]
            if kept:
                os.write(2, b"".join(kept))


def main() -> int:
    """The ``tfae`` command (see ``tfae.cli``), without TensorFlow's start-up lines
    unless ``TF_CPP_MIN_LOG_LEVEL`` is set.

    Returns:
        int, the exit status of ``tfae.cli.main``.
    """
    if LOG_LEVEL not in os.environ:  # otherwise the user's setting wins
        os.environ[LOG_LEVEL] = "2"
        start_quietly()
    from tfae import cli

    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
