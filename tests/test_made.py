"""MADE and MaskedDense: the autoregressive property, exact likelihood, sampling, Keras API."""

import inspect
import itertools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import tfae
from tfae import likelihoods, masks
from tfae.choices import MASK_OPS
from tfae.layers import MaskedDense
from tfae.models.made import MADE


def _all_binary_vectors(dims):
    return np.array(list(itertools.product([0.0, 1.0], repeat=dims)), np.float32)


def _total_probability(model, **kwargs):
    log_p = model.log_prob(_all_binary_vectors(model.input_dim), **kwargs).numpy()
    return np.exp(log_p.astype(np.float64)).sum()


def _sharpen(model, factor=3.0, seed=0):
    """Random, larger weights (biases too), so that the distribution is far from uniform."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(factor * rng.standard_normal(variable.shape).astype("float32")
                        / np.sqrt(max(variable.shape[0], 1)))


def _quiet(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny layers: unconnected outputs
        return MADE(**kwargs)


def _random_config(seed):
    rng = np.random.default_rng(seed)
    dims = int(rng.integers(2, 8))
    return dict(
        input_dim=dims,
        hidden_units=tuple(int(w) for w in rng.integers(2, 12, size=rng.integers(1, 4))),
        num_masks=int(rng.integers(1, 4)),
        ordering=[str(rng.choice(["natural", "reversed", "random"])),
                  [int(v) for v in rng.permutation(dims)]][int(rng.integers(2))],
        direct_connection=bool(rng.integers(2)),
        likelihood=str(rng.choice(["bernoulli", "gaussian"])),
        activation=str(rng.choice(["relu", "tanh"])),
        hidden_degrees=str(rng.choice(["random", "equal"])),
        dropout=float(rng.choice([0.0, 0.25])),
        seed=seed,
    )


# ------------------------------------------------------------------------ MaskedDense


def _built(units=3, input_dim=4, **kwargs):
    layer = MaskedDense(units, **kwargs)
    layer.build((None, input_dim))
    return layer


@pytest.mark.parametrize("mask_op", MASK_OPS)
def test_masked_dense_computes_x_times_the_chosen_masked_kernel_plus_bias(mask_op):
    layer = _built(activation="tanh", num_masks=2, mask_op=mask_op)
    masks_ = np.random.default_rng(0).integers(0, 2, size=(2, 4, 3))
    layer.set_masks(masks_)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    for k in range(2):
        expected = np.tanh(x @ (layer.kernel.numpy() * masks_[k]) + layer.bias.numpy())
        np.testing.assert_allclose(layer(x, mask_index=k).numpy(), expected, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_array_equal(layer.masked_kernel(k).numpy(),
                                      layer.kernel.numpy() * masks_[k])
    np.testing.assert_array_equal(layer(x).numpy(), layer(x, mask_index=0).numpy())
    assert [w.name for w in layer.non_trainable_weights] == ["masks"]
    assert layer.masks.dtype == ("bool" if mask_op == "select" else "float32")


@pytest.mark.parametrize("mask_op", MASK_OPS)
def test_masked_weights_get_no_gradient_and_do_not_move(mask_op):
    layer = _built(num_masks=2, mask_op=mask_op)
    layer.set_masks(np.stack([np.eye(4, 3), np.ones((4, 3))]))
    mask = np.eye(4, 3)
    before = layer.kernel.numpy()
    optimizer = keras.optimizers.Adam(0.5)
    x = tf.random.normal([8, 4], seed=1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, mask_index=tf.constant(0) + 0) ** 2)  # gathered
        gradients = tape.gradient(loss, layer.trainable_variables)
        np.testing.assert_array_equal(gradients[0].numpy()[mask == 0], 0.0)
        optimizer.apply(gradients, layer.trainable_variables)
    after = layer.kernel.numpy()
    np.testing.assert_array_equal(after[mask == 0], before[mask == 0])
    assert (after[mask == 1] != before[mask == 1]).all()


def test_a_mask_index_tensor_picks_the_mask_without_retracing_or_state():
    layer = _built(units=2, input_dim=2, num_masks=3)
    stack = np.stack([np.eye(2), np.ones((2, 2)), np.zeros((2, 2))])
    layer.set_masks(stack)
    forward = tf.function(lambda x, k: layer(x, mask_index=k))
    x = tf.ones([1, 2])
    for k in (2, 0, 1, 2):
        expected = x.numpy() @ (layer.kernel.numpy() * stack[k]) + layer.bias.numpy()
        np.testing.assert_allclose(forward(x, tf.constant(k)).numpy(), expected, rtol=1e-6)
    assert forward.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(layer.masks.numpy(), stack)  # the call changed nothing


def test_a_static_mask_index_slices_its_mask_without_a_gather():
    layer = _built()
    graph = tf.function(lambda x: layer(x)).get_concrete_function(
        tf.TensorSpec([None, 4], tf.float32)).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "StridedSlice" in kinds and not {"GatherV2", "ResourceGather"} & kinds


def test_masked_dense_saves_its_masks_and_config(tmp_path):
    layer = MaskedDense(3, activation="relu", use_bias=False, kernel_initializer="ones",
                        bias_initializer="ones", kernel_regularizer="l2",
                        bias_regularizer="l1", activity_regularizer="l2",
                        kernel_constraint="non_neg", bias_constraint="non_neg",
                        num_masks=2, mask_op="select", name="masked")
    model = keras.Sequential([keras.Input((4,)), layer])
    stack = np.stack([np.tril(np.ones((4, 3))), np.triu(np.ones((4, 3)))])
    layer.set_masks(stack)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].masks.numpy(), stack)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)
    config = layer.get_config()
    assert MaskedDense.from_config(config).get_config() == config
    init_args = inspect.signature(MaskedDense.__init__).parameters
    assert set(init_args) - {"self", "kwargs"} <= set(config)
    assert config["num_masks"] == 2 and config["mask_op"] == "select"
    assert config["use_bias"] is False


def test_masked_dense_refuses_bad_masks_ops_and_indices():
    layer = MaskedDense(2, name="md", num_masks=2)
    with pytest.raises(ValueError, match="not built"):
        layer.set_masks(np.ones((2, 3, 2)))
    layer.build((None, 3))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        layer.set_masks(np.ones((3, 2)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        layer.set_masks(np.full((2, 3, 2), 0.5))
    with pytest.raises(ValueError, match="inside a compiled function"):
        tf.function(lambda: layer.set_masks(np.ones((2, 3, 2))))()
    x = np.ones((1, 3), "float32")
    with pytest.raises(ValueError, match="mask_index=2 is out of range"):
        layer(x, mask_index=2)
    with pytest.raises(ValueError, match="mask_index=-1 is out of range"):
        layer.masked_kernel(-1)
    with pytest.raises(ValueError, match="mask_index=5 is out of range"):
        layer(x, mask_index=tf.constant(5))  # a constant is checked like an int
    for bad in (1.0, True, "0", tf.constant(1.0), tf.constant([0, 1])):
        with pytest.raises(TypeError, match="mask_index must be an int"):
            layer(x, mask_index=bad)
    with pytest.raises(ValueError, match=r"mask_op must be one of \('multiply', 'select'\)"):
        MaskedDense(2, mask_op="mul")
    with pytest.raises(ValueError, match="units must be >= 1"):
        MaskedDense(0)
    with pytest.raises(ValueError, match="num_masks must be >= 1"):
        MaskedDense(2, num_masks=0)


def test_the_one_mask_names_of_before_warn_and_still_work():
    layer = _built()
    mask = np.tril(np.ones((4, 3)))
    with pytest.warns(DeprecationWarning, match=r"set_masks\(mask\[None\]\)"):
        layer.set_mask(mask)
    with pytest.warns(DeprecationWarning, match="masks\\[mask_index\\]"):
        np.testing.assert_array_equal(layer.mask.numpy(), mask)
    with pytest.warns(DeprecationWarning, match=r"masked_kernel\(mask_index\)"):
        np.testing.assert_array_equal(layer.effective_kernel().numpy(),
                                      layer.kernel.numpy() * mask)


# ------------------------------------------------------------------------ autoregressive property


@pytest.mark.parametrize("seed", range(8))
def test_output_d_does_not_depend_on_inputs_at_or_after_d(seed):
    config = _random_config(seed)
    model = _quiet(**config)
    _sharpen(model, seed=seed)
    dims = config["input_dim"]
    x = tf.constant(np.random.default_rng(seed).standard_normal((3, dims)), tf.float32)
    for k in range(model.num_masks):
        with tf.GradientTape() as tape:
            tape.watch(x)
            # call() itself: model(x) refuses the real-valued probes as data, which a
            # Bernoulli MADE cannot score; the masks are tested on any input.
            params = model.call(x, mask_index=k, training=True)  # with dropout, if any
        jacobian = np.abs(tape.batch_jacobian(params, x).numpy()).max(axis=0)  # (out, in)
        degrees = model.degrees[0].numpy()[k]
        out_degrees = np.tile(degrees, model.likelihood.params_per_value)
        forbidden = degrees[None, :] >= out_degrees[:, None]
        assert (jacobian[forbidden] == 0).all(), f"leak in mask {k} of {config}"
        assert jacobian[~forbidden].max() > 0, "the check would pass for a constant network"


def test_the_training_step_cycles_the_masks_in_graph_without_retracing(binary_digits):
    x = binary_digits[0].reshape(len(binary_digits[0]), -1)[:240]
    model = MADE(64, hidden_units=(64,), num_masks=3, ordering="random",
                 hidden_degrees="equal", seed=0)
    stacks = [layer.masks.numpy() for layer in model._masked_layers]
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    traces = []
    train_step = model.train_step
    model.train_step = lambda data: (traces.append(1), train_step(data))[1]
    model.fit(x, batch_size=60, epochs=1, verbose=0)  # 4 steps; traces (once or twice)
    first_traces = len(traces)
    model.fit(x, batch_size=60, epochs=2, verbose=0)  # 8 more steps, 12 in all
    assert len(traces) == first_traces  # the mask changes at each step, the graph does not
    assert int(model.mask_step.numpy()) == 12
    # The masks are data: training picked one per step and changed none of them.
    for layer, stack in zip(model._masked_layers, stacks, strict=True):
        np.testing.assert_array_equal(layer.masks.numpy(), stack)
    for k in range(3):
        expected = masks.made_masks([d.numpy()[k] for d in model.degrees])
        np.testing.assert_array_equal(model.hidden_layers[0].masks.numpy()[k], expected[0])
        np.testing.assert_array_equal(model.output_layer.masks.numpy()[k], expected[1])
    assert not np.array_equal(model.degrees[0].numpy()[0], model.degrees[0].numpy()[1])


def test_each_step_of_a_multi_step_call_uses_the_next_mask(binary_digits):
    # Keras runs 3 steps per compiled call here: replayed by hand, step i with mask i % 3.
    x = binary_digits[0].reshape(len(binary_digits[0]), -1)[:240]

    def made():
        keras.utils.set_random_seed(0)  # the same initial weights
        return MADE(64, hidden_units=(32,), num_masks=3, ordering="random",
                    hidden_degrees="equal", seed=0)

    model, replay = made(), made()
    model.compile(optimizer=keras.optimizers.SGD(0.1), steps_per_execution=3)
    model.fit(x, batch_size=60, epochs=2, shuffle=False, verbose=0)  # 4 steps an epoch: 3 + 1
    assert int(model.mask_step.numpy()) == 8
    optimizer = keras.optimizers.SGD(0.1)
    for step in range(8):
        batch = tf.constant(x[60 * (step % 4):60 * (step % 4 + 1)])
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(replay._log_prob_mask(batch, step % 3, training=True))
        optimizer.apply(tape.gradient(loss, replay.trainable_variables),
                        replay.trainable_variables)
    for trained, replayed in zip(model.trainable_variables, replay.trainable_variables,
                                 strict=True):
        np.testing.assert_allclose(trained.numpy(), replayed.numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(model.output_layer.kernel.numpy(), made().output_layer.kernel.numpy())


def test_an_xla_select_step_matches_a_plain_multiply_step_and_keeps_masked_weights(
        binary_digits):
    """The fastest setting (XLA, select) trains exactly as Keras' default one (product)."""
    x = binary_digits[0].reshape(len(binary_digits[0]), -1)[:200]
    weights, losses = {}, {}
    for jit, mask_op in ((False, "multiply"), (True, "select")):
        keras.utils.set_random_seed(0)  # the same initial weights
        model = MADE(64, hidden_units=(32,), num_masks=2, ordering="random",
                     direct_connection=True, mask_op=mask_op, seed=0)
        layers = model._masked_layers
        starts = [layer.kernel.numpy().copy() for layer in layers]
        # Weights cut by both masks: they must never get a gradient.
        never = [~layer.masks.numpy().astype(bool).any(axis=0) for layer in layers]
        model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=jit)
        assert model.jit_compile is jit, "Keras refused XLA (is TF op determinism on?)"
        history = model.fit(x, batch_size=50, epochs=1, shuffle=False, verbose=0)
        for layer, start, cut in zip(layers, starts, never, strict=True):
            assert cut.any()
            np.testing.assert_array_equal(layer.kernel.numpy()[cut], start[cut])
        weights[jit] = [layer.kernel.numpy() for layer in layers]
        losses[jit] = history.history["loss"][0]
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
    for with_xla, without in zip(weights[True], weights[False], strict=True):
        np.testing.assert_allclose(with_xla, without, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True])
def test_calling_the_model_with_a_mask_index_leaves_nothing_behind(compiled):
    model = _quiet(input_dim=6, hidden_units=(10,), num_masks=3, ordering="random", seed=1)
    x = _all_binary_vectors(6)
    stacks = [layer.masks.numpy() for layer in model._masked_layers]
    forward = tf.function(model) if compiled else model
    first = forward(x).numpy()
    other = forward(x, mask_index=2).numpy()
    assert not np.allclose(first, other)
    np.testing.assert_array_equal(forward(x).numpy(), first)  # mask 0 again, not mask 2
    np.testing.assert_array_equal(model(x).numpy(), first)
    for layer, stack in zip(model._masked_layers, stacks, strict=True):
        np.testing.assert_array_equal(layer.masks.numpy(), stack)


# ------------------------------------------------------------------------ exact likelihood


@pytest.mark.parametrize("kwargs", [
    dict(input_dim=10, hidden_units=(24,)),
    dict(input_dim=8, hidden_units=(12, 10), num_masks=3, ordering="random",
         direct_connection=True, mask_op="select"),
    dict(input_dim=6, hidden_units=(5, 7, 4), num_masks=2, ordering="reversed",
         hidden_degrees="equal", activation="tanh"),
    dict(input_dim=7, hidden_units=(20,), dropout=0.5, direct_connection=True),
])
def test_probabilities_of_all_binary_vectors_sum_to_one(kwargs):
    model = _quiet(seed=1, **kwargs)
    _sharpen(model)
    assert _total_probability(model) == pytest.approx(1.0, abs=1e-5)
    for k in range(model.num_masks):
        assert _total_probability(model, mask_index=k) == pytest.approx(1.0, abs=1e-5)


def test_an_unmasked_network_is_not_normalised():
    """The sum-to-one check has power: without the masks it fails."""
    model = MADE(6, hidden_units=(16,), seed=0)
    _sharpen(model)
    for layer in model.hidden_layers + [model.output_layer]:
        layer.set_masks(np.ones(layer.masks.shape))
    assert abs(_total_probability(model) - 1.0) > 1e-2


def test_gaussian_density_integrates_to_one():
    model = MADE(2, hidden_units=(8,), likelihood="gaussian", direct_connection=True, seed=3)
    _sharpen(model, factor=1.0)
    grid = np.linspace(-12, 12, 481, dtype=np.float32)
    points = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(model.log_prob(points).numpy().astype(np.float64))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-3)
    assert isinstance(model.likelihood, likelihoods.Gaussian) and model.likelihood.learned


def test_ensemble_log_prob_is_the_log_mean_exp_of_the_masks():
    model = _quiet(input_dim=5, hidden_units=(6,), num_masks=4, ordering="random", seed=2)
    x = _all_binary_vectors(5)[::3]
    each = np.stack([model.log_prob(x, mask_index=k).numpy() for k in range(4)]).astype(float)
    for count in (1, 2, 4):
        mixture = np.log(np.exp(each[:count]).mean(axis=0))
        np.testing.assert_allclose(model.log_prob(x, num_masks=count).numpy(), mixture,
                                   rtol=1e-5)
    model.compile()
    evaluated = model.evaluate(x, verbose=0, return_dict=True)["loss"]
    assert evaluated == pytest.approx(-np.log(np.exp(each).mean(axis=0)).mean(), rel=1e-5)


def test_log_prob_is_the_sum_of_the_conditionals(binary_digits):
    model = MADE(64, hidden_units=(16,), seed=0)
    x = binary_digits[1][:8].reshape(8, -1)
    logits = model(x).numpy().astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-5)


# ------------------------------------------------------------------------ sampling


@pytest.mark.parametrize("mask_index", [None, 1])
def test_sample_frequencies_match_exp_log_prob(mask_index):
    model = MADE(4, hidden_units=(8, 6), num_masks=2, ordering="random",
                 direct_connection=True, hidden_degrees="equal", seed=5)
    _sharpen(model, seed=5)
    count = 20_000
    # With and without XLA (the fast path is checked against the naive one below).
    samples = model.sample(count, seed=11, mask_index=mask_index,
                           jit_compile=mask_index is None).numpy()
    cells = samples @ (2 ** np.arange(3, -1, -1))  # row of _all_binary_vectors
    observed = np.bincount(cells.astype(int), minlength=16)
    kwargs = {} if mask_index is None else {"mask_index": mask_index}
    expected = count * np.exp(model.log_prob(_all_binary_vectors(4), **kwargs).numpy()
                              .astype(np.float64))
    expected *= count / expected.sum()  # float32 rounding of the total
    assert expected.min() > 5, "choose weights giving every cell a few expected counts"
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # The test has power: the uniform distribution is rejected.
    assert stats.chisquare(observed, np.full(16, count / 16)).pvalue < 1e-6


@pytest.mark.parametrize("kwargs, jit_compile", [
    (dict(input_dim=12, hidden_units=(20,)), False),
    (dict(input_dim=10, hidden_units=(24,), num_masks=2, ordering="random"), True),
    (dict(input_dim=8, hidden_units=(16, 12), num_masks=3, ordering="random",
          mask_op="select"), False),
    (dict(input_dim=9, hidden_units=(16, 12, 10), num_masks=3, ordering="random",
          direct_connection=True), True),
    (dict(input_dim=7, hidden_units=(9, 9), num_masks=2, hidden_degrees="equal",
          likelihood="gaussian"), False),
])
def test_fast_and_naive_sampling_agree(kwargs, jit_compile):
    model = _quiet(seed=4, **kwargs)
    _sharpen(model, factor=2.0)
    fast = model.sample(64, seed=9, jit_compile=jit_compile).numpy()
    naive = model.sample(64, seed=9, fast=False, jit_compile=jit_compile).numpy()
    if kwargs.get("likelihood") == "gaussian":
        np.testing.assert_allclose(fast, naive, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(fast, naive)
        assert 0 < fast.mean() < 1
    assert fast.shape == (64, kwargs["input_dim"])
    np.testing.assert_array_equal(fast, model.sample(64, seed=9, jit_compile=jit_compile))
    assert not np.array_equal(fast, model.sample(64, seed=10, jit_compile=jit_compile))


# ------------------------------------------------------------------------ Keras API


def test_fit_lowers_the_nll_below_the_pixel_mean_model(binary_digits):
    train, test = (x.reshape(len(x), -1) for x in binary_digits)
    keras.utils.set_random_seed(0)
    model = MADE(64, hidden_units=(64,), hidden_degrees="equal", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(train, validation_data=test, batch_size=64, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    test_nll = model.evaluate(test, verbose=0, return_dict=True)["loss"]
    assert test_nll == pytest.approx(-model.log_prob(test).numpy().mean(), rel=1e-5)
    assert test_nll < tfae.metrics.pixel_mean_nll(train, test).mean() - 3.0


def test_save_and_load_keep_masks_and_weights(tmp_path):
    model = _quiet(input_dim=6, hidden_units=(7, 5), num_masks=3, ordering="random",
                   direct_connection=True, dropout=0.2, mask_op="select", seed=None)
    model.compile(optimizer="adam")
    x = _all_binary_vectors(6)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "made.keras")
    loaded = keras.models.load_model(tmp_path / "made.keras")
    assert isinstance(loaded, MADE) and loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), model.log_prob(x).numpy())
    np.testing.assert_array_equal(loaded.sample(50, seed=3, jit_compile=False),
                                  model.sample(50, seed=3, jit_compile=False))
    # The config alone (seed included) rebuilds the same masks.
    rebuilt = _quiet(**{k: v for k, v in model.get_config().items()
                        if k not in ("name", "trainable", "dtype")})
    for a, b in zip(model.degrees, rebuilt.degrees, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_generation_order_reads_the_ordering_of_each_mask():
    model = _quiet(input_dim=5, hidden_units=(8,), ordering=[3, 0, 4, 1, 2], seed=0)
    np.testing.assert_array_equal(model.generation_order(), [3, 0, 4, 1, 2])
    shuffled = _quiet(input_dim=5, hidden_units=(8,), num_masks=3, ordering="random", seed=0)
    orders = [shuffled.generation_order(k) for k in range(3)]
    for order, degrees in zip(orders, shuffled.degrees[0].numpy(), strict=True):
        np.testing.assert_array_equal(degrees[order], np.arange(1, 6))  # x_{o_1} has m = 1
    with pytest.raises(ValueError, match="mask_index=3 is out of range"):
        shuffled.generation_order(3)


def test_kernel_regularizer_shrinks_weights_but_not_the_reported_nll(tmp_path):
    x = _all_binary_vectors(6)

    def trained(regularizer):
        keras.utils.set_random_seed(0)
        model = _quiet(input_dim=6, hidden_units=(16,), direct_connection=True, seed=0,
                       kernel_regularizer=regularizer)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        history = model.fit(x, batch_size=16, epochs=10, verbose=0)
        return model, history.history["loss"][-1]

    plain, _ = trained(None)
    penalised, reported = trained(keras.regularizers.L2(1.0))
    assert plain.losses == [] and len(penalised.losses) == 3  # hidden, output, direct
    plain_norm, penalised_norm = (float(np.sum(model.hidden_layers[0].kernel.numpy() ** 2))
                                  for model in (plain, penalised))
    assert penalised_norm < 0.1 * plain_norm
    # The reported loss is -log p(x) alone: a shrunk network is close to uniform.
    assert reported == pytest.approx(6 * np.log(2), abs=0.2)
    penalised.save(tmp_path / "made.keras")
    loaded = keras.models.load_model(tmp_path / "made.keras")
    assert loaded.get_config()["kernel_regularizer"]["config"] == {"l2": 1.0}
    assert len(loaded.losses) == 3


def test_gaussian_made_trains_on_continuous_data():
    rng = np.random.default_rng(0)
    first = rng.standard_normal((512, 1))
    x = np.concatenate([first, 2 * first + 0.1 * rng.standard_normal((512, 1)),
                        rng.standard_normal((512, 1))], axis=1).astype("float32")
    keras.utils.set_random_seed(0)
    model = MADE(3, hidden_units=(16,), likelihood="gaussian", activation="tanh", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=64, epochs=40, verbose=0)
    # Independent Gaussians score 1.42 + 2.11 + 1.42 = 4.95 nats at best; x_2 given x_1
    # has scale 0.1, so the true conditionals score 1.42 - 1.38 + 1.42 = 1.46.
    assert history.history["loss"][-1] < 2.5


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(input_dim=5, num_masks=0), ValueError, "num_masks must be >= 1"),
    (dict(input_dim=5, num_masks=2.0), TypeError, "num_masks must be an integer"),
    (dict(input_dim=1), ValueError, "input_dim must be >= 2"),
    (dict(input_dim=5, hidden_units=()), ValueError, "hidden_units is empty"),
    (dict(input_dim=5, hidden_units=(8, 0)), ValueError, "hidden_units must be >= 1"),
    (dict(input_dim=3, ordering=[0, 2, 2]), ValueError, "permutation of range"),
    (dict(input_dim=3, ordering="zigzag"), ValueError, "Unknown ordering"),
    (dict(input_dim=3, hidden_degrees="even"), ValueError, "hidden_degrees must be one of"),
    (dict(input_dim=3, likelihood="poisson"), ValueError, "Unknown likelihood"),
    (dict(input_dim=3, activation="wiggle"), ValueError, "wiggle"),
    (dict(input_dim=3, direct_connection="yes"), TypeError, "direct_connection"),
    (dict(input_dim=3, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
    (dict(input_dim=3, dropout="half"), TypeError, "dropout must be a number"),
    (dict(input_dim=3, mask_op="where"), ValueError, r"mask_op must be one of \("),
    (dict(input_dim=3, mask_op=None), ValueError, "mask_op must be one of"),
])
def test_bad_constructor_arguments_are_refused(kwargs, error, words):
    with pytest.raises(error, match=words):
        MADE(hidden_units=kwargs.pop("hidden_units", (8,)), **kwargs)


def test_an_unsupported_likelihood_head_is_refused():
    class Poisson(likelihoods.Likelihood):
        pass

    with pytest.raises(TypeError, match="Bernoulli and Gaussian"):
        MADE(3, hidden_units=(4,), likelihood=Poisson())


def test_a_too_narrow_hidden_layer_warns_and_names_the_blind_outputs():
    with pytest.warns(UserWarning, match=r"mask 0: \d+ dimension\(s\) \[1, 2") as record:
        model = MADE(20, hidden_units=(2,), seed=0)
    blind = masks.unconnected_outputs([d.numpy()[0] for d in model.degrees])
    assert len(blind) >= 2 and f"[{', '.join(map(str, blind[:2]))}" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MADE(20, hidden_units=(2,), seed=0, direct_connection=True)
        MADE(20, hidden_units=(19,), seed=0, hidden_degrees="equal")


def test_bad_data_and_arguments_get_clear_errors():
    model = MADE(4, hidden_units=(8,), num_masks=2, seed=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"expects \(4,\)"):
        model.fit(np.zeros((10, 5), np.float32), verbose=0)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        model.fit(np.full((10, 4), 0.5, np.float32), verbose=0)
    with pytest.raises(ValueError, match="other than 0 and 1"):
        model.log_prob(np.full((2, 4), 0.3, np.float32))
    with pytest.raises(ValueError, match="num_masks=3 exceeds the 2 mask"):
        model.log_prob(np.zeros((2, 4)), num_masks=3)
    with pytest.raises(ValueError, match="mask_index=2 is out of range"):
        model.log_prob(np.zeros((2, 4)), mask_index=2)
    with pytest.raises(ValueError, match="not both"):
        model.log_prob(np.zeros((2, 4)), mask_index=0, num_masks=1)
    with pytest.raises(ValueError, match="mask_index=5 is out of range"):
        model.sample(3, mask_index=5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.sample(0)
    with pytest.raises(ValueError, match="mask_index=2 is out of range"):
        model(np.zeros((1, 4), np.float32), mask_index=2)
    with pytest.raises(ValueError, match="mask_index=-1 is out of range"):
        model(np.zeros((1, 4), np.float32), mask_index=-1)
    for bad in (0.0, None, tf.constant(0.0)):
        with pytest.raises(TypeError, match="mask_index must be an int"):
            model(np.zeros((1, 4), np.float32), mask_index=bad)
    with pytest.raises(TypeError, match="mask_index must be an int"):
        model.log_prob(np.zeros((2, 4)), mask_index=1.0)


# ------------------------------------------------------------------ adapt


@pytest.mark.parametrize("likelihood", ["bernoulli", tfae.likelihoods.Gaussian(scale="learned"),
                                        tfae.likelihoods.Gaussian(scale=0.7)],
                         ids=["bernoulli", "gaussian-learned", "gaussian-fixed"])
def test_adapt_starts_at_the_per_pixel_mean_model(likelihood):
    rng = np.random.default_rng(0)
    if likelihood == "bernoulli":
        x = (rng.random((300, 6)) < np.linspace(0.0, 0.9, 6)).astype("float32")  # a value never on
    else:
        x = (rng.normal(size=(300, 6)) * np.linspace(0.5, 2.0, 6) + 3.0).astype("float32")
    model = tfae.MADE(6, hidden_units=(16,), likelihood=likelihood, seed=0)
    assert model.adapt(x) is model
    kernel = model.output_layer.kernel
    kernel.assign(np.zeros(kernel.shape, "float32"))  # the hidden units no longer count
    if isinstance(likelihood, tfae.likelihoods.Gaussian) and not likelihood.learned:
        # The scale is the model's own; adapt starts the means at the data's.
        expected = -stats.norm(x.mean(axis=0), 0.7).logpdf(x[:50]).sum(axis=1)
    else:
        expected = tfae.metrics.pixel_mean_nll(x, x[:50], model.likelihood)
    np.testing.assert_allclose(-model.log_prob(x[:50]).numpy(), expected, rtol=2e-5)


@pytest.mark.parametrize("x, error, message", [
    (np.full((5, 4), 2.0, "float32"), ValueError, "x must lie in \\[0, 1\\]"),
    (np.zeros((5, 3), "float32"), ValueError, "x"),
    (np.zeros((0, 4), "float32"), ValueError, "x"),
    (np.array([[np.nan, 0, 0, 0]], "float32"), ValueError, "x"),
])
def test_adapt_refuses_data_the_model_cannot_start_from(x, error, message):
    model = tfae.MADE(4, hidden_units=(8,), seed=0)
    bias = model.output_layer.bias.numpy()
    with pytest.raises(error, match=message):
        model.adapt(x)
    np.testing.assert_array_equal(model.output_layer.bias.numpy(), bias)
