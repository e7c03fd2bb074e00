"""An exportable part of a model: a function of named float32 tensors, and how to check it.

Every part that ``tfae.export`` writes (an autoencoder's decoder, MADE's sampler, the
mixture's log-density...) is described by one ``Endpoint``: the function of tensors
that goes into the file, its inputs (each with a dynamic batch axis), how to draw a
probe batch of inputs that the part accepts, and what the model itself (Keras, or the
mixture's NumPy code) gives for those inputs, so that a written file can be run and
compared with the model it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One exportable part.

    Attributes:
        part: str, the part's name (a key of ``tfae.choices.SIGNATURES``).
        signature: str, the name of the file's signature (``SIGNATURES[part]``).
        function: callable taking the inputs positionally, in the order of
            ``inputs``, as float32 tensors with a batch axis, and returning a dict of
            named float32 tensors with the same batch axis. Built from TensorFlow ops
            that LiteRT has as builtins (no TFP sampling, no Flex ops).
        inputs: tuple of ``tf.TensorSpec``, each named, shape ``(None, ...)``, float32.
        probe: callable ``(n, rng) -> dict`` of NumPy float32 inputs for n examples
            (``rng`` a ``np.random.Generator``) that the part accepts: data in the
            model's support, codes or noise from the distribution the part expects.
        reference: callable ``(inputs) -> dict`` of NumPy arrays: what the model gives
            for ``inputs`` through its own (Keras or NumPy) methods, for every output.
        errors: None, or callable ``(inputs, outputs) -> dict`` of per-element error
            arrays for outputs that a plain difference would misjudge: a sampler's
            discrete choices (x_d = [u_d < p_d]) where a tiny error in p_d flips the
            choice when u_d is that close to p_d. For such an output the error is 0
            where the file chose as the model does (the model evaluated on the file's
            own earlier choices) and |u_d - p_d| where it did not. None: every output
            is compared with ``reference`` by ``scaled_difference``.
        noise: dict input name -> ``"uniform"`` (on [0, 1)) or ``"normal"``
            (standard normal), for inputs that are noise or codes drawn from a fixed
            distribution (a decoder's codes, a sampler's noise): what the device-side
            runner draws for ``--samples``. Empty for data inputs.
        refused: dict quantization -> the message of the ValueError that refuses it,
            for quantizations the part cannot have (e.g. full int8 for MADE's sampler).
    """

    part: str
    signature: str
    function: Callable[..., dict]
    inputs: tuple
    probe: Callable[[int, np.random.Generator], dict]
    reference: Callable[[dict], dict]
    errors: Callable[[dict, dict], dict] | None = None
    noise: dict = dataclasses.field(default_factory=dict)
    refused: dict = dataclasses.field(default_factory=dict)

    def input_signature(self) -> list[tf.TensorSpec]:
        """The inputs as a list, for ``tf.function`` and ``ExportArchive``."""
        return list(self.inputs)

    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def compare(self, inputs: dict, outputs: dict) -> tuple[float, float]:
        """Returns (max_abs_diff, max_error) of a file's ``outputs`` against the model.

        ``max_abs_diff`` is the largest plain difference |file - model| over every
        output; ``max_error`` the largest ``scaled_difference`` (or ``errors`` value),
        the number that is held against a tolerance.
        """
        expected = self.reference(inputs)
        special = self.errors(inputs, outputs) if self.errors is not None else {}
        if set(outputs) != set(expected):
            raise ValueError(f"the file's outputs {sorted(outputs)} are not the model's "
                             f"{sorted(expected)}")
        max_abs, max_error = 0.0, 0.0
        for name, value in outputs.items():
            value = np.asarray(value, np.float64)
            reference = np.asarray(expected[name], np.float64)
            if value.shape != reference.shape:
                raise ValueError(f"output {name!r} has shape {value.shape}, the model's "
                                 f"{reference.shape}")
            if value.size == 0:
                continue
            difference = np.abs(value - reference)
            error = special[name] if name in special else scaled_difference(value, reference)
            # A NaN where the model has a number is an infinite error, never a small one.
            max_abs = max(max_abs, float(np.max(np.nan_to_num(difference, nan=np.inf))))
            max_error = max(max_error, float(np.max(np.nan_to_num(error, nan=np.inf))))
        return max_abs, max_error


def data_probe(model):
    """A ``probe`` of data x in the support of ``model.likelihood``: 0/1 values for a
    Bernoulli, N(0.5, 0.25^2) values otherwise, of shape (n, *model.event_shape)."""
    from tfae import likelihoods

    shape = tuple(model.event_shape)

    def probe(n: int, rng: np.random.Generator) -> dict:
        if isinstance(model.likelihood, likelihoods.Bernoulli):
            return {"x": rng.integers(0, 2, (n, *shape)).astype(np.float32)}
        return {"x": rng.normal(0.5, 0.25, (n, *shape)).astype(np.float32)}

    return probe


def as_numpy(outputs: dict) -> dict:
    """A dict of tensors as a dict of NumPy arrays (for ``reference``)."""
    return {name: np.asarray(value) for name, value in outputs.items()}


def scaled_difference(value, reference) -> np.ndarray:
    """|value - reference| / max(1, |reference|), element by element.

    Absolute for values up to 1 in magnitude (pixel means, probabilities, codes),
    relative beyond (log-likelihoods of hundreds of nats), so that one tolerance
    fits every output: float32 arithmetic reorders sums and differs by ~1e-7
    relative, whatever the magnitude.
    """
    value = np.asarray(value, np.float64)
    reference = np.asarray(reference, np.float64)
    return np.abs(value - reference) / np.maximum(1.0, np.abs(reference))


def float_spec(name: str, shape) -> tf.TensorSpec:
    """A float32 input with a dynamic batch axis: ``(None, *shape)``."""
    return tf.TensorSpec([None, *shape], tf.float32, name=name)


def split_float32(value) -> tuple[np.ndarray, np.ndarray]:
    """value = hi + lo, both float32, hi exactly a float16 number where it fits one.

    In a float32 file hi + lo is value to about 2^-35 relative. ``quantize="float16"``
    stores every constant as float16: hi stays exact and lo (at most 2^-11 |value|)
    loses 2^-11 of itself, so the pair still holds value to 2^-22 instead of 2^-11.
    """
    value = np.asarray(value, np.float64)
    with np.errstate(over="ignore"):
        hi = value.astype(np.float16).astype(np.float32)
    hi = np.where(np.isfinite(hi), hi, value.astype(np.float32))  # beyond float16's range
    return hi, (value - hi.astype(np.float64)).astype(np.float32)


def component_of(u, cdf):
    """In the graph: the component of each uniform u (batch, 1), int32 (batch,).

    ``searchsorted(cdf, u, side="right")`` (``tfae.mixture.sampling.components``) with
    builtin ops: how many right ends cdf_k, k < K - 1, are <= u. The ends are held as
    float32 pairs (``split_float32``), so a float16 file moves them by 2^-22, not 2^-11.
    """
    hi, lo = split_float32(np.asarray(cdf, np.float64)[:-1])
    right = (u - tf.constant(hi)) >= tf.constant(lo)  # u >= cdf_k, (batch, K - 1)
    return tf.reduce_sum(tf.cast(right, tf.int32), axis=1)
