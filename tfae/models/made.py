"""MADE: an autoencoder whose masks make its outputs the conditionals p(x_d | x_<d)."""

from __future__ import annotations

import functools
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks, likelihoods, masks
from tfae.layers import MaskedDense
from tfae.layers.masked_dense import check_mask_index, check_mask_op
from tfae.models import made_sampling
from tfae.models.base import UnsupervisedModel
from tfae.models.replicas import on_global_rows


@keras.saving.register_keras_serializable(package="tfae")
class MADE(UnsupervisedModel):
    """Masked Autoencoder for Distribution Estimation: an exact, normalised p(x).

    A one-hidden-layer MADE is the lecture's autoencoder with masked weights,

        h(x) = g(b + (W * M^W) x),    x^ = sigmoid(c + (V * M^V) h(x) + (A * M^A) x),

    where the masks (``tfae.masks``) cut every path from input x_j to output x^_d
    unless x_j comes before x_d in the ordering. Output d is then p(x_d = 1 | x_<d),
    and the product of the outputs is a normalised joint distribution:

        log p(x) = sum_d log p(x_d | x_<d),

    the exact log-likelihood that training maximises (``loss`` is -log p(x) in nats
    per example). The term A * M^A is the optional direct connection.

    With ``num_masks = K > 1`` the model holds K (ordering, connectivity) pairs and
    cycles through them, one per minibatch, inside the compiled training step
    (connectivity-agnostic training; order-agnostic too with ``ordering="random"``).
    Each masked layer holds its K masks as data, set once when the model is built,
    and the step passes it the index of the mask to use: ``model(x, mask_index=k)``
    runs the network under mask k the same way and leaves nothing changed.
    Its distribution is then the ensemble p(x) = (1/K) sum_k p_k(x), which
    ``log_prob`` and ``evaluate`` compute exactly with a log-mean-exp (K forward
    passes), and ``sample`` draws from. The training ``loss`` that ``fit`` reports is
    that of the mask used at each step; ``val_loss`` is the ensemble's.

    Metrics given to ``compile(metrics=...)`` compare x with the conditional means
    E[x_d | x_<d] of the first mask, from one pass: p(x_d = 1 | x_<d) for a
    Bernoulli likelihood (the sigmoid of ``model(x)``), the means of a Gaussian one.
    ``metrics=["mse"]`` is then the Brier score of the conditionals.

    With a Gaussian likelihood (mean and scale per dimension, for continuous data)
    the network is the building block of autoregressive flows: ``model(x)`` returns
    the parameters of every conditional.

    Args:
        input_dim: int, the number of dimensions D of one example (>= 2); examples
            are flat vectors of shape (D,).
        hidden_units: sequence of int, the widths of the masked hidden layers (at
            least one). Defaults to (500,).
        num_masks: int, the number K of masks cycled through in training and
            averaged over by ``log_prob``. Defaults to 1.
        ordering: ``"natural"`` (x_1 first), ``"reversed"``, ``"random"`` (a
            different random ordering for each mask: order-agnostic training), or a
            permutation of ``range(D)`` listing the dimensions in generation order.
            Defaults to ``"natural"``.
        direct_connection: bool, whether to add the direct input-to-output
            connection A * M^A. Defaults to False.
        likelihood: ``"bernoulli"`` (binary data; values must be 0 or 1),
            ``"gaussian"`` (a mean and a learned scale per dimension), or a
            ``tfae.likelihoods.Bernoulli`` or ``Gaussian`` head. Defaults to
            ``"bernoulli"``.
        activation: str, the activation of the hidden layers. Defaults to ``"relu"``.
        hidden_degrees: ``"random"`` draws hidden-unit degrees uniformly, as in the
            paper; ``"equal"`` spreads them evenly. Defaults to ``"random"``.
        dropout: float in [0, 1), the rate of dropout on every hidden layer's units
            during training. Dropping hidden units removes paths, never adds one, so
            the autoregressive property holds; it regularises wide one-mask
            networks. On CPU, compile without XLA (``jit_compile=False``): XLA's
            random numbers made a dropout step 8x slower in ``benchmarks/made.py``'s
            setting. With averaged weights (``keras.optimizers.Adam(1e-3,
            use_ema=True, ema_momentum=0.999)``), 8000 units and a rate of 0.5 reached
            87.87 nats on binarized MNIST with one mask (paper: 88.40;
            ``docs/benchmarks.md``). Defaults to 0 (none).
        kernel_regularizer: None, or a Keras regularizer (name, config or instance)
            applied to every kernel, e.g. ``keras.regularizers.L2(1e-5)``: weight decay,
            which lets wide one-mask networks train longer before they overfit. The
            penalty is added to the training objective, not to the reported ``loss``
            (still -log p(x)). Defaults to None.
        seed: int or None, seeds the orderings and degrees. None draws a seed from
            NumPy's global generator (``keras.utils.set_random_seed`` fixes it);
            ``get_config`` returns the seed used, so a model rebuilt from its config
            has the same masks. Defaults to None.
        mask_op: how the layers apply their masks (``tfae.layers.MaskedDense``):
            ``"multiply"`` (kernel * mask, float masks) or ``"select"`` (where(mask,
            kernel, 0), boolean masks, a quarter of the memory). Same values and
            gradients, different speeds: on CPU the product is the faster in Keras'
            default training step (no XLA) and the select in an XLA-compiled one, so
            the fastest setting is ``mask_op="select"`` with
            ``model.compile(jit_compile=True, steps_per_execution=50)``
            (``docs/benchmarks.md``). Defaults to ``"multiply"``.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Examples:
        >>> import tfae, keras
        >>> x = tfae.datasets.load("digits", binarize="threshold", flatten=True)
        >>> model = tfae.MADE(input_dim=64, hidden_units=(64,), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-2))
        >>> history = model.fit(x, epochs=2, batch_size=100, verbose=0)
        >>> model.log_prob(x[:3]).shape
        TensorShape([3])
        >>> model.sample(5, seed=1).shape
        TensorShape([5, 64])

        Several masks, applied by a select in an XLA-compiled step:

        >>> ensemble = tfae.MADE(input_dim=64, hidden_units=(64,), num_masks=4,
        ...                      ordering="random", hidden_degrees="equal",
        ...                      mask_op="select", seed=0)
        >>> ensemble.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
        >>> history = ensemble.fit(x, epochs=1, batch_size=100, verbose=0)
        >>> ensemble(x[:3], mask_index=2).shape  # the logits under mask 2
        TensorShape([3, 64])

    References:
        Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for
        Distribution Estimation", ICML 2015.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units=(500,),
        num_masks: int = 1,
        ordering="natural",
        direct_connection: bool = False,
        likelihood="bernoulli",
        activation: str = "relu",
        hidden_degrees: str = "random",
        dropout: float = 0.0,
        kernel_regularizer=None,
        seed: int | None = None,
        mask_op: str = "multiply",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = _checks.check_positive_int(input_dim, "input_dim", minimum=2)
        self.event_shape = (self.input_dim,)
        self.hidden_units = _checks.check_hidden_units(hidden_units)
        self.num_masks = _checks.check_positive_int(num_masks, "num_masks")
        self.ordering = masks.check_ordering(ordering, self.input_dim)
        self.direct_connection = _checks.check_bool(direct_connection, "direct_connection")
        self.likelihood = _made_likelihood(likelihood)
        keras.activations.get(activation)  # raises for an unknown name
        self.activation = activation
        if hidden_degrees not in masks.HIDDEN_DEGREES:
            raise ValueError(
                f"hidden_degrees must be one of {masks.HIDDEN_DEGREES}, got {hidden_degrees!r}."
            )
        self.hidden_degrees = hidden_degrees
        self.dropout = _check_dropout(dropout)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = _checks.resolve_seed(seed)
        self.mask_op = check_mask_op(mask_op)

        outputs = self.input_dim * self.likelihood.params_per_value
        shared = {"kernel_regularizer": self.kernel_regularizer, "num_masks": self.num_masks,
                  "mask_op": self.mask_op}
        self.hidden_layers = [MaskedDense(units, activation=activation, name=f"hidden_{i}",
                                          **shared)
                              for i, units in enumerate(self.hidden_units, start=1)]
        self.output_layer = MaskedDense(outputs, name="output", **shared)
        # Only with dropout: the seeds of the dropout masks, one per training step (the
        # model saves the generator's state: UnsupervisedModel.save_own_variables).
        self.dropout_seeds = (keras.random.SeedGenerator(self.seed + 1, name="dropout_seeds")
                              if self.dropout else None)
        self.direct_layer = (MaskedDense(outputs, use_bias=False, name="direct", **shared)
                             if self.direct_connection else None)
        widths = (self.input_dim, *self.hidden_units)
        for layer, width in zip(self.hidden_layers + [self.output_layer], widths, strict=True):
            layer.build((None, width))
        if self.direct_layer is not None:
            self.direct_layer.build((None, self.input_dim))

        # The K draws of degrees (saved as non-trainable int32 weights, read by
        # generation_order and sampling) give every layer its K masks, set once as data.
        rng = np.random.default_rng(self.seed)
        draws = [masks.made_degrees(self.input_dim, self.hidden_units, self.ordering,
                                    self.hidden_degrees, rng) for _ in range(self.num_masks)]
        self.degrees = []
        for level, width in enumerate(widths):
            variable = self.add_weight(name=f"degrees_{level}", shape=(self.num_masks, width),
                                       dtype="int32", initializer="zeros", trainable=False)
            variable.assign(np.stack([draw[level] for draw in draws]))
            self.degrees.append(variable)
        layer_masks = [self._layer_masks(draw) for draw in draws]
        for layer, stack in zip(self._masked_layers, zip(*layer_masks, strict=True),
                                strict=True):
            layer.set_masks(np.stack(stack))
        # Every replica of a tf.distribute strategy trains the same mask at a step:
        # each reads the same count and the first replica's increment is kept.
        self.mask_step = self.add_weight(name="mask_step", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False,
                                         aggregation="only_first_replica")
        # Compiled per model. TF counts traces per code object, so a method traced once
        # by each of five models warns of "excessive retracing"; a partial has no code
        # object and is counted on its own.
        self._compiled_log_prob = tf.function(
            functools.partial(MADE._mixture_log_prob, self), reduce_retracing=True)
        self._sample_xla, self._sample_graph_only = (
            tf.function(functools.partial(made_sampling.sample_graph, self),
                        reduce_retracing=True, jit_compile=jit) for jit in (True, False))
        self._warn_unconnected(draws)
        self.built = True

    # ------------------------------------------------------------------ masks

    def _layer_masks(self, degrees) -> list[np.ndarray]:
        """Returns one mask per masked layer (hidden..., output[, direct]) for one draw
        of ``degrees``."""
        return masks.made_masks(degrees, self.likelihood.params_per_value,
                                self.direct_layer is not None)

    @property
    def _masked_layers(self) -> list[MaskedDense]:
        extra = [] if self.direct_layer is None else [self.direct_layer]
        return [*self.hidden_layers, self.output_layer, *extra]

    def _warn_unconnected(self, draws) -> None:
        problems = []
        for index, degrees in enumerate(draws):
            blind = masks.unconnected_outputs(degrees, self.direct_connection)
            if len(blind):
                shown = ", ".join(str(d) for d in blind[:8]) + (", ..." if len(blind) > 8 else "")
                problems.append(f"mask {index}: {len(blind)} dimension(s) [{shown}]")
        if problems:
            warnings.warn(
                "MADE: some outputs are connected to no input, so they model the marginal "
                "p(x_d) instead of p(x_d | x_<d), because a hidden layer has no unit of a low "
                f"enough degree ({'; '.join(problems[:4])}"
                f"{'; ...' if len(problems) > 4 else ''}). Widen the hidden layers, pass "
                "hidden_degrees='equal', or direct_connection=True.",
                UserWarning, stacklevel=3,
            )

    # ------------------------------------------------------------------ the network

    def _network(self, x, mask_index, training=False):
        """The forward pass under mask ``mask_index`` (an int, or an int tensor computed
        in-graph): the parameters of every conditional, (batch, D * params_per_value)."""
        hidden = x
        dropping = bool(self.dropout) and training
        if dropping:
            seed = self.training_seed(self.dropout_seeds)
        for i, layer in enumerate(self.hidden_layers):
            hidden = layer(hidden, mask_index=mask_index)
            if dropping:  # an example's units are dropped whatever the replica count
                layer_seed = tf.random.experimental.stateless_fold_in(seed, i)
                hidden = on_global_rows(
                    lambda rows, seed=layer_seed: tf.nn.experimental.stateless_dropout(
                        rows, self.dropout, seed), hidden)
        params = self.output_layer(hidden, mask_index=mask_index)
        if self.direct_layer is not None:
            params = params + self.direct_layer(x, mask_index=mask_index)
        return params

    def call(self, x, training=False, mask_index=0):
        """Returns the parameters of every conditional p(x_d | x_<d) under one mask.

        Shape (batch, D * params_per_value): the logits of p(x_d = 1 | x_<d) for a
        Bernoulli likelihood; the D means, then the D unconstrained scales, for a
        learned Gaussian. ``model.likelihood.distribution(model(x)).log_prob(x)`` is
        log p_k(x) for mask k = ``mask_index`` (an int or a scalar int tensor; default:
        the first mask). The call changes nothing in the model.
        """
        return self._output(self._traced_input(x), training, mask_index)

    def _output(self, x, training=False, mask_index=0):
        return self._network(x, self._mask_index(mask_index), training)

    def adapt(self, x):
        """Starts the output biases at the model that draws every x_d independently,
        fitted to ``x``: the per-pixel-mean model of ``tfae.metrics.pixel_mean_nll``
        (for a Bernoulli likelihood, the log-odds of each value's smoothed mean).

        Call it on the training data before ``fit``, as a Keras preprocessing layer is
        adapted: the first epochs are then not spent learning the marginals p(x_d)
        (MADE 784-500 in natural order on binarized MNIST: 130.1 nats on the validation
        split after 2 epochs from zero biases, 115.6 from these; ``docs/benchmarks.md``).
        It changes the output layer's biases and nothing else; with zero output kernels
        the model is the per-pixel-mean model.

        Args:
            x: array of shape (N, input_dim): training examples (for a Bernoulli
                likelihood, values in [0, 1]: binary, or grey levels, whose means are
                those of their binarizations).

        Returns:
            The model.

        Raises:
            ValueError: ``x`` is empty, non-finite, of another width, or outside the
                likelihood's range.
            TypeError: ``x`` is not numeric.

        Examples:
            >>> rng = np.random.default_rng(0)
            >>> x = (rng.random((100, 4)) < [0.1, 0.5, 0.5, 0.9]).astype("float32")
            >>> model = MADE(4, hidden_units=(8,), seed=0).adapt(x)
            >>> probs = keras.ops.sigmoid(model.output_layer.bias).numpy()
            >>> bool(np.allclose(probs, (x.sum(axis=0) + 1) / (len(x) + 2)))
            True
        """
        x = _checks.as_float_array(x, "x")
        _checks.check_not_empty(x, "x")
        _checks.check_example_shape(x, (self.input_dim,), "x")
        self.likelihood.check_data(x, "x")
        self.output_layer.bias.assign(self.likelihood.independent_params(x).astype("float32"))
        return self

    def _metric_prediction(self, x, training=False):
        # The conditional means E[x_d | x_<d] under the first mask (p(x_d = 1 | x_<d)
        # for a Bernoulli likelihood), from one pass.
        return self.likelihood.distribution(self._network(x, 0, training)).mean()

    @property
    def likelihood_symbol(self) -> str:
        return "p(x) = prod_d p(x_d | x_<d)"

    def _graph_in_support(self, x):
        if isinstance(self.likelihood, likelihoods.Bernoulli):
            return tf.reduce_all(tf.logical_or(tf.equal(x, 0), tf.equal(x, 1)))
        return super()._graph_in_support(x)

    def support_problem(self, name: str = "x") -> str:
        if isinstance(self.likelihood, likelihoods.Bernoulli):
            return (f"{name} has values other than 0 and 1, but MADE's Bernoulli likelihood "
                    "is a distribution over binary vectors; binarize the data (e.g. "
                    "tfae.datasets.load(..., binarize='stochastic'), or x / 255 > 0.5 for "
                    "pixels in 0..255), or use likelihood='gaussian' for continuous data")
        return super().support_problem(name)

    def _log_prob_mask(self, x, mask_index, training=False):
        return self.likelihood.distribution(self._network(x, mask_index, training)).log_prob(x)

    def _mixture_log_prob(self, x, first, count):
        """log (1/count) sum_{k=first}^{first+count-1} p_k(x), one forward pass per mask."""
        if self.num_masks == 1:
            return self._log_prob_mask(x, 0)

        def add_mask(i, terms):
            return i + 1, terms.write(i, self._log_prob_mask(x, first + i))

        _, terms = tf.while_loop(lambda i, terms: i < count, add_mask,
                                 (tf.constant(0), tf.TensorArray(x.dtype, size=count)))
        return tf.reduce_logsumexp(terms.stack(), axis=0) - tf.math.log(tf.cast(count, x.dtype))

    def loss_terms(self, x, training=False):
        if not training:
            return {"loss": -self._mixture_log_prob(x, 0, self.num_masks)}
        mask_index = 0
        if self.num_masks > 1:
            # One mask per minibatch, chosen in-graph: no retracing, no host round trip.
            mask_index = self.mask_step % self.num_masks
            self.mask_step.assign_add(1)
        return {"loss": -self._log_prob_mask(x, mask_index, training=True)}

    def check_inputs(self, x, name: str = "x") -> np.ndarray:
        array = super().check_inputs(x, name)
        if isinstance(self.likelihood, likelihoods.Bernoulli):
            binary = (array == 0) | (array == 1)
            if not binary.all():
                example = array[~binary].flat[0]
                raise ValueError(
                    f"{name} has values other than 0 and 1 (e.g. {example:g}), but MADE's "
                    "Bernoulli likelihood is a distribution over binary vectors. Binarize the "
                    "data (tfae.datasets.load(..., binarize='stochastic') or "
                    "DynamicBinarization), or use likelihood='gaussian' for continuous data."
                )
        return array

    # ------------------------------------------------------------------ public API

    def _mask_index(self, mask_index):
        """A Python int is checked here; a tensor by the layers (dtype, shape)."""
        if isinstance(mask_index, (tf.Tensor, tf.Variable)):
            return mask_index
        return check_mask_index(mask_index, self.num_masks)

    def log_prob(self, x, num_masks: int | None = None, mask_index: int | None = None):
        """Returns the exact log p(x) of each example, in nats, shape (batch,).

        Args:
            x: array of shape (batch, D).
            num_masks: int or None, average the first ``num_masks`` masks: the
                mixture (1/n) sum_k p_k(x), by log-mean-exp. None uses all of them.
            mask_index: int or None, score under this single mask instead.

        Raises:
            ValueError: bad data (shape, non-binary values for a Bernoulli
                likelihood), or a mask count or index out of range.
            TypeError: a mask count or index that is not an int.
        """
        x = self.check_inputs(x)
        if mask_index is not None:
            if num_masks is not None:
                raise ValueError("pass num_masks or mask_index, not both.")
            first, count = check_mask_index(mask_index, self.num_masks), 1
        else:
            count = self.num_masks if num_masks is None else _checks.check_positive_int(
                num_masks, "num_masks")
            if count > self.num_masks:
                raise ValueError(
                    f"num_masks={count} exceeds the {self.num_masks} mask(s) the model was "
                    f"trained with; use 1 <= num_masks <= {self.num_masks}."
                )
            first = 0
        x = tf.convert_to_tensor(x, self.compute_dtype)
        return self._compiled_log_prob(x, tf.constant(first), tf.constant(count))

    def sample(self, n: int, seed: int | None = None, mask_index: int | None = None,
               fast: bool = True, jit_compile: bool = True):
        """Draws ``n`` examples by ancestral sampling, x_d ~ p(x_d | x_<d) in order.

        The D steps run inside one compiled ``tf.function``. The naive path
        (``fast=False``) runs the model's forward pass at each step: D passes. The
        fast path (``tfae.models.made_sampling``) computes each hidden unit once from
        the layers' masked kernels: the first layer keeps its pre-activations and adds
        one kernel row per sampled dimension, a deeper layer receives each unit of the
        layer below once that unit's inputs are all sampled, and each step reads the
        one output it needs, O(D * H) per example for one hidden layer instead of
        O(D^2 * H). For the same seed both paths use the same noise and return the
        same samples (up to the rounding of the sums, which can flip a draw that
        falls within about 1e-7 of its probability).

        Args:
            n: int, the number of samples.
            seed: int or None, seeds the draws. Defaults to None (a fresh seed from
                NumPy's global generator).
            mask_index: int or None, sample from this single mask's distribution;
                None samples the model's distribution, the mixture over all masks
                (each sample picks a mask uniformly). Defaults to None.
            fast: bool, use the fast path. Defaults to True.
            jit_compile: bool, compile the sampling loop with XLA: a few seconds once
                per (n, path), then the fastest per call. False traces a plain graph
                in well under a second, a good trade for a single small draw. XLA
                draws other random numbers, so a seed gives the same samples for the
                same ``jit_compile``. Defaults to True.

        Returns:
            tensor of shape (n, D) in the model's compute dtype (float32).
        """
        n = _checks.check_positive_int(n, "n")
        seed = _checks.resolve_seed(seed)
        if mask_index is None:
            mask_indices = np.arange(self.num_masks, dtype=np.int32)
        else:
            mask_indices = np.array([check_mask_index(mask_index, self.num_masks)], np.int32)
        fast = _checks.check_bool(fast, "fast")
        jit_compile = _checks.check_bool(jit_compile, "jit_compile")
        groups = made_sampling.degree_groups(
            [variable.numpy() for variable in self.degrees], self.input_dim) if fast else ()
        function = self._sample_xla if jit_compile else self._sample_graph_only
        return function(n, tf.constant([seed, 0], tf.int64), tf.constant(mask_indices),
                        fast, groups)

    def generation_order(self, mask_index: int = 0) -> np.ndarray:
        """Returns the dimensions in the order mask ``mask_index`` generates them: the
        inputs sorted by degree m(d), x_{o_1} first. Shape (D,), int32."""
        index = check_mask_index(mask_index, self.num_masks)
        return masks.generation_order(self.degrees[0].numpy()[index])

    def get_config(self):
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            hidden_units=list(self.hidden_units),
            num_masks=self.num_masks,
            ordering=self.ordering,
            direct_connection=self.direct_connection,
            likelihood=likelihoods.serialize(self.likelihood),
            activation=self.activation,
            hidden_degrees=self.hidden_degrees,
            dropout=self.dropout,
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            seed=self.seed,
            mask_op=self.mask_op,
        )
        return config


def _check_dropout(rate) -> float:
    rate = _checks.check_number(rate, "dropout")
    if rate >= 1.0:
        raise ValueError(f"dropout must be in [0, 1) (the share of hidden units dropped in "
                         f"training), got {rate}.")
    return rate


def _made_likelihood(identifier) -> likelihoods.Likelihood:
    # For MADE, "gaussian" means a mean and a learned scale per dimension.
    if isinstance(identifier, str) and identifier.lower() == "gaussian":
        return likelihoods.Gaussian(scale="learned")
    head = likelihoods.get(identifier)
    if not isinstance(head, (likelihoods.Bernoulli, likelihoods.Gaussian)):
        raise TypeError(
            f"MADE supports the Bernoulli and Gaussian likelihoods, got {type(head).__name__}."
        )
    return head

