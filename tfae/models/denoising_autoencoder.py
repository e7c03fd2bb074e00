"""The denoising autoencoder, and the Markov chain that makes it a generative model."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfae import _checks, likelihoods
from tfae import corruption as corruption_lib
from tfae.models.autoencoder import Autoencoder
from tfae.models.base import UnsupervisedModel
from tfae.models.replicas import on_global_rows


@keras.saving.register_keras_serializable(package="tfae")
class DenoisingAutoencoder(Autoencoder):
    """An autoencoder trained to undo a corruption process C(x~ | x).

    Training draws x~ ~ C(x~ | x) and minimises the denoising loss

        L = -log p(x | h = f(x~)),

    so that P_theta(X | X~) estimates the data given its corrupted version.
    Bengio et al. (2013) show that alternating

        X_t ~ P_theta(X | X~_{t-1}),    X~_t ~ C(X~ | X_t)

    is a Markov chain whose stationary distribution estimates the data
    distribution (``sample_chain``). Walkback training (their Algorithm 2) also
    trains on corrupted points that the chain itself visits: from x~, sample
    x* ~ P_theta(X | x~), corrupt it again and add -log p(x | f(C(x*))) for the
    original x; each further step is taken with probability
    ``walkback_probability``, at most ``walkback_steps`` times. The reported
    ``loss`` is the optimised objective (the denoising term plus the walkback
    terms); ``denoising`` and ``walkback`` are reported on their own.

    Draws: the corruption layer's own seed, when it has one
    (``SaltAndPepper(0.2, seed=1)``), seeds the corruption draws; ``seed`` seeds the
    walkback draws, and the corruption draws of a layer without a seed. ``fit``
    takes them from the training streams of these seeds; ``evaluate`` (also
    validation in ``fit``) from separate streams that start again at every call, so
    validation never changes what training draws and val_loss is comparable across
    epochs. Methods that take a ``seed`` (``corrupt``, ``denoising_loss``,
    ``sample_chain``) draw from that seed alone.

    Metrics given to ``compile(metrics=...)`` compare x with ``model(x)``, the mean
    of p(x | h = f(x)) for the clean x (no corruption), as for ``tfae.Autoencoder``.

    The encoder, decoder and likelihood are those of ``tfae.Autoencoder``; unlike
    the plain autoencoder, the code may be wider than x (the noise, not the
    bottleneck, stops the identity map from being learned).

    Args:
        input_shape: tuple of int, the shape of one example.
        latent_dim: int, the size of the code h.
        corruption: a ``tfae.corruption`` layer (``SaltAndPepper(0.2)``,
            ``MaskingNoise(0.3)``, ``GaussianNoise(0.5)``), its Keras config, or a
            ``(name, level)`` pair such as ``("salt_and_pepper", 0.2)``.
            Defaults to ``("salt_and_pepper", 0.2)``, which suits binary data.
        walkback_steps: int >= 0, the most extra walkback terms per example.
            Defaults to 0 (plain denoising training).
        walkback_probability: float in [0, 1], the probability of taking each
            further walkback step (the paper's p). Defaults to 0.5.
        seed: int or None, seeds the draws made by ``fit`` and ``evaluate``: the
            walkback draws, and the corruption draws unless the corruption layer has
            a seed of its own (see above); None draws one from NumPy's global
            generator, and ``get_config`` keeps it, so a reloaded model draws the same.
            Defaults to None.
        **kwargs: the other arguments of ``tfae.Autoencoder`` (``hidden_units``,
            ``likelihood``, ``architecture``, ``activation``,
            ``latent_activation``) and of ``keras.Model``.

    Examples:
        >>> import tfae
        >>> x = tfae.datasets.load("digits", binarize="threshold")
        >>> dae = tfae.DenoisingAutoencoder((8, 8, 1), 32, corruption=("salt_and_pepper", 0.2))
        >>> dae.compile(optimizer="adam")
        >>> _ = dae.fit(x, epochs=2, verbose=0)
        >>> dae.sample_chain(num_chains=4, num_steps=10, seed=0).shape
        TensorShape([10, 4, 8, 8, 1])

    References:
        Vincent et al., "Extracting and composing robust features with denoising
        autoencoders", ICML 2008. Bengio, Yao, Alain, Vincent, "Generalized
        Denoising Auto-Encoders as Generative Models", NIPS 2013.
    """

    loss_term_names = ("loss", "denoising", "walkback")

    def __init__(
        self,
        input_shape,
        latent_dim: int,
        corruption=("salt_and_pepper", 0.2),
        walkback_steps: int = 0,
        walkback_probability: float = 0.5,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(input_shape, latent_dim, **kwargs)
        self.corruption = corruption_lib.get(corruption)
        self.walkback_steps = _checks.check_positive_int(walkback_steps, "walkback_steps", 0)
        self.walkback_probability = corruption_lib.check_rate(
            walkback_probability, "walkback_probability")
        self.seed = _checks.resolve_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _check_bottleneck(self) -> None:
        """A denoising autoencoder may be overcomplete: the noise prevents the identity."""

    def check_inputs(self, x, name: str = "x") -> np.ndarray:
        array = super().check_inputs(x, name)
        self.corruption.check_data(array, name)
        return array

    def check_mapped_inputs(self, x, name: str = "x") -> np.ndarray:
        """Inputs to ``encode``, ``denoise``, ``reconstruct`` and ``model(x)`` may be
        corrupted: Gaussian noise leaves the likelihood's range (only shape and
        finiteness are checked then); the other corruptions keep it."""
        if isinstance(self.corruption, corruption_lib.GaussianNoise):
            return self.check_shape(x, name)
        return UnsupervisedModel.check_inputs(self, x, name)

    def _graph_in_support(self, x):
        supported = super()._graph_in_support(x)
        if isinstance(self.corruption, corruption_lib.SaltAndPepper):
            binary = tf.reduce_all(tf.logical_or(tf.equal(x, 0), tf.equal(x, 1)))
            supported = tf.logical_and(supported, binary)
        return supported

    def _graph_mappable(self, x):
        # As check_mapped_inputs: Gaussian noise leaves the range; no binary requirement.
        if isinstance(self.corruption, corruption_lib.GaussianNoise):
            return tf.constant(True)
        return UnsupervisedModel._graph_in_support(self, x)

    def mapping_problem(self, name: str = "x") -> str:
        return UnsupervisedModel.support_problem(self, name)

    def support_problem(self, name: str = "x") -> str:
        if isinstance(self.corruption, corruption_lib.SaltAndPepper):
            return (f"{name} has values other than 0 and 1, but salt-and-pepper noise "
                    "corrupts binary data only; binarize it (tfae.datasets.load(..., "
                    "binarize='threshold')) or use GaussianNoise or MaskingNoise")
        return super().support_problem(name)

    # ------------------------------------------------------------------ training

    def _step_seeds(self, training):
        """Returns the stateless seeds of one step: the model's, and the corruption's
        (the corruption layer's own when it has a seed, otherwise the model's)."""
        own = self.corruption.seed is not None
        if training:
            seed = tf.cast(self.seed_generator.next(), tf.int32)
            return seed, self.corruption.next_seed() if own else seed
        seed = self.evaluation_seed(self.seed_generator)
        return seed, self.evaluation_seed(self.corruption.seed_generator) if own else seed

    def loss_terms(self, x, training=False):
        seed, corruption_seed = self._step_seeds(training)
        # The corruption, the walkback's samples x* and its coins of an example do not
        # depend on the tf.distribute replicas: each is a draw of the global batch's rows.
        first_seed = tf.random.experimental.stateless_fold_in(corruption_seed, 0)
        x_tilde = on_global_rows(lambda rows: self.corruption.corrupt(rows, first_seed), x)
        params = self._params_given_code(x_tilde, training)
        denoising = -self.likelihood.distribution(params).log_prob(x)
        walkback = tf.zeros_like(denoising)
        still_walking = tf.ones_like(denoising)
        for step in range(1, self.walkback_steps + 1):
            sample_seed, _, continue_seed = _split(seed, step)
            _, corrupt_seed, _ = _split(corruption_seed, step)
            # x* ~ P(X | x~): a point the chain visits; no gradient flows through a sample.
            x_star = tf.stop_gradient(on_global_rows(
                lambda rows, seed=sample_seed: self.likelihood.distribution(rows).sample(
                    seed=seed), params))
            x_tilde = on_global_rows(
                lambda rows, seed=corrupt_seed: self.corruption.corrupt(rows, seed), x_star)
            keep_going = on_global_rows(
                lambda rows, seed=continue_seed: tf.random.stateless_uniform(
                    tf.shape(rows), seed), denoising)
            still_walking *= tf.cast(keep_going < self.walkback_probability, denoising.dtype)
            params = self._params_given_code(x_tilde, training)
            walkback += still_walking * -self.likelihood.distribution(params).log_prob(x)
        return {"loss": denoising + walkback, "denoising": denoising, "walkback": walkback}

    # ------------------------------------------------------------------ denoising

    def corrupt(self, x, seed=0):
        """Returns one draw of x~ ~ C(x~ | x) (after checking x as ``fit`` does)."""
        x = self._traced_input(self._checked_if_array(x, "x"))
        return self.corruption.corrupt(x, seed)

    def denoise(self, x_noisy):
        """Returns E[x | x~] = g(f(x~)), the mean reconstruction of corrupted input.

        Raises:
            ValueError: x_noisy is not a non-empty batch of finite examples of the
                model's shape, or (for corruptions that keep the data's range) holds
                values the likelihood cannot score.
        """
        h = self.encoder(self._traced_input(self._checked_if_array(x_noisy, "x_noisy",
                                                                   scored=False)))
        return self.likelihood.distribution(self.decoder(h)).mean()

    def denoising_loss(self, x, seed=0):
        """Returns -log p(x | f(x~)) per example for one seeded corruption x~ of x."""
        x = self._traced_input(self._checked_if_array(x, "x"))
        return -self._p_x_given_code(self.corruption.corrupt(x, seed)).log_prob(x)

    # ------------------------------------------------------------------ the Markov chain

    def sample_chain(self, num_chains=None, num_steps: int = 100, x0=None, seed=0,
                     return_all: bool = True, return_means: bool = False):
        """Runs X_t ~ P(X | X~_{t-1}), X~_t ~ C(X~ | X_t) in one compiled loop.

        Args:
            num_chains: int or None, chains started from noise (uniform coin
                flips for a Bernoulli likelihood, N(0, I) otherwise). Give this
                or ``x0``.
            num_steps: int >= 1, the number of steps t = 1..T.
            x0: array (chains, *example shape) or None, the starting points X_0.
            seed: int or stateless [2] seed; the same seed gives the same chain.
            return_all: bool, return every step (T, chains, ...) rather than the
                last state (chains, ...). Defaults to True.
            return_means: bool, return E[X | X~_{t-1}] instead of the samples X_t
                (smoother pictures; the chain itself still runs on samples).
                Defaults to False.

        Returns:
            A float tensor of shape (num_steps, chains, *example shape), or
            (chains, *example shape) when ``return_all=False``.
        """
        num_steps = _checks.check_positive_int(num_steps, "num_steps")
        return_all = _checks.check_bool(return_all, "return_all")
        return_means = _checks.check_bool(return_means, "return_means")
        seed = corruption_lib.as_seed(seed)
        if (num_chains is None) == (x0 is None):
            raise ValueError("pass either num_chains (start from noise) or x0 (start points).")
        if x0 is None:
            num_chains = _checks.check_positive_int(num_chains, "num_chains")
            x0 = self._noise(num_chains, tf.random.experimental.stateless_fold_in(seed, -1))
        else:
            x0 = tf.convert_to_tensor(self.check_inputs(x0, "x0"), self.compute_dtype)
        samples, means = self._run_chain(x0, tf.constant(num_steps), seed)
        chain = means if return_means else samples
        return chain if return_all else chain[-1]

    def _noise(self, num_chains: int, seed) -> tf.Tensor:
        shape = (num_chains, *self.event_shape)
        if isinstance(self.likelihood, likelihoods.Bernoulli):
            coins = tf.random.stateless_uniform(shape, seed) < 0.5
            return tf.cast(coins, self.compute_dtype)
        return tf.random.stateless_normal(shape, seed, dtype=self.compute_dtype)

    @tf.function(reduce_retracing=True)
    def _run_chain(self, x0, num_steps, seed):
        samples = tf.TensorArray(x0.dtype, size=num_steps)
        means = tf.TensorArray(x0.dtype, size=num_steps)

        def step(t, x, samples, means):
            step_seed = tf.random.experimental.stateless_fold_in(seed, t)
            corrupt_seed, sample_seed = tf.unstack(
                tf.random.experimental.stateless_split(step_seed))
            p_x = self._p_x_given_code(self.corruption.corrupt(x, corrupt_seed))
            x_next = tf.cast(p_x.sample(seed=sample_seed), x.dtype)
            return t + 1, x_next, samples.write(t, x_next), means.write(t, p_x.mean())

        _, _, samples, means = tf.while_loop(
            lambda t, *_: t < num_steps, step, (tf.constant(0), x0, samples, means))
        return samples.stack(), means.stack()

    def get_config(self):
        config = super().get_config()
        config.update(
            corruption=keras.saving.serialize_keras_object(self.corruption),
            walkback_steps=self.walkback_steps,
            walkback_probability=self.walkback_probability,
            seed=self.seed,
        )
        return config


def _split(seed, step: int):
    """The (sample, corrupt, continue) seeds of walkback step ``step``."""
    return tf.unstack(tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seed, step), 3))

