"""tfae.masks: orderings, hidden degrees and MADE's masks, pure NumPy, checked on their own."""

import numpy as np
import pytest
import tensorflow as tf

from tfae import masks


def _random_config(rng):
    dims = int(rng.integers(2, 9))
    hidden = tuple(int(w) for w in rng.integers(1, 14, size=rng.integers(1, 4)))
    ordering = [rng.choice(["natural", "reversed", "random"]), list(rng.permutation(dims))][
        int(rng.integers(2))]
    method = str(rng.choice(masks.HIDDEN_DEGREES))
    return dims, hidden, ordering, method


# ------------------------------------------------------------------------ orderings


def test_natural_and_reversed_orderings():
    assert masks.input_degrees(4, "natural").tolist() == [1, 2, 3, 4]
    assert masks.input_degrees(4, "reversed").tolist() == [4, 3, 2, 1]
    assert masks.generation_order(masks.input_degrees(4, "reversed")).tolist() == [3, 2, 1, 0]


def test_explicit_ordering_lists_dimensions_in_generation_order():
    degrees = masks.input_degrees(5, [3, 0, 4, 1, 2])
    assert degrees.tolist() == [2, 4, 5, 1, 3]  # x_3 is first, so it has degree 1
    assert masks.generation_order(degrees).tolist() == [3, 0, 4, 1, 2]
    assert masks.input_degrees(3, np.array([2, 1, 0])).tolist() == [3, 2, 1]


def test_random_ordering_is_a_seeded_permutation():
    first = masks.input_degrees(50, "random", rng=7)
    assert sorted(first.tolist()) == list(range(1, 51))
    np.testing.assert_array_equal(first, masks.input_degrees(50, "random", rng=7))
    assert not np.array_equal(first, masks.input_degrees(50, "random", rng=8))
    assert not np.array_equal(first, np.arange(1, 51))


@pytest.mark.parametrize("ordering, error, words", [
    ("sideways", ValueError, "Unknown ordering"),
    ([0, 1, 1], ValueError, "permutation of range(3)"),
    ([0, 1], ValueError, "permutation of range(3)"),
    ([1, 2, 3], ValueError, "permutation of range(3)"),
    ([[0, 1, 2]], ValueError, "permutation of range(3)"),
    ([0.0, 1.0, 2.0], TypeError, "sequence of ints"),
    ([True, False, True], TypeError, "sequence of ints"),
])
def test_bad_orderings_are_refused(ordering, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        masks.input_degrees(3, ordering)


# ------------------------------------------------------------------------ hidden degrees


def test_random_hidden_degrees_are_uniform_in_the_paper_range():
    degrees = masks.hidden_degrees(20_000, np.array([3, 5, 9]), input_dim=10, rng=0)
    assert degrees.dtype == np.int32
    assert sorted(set(degrees.tolist())) == list(range(3, 10))  # [min previous, D - 1]
    frequencies = np.bincount(degrees)[3:] / len(degrees)
    np.testing.assert_allclose(frequencies, 1 / 7, atol=0.015)
    np.testing.assert_array_equal(
        degrees, masks.hidden_degrees(20_000, np.array([3, 5, 9]), input_dim=10, rng=0))


def test_equal_hidden_degrees_are_spread_evenly():
    degrees = masks.hidden_degrees(10, np.arange(1, 6), input_dim=5, method="equal")
    assert degrees.tolist() == [1, 1, 1, 2, 2, 3, 3, 3, 4, 4]  # sorted without an rng
    few = masks.hidden_degrees(3, np.arange(1, 8), input_dim=7, method="equal")
    assert few.tolist() == [1, 3, 5]
    shuffled = masks.hidden_degrees(10, np.arange(1, 6), input_dim=5, method="equal", rng=1)
    assert sorted(shuffled.tolist()) == degrees.tolist()
    assert shuffled.tolist() != degrees.tolist()


def test_hidden_degrees_refuse_a_bad_method_and_a_single_dimension():
    with pytest.raises(ValueError, match="hidden_degrees must be one of"):
        masks.hidden_degrees(4, np.array([1, 2]), input_dim=2, method="uniform")
    with pytest.raises(ValueError, match="input_dim >= 2"):
        masks.hidden_degrees(4, np.array([1]), input_dim=1)


def test_made_degrees_chain_the_lower_bound_through_the_layers():
    for seed in range(20):
        degrees = masks.made_degrees(12, (30, 20, 10), ordering="random", rng=seed)
        assert [len(d) for d in degrees] == [12, 30, 20, 10]
        for lower, upper in zip(degrees[:-1], degrees[1:], strict=True):
            assert upper.min() >= lower.min() and upper.max() <= 11
    again = masks.made_degrees(12, (30, 20, 10), ordering="random", rng=3)
    for a, b in zip(again, masks.made_degrees(12, (30, 20, 10), "random", rng=3), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ masks


def test_masks_follow_the_papers_equations_on_a_worked_example():
    inputs, hidden = np.array([2, 1, 3]), np.array([1, 2, 2, 1])
    # Hidden layer: k -> k' when m(k') >= m(k).
    np.testing.assert_array_equal(masks.hidden_mask(inputs, hidden).astype(int), [
        [0, 1, 1, 0],
        [1, 1, 1, 1],
        [0, 0, 0, 0],
    ])
    # Output layer: k -> d when m(d) > m(k), strictly.
    np.testing.assert_array_equal(masks.output_mask(hidden, inputs).astype(int), [
        [1, 0, 1],
        [0, 0, 1],
        [0, 0, 1],
        [1, 0, 1],
    ])
    # Direct connection: d' -> d when m(d) > m(d').
    np.testing.assert_array_equal(masks.direct_mask(inputs).astype(int), [
        [0, 0, 1],
        [1, 0, 1],
        [0, 0, 0],
    ])


def test_direct_mask_is_strictly_lower_triangular_in_the_ordering():
    degrees = masks.input_degrees(7, "random", rng=4)
    order = masks.generation_order(degrees)
    # Rows = outputs, columns = inputs, both sorted by the ordering.
    sorted_mask = masks.direct_mask(degrees)[np.ix_(order, order)].T
    np.testing.assert_array_equal(sorted_mask, np.tril(np.ones((7, 7), bool), k=-1))


@pytest.mark.parametrize("seed", range(12))
def test_every_path_respects_the_ordering(seed):
    rng = np.random.default_rng(seed)
    dims, hidden, ordering, method = _random_config(rng)
    direct = bool(rng.integers(2))
    degrees = masks.made_degrees(dims, hidden, ordering, method, rng)
    reach = masks.connectivity(degrees, direct)
    inputs = degrees[0]
    allowed = inputs[:, None] < inputs[None, :]  # input d' may reach output d
    assert not (reach & ~allowed).any(), f"a path breaks the ordering in {degrees}"


def test_wide_equal_layers_connect_each_output_to_all_earlier_inputs():
    degrees = masks.made_degrees(6, (5, 5), ordering=[4, 2, 0, 5, 1, 3], hidden_degrees="equal")
    inputs = degrees[0]
    np.testing.assert_array_equal(masks.connectivity(degrees),
                                  inputs[:, None] < inputs[None, :])
    assert masks.unconnected_outputs(degrees).size == 0


def test_made_masks_have_keras_kernel_shapes():
    degrees = masks.made_degrees(5, (7, 3), rng=0)
    assert [m.shape for m in masks.made_masks(degrees)] == [(5, 7), (7, 3), (3, 5)]
    assert all(m.dtype == bool for m in masks.made_masks(degrees))


def test_made_masks_give_every_parameter_of_a_dimension_its_dimension_mask():
    degrees = masks.made_degrees(5, (7, 3), ordering="random", rng=1)
    hidden_1, hidden_2, output, direct = masks.made_masks(degrees, 3, direct_connection=True)
    single = masks.made_masks(degrees)
    np.testing.assert_array_equal(hidden_1, single[0])
    np.testing.assert_array_equal(hidden_2, single[1])
    assert output.shape == (3, 15) and direct.shape == (5, 15)
    for p in range(3):  # columns p*D .. p*D + D - 1: parameter p of dimensions 0..D-1
        np.testing.assert_array_equal(output[:, p * 5:(p + 1) * 5], single[2])
        np.testing.assert_array_equal(direct[:, p * 5:(p + 1) * 5],
                                      masks.direct_mask(degrees[0]))
    assert len(masks.made_masks(degrees, direct_connection=True)) == 4


@pytest.mark.parametrize("count", [0, 1.5, "2", True])
def test_made_masks_refuse_a_bad_outputs_per_dim(count):
    degrees = masks.made_degrees(4, (6,), rng=0)
    with pytest.raises((TypeError, ValueError), match="outputs_per_dim"):
        masks.made_masks(degrees, count)


def test_unconnected_outputs_are_listed_in_generation_order():
    inputs = masks.input_degrees(5, [4, 3, 2, 1, 0])
    # One hidden unit of degree 3: outputs at positions 2 and 3 (x_3, x_2) see nothing.
    degrees = [inputs, np.array([3])]
    assert masks.unconnected_outputs(degrees).tolist() == [3, 2]
    assert masks.unconnected_outputs(degrees, direct_connection=True).size == 0
    reach = masks.connectivity(degrees)
    assert reach[:, [1, 0]].any(axis=0).all()  # positions 4 and 5 see x_4, x_3, x_2


def test_mask_functions_give_the_same_masks_on_tensorflow_tensors():
    degrees = masks.made_degrees(6, (8, 4), ordering="random", rng=2)
    as_tensors = [tf.constant(d) for d in degrees]
    for numpy_mask, tf_mask in zip(masks.made_masks(degrees), masks.made_masks(as_tensors),
                                   strict=True):
        np.testing.assert_array_equal(numpy_mask, tf_mask.numpy())
    np.testing.assert_array_equal(masks.direct_mask(degrees[0]),
                                  masks.direct_mask(as_tensors[0]).numpy())
