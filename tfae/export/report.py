"""What an export wrote and how closely the written file reproduces the model."""

from __future__ import annotations

import dataclasses
from pathlib import Path


def _shape(shape) -> str:
    """``(batch, 28, 28, 1)``; a tuple of one as Python writes it: ``(batch,)``."""
    names = ["batch" if n in (-1, None) else str(n) for n in shape]
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """The report ``tfae.export.tflite`` and ``tfae.export.saved_model`` return.

    The written file was run (with ``ai_edge_litert``, or loaded as a SavedModel) on
    probe batches of ``batch_sizes`` examples, and on the representative data when
    given, and its outputs compared with the model's.

    Attributes:
        path: Path, the file or folder written.
        format: ``"tflite"`` or ``"saved_model"``.
        part: str, the part written (``"decoder"``, ``"sampler"``...).
        signature: str, the name of the file's one signature.
        quantize: None (float32), ``"float16"``, ``"dynamic_int8"`` or ``"int8"``.
        size_bytes: int, the size of the file (of every file in the folder).
        max_abs_diff: float, the largest |file - model| over every output and probe.
        max_error: float, the largest error held against the tolerance: the
            difference scaled by max(1, |model|) (absolute for pixel values and
            probabilities, relative for log-likelihoods), and for a sampler's discrete
            choices the distance of the noise to the threshold where the file chose
            otherwise (see ``tfae.export.endpoint``).
        tolerance: float or None, the bound on ``max_error`` that the export enforced
            (1e-5 for float32, 1e-2 for float16); None for the int8 quantizations,
            whose error is reported only.
        batch_sizes: tuple of int, the probe batch sizes run.
        inputs: tuple of (name, shape, dtype), shape with -1 for the batch axis.
        outputs: tuple of (name, shape, dtype).
    """

    path: Path
    format: str
    part: str
    signature: str
    quantize: str | None
    size_bytes: int
    max_abs_diff: float
    max_error: float
    tolerance: float | None
    batch_sizes: tuple
    inputs: tuple
    outputs: tuple

    def table(self) -> str:
        """The report as a small text table."""
        check = ("reported only" if self.tolerance is None
                 else f"<= {self.tolerance:g}: verified")
        rows = [
            ("file", f"{self.path} ({self.format})"),
            ("part", f"{self.part}, signature {self.signature!r}"),
            ("quantize", self.quantize or "none (float32)"),
            ("size", f"{self.size_bytes:,} bytes"),
            ("max |file - model|", f"{self.max_abs_diff:.3g}"),
            ("max error", f"{self.max_error:.3g} ({check})"),
            ("batch sizes run", ", ".join(map(str, self.batch_sizes))),
        ]
        rows += [(f"input {name}", f"{_shape(shape)} {dtype}")
                 for name, shape, dtype in self.inputs]
        rows += [(f"output {name}", f"{_shape(shape)} {dtype}")
                 for name, shape, dtype in self.outputs]
        width = max(len(key) for key, _ in rows)
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython / Jupyter
        printer.text(self.table())
