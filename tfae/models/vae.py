"""The variational autoencoder: an encoder q(z | x), a decoder p(x | z), trained on the ELBO."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from tfae import _checks, estimators, likelihoods, priors
from tfae.choices import KL_METHODS
from tfae.flows import InverseAutoregressiveFlow
from tfae.models import builders, vae_latent, vae_posterior, vae_prior
from tfae.models.base import UnsupervisedModel
from tfae.models.replicas import on_global_rows


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

    The prior is fixed, or learned with the model. A fixed prior is a TFP
    distribution; a ``.keras`` file holds it: the standard normal, or a prior that
    ``tfae.priors`` can describe (Gaussians and mixtures of Gaussians, such as
    ``tfae.GaussianMixture(...).fit(z).distribution``), which loads back with the same
    parameters to the last bit. ``save`` refuses any other prior with a ``ValueError``
    before writing anything; save the weights instead. A learned prior is a layer of
    ``tfae.priors`` trained on the same bound as the networks: ``MixturePrior``
    (p(z) = sum_k pi_k N(z; mu_k, diag sigma_k^2), every parameter learned) or
    ``VampPrior`` (p(z) = (1/K) sum_k q(z | u_k) at K learned pseudo-inputs u_k);
    both are saved with the model and use the Monte Carlo KL.

    The posterior can be made more flexible than a diagonal Gaussian with
    ``posterior_flow_steps=T`` inverse autoregressive flow steps (Kingma et al. 2016,
    ``tfae.flows.InverseAutoregressiveFlow``, each a MADE of ``tfae.layers.MaskedDense``
    layers): z_0 = mu(x) + sigma(x) * eps, then z_t = sigma_t * z_{t-1} + (1 - sigma_t)
    * m_t with [m_t, s_t] = MADE_t(z_{t-1}, h(x)), sigma_t = sigmoid(s_t), and h(x) a
    context from the encoder; z = z_T and

        log q(z | x) = log N(z_0; mu(x), diag sigma(x)^2) - sum_t sum_i log sigma_{t,i},

    exact, since each step's Jacobian is triangular. The KL term is then the Monte
    Carlo estimate; ``encode`` refuses (q(z|x) is no longer a TFP Gaussian), and
    ``posterior_sample`` draws z with its log q(z|x).

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
            values (the means, then the unconstrained scales of q(z|x)), 3 *
            ``latent_dim`` with a posterior flow (then the context h(x)), or None to
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
            cast to it), a learned prior (``tfae.priors.MixturePrior(K)``,
            ``tfae.priors.VampPrior(K)``; the VAE builds it), the dict that
            ``get_config`` writes for either kind (e.g. ``{"class_name": "VampPrior",
            "config": {"num_pseudo_inputs": 500}}``), or None for the standard normal
            N(0, I). Defaults to None.
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
        posterior_flow_steps: int >= 0, the number T of inverse autoregressive flow
            steps of q(z|x) (see above); 0 keeps the diagonal Gaussian. Defaults to 0.
        posterior_flow_units: tuple of int, the hidden widths of each step's MADE.
            Defaults to (320, 320).
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
        Tomczak, Welling, "VAE with a VampPrior", AISTATS 2018 (gated layers, warm-up,
        the VampPrior).
        Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling, "Improved Variational
        Inference with Inverse Autoregressive Flow", NeurIPS 2016.
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
        posterior_flow_steps: int = 0,
        posterior_flow_units=(320, 320),
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
        self.posterior_flow_steps = _checks.check_positive_int(
            posterior_flow_steps, "posterior_flow_steps", minimum=0)
        self.posterior_flow_units = _checks.check_hidden_units(posterior_flow_units,
                                                               "posterior_flow_units")
        # The encoder's values per example: loc, raw scales, and the flow's context h(x).
        self._posterior_values = vae_posterior.values_per_example(self.latent_dim,
                                                                  self.posterior_flow_steps)
        self.seed = _checks.resolve_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # A TF variable read by the compiled steps, so that changing beta during training
        # needs no retracing; not a Keras weight: beta is a setting, saved in the config.
        self._beta = tf.Variable(1.0, trainable=False, dtype=tf.float32, name="beta")
        self.beta = beta

        self._custom_networks = {"encoder": encoder is not None, "decoder": decoder is not None}
        self.encoder = builders.given_network(encoder, "encoder") if encoder is not None else (
            builders.build_encoder(self.event_shape, self._posterior_values, self.hidden_units,
                                   architecture, activation))
        self.decoder = builders.given_network(decoder, "decoder") if decoder is not None else (
            builders.build_decoder(self.latent_dim, self.event_shape, self.hidden_units,
                                   self.likelihood.params_per_value, architecture, activation))
        builders.check_output_shape(
            self.encoder, self.event_shape, (self._posterior_values,),
            f"q(z|x) needs ({self._posterior_values},) values per example: the means, then "
            "the unconstrained scales" + (", then the flow's context h(x); end the encoder with "
                                          "Dense(3 * latent_dim)" if self.posterior_flow_steps
                                          else "; end the encoder with Dense(2 * latent_dim)")
            + ".", self.compute_dtype)
        decoded = (*self.event_shape[:-1], self.event_shape[-1] * self.likelihood.params_per_value)
        builders.check_output_shape(
            self.decoder, (self.latent_dim,), decoded,
            f"the {type(self.likelihood).__name__} likelihood of examples of shape "
            f"{self.event_shape} needs {decoded}.")
        self._values_per_draw = estimators.decoder_values_per_draw(
            self.decoder, self.event_shape, self.likelihood.params_per_value)
        self.posterior_flow = None
        if self.posterior_flow_steps:
            self.posterior_flow = InverseAutoregressiveFlow(
                self.posterior_flow_steps, self.posterior_flow_units, dtype=self.dtype_policy,
                name="posterior_flow")
            self.posterior_flow.build((None, self.latent_dim), (None, self.latent_dim))
        self.prior_layer = None
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
        """p(z), a TFP distribution: the standard normal when none was given; for a learned
        prior, the distribution of its current weights. Settable (a fixed prior at any
        time, a learned one before training), except on a VAE built with a learned prior,
        which keeps it."""
        return self._prior_distribution()

    @prior.setter
    def prior(self, prior) -> None:
        vae_prior.assign(self, prior)

    def _prior_distribution(self, training=False):
        return vae_prior.distribution(self, training)

    @property
    def kl_method(self) -> str:
        """How the KL term is computed: ``"analytic"`` or ``"monte_carlo"``."""
        return "analytic" if self.kl == "analytic" and self._analytic_kl else "monte_carlo"

    # ------------------------------------------------------------------ the distributions

    def _posterior_parameters(self, x, training=False):
        return vae_posterior.parameters(self, x, training)

    def posterior_center(self, x):
        """Returns the center of q(z|x), z at eps = 0, shape (batch, latent_dim): the mean
        mu(x) without a flow, f(mu(x)) with one (what ``reconstruct`` decodes)."""
        return vae_posterior.center(self, self._posterior_parameters(
            self._traced_input(self._checked_if_array(x, "x", scored=False))))

    def posterior_parameters(self, x):
        """Returns the mean and the standard deviations of q(z|x), each (batch, latent_dim)
        (with a posterior flow, those of the Gaussian z_0 before the flow)."""
        return self._posterior_parameters(
            self._traced_input(self._checked_if_array(x, "x", scored=False)))[:2]

    def encode(self, x):
        """Returns q(z|x) as a ``tfd.MultivariateNormalDiag`` with batch shape (batch,).

        Raises:
            ValueError: the model has a posterior flow (use ``posterior_sample``).
        """
        return vae_posterior.gaussian(self, x)

    def posterior_sample(self, x, num_samples: int = 1, seed: int | None = None):
        """Draws z ~ q(z|x) (through the flow, if any) with log q(z|x) of each draw.

        Args:
            x: array of examples (batch, *input_shape).
            num_samples: int >= 1, draws per example. Defaults to 1.
            seed: int or None, the same seed gives the same draws. Defaults to None.

        Returns:
            ``(z, log_q)``: tensors (num_samples, batch, latent_dim) and
            (num_samples, batch).
        """
        return vae_posterior.sample(self, x, num_samples, seed)

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
        return self.likelihood.distribution(self.decoder(self.posterior_center(x))).mean()

    def _output(self, x, training=False):
        z = vae_posterior.center(self, self._posterior_parameters(x, training))
        return self.likelihood.distribution(self.decoder(z, training=training)).mean()

    @property
    def likelihood_symbol(self) -> str:
        return "p(x|z) (in the ELBO)"

    # ------------------------------------------------------------------ the bound

    def loss_terms(self, x, training=False):
        parameters = self._posterior_parameters(x, training)
        k, loc = self.training_samples, parameters[0]
        seed = (self.training_seed(self.seed_generator) if training
                else self.evaluation_seed(self.seed_generator))
        # eps (k, batch, latent_dim): an example's draws whatever the tf.distribute replicas.
        eps = tf.transpose(on_global_rows(
            lambda rows: tf.random.stateless_normal(
                tf.stack([tf.shape(rows)[0], k, tf.shape(rows)[1]]), seed, dtype=loc.dtype),
            loc), [1, 0, 2])
        z, log_q = self._latent_model.draw(parameters, eps)
        log_px = estimators.decoder_log_likelihood(self.decoder, self.likelihood, x, z,
                                                   training)
        if self.kl_method == "analytic" and k == 1:
            kl = vae_prior.analytic_kl(self, *parameters[:2])[None]
        else:  # log q(z_i|x) - log p(z_i) at each draw
            kl = log_q - priors.log_prob(self._prior_distribution(training), z)
        beta = tf.cast(self._beta, log_px.dtype)
        # k = 1: -log p(x|z) + beta kl; k > 1: -log (1/k) sum_i w_i (IWAE).
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
        kl = (functools.partial(vae_prior.analytic_kl, self) if self.kl_method == "analytic"
              else None)
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
        if method == "analytic":
            if not self._analytic_kl:
                raise ValueError("TFP has no closed-form KL between this q(z|x) and the prior "
                                 f"{type(self.prior).__name__}; use method='monte_carlo'.")
            return vae_prior.analytic_kl(self, *self.posterior_parameters(x))
        z, log_q = self.posterior_sample(x, num_samples, seed)
        return tf.reduce_mean(log_q - priors.log_prob(self.prior, z), axis=0)

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
        z = tf.cast(self.prior.sample(n, seed=tf.constant([seed, 0], tf.int32)),
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
        vae_prior.config(self)
        return super().save(filepath, *args, **kwargs)

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
            prior=vae_prior.config(self),
            beta=self.beta,
            kl=self.kl,
            activation=self.activation,
            min_scale=self.min_scale,
            seed=self.seed,
            training_samples=self.training_samples,
            posterior_flow_steps=self.posterior_flow_steps,
            posterior_flow_units=list(self.posterior_flow_units),
        )
        return config

    @classmethod
    def from_config(cls, config):
        prior = config.get("prior")
        return super().from_config(
            {**config, "prior": None if prior is None else priors.from_config(prior)})

