"""MADE's connectivity: input orderings, hidden-unit degrees and the masks they imply.

Germain et al. (2015) give every unit k a *degree* m(k):

* input d gets its position in the ordering, m^0(d) in {1, ..., D};
* hidden unit k of layer l gets m^l(k) in {min m^{l-1}, ..., D - 1}, so that it
  depends on the inputs whose position is at most m^l(k);
* output d has the degree of input d.

A hidden layer connects k -> k' when m^l(k') >= m^{l-1}(k) (equation 12 of the
paper), the output layer when m^0(d) > m^L(k), strictly (equation 13), and the
optional direct input-to-output connection when m^0(d) > m^0(d'). Every path from
input d' to output d then passes through degrees m^0(d') <= ... < m^0(d), so output
d sees only the inputs before it in the ordering: the autoregressive property.

Masks follow the Keras kernel layout, shape (units in, units out), and are boolean;
``mask[i, j]`` is True when unit i of the layer below feeds unit j. ``tfae.MADE``
computes its masks with them once, when it is built, and stores them in its layers.
The mask functions only index and compare, so they work on NumPy arrays and,
unchanged, on TensorFlow tensors.

Examples:
    >>> inputs, hidden = made_degrees(3, hidden_units=(4,), hidden_degrees="equal")
    >>> inputs.tolist(), hidden.tolist()
    ([1, 2, 3], [1, 1, 2, 2])
    >>> output_mask(hidden, inputs).astype(int).tolist()  # rows: hidden units
    [[0, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1]]

References:
    Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for Distribution
    Estimation", ICML 2015, section 4.
"""

from __future__ import annotations

import numpy as np

from tfae import _checks

ORDERINGS = ("natural", "reversed", "random")
HIDDEN_DEGREES = ("random", "equal")


# ----------------------------------------------------------------------------- degrees


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None:
        _checks.check_positive_int(rng, "rng", minimum=0)
    return np.random.default_rng(rng)


def _check_degrees(degrees, name: str):
    """Returns ``degrees`` (a NumPy array or, unchanged, a TensorFlow tensor) after
    checking that it is a non-empty vector of integers."""
    if isinstance(degrees, (str, bytes)) or degrees is None:
        raise TypeError(f"{name} must be a vector of integer degrees, got {degrees!r}.")
    dtype = getattr(degrees, "dtype", None)
    if hasattr(dtype, "is_integer"):  # a TensorFlow tensor or variable
        rank, integer, size = degrees.shape.rank, dtype.is_integer, degrees.shape.num_elements()
    else:
        degrees = np.asarray(degrees)
        rank, size = degrees.ndim, degrees.size
        integer = np.issubdtype(degrees.dtype, np.integer)
    if not integer:
        raise TypeError(f"{name} must hold integer degrees, got dtype {dtype or degrees.dtype}.")
    if rank != 1 or size == 0:
        raise ValueError(
            f"{name} must be a non-empty vector of degrees (one per unit), got shape "
            f"{tuple(degrees.shape)}."
        )
    return degrees


def check_ordering(ordering, input_dim: int):
    """Returns ``ordering`` as a name or a list of ints, raising if it is not valid.

    Args:
        ordering: ``"natural"``, ``"reversed"``, ``"random"``, or a permutation of
            ``range(input_dim)`` listing the dimensions in the order they are generated.
        input_dim: int, the number of dimensions D.

    Raises:
        ValueError: an unknown name, or a sequence that is not a permutation of
            ``range(input_dim)``.
        TypeError: neither a string nor a sequence of ints.
    """
    if isinstance(ordering, str):
        if ordering not in ORDERINGS:
            raise ValueError(
                f"Unknown ordering {ordering!r}; use one of {ORDERINGS} or a permutation "
                f"of range({input_dim}) listing the dimensions in generation order."
            )
        return ordering
    try:
        order = np.asarray(ordering)
    except Exception as error:  # ragged sequences
        raise TypeError(f"ordering must be a name or a sequence of ints ({error}).") from error
    if order.dtype == bool or not np.issubdtype(order.dtype, np.integer):
        raise TypeError(
            f"ordering must be one of {ORDERINGS} or a sequence of ints, got {ordering!r}."
        )
    if order.ndim != 1 or sorted(order.tolist()) != list(range(input_dim)):
        raise ValueError(
            f"ordering must be a permutation of range({input_dim}) (each dimension "
            f"0..{input_dim - 1} exactly once, in generation order), got {order.tolist()}."
        )
    return [int(value) for value in order]


def input_degrees(input_dim: int, ordering="natural", rng=None) -> np.ndarray:
    """Returns the degree m^0(d) in {1, ..., D} of every input: its position in the ordering.

    Args:
        input_dim: int, the number of dimensions D.
        ordering: ``"natural"`` (x_1 first), ``"reversed"`` (x_D first), ``"random"``
            (a permutation drawn from ``rng``), or a permutation of ``range(D)`` listing
            the dimensions in generation order: ``[2, 0, 1]`` generates x_2 first.
            Defaults to ``"natural"``.
        rng: ``numpy.random.Generator``, int seed or None; used by ``"random"``.

    Returns:
        int32 array of shape (D,), a permutation of 1..D.

    Raises:
        ValueError: ``input_dim`` < 1, or a bad ``ordering`` (see ``check_ordering``).
        TypeError: ``input_dim`` or ``rng`` is not an integer.

    Examples:
        >>> input_degrees(3, [2, 0, 1]).tolist()
        [2, 3, 1]
    """
    input_dim = _checks.check_positive_int(input_dim, "input_dim")
    ordering = check_ordering(ordering, input_dim)
    if ordering == "natural":
        order = np.arange(input_dim)
    elif ordering == "reversed":
        order = np.arange(input_dim)[::-1]
    elif ordering == "random":
        order = _generator(rng).permutation(input_dim)
    else:
        order = np.asarray(ordering)
    degrees = np.empty(input_dim, np.int32)
    degrees[order] = np.arange(1, input_dim + 1)
    return degrees


def generation_order(degrees) -> np.ndarray:
    """Returns the dimensions sorted by degree: the order in which they are sampled."""
    degrees = _check_degrees(degrees, "degrees")
    return np.argsort(np.asarray(degrees), kind="stable").astype(np.int32)


def hidden_degrees(units: int, previous_degrees, input_dim: int, method: str = "random",
                   rng=None) -> np.ndarray:
    """Returns the degrees of one hidden layer, in {min previous degree, ..., D - 1}.

    The lower bound is the smallest degree of the layer below, so that every unit has
    at least one incoming connection (section 4 of the paper).

    Args:
        units: int, the width of the layer.
        previous_degrees: array, the degrees of the layer below (the inputs' for the
            first hidden layer).
        input_dim: int, the number of dimensions D.
        method: ``"random"`` draws each degree uniformly, as in the paper;
            ``"equal"`` spreads them evenly over the range (every degree appears when
            ``units >= D - min``), in a random arrangement over the units when
            ``rng`` is given. Defaults to ``"random"``.
        rng: ``numpy.random.Generator``, int seed or None.

    Returns:
        int32 array of shape (units,).

    Raises:
        ValueError: an unknown ``method``, a count below 1, ``input_dim`` < 2, or
            ``previous_degrees`` that is not a non-empty vector.
        TypeError: a count or a degree that is not an integer.
    """
    if not isinstance(method, str) or method not in HIDDEN_DEGREES:
        raise ValueError(
            f"hidden_degrees must be one of {HIDDEN_DEGREES} (argument method), got {method!r}.")
    units = _checks.check_positive_int(units, "units")
    input_dim = _checks.check_positive_int(input_dim, "input_dim")
    previous_degrees = _check_degrees(previous_degrees, "previous_degrees")
    low, high = int(np.min(previous_degrees)), input_dim - 1
    if low < 1:
        raise ValueError(f"previous_degrees must be >= 1 (degrees start at 1), got {low}.")
    if high < low:
        raise ValueError(
            f"no hidden degree fits in [{low}, {high}]: MADE needs input_dim >= 2 "
            f"(got input_dim={input_dim})."
        )
    if method == "random":
        return _generator(rng).integers(low, high + 1, size=units).astype(np.int32)
    spread = (low + np.arange(units) * (high - low + 1) // units).astype(np.int32)
    return spread if rng is None else _generator(rng).permutation(spread)


def made_degrees(input_dim: int, hidden_units, ordering="natural",
                 hidden_degrees: str = "random", rng=None) -> list[np.ndarray]:
    """Returns the degrees of every layer: ``[inputs, hidden 1, ..., hidden L]``.

    Args:
        input_dim: int, the number of dimensions D.
        hidden_units: sequence of int, the hidden layer widths.
        ordering: see ``input_degrees``.
        hidden_degrees: ``"random"`` or ``"equal"``, see ``hidden_degrees``.
        rng: ``numpy.random.Generator``, int seed or None.

    Returns:
        list of int32 arrays.

    Raises:
        ValueError: ``input_dim`` < 2, an empty ``hidden_units`` or a width below 1,
            or a bad ``ordering`` or ``hidden_degrees``.
        TypeError: a count that is not an integer.
    """
    input_dim = _checks.check_positive_int(input_dim, "input_dim", minimum=2)
    hidden_units = _checks.check_hidden_units(hidden_units)
    if not isinstance(hidden_degrees, str) or hidden_degrees not in HIDDEN_DEGREES:
        raise ValueError(
            f"hidden_degrees must be one of {HIDDEN_DEGREES}, got {hidden_degrees!r}.")
    generator = _generator(rng)
    degrees = [input_degrees(input_dim, ordering, generator)]
    for units in hidden_units:
        # rng=None keeps "equal" degrees sorted (reproducible without a seed).
        degrees.append(_hidden(units, degrees[-1], input_dim, hidden_degrees,
                               None if rng is None else generator))
    return degrees


_hidden = hidden_degrees  # the argument of made_degrees hides the function's name


# ----------------------------------------------------------------------------- masks


def hidden_mask(in_degrees, out_degrees):
    """Mask of a hidden layer: k -> k' when m(k') >= m(k). Boolean, shape (in, out)."""
    in_degrees = _check_degrees(in_degrees, "in_degrees")
    out_degrees = _check_degrees(out_degrees, "out_degrees")
    return out_degrees[None, :] >= in_degrees[:, None]


def output_mask(hidden_degrees, input_degrees):
    """Mask of the output layer: hidden k -> output d when m^0(d) > m^L(k), strictly."""
    hidden_degrees = _check_degrees(hidden_degrees, "hidden_degrees")
    input_degrees = _check_degrees(input_degrees, "input_degrees")
    return input_degrees[None, :] > hidden_degrees[:, None]


def direct_mask(input_degrees):
    """Mask of the direct connection A: input d' -> output d when m^0(d) > m^0(d').

    Strictly lower-triangular once the dimensions are sorted by the ordering.
    """
    return output_mask(input_degrees, input_degrees)


def made_masks(degrees, outputs_per_dim: int = 1, direct_connection: bool = False) -> list:
    """Returns the masks of every hidden layer and of the output layer (and of the
    direct connection).

    Args:
        degrees: ``[inputs, hidden 1, ..., hidden L]`` as from ``made_degrees``.
        outputs_per_dim: int >= 1, outputs per dimension (2 for a Gaussian's mean and
            scale, or an IAF step's m and s): the output columns are the D outputs of
            the first parameter, then the D of the second, ..., each with its
            dimension's mask. Defaults to 1.
        direct_connection: bool, also return the mask of the direct input -> output
            connection (``direct_mask``, its columns as the outputs'). Defaults to False.

    Returns:
        list of L + 1 (L + 2 with the direct connection) boolean masks, shapes
        (D, H_1), ..., (H_{L-1}, H_L), (H_L, D * outputs_per_dim)
        [, (D, D * outputs_per_dim)].

    Raises:
        ValueError, TypeError: ``degrees`` is not a list of two or more vectors of
            integer degrees, or ``outputs_per_dim`` is not a positive int.

    Examples:
        >>> degrees = made_degrees(3, (4,), "natural", "equal")
        >>> [mask.shape for mask in made_masks(degrees, 2, direct_connection=True)]
        [(3, 4), (4, 6), (3, 6)]
    """
    outputs_per_dim = _checks.check_positive_int(outputs_per_dim, "outputs_per_dim")
    direct_connection = _checks.check_bool(direct_connection, "direct_connection")
    if isinstance(degrees, (str, bytes)) or not isinstance(degrees, (list, tuple)) \
            or len(degrees) < 2:
        raise TypeError(
            f"degrees must be a list [inputs, hidden 1, ..., hidden L] of degree vectors "
            f"(from made_degrees), got {degrees!r}."
        )
    degrees = [_check_degrees(layer, "degrees") for layer in degrees]
    pairs = zip(degrees[:-1], degrees[1:], strict=True)
    outputs = [output_mask(degrees[-1], degrees[0])]
    if direct_connection:
        outputs.append(direct_mask(degrees[0]))
    if outputs_per_dim > 1:
        outputs = [np.tile(mask, (1, outputs_per_dim)) for mask in outputs]
    return [hidden_mask(lower, upper) for lower, upper in pairs] + outputs


def connectivity(degrees, direct_connection: bool = False) -> np.ndarray:
    """Returns which inputs reach which outputs through some path: bool (D, D).

    ``result[d', d]`` is True when a path of unmasked weights leads from input d' to
    output d. Computed by multiplying the masks, independently of the degree rules,
    so it checks them.
    """
    masks = [np.asarray(mask, dtype=np.int64) for mask in made_masks(degrees)]
    reach = masks[0]
    for mask in masks[1:]:
        reach = np.minimum(reach @ mask, 1)  # 0/1 after each product: no overflow
    reach = reach.astype(bool)
    if _checks.check_bool(direct_connection, "direct_connection"):
        reach |= np.asarray(direct_mask(np.asarray(degrees[0])), bool)
    return reach


def unconnected_outputs(degrees, direct_connection: bool = False) -> np.ndarray:
    """Returns the dimensions, in generation order, whose output no input reaches.

    The first dimension of the ordering has nothing to condition on; any other one
    listed here is modelled by its marginal p(x_d) instead of p(x_d | x_<d), which
    happens when a hidden layer has no unit of a low enough degree.
    """
    seen = connectivity(degrees, direct_connection).any(axis=0)  # checks the degrees
    first_inputs = np.asarray(degrees[0]) > 1
    order = generation_order(degrees[0])
    return np.array([d for d in order if first_inputs[d] and not seen[d]], np.int32)
