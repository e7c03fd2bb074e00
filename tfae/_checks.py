"""Input checks shared by every tfae entry point.

Each check raises a ``ValueError`` (or ``TypeError``) whose message names the
problem and the fix. Nothing is clipped or dropped silently.
"""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str = "x", dtype="float32") -> np.ndarray:
    """Returns ``x`` as a real NumPy array of ``dtype`` (float32 unless asked), refusing
    what cannot be one."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}.")
    try:
        array = np.asarray(x)
    except Exception as error:  # ragged lists and the like
        raise TypeError(
            f"{name} could not be converted to an array ({error}); pass a NumPy array."
        ) from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}.")
    return array.astype(dtype, copy=False)


def check_not_empty(x: np.ndarray, name: str = "x") -> None:
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(
            f"{name} is empty (shape {x.shape}); pass at least one example along axis 0."
        )


def check_finite(x: np.ndarray, name: str = "x") -> None:
    finite = np.isfinite(x)
    if not finite.all():
        count = int(x.size - finite.sum())
        raise ValueError(
            f"{name} has {count} non-finite value(s) (NaN or inf); remove or impute them first."
        )


def check_unit_interval(x: np.ndarray, name: str = "x") -> None:
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1] for a Bernoulli likelihood, but its values span "
            f"[{low:g}, {high:g}]; rescale it (e.g. x / 255) or use likelihood='gaussian'."
        )


def check_example_shape(x: np.ndarray, expected: tuple, name: str = "x") -> None:
    if tuple(x.shape) == tuple(expected):
        raise ValueError(
            f"{name} has the shape of one example {tuple(expected)} but no batch axis; "
            f"add a batch axis, e.g. {name}[None], which has shape (1, "
            f"{', '.join(str(d) for d in expected)})."
        )
    if tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(
            f"{name} has examples of shape {tuple(x.shape[1:])} (array shape {x.shape}), "
            f"but the model expects {tuple(expected)}; reshape it to (batch, "
            f"{', '.join(str(d) for d in expected)})."
        )


def check_number(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """Returns ``value`` as a float after checking that it is a finite real number
    >= ``minimum`` (> ``minimum`` when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {bound} {minimum:g}, got {value!r}.")
    return value


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_bool(value, name: str) -> bool:
    """Returns ``value`` as a bool after checking that it is True or False (not 0, 1 or
    a string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


#: The largest seed: TensorFlow's stateless random ops take int32 seeds.
MAX_SEED = 2**31 - 1


def resolve_seed(seed, name: str = "seed") -> int:
    """Returns ``seed`` as an int in [0, ``MAX_SEED``]; None draws one from NumPy's global
    generator (so ``keras.utils.set_random_seed`` makes it reproducible)."""
    if seed is None:
        return int(np.random.randint(0, MAX_SEED))
    seed = check_positive_int(seed, name, minimum=0)
    if seed > MAX_SEED:
        raise ValueError(f"{name} must be <= 2**31 - 1 = {MAX_SEED} (TensorFlow's random ops "
                         f"take int32 seeds), got {seed}.")
    return seed


def check_hidden_units(hidden_units, name: str = "hidden_units") -> tuple[int, ...]:
    """Returns ``hidden_units`` (an int or a sequence of ints) as a non-empty tuple of
    positive ints."""
    if isinstance(hidden_units, (int, np.integer)) and not isinstance(hidden_units, bool):
        hidden_units = (hidden_units,)
    if isinstance(hidden_units, (str, bytes)):
        units = None
    else:
        try:
            units = tuple(hidden_units)
        except TypeError:
            units = None
    if units is None:
        raise TypeError(
            f"{name} must be a sequence of ints such as (256, 128), got {hidden_units!r}."
        )
    if not units:
        raise ValueError(f"{name} is empty; pass at least one width, e.g. (256,).")
    return tuple(check_positive_int(u, f"each entry of {name}") for u in units)
