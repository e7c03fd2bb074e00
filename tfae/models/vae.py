"""The variational autoencoder: an encoder q(z | x), a decoder p(x | z), trained on the ELBO."""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks, likelihoods
from tfae.models import builders
from tfae.models.autoencoder import Autoencoder
from tfae.models.base import UnsupervisedModel

tfd = tfp.distributions

KL_METHODS = ("analytic", "monte_carlo")

#: Values per chunk of importance samples in ``log_prob`` and ``elbo``: the decoder's
#: activations and outputs for chunk_size x batch_size latent draws. 2**25 float32
#: values are 128 MiB (a dense 784-500-500 decoder: about 100 draws x 100 images).
_CHUNK_VALUES = 2**25

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="tfae")
class VAE(UnsupervisedModel):
    """A variational autoencoder, trained on the evidence lower bound (ELBO).

    The generative model draws a latent z from a prior and x from the decoder,

        z ~ p(z),    x | z ~ p(x | z) = p(x | g(z)),

    so that p(x) = integral p(x | z) p(z) dz. The encoder outputs the parameters of
    the approximate posterior q(z | x) = N(z; mu(x), diag sigma(x)^2), with
    sigma = softplus(s) + ``min_scale``, and training maximises the lecture's bound

        log p(x) >= E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) = ELBO(x),

    estimated with one reparameterised draw z = mu(x) + sigma(x) * eps, eps ~ N(0, I)
    per example and step. ``fit`` minimises, in nats per example,

        loss = reconstruction + beta * kl,

    with reconstruction = -log p(x | z) and kl the KL term: its closed form for the
    standard normal prior, or the Monte Carlo estimate log q(z|x) - log p(z) at the
    same z (``kl="monte_carlo"``, or a prior without a closed form). With beta = 1
    the loss is -ELBO; ``loss``, ``reconstruction`` and ``kl`` are reported as
    metrics. ``log_prob`` gives the importance-weighted estimate of log p(x) (Burda
    et al.), a tighter bound that tends to log p(x) as the number of samples grows.

    The prior is fixed (it is not trained). A ``.keras`` file holds the standard
    normal prior; a model with another prior saves and loads, but the prior must be
    set again after loading (``model.prior = distribution``): until then every
    method that needs it raises a ``ValueError`` that says so.

    What beat the IWAE paper's 88.71 nats on the fixed binarized MNIST with dense
    networks (``docs/benchmarks.md``, 87.75): gated hidden layers
    (``activation="glu"``, 300-300, ``latent_dim=40``), a KL warm-up (beta from 0 to
    1 over 100 epochs), and Polyak averaging of the weights,
    ``keras.optimizers.Adam(5e-4, use_ema=True, ema_momentum=0.999)``. Keras writes
    the averages into the model when ``fit`` ends; ``EarlyStopping`` with
    ``restore_best_weights=True`` restores raw weights after that, so score the
    averages yourself when stopping early (``benchmarks/vae.py`` shows how).

    Args:
        input_shape: tuple of int, the shape of one example, e.g. ``(28, 28, 1)``
            or ``(784,)``.
        latent_dim: int >= 1, the size of z.
        encoder: a Keras model or layer mapping a batch of x to 2 * ``latent_dim``
            values (the means, then the unconstrained scales of q(z|x)), or None to
            build one with ``tfae.models.builders``. Defaults to None.
        decoder: a Keras model or layer mapping a batch of z to the parameters of
            p(x | z) (the shape of x, last axis times the likelihood's
            ``params_per_value``), or None to build one. Defaults to None.
        hidden_units: tuple of int or None, the hidden widths (dense) or filters
            (conv) of the built encoder, mirrored in the decoder; the defaults of
            ``tfae.Autoencoder`` when None. Not used by a given network.
        architecture: str, ``"dense"`` or ``"conv"`` (images shaped (H, W, C)), of
            the built networks. Defaults to ``"dense"``.
        likelihood: str, dict or ``tfae.likelihoods.Likelihood``, the decoder
            likelihood p(x | z): ``"bernoulli"`` (data in [0, 1]; a normalised
            likelihood for binary data) or ``"gaussian"``. Defaults to ``"bernoulli"``.
        prior: a TFP distribution over z with batch shape () and event shape
            (``latent_dim``,), such as a ``tfd.MixtureSameFamily`` or
            ``tfae.GaussianMixture(...).fit(z).distribution`` (any float dtype: z is
            cast to it), or None for the standard normal N(0, I). Defaults to None.
        beta: float >= 0, the weight of the KL term (beta-VAE); 1 trains on -ELBO.
            It can be changed during training (``model.beta = 0.5``, e.g. from a
            KL warm-up callback) without retracing. Defaults to 1.0.
        kl: ``"analytic"`` (the closed form when TFP knows one for q and the prior,
            otherwise the Monte Carlo estimate; ``kl_method`` says which) or
            ``"monte_carlo"``. Defaults to ``"analytic"``.
        activation: str, activation of the hidden layers; ``"glu"`` makes them gated
            linear units a * sigmoid(b) (``tfae.models.builders``). Defaults to ``"relu"``.
        min_scale: float > 0, the floor added to the posterior standard deviations.
            Defaults to 1e-4.
        seed: int or None, seeds the draws made by ``fit`` and ``evaluate``.
            Defaults to None.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Example:
    >>> import tfae, keras
    >>> x = tfae.datasets.load("digits", binarize="threshold")
    >>> vae = tfae.VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), seed=0)
    >>> vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> history = vae.fit(x, epochs=2, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['kl', 'loss', 'reconstruction']
    >>> vae.elbo(x[:5], seed=0).shape, vae.log_prob(x[:5], num_samples=100, seed=0).shape
    (TensorShape([5]), TensorShape([5]))
    >>> vae.sample(3, seed=0).shape
    TensorShape([3, 8, 8, 1])

    References:
        Kingma, Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
        Rezende, Mohamed, Wierstra, "Stochastic Backpropagation and Approximate
        Inference in Deep Generative Models", ICML 2014.
        Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
        Tomczak, Welling, "VAE with a VampPrior", AISTATS 2018 (gated layers, warm-up).
    """

    loss_term_names = ("loss", "reconstruction", "kl")

    def __init__(
        self,
        input_shape,
        latent_dim: int,
        encoder=None,
        decoder=None,
        hidden_units=None,
        architecture: str = "dense",
        likelihood="bernoulli",
        prior=None,
        beta: float = 1.0,
        kl: str = "analytic",
        activation: str = "relu",
        min_scale: float = 1e-4,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape = Autoencoder._check_event_shape(input_shape)
        self.latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
        builders.check_architecture(architecture, self.event_shape)
        self.architecture = architecture
        self.hidden_units = builders.resolve_hidden_units(hidden_units, architecture)
        self.likelihood = likelihoods.get(likelihood)
        if kl not in KL_METHODS:
            raise ValueError(f"Unknown kl {kl!r}; choose one of {KL_METHODS}.")
        self.kl = kl
        builders.check_activation(activation)  # checked even with custom networks
        self.activation = activation
        self.min_scale = _checks.check_number(min_scale, "min_scale", strict=True)
        if seed is not None:
            seed = _checks.check_positive_int(seed, "seed", minimum=0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # A TF variable read by the compiled steps, so that changing beta during training
        # needs no retracing; not a Keras weight: beta is a setting, saved in the config.
        self._beta = tf.Variable(1.0, trainable=False, dtype=tf.float32, name="beta")
        self.beta = beta

        self._custom_networks = {"encoder": encoder is not None, "decoder": decoder is not None}
        self.encoder = _network(encoder, "encoder") if encoder is not None else (
            builders.build_encoder(self.event_shape, 2 * self.latent_dim, self.hidden_units,
                                   architecture, activation))
        self.decoder = _network(decoder, "decoder") if decoder is not None else (
            builders.build_decoder(self.latent_dim, self.event_shape, self.hidden_units,
                                   self.likelihood.params_per_value, architecture, activation))
        self._check_networks()
        self._saved_prior = None
        self.prior = prior
        self.built = True

    def _check_networks(self) -> None:
        # One forward pass of a zero batch builds the networks and shows their shapes.
        x = keras.ops.zeros((1, *self.event_shape), self.compute_dtype)
        encoded = tuple(self.encoder(x).shape[1:])
        if encoded != (2 * self.latent_dim,):
            raise ValueError(
                f"the encoder outputs {encoded} values per example, but q(z|x) needs "
                f"(2 * latent_dim,) = ({2 * self.latent_dim},): the means, then the "
                "unconstrained scales; end the encoder with Dense(2 * latent_dim)."
            )
        expected = (*self.event_shape[:-1],
                    self.event_shape[-1] * self.likelihood.params_per_value)
        decoded = tuple(self.decoder(keras.ops.zeros((1, self.latent_dim))).shape[1:])
        if decoded != expected:
            raise ValueError(
                f"the decoder maps z of shape ({self.latent_dim},) to {decoded}, but the "
                f"{type(self.likelihood).__name__} likelihood of examples of shape "
                f"{self.event_shape} needs {expected}."
            )

    # ------------------------------------------------------------------ settings

    @property
    def beta(self) -> float:
        """The weight of the KL term in the loss (settable, also during training)."""
        return float(self._beta.numpy())

    @beta.setter
    def beta(self, value) -> None:
        self._beta.assign(_checks.check_number(value, "beta"))

    @property
    def prior(self):
        """p(z): a TFP distribution, the standard normal when none was given.

        None after loading a model saved with another prior, until it is set again.
        Setting it checks the event shape and chooses how the KL term is computed.
        """
        return self._prior

    @prior.setter
    def prior(self, prior) -> None:
        if isinstance(prior, dict) and set(prior) == {"custom"}:
            # get_config() of a model with a prior that a .keras file cannot hold.
            self._prior, self._saved_prior, self._default_prior = None, prior, False
            self._analytic_kl = False
            self._recompile()
            return
        if prior is None:
            shape, dtype = [self.latent_dim], self.compute_dtype
            prior = tfd.MultivariateNormalDiag(loc=tf.zeros(shape, dtype),
                                               scale_diag=tf.ones(shape, dtype),
                                               name="StandardNormal")
            self._prior, self._default_prior = prior, True
        else:
            self._prior, self._default_prior = _check_prior(prior, self.latent_dim), False
        self._saved_prior = None
        self._analytic_kl = self._default_prior or _has_analytic_kl(self._prior, self.latent_dim)
        self._recompile()

    def _recompile(self) -> None:
        """Compiled functions hold the prior they were traced with: new ones for a new prior.

        Compiled per model: TF counts traces per code object, so a method traced once
        by each of five models warns of "excessive retracing"; a partial has no code
        object and is counted on its own.
        """
        self._compiled_estimates = tf.function(functools.partial(VAE._estimates, self),
                                               reduce_retracing=True)
        self.train_function = self.test_function = None

    @property
    def kl_method(self) -> str:
        """How the KL term is computed: ``"analytic"`` or ``"monte_carlo"``."""
        return "analytic" if self.kl == "analytic" and self._analytic_kl else "monte_carlo"

    def _checked_prior(self):
        if self._prior is None:
            raise ValueError(
                f"this VAE was saved with a custom prior ({self._saved_prior['custom']}), which "
                "a .keras file cannot hold; set it again after loading: "
                "model.prior = <the same TFP distribution>."
            )
        return self._prior

    # ------------------------------------------------------------------ the distributions

    def _posterior_parameters(self, x, training=False):
        """(loc, scale) of q(z|x), each (batch, latent_dim)."""
        loc, raw_scale = tf.split(self.encoder(x, training=training), 2, axis=-1)
        return loc, tf.math.softplus(raw_scale) + tf.cast(self.min_scale, raw_scale.dtype)

    def posterior_parameters(self, x):
        """Returns the mean and the standard deviations of q(z|x), each (batch, latent_dim)."""
        return self._posterior_parameters(
            self._traced_input(self._checked_if_array(x, "x", scored=False)))

    def encode(self, x):
        """Returns q(z|x) as a ``tfd.MultivariateNormalDiag`` with batch shape (batch,)."""
        loc, scale = self.posterior_parameters(x)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def decode(self, z):
        """Returns p(x|z) as a TFP distribution with one event per example."""
        z = tf.cast(z, self.compute_dtype)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}."
            )
        return self.likelihood.distribution(self.decoder(z))

    def reconstruct(self, x):
        """Returns the mean of p(x | z) at the posterior mean z = E[z | x], with x's shape."""
        loc, _ = self.posterior_parameters(x)
        return self.likelihood.distribution(self.decoder(loc)).mean()

    def call(self, x, training=False):
        x = self._traced_input(x)
        loc, _ = self._posterior_parameters(x, training)
        return self.likelihood.distribution(self.decoder(loc, training=training)).mean()

    # ------------------------------------------------------------------ the bound

    def _prior_log_prob(self, z):
        prior = self._checked_prior()
        return tf.cast(prior.log_prob(tf.cast(z, prior.dtype)), z.dtype)

    def _analytic_kl_term(self, loc, scale):
        if self._default_prior:  # KL(N(mu, sigma^2) || N(0, 1)), summed over z
            return tf.reduce_sum(0.5 * (tf.square(loc) + tf.square(scale) - 1.0)
                                 - tf.math.log(scale), axis=-1)
        prior = self._checked_prior()
        q = tfd.MultivariateNormalDiag(loc=tf.cast(loc, prior.dtype),
                                       scale_diag=tf.cast(scale, prior.dtype))
        return tf.cast(tfd.kl_divergence(q, prior), loc.dtype)

    @staticmethod
    def _posterior_log_prob(eps, scale):
        # log q(z|x) at z = loc + scale * eps, from eps itself: exact even where
        # (z - loc) / scale would lose digits (scale << |loc|).
        return tf.reduce_sum(-0.5 * tf.square(eps) - _HALF_LOG_TWO_PI - tf.math.log(scale),
                             axis=-1)

    def _log_likelihood(self, x, z, training=False):
        """log p(x | z) for z of shape (samples, batch, latent_dim): (samples, batch)."""
        samples, batch = tf.shape(z)[0], tf.shape(z)[1]
        params = self.decoder(tf.reshape(z, [-1, self.latent_dim]), training=training)
        # x once per draw, in the order of the flattened z: (samples * batch, *event_shape).
        tiled = tf.reshape(tf.repeat(x[None], samples, axis=0),
                           tf.concat([[-1], tf.shape(x)[1:]], 0))
        log_px = self.likelihood.distribution(params).log_prob(tiled)
        return tf.reshape(log_px, [samples, batch])

    def loss_terms(self, x, training=False):
        loc, scale = self._posterior_parameters(x, training)
        eps = keras.random.normal(tf.shape(loc), dtype=loc.dtype, seed=self.seed_generator)
        z = loc + scale * eps
        reconstruction = -self._log_likelihood(x, z[None], training)[0]
        if self.kl_method == "analytic":
            kl = self._analytic_kl_term(loc, scale)
        else:
            kl = self._posterior_log_prob(eps, scale) - self._prior_log_prob(z)
        beta = tf.cast(self._beta, reconstruction.dtype)
        return {"loss": reconstruction + beta * kl, "reconstruction": reconstruction, "kl": kl}

    def _log_weights(self, x, loc, scale, eps):
        """Returns log p(x|z) and log w = log p(x|z) + log p(z) - log q(z|x), each
        (samples, batch), at z = loc + scale * eps with eps (samples, batch, latent_dim)."""
        z = loc + scale * eps
        log_px_z = self._log_likelihood(x, z)
        return log_px_z, log_px_z + self._prior_log_prob(z) - self._posterior_log_prob(eps, scale)

    def _estimates(self, x, seed, num_samples, chunk_size):
        """For one batch, over ``num_samples`` draws of z ~ q(z|x) taken ``chunk_size`` at a
        time: logsumexp_i log w_i, sum_i log p(x|z_i) and sum_i log w_i, each (batch,).
        Run compiled, as ``_compiled_estimates``."""
        loc, scale = self._posterior_parameters(x)
        batch = tf.shape(x)[0]
        dtype = loc.dtype
        num_chunks = (num_samples + chunk_size - 1) // chunk_size

        def add_chunk(chunk, log_sum_w, sum_log_px_z, sum_log_w):
            eps = tf.random.stateless_normal(
                [chunk_size, batch, self.latent_dim],
                tf.random.experimental.stateless_fold_in(seed, chunk), dtype=dtype)
            log_px_z, log_w = self._log_weights(x, loc, scale, eps)
            # The last chunk may run past num_samples: its extra draws do not count.
            used = chunk * chunk_size + tf.range(chunk_size) < num_samples
            used = tf.broadcast_to(used[:, None], tf.shape(log_w))
            zeros = tf.zeros_like(log_w)
            log_w_used = tf.where(used, log_w, tf.fill(tf.shape(log_w), -np.inf))
            log_sum_w = tf.reduce_logsumexp(
                tf.stack([log_sum_w, tf.reduce_logsumexp(log_w_used, axis=0)]), axis=0)
            return (chunk + 1, log_sum_w,
                    sum_log_px_z + tf.reduce_sum(tf.where(used, log_px_z, zeros), axis=0),
                    sum_log_w + tf.reduce_sum(tf.where(used, log_w, zeros), axis=0))

        start = tf.zeros([batch], dtype)
        per_example = tf.TensorShape([None])
        _, log_sum_w, sum_log_px_z, sum_log_w = tf.while_loop(
            lambda chunk, *_: chunk < num_chunks, add_chunk,
            (tf.constant(0), tf.fill([batch], tf.constant(-np.inf, dtype)), start, start),
            shape_invariants=(tf.TensorShape([]), per_example, per_example, per_example))
        return log_sum_w, sum_log_px_z, sum_log_w

    def _run_estimates(self, x, num_samples, seed, batch_size, chunk_size):
        """Runs ``_estimates`` over batches of a checked array; returns NumPy arrays."""
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        batch_size = min(batch_size, len(x))
        if chunk_size is None:
            chunk_size = max(1, min(num_samples,
                                    _CHUNK_VALUES // (batch_size * self._values_per_draw())))
        chunk_size = min(_checks.check_positive_int(chunk_size, "chunk_size"), num_samples)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        seed = _checks.check_positive_int(seed, "seed", minimum=0)
        self._checked_prior()
        base = tf.constant([seed, 0], tf.int64)
        parts = []
        for index, start in enumerate(range(0, len(x), batch_size)):
            batch = tf.constant(x[start:start + batch_size], self.compute_dtype)
            batch_seed = tf.random.experimental.stateless_fold_in(base, index)
            parts.append([value.numpy() for value in self._compiled_estimates(
                batch, batch_seed, tf.constant(num_samples), tf.constant(chunk_size))])
        return [np.concatenate(columns) for columns in zip(*parts, strict=True)]

    def _values_per_draw(self) -> int:
        """Values the decoder computes (and keeps, for log p(x|z)) per latent draw."""
        size = math.prod(self.event_shape) * (self.likelihood.params_per_value + 2)
        for layer in getattr(self.decoder, "layers", []):
            try:
                size += math.prod(layer.output.shape[1:])
            except (AttributeError, ValueError, TypeError):
                pass
        return max(size, 1)

    def elbo(self, x, num_samples: int = 1, seed: int | None = None, batch_size: int = 100,
             chunk_size: int | None = None):
        """Returns the evidence lower bound of each example, in nats, shape (batch,).

        ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x), the
        expectation estimated with ``num_samples`` draws of z ~ q(z|x) and the KL term
        computed as in training (``kl_method``); beta is not used.

        Args:
            x: array of examples (batch, *input_shape).
            num_samples: int >= 1, draws of z per example. Defaults to 1.
            seed: int or None, the same seed (with the same ``batch_size`` and
                ``chunk_size``) gives the same estimate. Defaults to None (a fresh
                seed from NumPy's global generator).
            batch_size: int, examples per compiled call. Defaults to 100.
            chunk_size: int or None, draws per example evaluated at once; None
                chooses it so that one chunk needs about 128 MiB. Defaults to None.

        Raises:
            ValueError: bad data, or a count below 1.
        """
        x = self.check_inputs(x)
        _, sum_log_px_z, sum_log_w = self._run_estimates(x, num_samples, seed, batch_size,
                                                         chunk_size)
        if self.kl_method == "analytic":
            loc, scale = self._posterior_batches(x, batch_size)
            kl = self._analytic_kl_term(loc, scale).numpy()
            return tf.constant(sum_log_px_z / num_samples - kl, self.compute_dtype)
        return tf.constant(sum_log_w / num_samples, self.compute_dtype)

    def log_prob(self, x, num_samples: int = 100, seed: int | None = None,
                 batch_size: int = 100, chunk_size: int | None = None):
        """Returns the importance-weighted estimate of log p(x), in nats, shape (batch,).

        log p(x) ~= log (1/k) sum_{i=1}^k p(x, z_i) / q(z_i|x),    z_i ~ q(z|x),

        computed with a log-sum-exp, in chunks of draws and batches of examples (one
        compiled loop per batch), so that memory stays bounded for any k. Its
        expectation is the k-sample bound of Burda et al.: the ELBO for k = 1, and
        increasing to log p(x) as k grows.

        Args:
            x: array of examples (batch, *input_shape).
            num_samples: int >= 1, the number k of importance samples per example.
                Defaults to 100.
            seed: int or None, the same seed (with the same ``batch_size`` and
                ``chunk_size``) gives the same estimate. Defaults to None.
            batch_size: int, examples per compiled call. Defaults to 100.
            chunk_size: int or None, draws per example evaluated at once; None
                chooses it so that one chunk needs about 128 MiB. Defaults to None.

        Raises:
            ValueError: bad data, or a count below 1.
        """
        x = self.check_inputs(x)
        log_sum_w, _, _ = self._run_estimates(x, num_samples, seed, batch_size, chunk_size)
        return tf.constant(log_sum_w - math.log(num_samples), self.compute_dtype)

    def kl_divergence(self, x, method: str | None = None, num_samples: int = 1000,
                      seed: int | None = None):
        """Returns KL(q(z|x) || p(z)) of each example, in nats, shape (batch,).

        Args:
            x: array of examples (batch, *input_shape).
            method: ``"analytic"`` (the closed form; only for priors that have one),
                ``"monte_carlo"`` (the mean of log q(z|x) - log p(z) over
                ``num_samples`` draws z ~ q(z|x)) or None for ``kl_method``.
            num_samples: int >= 1, draws for the Monte Carlo estimate. Defaults to 1000.
            seed: int or None, seeds the Monte Carlo draws. Defaults to None.
        """
        method = self.kl_method if method is None else method
        if method not in KL_METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {KL_METHODS}.")
        loc, scale = self.posterior_parameters(x)
        self._checked_prior()
        if method == "analytic":
            if not self._analytic_kl:
                raise ValueError(
                    f"TFP has no closed-form KL between q(z|x) and the prior "
                    f"{type(self._prior).__name__}; use method='monte_carlo'."
                )
            return self._analytic_kl_term(loc, scale)
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        seed = _checks.check_positive_int(seed, "seed", minimum=0)
        eps = tf.random.stateless_normal([num_samples, *loc.shape], [seed, 1], dtype=loc.dtype)
        z = loc + scale * eps
        return tf.reduce_mean(self._posterior_log_prob(eps, scale) - self._prior_log_prob(z),
                              axis=0)

    def _posterior_batches(self, x, batch_size: int = 1000):
        locs, scales = [], []
        for start in range(0, len(x), batch_size):
            loc, scale = self._posterior_parameters(
                tf.constant(x[start:start + batch_size], self.compute_dtype))
            locs.append(loc)
            scales.append(scale)
        return tf.concat(locs, 0), tf.concat(scales, 0)

    # ------------------------------------------------------------------ generating

    def sample(self, n: int, seed: int | None = None, return_means: bool = False):
        """Draws ``n`` examples: z ~ p(z), then x ~ p(x | z) (or its mean).

        Args:
            n: int >= 1, the number of examples.
            seed: int or None, the same seed gives the same samples. Defaults to None.
            return_means: bool, return the means E[x | z] (smooth images) instead of
                draws of x. Defaults to False.

        Returns:
            float32 tensor (n, *input_shape).
        """
        n = _checks.check_positive_int(n, "n")
        if not isinstance(return_means, (bool, np.bool_)):
            raise TypeError(f"return_means must be True or False, got {return_means!r}.")
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        seed = _checks.check_positive_int(seed, "seed", minimum=0)
        prior = self._checked_prior()
        z = tf.cast(prior.sample(n, seed=tf.constant([seed, 0], tf.int32)), self.compute_dtype)
        p_x_given_z = self.decode(z)
        if return_means:
            return p_x_given_z.mean()
        return tf.cast(p_x_given_z.sample(seed=tf.constant([seed, 1], tf.int32)),
                       self.compute_dtype)

    def interpolate(self, x_a, x_b, num_steps: int = 10):
        """Decodes the straight line between the posterior means of ``x_a`` and ``x_b``.

        Args:
            x_a: one example (*input_shape) or a batch (n, *input_shape).
            x_b: the same shape as ``x_a``.
            num_steps: int >= 2, points on the line, both ends included. Defaults to 10.

        Returns:
            The means E[x | z_t] at z_t = (1 - t) E[z | x_a] + t E[z | x_b],
            t = 0, ..., 1: shape (num_steps, *input_shape) for single examples,
            (n, num_steps, *input_shape) for batches.
        """
        num_steps = _checks.check_positive_int(num_steps, "num_steps", minimum=2)
        single = np.ndim(x_a) == len(self.event_shape)
        ends = []
        for name, value in (("x_a", x_a), ("x_b", x_b)):
            array = _checks.as_float_array(value, name)
            ends.append(self.check_shape(array[None] if single else array, name))
        if ends[0].shape != ends[1].shape:
            raise ValueError(f"x_a and x_b must have the same shape, got {ends[0].shape} "
                             f"and {ends[1].shape}.")
        loc_a, _ = self.posterior_parameters(ends[0])
        loc_b, _ = self.posterior_parameters(ends[1])
        t = tf.linspace(tf.constant(0.0, loc_a.dtype), 1.0, num_steps)[None, :, None]
        z = (1.0 - t) * loc_a[:, None] + t * loc_b[:, None]  # (n, steps, latent)
        means = self.decode(tf.reshape(z, [-1, self.latent_dim])).mean()
        means = tf.reshape(means, [-1, num_steps, *self.event_shape])
        return means[0] if single else means

    def active_units(self, x, threshold: float = 1e-2, batch_size: int = 1000):
        """Counts the active units of z (Burda et al. 2016).

        Unit u is active when A_u = Cov_x(E_{q(u|x)}[u]) > ``threshold``: its
        posterior mean varies with x. An inactive unit has collapsed onto the prior
        and carries no information about x.

        Args:
            x: array of examples (batch >= 2, *input_shape), e.g. the test set.
            threshold: float >= 0. Defaults to 1e-2.
            batch_size: int, examples per encoder call. Defaults to 1000.

        Returns:
            ``(count, variances)``: the number of active units (int) and A_u for each
            unit (float64 array (latent_dim,)).
        """
        threshold = _checks.check_number(threshold, "threshold")
        x = self.check_shape(x)
        if len(x) < 2:
            raise ValueError("active_units needs at least 2 examples to measure a variance.")
        loc, _ = self._posterior_batches(x, _checks.check_positive_int(batch_size, "batch_size"))
        variances = np.var(loc.numpy().astype(np.float64), axis=0)
        return int((variances > threshold).sum()), variances

    # ------------------------------------------------------------------ saving

    def get_config(self):
        config = super().get_config()
        if self._saved_prior is not None:
            prior = self._saved_prior
        elif self._default_prior:
            prior = None
        else:  # kept out of the file: set it again after loading (see the class docstring)
            prior = {"custom": f"{type(self._prior).__name__}, event shape ({self.latent_dim},)"}
        config.update(
            input_shape=list(self.event_shape),
            latent_dim=self.latent_dim,
            encoder=(keras.saving.serialize_keras_object(self.encoder)
                     if self._custom_networks["encoder"] else None),
            decoder=(keras.saving.serialize_keras_object(self.decoder)
                     if self._custom_networks["decoder"] else None),
            hidden_units=list(self.hidden_units),
            architecture=self.architecture,
            likelihood=likelihoods.serialize(self.likelihood),
            prior=prior,
            beta=self.beta,
            kl=self.kl,
            activation=self.activation,
            min_scale=self.min_scale,
            seed=self.seed,
        )
        return config


def _network(network, name: str):
    if isinstance(network, dict):  # from get_config
        network = keras.saving.deserialize_keras_object(network)
    if not isinstance(network, keras.layers.Layer):
        raise TypeError(f"{name} must be a Keras model or layer (or None to build one), got "
                        f"{type(network).__name__}.")
    return network


def _check_prior(prior, latent_dim: int):
    if not isinstance(prior, tfd.Distribution):
        raise TypeError(
            "prior must be a TFP distribution over z (e.g. tfd.MixtureSameFamily or "
            f"tfae.GaussianMixture(...).fit(z).distribution) or None, got "
            f"{type(prior).__name__}."
        )
    event_shape = tuple(prior.event_shape.as_list()) if prior.event_shape.is_fully_defined() \
        else tuple(int(d) for d in prior.event_shape_tensor())
    batch_shape = tuple(prior.batch_shape.as_list()) if prior.batch_shape.is_fully_defined() \
        else tuple(int(d) for d in prior.batch_shape_tensor())
    if event_shape != (latent_dim,):
        raise ValueError(
            f"the prior has event shape {event_shape}, but z has shape ({latent_dim},) "
            f"(latent_dim={latent_dim}); give a distribution over vectors of {latent_dim} "
            "values (e.g. wrap independent ones in tfd.Independent), or change latent_dim."
        )
    if batch_shape != ():
        raise ValueError(
            f"the prior has batch shape {batch_shape}; it must be one distribution over z "
            "(batch shape ()), e.g. tfd.MixtureSameFamily rather than a batch of Gaussians."
        )
    if not prior.dtype.is_floating:
        raise TypeError(f"the prior must be over real z, got dtype {prior.dtype.name}.")
    return prior


def _has_analytic_kl(prior, latent_dim: int) -> bool:
    dtype = prior.dtype
    q = tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim], dtype),
                                   scale_diag=tf.ones([latent_dim], dtype))
    try:
        tfd.kl_divergence(q, prior)
    except NotImplementedError:
        return False
    return True
