"""The variational autoencoder: an encoder q(z | x), a decoder p(x | z), trained on the ELBO."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfae import _checks, estimators, likelihoods, priors
from tfae.choices import KL_METHODS
from tfae.models import builders, vae_latent
from tfae.models.base import UnsupervisedModel
from tfae.models.replicas import on_global_rows

tfd = tfp.distributions


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

    Metrics given to ``compile(metrics=...)`` compare x with ``model(x)``, the mean of
    p(x | z) at the posterior mean z = E[z | x] (no draw), e.g. ``metrics=["mae"]``.

    The prior is fixed (it is not trained). A ``.keras`` file holds it: the standard
    normal, or a prior that ``tfae.priors`` can describe (Gaussians and mixtures of
    Gaussians, such as ``tfae.GaussianMixture(...).fit(z).distribution``), which
    loads back with the same parameters to the last bit. ``save`` refuses any other
    prior with a ``ValueError`` before writing anything; save the weights instead.

    ``fit`` draws z from the stream of ``seed``; ``evaluate`` (also validation in
    ``fit``) from a separate stream of it that starts again at every call: validation
    never changes what training draws, and val_loss is comparable across epochs.

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
            (conv) of the built encoder, mirrored in the decoder; ``()`` builds no
            hidden layer (with ``"dense"``, affine maps to the posterior parameters
            and to those of p(x | z)); the defaults of ``tfae.Autoencoder`` when
            None. Not used by a given network.
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
        training_samples: int >= 1, the draws k of z per example of the training
            (and ``evaluate``) loss. 1 trains on -ELBO; k > 1 on the importance-weighted
            bound of Burda et al. (IWAE), loss = -log (1/k) sum_i w_i with
            log w_i = log p(x | z_i) - beta (log q(z_i | x) - log p(z_i)), z_i ~ q(z | x),
            tighter than the ELBO and tending to log p(x) as k grows (beta = 1). The
            reported ``reconstruction`` and ``kl`` are then the means over the k draws
            of -log p(x | z_i) and log q(z_i | x) - log p(z_i) (a Monte Carlo KL), and
            ``loss`` <= ``reconstruction`` + beta ``kl`` (Jensen). Defaults to 1.
        seed: int or None, seeds the draws made by ``fit`` and ``evaluate`` (see
            above); None draws one from NumPy's global generator, and ``get_config``
            keeps it, so a reloaded model draws the same. Defaults to None.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Examples:
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
        training_samples: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape = builders.check_event_shape(input_shape)
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
        self.training_samples = _checks.check_positive_int(training_samples, "training_samples")
        self.seed = _checks.resolve_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # A TF variable read by the compiled steps, so that changing beta during training
        # needs no retracing; not a Keras weight: beta is a setting, saved in the config.
        self._beta = tf.Variable(1.0, trainable=False, dtype=tf.float32, name="beta")
        self.beta = beta

        self._custom_networks = {"encoder": encoder is not None, "decoder": decoder is not None}
        self.encoder = builders.given_network(encoder, "encoder") if encoder is not None else (
            builders.build_encoder(self.event_shape, 2 * self.latent_dim, self.hidden_units,
                                   architecture, activation))
        self.decoder = builders.given_network(decoder, "decoder") if decoder is not None else (
            builders.build_decoder(self.latent_dim, self.event_shape, self.hidden_units,
                                   self.likelihood.params_per_value, architecture, activation))
        builders.check_output_shape(
            self.encoder, self.event_shape, (2 * self.latent_dim,),
            f"q(z|x) needs (2 * latent_dim,) = ({2 * self.latent_dim},) values per example: the "
            "means, then the unconstrained scales; end the encoder with Dense(2 * latent_dim).",
            self.compute_dtype)
        decoded = (*self.event_shape[:-1], self.event_shape[-1] * self.likelihood.params_per_value)
        builders.check_output_shape(
            self.decoder, (self.latent_dim,), decoded,
            f"the {type(self.likelihood).__name__} likelihood of examples of shape "
            f"{self.event_shape} needs {decoded}.")
        self._values_per_draw = estimators.decoder_values_per_draw(
            self.decoder, self.event_shape, self.likelihood.params_per_value)
        self.prior = prior
        self.built = True

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
        """p(z), a TFP distribution (settable): the standard normal when none was given."""
        return self._prior

    @prior.setter
    def prior(self, prior) -> None:
        checked = (priors.standard_normal(self.latent_dim, self.compute_dtype)
                   if prior is None else priors.check(prior, self.latent_dim))
        self._prior, self._default_prior = checked, prior is None
        self._analytic_kl = prior is None or priors.has_analytic_kl(checked, self.latent_dim)
        # The estimates compile their loop for this prior; Keras' steps are traced again.
        self._latent_model = estimators.LatentVariableModel(
            self._posterior_parameters,
            functools.partial(estimators.decoder_log_likelihood, self.decoder, self.likelihood),
            self._prior, self._values_per_draw)
        self.train_function = self.test_function = None

    @property
    def kl_method(self) -> str:
        """How the KL term is computed: ``"analytic"`` or ``"monte_carlo"``."""
        return "analytic" if self.kl == "analytic" and self._analytic_kl else "monte_carlo"

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
        """Returns p(x|z) as a TFP distribution with one event per example.

        Raises:
            ValueError: z is not a non-empty (batch, latent_dim) array of finite values.
        """
        if self._is_user_array(z):
            z = self.check_code(z, self.latent_dim, "z")
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

    def _output(self, x, training=False):
        loc, _ = self._posterior_parameters(x, training)
        return self.likelihood.distribution(self.decoder(loc, training=training)).mean()

    @property
    def likelihood_symbol(self) -> str:
        return "p(x|z) (in the ELBO)"

    # ------------------------------------------------------------------ the bound

    def _analytic_kl_term(self, loc, scale):
        if self._default_prior:
            return priors.standard_normal_kl(loc, scale)
        return priors.analytic_kl(loc, scale, self._prior)

    def loss_terms(self, x, training=False):
        loc, scale = self._posterior_parameters(x, training)
        seed = (self.training_seed(self.seed_generator) if training
                else self.evaluation_seed(self.seed_generator))
        if self.training_samples > 1:
            return self._importance_weighted_terms(x, loc, scale, seed, training)
        # The same eps for an example whatever the tf.distribute replicas.
        eps = on_global_rows(
            lambda rows: tf.random.stateless_normal(tf.shape(rows), seed, dtype=loc.dtype), loc)
        z = loc + scale * eps
        reconstruction = -estimators.decoder_log_likelihood(
            self.decoder, self.likelihood, x, z[None], training)[0]
        if self.kl_method == "analytic":
            kl = self._analytic_kl_term(loc, scale)
        else:
            kl = estimators.posterior_log_prob(eps, scale) - priors.log_prob(self._prior, z)
        beta = tf.cast(self._beta, reconstruction.dtype)
        return {"loss": reconstruction + beta * kl, "reconstruction": reconstruction, "kl": kl}

    def _importance_weighted_terms(self, x, loc, scale, seed, training):
        """The IWAE terms of ``loss_terms`` for k = ``training_samples`` draws."""
        k = self.training_samples
        # (k, batch, latent_dim); an example's k draws whatever the tf.distribute replicas.
        eps = tf.transpose(on_global_rows(
            lambda rows: tf.random.stateless_normal(
                tf.stack([tf.shape(rows)[0], k, tf.shape(rows)[1]]), seed, dtype=loc.dtype),
            loc), [1, 0, 2])
        z = loc + scale * eps
        log_px = estimators.decoder_log_likelihood(self.decoder, self.likelihood, x, z,
                                                   training)
        kl = estimators.posterior_log_prob(eps, scale) - priors.log_prob(self._prior, z)
        beta = tf.cast(self._beta, log_px.dtype)
        bound = (tf.reduce_logsumexp(log_px - beta * kl, axis=0)
                 - tf.math.log(tf.cast(k, log_px.dtype)))
        return {"loss": -bound, "reconstruction": -tf.reduce_mean(log_px, axis=0),
                "kl": tf.reduce_mean(kl, axis=0)}

    def elbo(self, x, num_samples: int = 1, seed: int | None = None, batch_size: int = 100,
             chunk_size: int | None = None):
        """Returns the evidence lower bound of each example, in nats, shape (batch,).

        ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x), the
        expectation estimated with ``num_samples`` draws of z ~ q(z|x) and the KL term
        computed as in training (``kl_method``); beta is not used. The arguments are
        those of ``log_prob`` (``tfae.estimators.elbo``).
        """
        kl = self._analytic_kl_term if self.kl_method == "analytic" else None
        values = estimators.elbo(self._latent_model, self.check_inputs(x), num_samples, seed,
                                 batch_size, chunk_size, kl=kl)
        return tf.constant(values, self.compute_dtype)

    def log_prob(self, x, num_samples: int = 100, seed: int | None = None,
                 batch_size: int = 100, chunk_size: int | None = None):
        """Returns the importance-weighted estimate of log p(x), in nats, shape (batch,).

        log p(x) ~= log (1/k) sum_{i=1}^k p(x, z_i) / q(z_i|x),    z_i ~ q(z|x),

        the k-sample bound of Burda et al.: in expectation the ELBO for k = 1, and
        increasing to log p(x) as k grows. Memory stays bounded for any k
        (``tfae.estimators.importance_weighted_log_prob``).

        Args:
            x: array of examples (batch, *input_shape).
            num_samples: int >= 1, the number k of draws of z per example.
                Defaults to 100 (1 for ``elbo``).
            seed: int or None, the same seed (with the same ``batch_size`` and
                ``chunk_size``) gives the same estimate. Defaults to None (a fresh
                seed from NumPy's global generator).
            batch_size: int, examples per compiled call. Defaults to 100.
            chunk_size: int or None, draws per example evaluated at once; None
                chooses it so that one chunk needs about 128 MiB. Defaults to None.

        Raises:
            ValueError: bad data, or a count below 1.
        """
        values = estimators.importance_weighted_log_prob(
            self._latent_model, self.check_inputs(x), num_samples, seed, batch_size, chunk_size)
        return tf.constant(values, self.compute_dtype)

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
        if method == "analytic":
            if not self._analytic_kl:
                raise ValueError(f"TFP has no closed-form KL between q(z|x) and the prior "
                                 f"{type(self._prior).__name__}; use method='monte_carlo'.")
            return self._analytic_kl_term(loc, scale)
        return estimators.monte_carlo_kl(loc, scale, self._prior, num_samples, seed)

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
        return_means = _checks.check_bool(return_means, "return_means")
        seed = _checks.resolve_seed(seed)
        z = tf.cast(self._prior.sample(n, seed=tf.constant([seed, 0], tf.int32)),
                    self.compute_dtype)
        p_x_given_z = self.decode(z)
        if return_means:
            return p_x_given_z.mean()
        return tf.cast(p_x_given_z.sample(seed=tf.constant([seed, 1], tf.int32)),
                       self.compute_dtype)

    def interpolate(self, x_a, x_b, num_steps: int = 10):
        """Decodes the straight line between the posterior means of ``x_a`` and ``x_b``
        (``tfae.models.vae_latent.interpolate``, which documents the arguments)."""
        return vae_latent.interpolate(self, x_a, x_b, num_steps)

    def active_units(self, x, threshold: float = 1e-2, batch_size: int = 1000):
        """Counts the active units of z, those whose posterior mean varies with x
        (``tfae.models.vae_latent.active_units``, which documents the arguments).

        Returns:
            ``(count, variances)``: the number of active units and the variance of
            each unit's posterior mean over ``x``.
        """
        return vae_latent.active_units(self, x, threshold, batch_size)

    # ------------------------------------------------------------------ saving

    def save(self, filepath, *args, **kwargs):
        # Keras opens the file before it asks for the config: refuse a prior that cannot
        # be saved first, so that no file is written (or truncated).
        self._prior_config()
        return super().save(filepath, *args, **kwargs)

    def _prior_config(self):
        return None if self._default_prior else priors.serialize(self._prior)

    def get_config(self):
        config = super().get_config()
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
            prior=self._prior_config(),
            beta=self.beta,
            kl=self.kl,
            activation=self.activation,
            min_scale=self.min_scale,
            seed=self.seed,
            training_samples=self.training_samples,
        )
        return config

    @classmethod
    def from_config(cls, config):
        prior = config.get("prior")
        return super().from_config(
            {**config, "prior": None if prior is None else priors.deserialize(prior)})

