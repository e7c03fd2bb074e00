"""Fuzzing tfae's public entry points with hypothesis: the shared helpers and settings,
and the masks, corruption processes and ``MaskedDense``.

Random shapes, dtypes, NaN/inf, empty arrays, out-of-range values and bad keyword
values go to every public entry point; each call must either succeed with finite
results or raise a ValueError or TypeError whose message names the argument (never a
raw TensorFlow error, a KeyError/IndexError/AttributeError, a NaN result or a hang).
The other entry points are fuzzed with the helpers of this module in
``test_fuzz_data.py`` (datasets, metrics, estimators, priors, export),
``test_fuzz_models.py`` (the models and the plots) and ``test_fuzz_mixture.py`` (the
likelihood heads and the Gaussian mixture); ``docs/input-checks.md`` lists what each
entry point checks.

The default run is short and reproducible: every test runs a few examples chosen
by a derandomized search (``derandomize=True``, no example database; hypothesis
still caches the constants it reads from the source in the git-ignored
``.hypothesis/constants/``). For a longer local search set the number of examples
per test, e.g. ``TFAE_FUZZ_EXAMPLES=500 pytest tests/test_fuzz*.py``; add
``TFAE_FUZZ_ALL_BUGS=1`` to see every distinct failure of a test, shrunk (the
default run stops at the first, unshrunk, so that a known failure costs little).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfae import corruption, masks
from tfae.layers import MaskedDense

tfd = tfp.distributions

#: Examples per test when TFAE_FUZZ_EXAMPLES is set (the default run uses fewer).
EXTRA_EXAMPLES = int(os.environ.get("TFAE_FUZZ_EXAMPLES", "0"))

settings.register_profile(
    "tfae-fuzz",
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,  # nothing written to .hypothesis/
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    # No shrinking: a failure is reported as drawn, and a known failure (an xfail) costs
    # no more than the examples themselves.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    report_multiple_bugs=False,
)
#: TFAE_FUZZ_ALL_BUGS=1 reports every distinct failure of a test, shrunk (slower).
if os.environ.get("TFAE_FUZZ_ALL_BUGS"):
    settings.register_profile("tfae-fuzz", settings.get_profile("tfae-fuzz"),
                              phases=tuple(Phase), report_multiple_bugs=True)


def fuzz(max_examples: int):
    """The settings of a fuzz test: ``max_examples`` unless TFAE_FUZZ_EXAMPLES asks more."""
    return settings(settings.get_profile("tfae-fuzz"),
                    max_examples=max(max_examples, EXTRA_EXAMPLES))


# ----------------------------------------------------------------------------- helpers


def names_argument(message: str, name: str) -> bool:
    """True when ``name`` appears in ``message`` as a word (``x`` not inside ``max``)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message,
                     re.IGNORECASE) is not None


def assert_refused(call, *names: str):
    """Asserts that ``call()`` raises a ValueError or TypeError naming one of ``names``.

    Any other exception (a ``tf.errors.*``, a KeyError...) propagates and fails the test;
    a call that returns fails it too.
    """
    try:
        result = call()
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(names_argument(message, name) for name in names), (
            f"the error does not name {names}: {type(error).__name__}: {message}")
        return error
    raise AssertionError(f"the call was accepted and returned {result!r}")


def assert_finite(*values):
    for value in values:
        array = np.asarray(value, dtype=np.float64)
        assert np.isfinite(array).all(), f"non-finite result {array}"


def finite_numbers(x) -> bool:
    """True for a NumPy array of real, finite numbers (of any shape)."""
    return (isinstance(x, np.ndarray) and x.dtype.kind in "fiub"
            and bool(np.isfinite(x.astype(np.float64)).all()))


#: Values that are never a count, a size or an index.
NOT_AN_INT = st.sampled_from([2.5, 1.0, True, False, None, "3", float("nan"), [2], np.float32(2)])
NEGATIVE = st.integers(-10**6, -1)
#: Values that are never a real number.
NOT_A_NUMBER = st.sampled_from([True, None, "0.5", [0.5], complex(0.5, 1), object()])
NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
NOT_A_BOOL = st.sampled_from([0, 1, "yes", None, 1.0, "False"])


def shapes(min_dims=0, max_dims=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=3)


#: The kinds of invalid arrays that ``bad_arrays`` draws.
ARRAY_FAULTS = ("shape", "empty", "novalues", "nonfinite", "dtype", "range")


@st.composite
def bad_arrays(draw, event_shape: tuple, low: float = 0.0, high: float = 1.0,
               check_range: bool = True, none: bool = True, kind: str | None = None):
    """An invalid batch for examples of ``event_shape`` with values in [low, high], of
    one of ``ARRAY_FAULTS`` (``kind``, or drawn): a wrong shape (a missing batch axis,
    another example shape), an empty batch, examples without values, a non-finite
    value, a dtype that holds no real numbers (None or a string too unless ``none``
    is False), or out-of-range values (unless ``check_range`` is False)."""
    if kind is None:
        kind = draw(st.sampled_from([k for k in ARRAY_FAULTS if check_range or k != "range"]))
    batch = draw(st.integers(1, 3))
    if kind == "novalues":
        return np.zeros((batch, 0), np.float32)
    if kind == "shape":
        shape = draw(shapes().filter(
            lambda s: len(s) == 0 or tuple(s[1:]) != tuple(event_shape)))
        return np.full(shape, (low + high) / 2, np.float32)
    if kind == "empty":
        return np.zeros((0, *event_shape), np.float32)
    if kind == "nonfinite":
        x = np.full((batch, *event_shape), (low + high) / 2, np.float32)
        x.flat[draw(st.integers(0, x.size - 1))] = draw(NON_FINITE)
        return x
    if kind == "range":
        x = np.full((batch, *event_shape), low, np.float32)
        outside = draw(st.sampled_from([high + 1.0, 255.0, low - 1.0, -255.0]))
        x.flat[draw(st.integers(0, x.size - 1))] = outside
        return x
    dtype = draw(st.sampled_from(["complex", "object", "str"] + (["None", "text"] if none
                                                                   else [])))
    if dtype == "complex":
        return np.full((batch, *event_shape), low + 0.5j, np.complex64)
    if dtype == "object":
        return np.full((batch, *event_shape), None, dtype=object)
    if dtype == "str":
        return np.full((batch, *event_shape), "a")
    return None if dtype == "None" else "x"


@st.composite
def good_arrays(draw, event_shape: tuple, binary: bool = False, batch=(1, 3)):
    """A valid batch in [0, 1] of float16/32/64, int or bool values."""
    n = draw(st.integers(*batch))
    dtype = draw(st.sampled_from(["float32", "float64", "float16", "int64", "bool"]))
    if binary or dtype in ("int64", "bool"):
        values = draw(hnp.arrays(np.int8, (n, *event_shape), elements=st.integers(0, 1)))
        return values.astype(dtype)
    values = draw(hnp.arrays(np.float64, (n, *event_shape),
                             elements=st.floats(0.0, 1.0, width=16)))
    return values.astype(dtype)


# ----------------------------------------------------------------------------- masks


@fuzz(15)
@given(st.integers(2, 6), st.sampled_from(["natural", "reversed", "random"]),
       st.lists(st.integers(1, 5), min_size=1, max_size=3), st.sampled_from(["random", "equal"]),
       st.integers(0, 2**31 - 1))
def test_made_degrees_of_valid_arguments_are_valid_masks(input_dim, ordering, hidden, method,
                                                         seed):
    degrees = masks.made_degrees(input_dim, hidden, ordering, method, rng=seed)
    assert sorted(degrees[0].tolist()) == list(range(1, input_dim + 1))
    for layer in degrees[1:]:
        assert 1 <= layer.min() and layer.max() <= input_dim - 1
    reach = masks.connectivity(degrees)
    order = degrees[0]
    assert not reach[order[:, None] >= order[None, :]].any()  # the autoregressive property


@pytest.mark.parametrize("argument", ["input_dim", "ordering", "hidden_units", "hidden_degrees"])
@fuzz(6)
@given(data=st.data())
def test_made_degrees_refuse_bad_arguments(argument, data):
    arguments = {"input_dim": 3, "hidden_units": (4,), "ordering": "natural",
                 "hidden_degrees": "random"}
    bad = {
        "input_dim": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0), st.just(1)),
        "ordering": st.sampled_from(["sideways", "", None, 3, [0, 0, 1], [0, 1], [[0, 1, 2]],
                                     [0.0, 1.0, 2.0], [True, False, True], [0, 1, 5]]),
        "hidden_units": st.sampled_from([(), (0,), (-2,), (2.5,), ("4",), None, "4", (True,)]),
        "hidden_degrees": st.sampled_from(["uniform", None, 1, ""]),
    }[argument]
    arguments[argument] = data.draw(bad)
    assert_refused(lambda: masks.made_degrees(**arguments), argument,
                   *(["ordering"] if argument == "ordering" else []))


@pytest.mark.parametrize("argument", ["units", "previous_degrees", "input_dim", "method"])
@fuzz(6)
@given(data=st.data())
def test_hidden_degrees_refuse_bad_arguments(argument, data):
    arguments = {"units": 3, "previous_degrees": np.array([1, 2, 3]), "input_dim": 3,
                 "method": "random"}
    bad = {
        "units": st.one_of(NOT_AN_INT, NEGATIVE),
        "previous_degrees": st.sampled_from([np.array([]), np.array([[1, 2]]), None, "12",
                                             np.array([1.5, 2.0]), np.array([0, 1])]),
        "input_dim": st.one_of(NOT_AN_INT, NEGATIVE),
        "method": st.sampled_from(["uniform", None, 1]),
    }[argument]
    arguments[argument] = data.draw(bad)
    assert_refused(lambda: masks.hidden_degrees(**arguments), argument)


@fuzz(6)
@pytest.mark.parametrize("function", ["hidden_mask", "output_mask", "direct_mask",
                                      "made_masks", "connectivity", "unconnected_outputs",
                                      "generation_order"])
@given(degrees=st.sampled_from([None, "123", np.array([[1, 2]]), np.array([1.5, 2.5]),
                                np.array([], np.int32), np.array([1 + 1j, 2])]))
def test_mask_functions_refuse_bad_degrees(function, degrees):
    good = np.array([1, 2, 3], np.int32)
    call = {
        "hidden_mask": lambda: masks.hidden_mask(degrees, good),
        "output_mask": lambda: masks.output_mask(good, degrees),
        "direct_mask": lambda: masks.direct_mask(degrees),
        "made_masks": lambda: masks.made_masks([good, degrees]),
        "connectivity": lambda: masks.connectivity([degrees, good]),
        "unconnected_outputs": lambda: masks.unconnected_outputs([degrees, good]),
        "generation_order": lambda: masks.generation_order(degrees),
    }[function]
    assert_refused(call, "degrees", "in_degrees", "out_degrees", "input_degrees",
                   "hidden_degrees")


# ----------------------------------------------------------------------------- corruption


CORRUPTIONS = {
    "gaussian_noise": (corruption.gaussian_noise, "stddev", 0.3),
    "salt_and_pepper": (corruption.salt_and_pepper, "rate", 0.3),
    "masking_noise": (corruption.masking_noise, "rate", 0.3),
}


@fuzz(15)
@given(st.sampled_from(sorted(CORRUPTIONS)), st.data(), st.integers(0, 2**31 - 1))
def test_corruptions_of_valid_data_are_finite_and_keep_the_shape(name, data, seed):
    function, _, level = CORRUPTIONS[name]
    x = data.draw(good_arrays((2, 2, 1), binary=name == "salt_and_pepper"))
    if data.draw(st.booleans()):
        x = tf.constant(x.astype("float32"))
    noisy = function(x, level, seed)
    assert tuple(noisy.shape) == tuple(x.shape)
    assert_finite(noisy)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
@fuzz(12)
@given(data=st.data())
def test_corruptions_refuse_bad_data_levels_and_seeds(name, data):
    function, level_name, level = CORRUPTIONS[name]
    argument = data.draw(st.sampled_from(["x", level_name, "seed"]))
    arguments = {"x": np.zeros((2, 4), np.float32), level_name: level, "seed": 0}
    if argument == "x":
        # Any shape can be corrupted, an empty batch too: only values are refused.
        arguments["x"] = data.draw(bad_arrays((4,), check_range=name == "salt_and_pepper")
                                   .filter(lambda x: not finite_numbers(x)))
    elif argument == "seed":
        arguments["seed"] = data.draw(st.sampled_from(
            [None, "0", 2.5, True, [1, 2, 3], np.zeros((2, 2)), 2**40, [0.5, 1.5]]))
    else:
        arguments[level_name] = data.draw(st.one_of(
            NOT_A_NUMBER, NON_FINITE, NEGATIVE,
            st.just(1.5) if level_name == "rate" else st.just(-0.1)))
    x, value, seed = arguments["x"], arguments[level_name], arguments["seed"]
    assert_refused(lambda: function(x, value, seed), argument)


@pytest.mark.parametrize("layer", [corruption.GaussianNoise, corruption.SaltAndPepper,
                                   corruption.MaskingNoise])
@fuzz(6)
@given(data=st.data())
def test_corruption_layers_refuse_bad_levels_and_seeds(layer, data):
    level_name = "stddev" if layer is corruption.GaussianNoise else "rate"
    if data.draw(st.booleans()):
        assert_refused(lambda: layer(0.1, seed=data.draw(st.one_of(NOT_AN_INT, NEGATIVE))),
                       "seed")
    else:
        bad = data.draw(st.one_of(NOT_A_NUMBER, NON_FINITE, st.just(-0.5),
                                  st.just(2.0) if level_name == "rate" else st.nothing()))
        assert_refused(lambda: layer(bad), level_name)


@fuzz(10)
@given(st.sampled_from([("salt_and_pepper",), ("pepper", 0.2), (["salt_and_pepper"], 0.2),
                        ("masking", "0.2"), ("gaussian", -1.0), None, 0.2,
                        "salt_and_pepper", {"class_name": "Nothing"}, ("masking", 2.0)]))
def test_corruption_get_refuses_bad_identifiers(identifier):
    assert_refused(lambda: corruption.get(identifier), "corruption", "rate", "stddev")


# ----------------------------------------------------------------------------- MaskedDense


@pytest.fixture(scope="module")
def masked_dense():
    layer = MaskedDense(3, num_masks=2)
    layer.build((None, 4))
    return layer


@pytest.mark.parametrize("argument", ["units", "num_masks", "mask_op", "use_bias", "activation"])
@fuzz(6)
@given(data=st.data())
def test_masked_dense_refuses_bad_settings(argument, data):
    bad = {
        "units": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "num_masks": st.one_of(NOT_AN_INT, NEGATIVE, st.just(0)),
        "mask_op": st.sampled_from(["add", None, 1, ""]),
        "use_bias": NOT_A_BOOL,
        "activation": st.sampled_from(["no_such_activation", 3]),
    }[argument]
    kwargs = {"units": 3, argument: data.draw(bad)}
    assert_refused(lambda: MaskedDense(**kwargs), argument)


BAD_MASKS = [np.ones((2, 4, 3)) * 2, np.ones((1, 4, 3)), np.ones((4, 3)), None, "1",
             np.full((2, 4, 3), np.nan), np.full((2, 4, 3), None, object),
             np.full((2, 4, 3), "1"), np.full((2, 4, 3), 1 + 1j)]
BAD_MASK_INDICES = [2, -1, 10**9, 1.0, True, "0", None, tf.constant(0.0), tf.constant([0, 1]),
                    [0]]


@pytest.mark.parametrize("masks_value", BAD_MASKS)
def test_masked_dense_refuses_bad_masks(masked_dense, masks_value):
    assert_refused(lambda: masked_dense.set_masks(masks_value), "masks")


@pytest.mark.parametrize("index", BAD_MASK_INDICES)
def test_masked_dense_refuses_bad_mask_indices(masked_dense, index):
    assert_refused(lambda: masked_dense.masked_kernel(index), "mask_index")


@fuzz(10)
@given(st.data())
def test_masked_dense_calls_on_valid_and_bad_inputs(masked_dense, data):
    if data.draw(st.booleans()):
        x = data.draw(good_arrays((4,)))
        outputs = masked_dense(x, mask_index=data.draw(st.integers(0, 1)))
        assert tuple(outputs.shape) == (len(x), 3)
        assert_finite(outputs)
    else:
        x = data.draw(st.sampled_from([np.ones((2, 5), "float32"), np.ones(4, "float32"),
                                       np.ones((2, 4), complex), np.full((2, 4), "a")]))
        assert_refused(lambda: masked_dense(x), "inputs", "input")
