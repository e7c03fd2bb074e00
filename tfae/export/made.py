"""The exportable parts of a ``tfae.MADE``.

- ``"conditionals"``: ``conditionals(x) -> {"params": model(x), "mean": E[x_d | x_<d]}``
  under the first mask: the raw parameters of every p(x_d | x_<d) (the logits of a
  Bernoulli MADE; the D locs, then the D raw scales, of a Gaussian one), and their
  means (p(x_d = 1 | x_<d) for a Bernoulli MADE).
- ``"log_prob"``: ``log_prob(x) -> {"log_prob": log p(x)}``, shape (batch,): with
  K > 1 masks the ensemble's log (1/K) sum_k p_k(x), as ``MADE.log_prob``.
- ``"sampler"``: ``sample(noise) -> {"x": samples}``, the whole ancestral loop in the
  file (builtin ``WHILE``). A Bernoulli MADE takes ``u`` (batch, D) uniform on
  [0, 1) and sets x_d = [u_d < p(x_d = 1 | x_<d)]; a Gaussian one takes ``eps``
  (batch, D) standard normal and sets x_d = mu_d + sigma_d * eps_d. Column d of the
  noise decides dimension d, whatever the ordering. With K > 1 masks the file takes
  ``u_mask`` (batch, 1) uniform too, and each sample comes from mask
  k = min(floor(u_mask * K), K - 1). The same noise gives the same samples as
  ``tfae.models.made_sampling.sample_from_noise``, the function ``MADE.sample`` runs
  on the noise it draws.

Full-integer (``"int8"``) files of the sampler and of a Gaussian MADE's log_prob are
refused (``check_quantize``, the endpoints' ``refused``): the
converter crashes (a segmentation fault) on the sampler's loop, and a Gaussian
log_prob divides by scales that int8 rounds to zero.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfae import likelihoods
from tfae.choices import QUANTIZATIONS, SIGNATURES
from tfae.export.endpoint import (
    Endpoint,
    as_numpy,
    data_probe,
    float_spec,
    scaled_difference,
)
from tfae.models import made_sampling

PARTS = ("conditionals", "log_prob", "sampler")


def is_made(model) -> bool:
    """Whether ``model`` is a ``tfae.MADE`` (its masks, degrees and conditionals)."""
    return all(hasattr(model, name) for name in ("input_dim", "num_masks", "degrees",
                                                  "hidden_layers", "output_layer",
                                                  "likelihood"))


def _is_bernoulli(model) -> bool:
    return isinstance(model.likelihood, likelihoods.Bernoulli)


def check_quantize(model, part: str, quantize) -> None:
    """Raises ValueError for a quantization that ``part`` of a MADE cannot have.

    Args:
        model: the ``tfae.MADE``.
        part: str, one of ``PARTS``.
        quantize: None or one of ``tfae.choices.QUANTIZATIONS``.

    Raises:
        ValueError: ``quantize="int8"`` for the sampler (the converter crashes on
            its loop) or a Gaussian MADE's log_prob (the file fails when it runs).
    """
    if (part == "log_prob" and quantize == "int8"
            and not isinstance(model.likelihood, likelihoods.Bernoulli)):
        raise ValueError(
            "quantize='int8' (full integer) cannot write a Gaussian MADE's log_prob: it "
            "divides by the scales sigma_d, which int8 activations round to zero (LiteRT "
            "then fails in DIV). Use quantize='float16' or 'dynamic_int8', or export "
            "part='conditionals' with int8 and compute log p(x) from its params.")
    if part == "sampler" and quantize == "int8":
        raise ValueError(
            "quantize='int8' (full integer) cannot write MADE's sampler: its loop draws "
            "each dimension by comparing the noise with a probability, which int8 "
            "activations would round to 256 levels (and the converter crashes on its "
            "loop). Use quantize='float16' or 'dynamic_int8' for the sampler, or export "
            "part='conditionals' with int8.")


# ---------------------------------------------------------------- conditionals, log_prob


def _conditionals(model):
    def conditionals(x):
        params = model(x)
        return {"params": params, "mean": model.likelihood.distribution(params).mean()}

    def reference(inputs):
        params = model(inputs["x"])
        return as_numpy({"params": params, "mean": model.likelihood.distribution(params).mean()})

    return Endpoint("conditionals", SIGNATURES["conditionals"], tf.function(conditionals),
                    (float_spec("x", (model.input_dim,)),), data_probe(model), reference)


def _softplus(s):
    """log(1 + exp(s)) to float32 precision from LiteRT builtins.

    LiteRT's SOFTPLUS and LOG lose precision near log(1) (relative errors of 3e-3 at
    s = -10), which a learned Gaussian scale softplus(s) + min_scale feels in log p(x).
    Here log1p(y), y = exp(-|s|) in (0, 1], is 2 atanh(t), t = y / (2 + y) <= 1/3,
    summed as its series to 8 terms (the next is below 2e-8 of the sum).
    """
    y = tf.exp(-tf.abs(s))
    t = y / (2.0 + y)
    t2 = t * t
    series = tf.zeros_like(t) + 1.0 / 15.0
    for k in (13, 11, 9, 7, 5, 3, 1):
        series = 1.0 / k + t2 * series
    return tf.nn.relu(s) + 2.0 * t * series


def _bernoulli_log_prob(logits, x):
    # log p = x * logit - softplus(logit), as -sigmoid_cross_entropy(x, logit).
    return tf.reduce_sum(x * logits - _softplus(logits), axis=-1)


def _gaussian_log_prob(likelihood, params, x):
    if likelihood.learned:
        loc, raw_scale = tf.split(params, 2, axis=-1)
        scale = _softplus(raw_scale) + likelihood.min_scale
    else:
        loc, scale = params, tf.constant(likelihood.scale, params.dtype)
    z = (x - loc) / scale
    return tf.reduce_sum(-0.5 * z * z - tf.math.log(scale) - 0.5 * np.log(2 * np.pi),
                         axis=-1)


def _log_prob(model):
    count = model.num_masks
    if _is_bernoulli(model):
        def one_mask(x, k):
            return _bernoulli_log_prob(model(x, mask_index=k), x)
    else:
        def one_mask(x, k):
            return _gaussian_log_prob(model.likelihood, model(x, mask_index=k), x)

    def log_prob(x):
        # The masks unrolled (static slices, no TensorArray): log-mean-exp over K.
        terms = [one_mask(x, k) for k in range(count)]
        if count == 1:
            return {"log_prob": terms[0]}
        return {"log_prob": tf.reduce_logsumexp(tf.stack(terms), axis=0)
                - tf.math.log(tf.constant(count, x.dtype))}

    def reference(inputs):
        return {"log_prob": np.asarray(model.log_prob(inputs["x"]))}

    return Endpoint("log_prob", SIGNATURES["log_prob"], tf.function(log_prob),
                    (float_spec("x", (model.input_dim,)),), data_probe(model), reference)


# ---------------------------------------------------------------- sampler


def _components(model, u_mask):
    """The mask of each sample: min(floor(u_mask * K), K - 1), int32 of shape (n,)."""
    count = model.num_masks
    picks = tf.cast(tf.floor(u_mask[:, 0] * count), tf.int32)
    return tf.minimum(picks, count - 1)


def _teacher_forced(model, x, components):
    """The parameters of p(x_d | x_<d) on given x, each row under its own mask (n, P)."""
    params = model(x, mask_index=0)
    for k in range(1, model.num_masks):
        params = tf.where((components == k)[:, None], model(x, mask_index=k), params)
    return params


def _sampler(model):
    noise_name = "u" if _is_bernoulli(model) else "eps"
    names = (noise_name, "u_mask") if model.num_masks > 1 else (noise_name,)
    specs = tuple(float_spec(name, (model.input_dim if name != "u_mask" else 1,))
                  for name in names)
    masks = list(range(model.num_masks))  # static: each masked kernel stored once
    groups = made_sampling.degree_groups([variable.numpy() for variable in model.degrees],
                                         model.input_dim)

    def components_of(inputs_list, n):
        if model.num_masks == 1:
            return tf.zeros([n], tf.int32)
        return _components(model, inputs_list[1])

    def sample(*inputs):
        noise = inputs[0]
        components = components_of(inputs, tf.shape(noise)[0])
        return {"x": made_sampling.sample_from_noise(model, noise, components, masks,
                                                     True, groups)}

    # The loops are TensorFlow's own (tf.while_loop): nothing for AutoGraph to convert.
    traced = tf.function(sample, autograph=False)

    def probe(n: int, rng: np.random.Generator) -> dict:
        dims = model.input_dim
        drawn = (rng.random((n, dims)) if _is_bernoulli(model)
                 else rng.standard_normal((n, dims)))
        inputs = {noise_name: drawn.astype(np.float32)}
        if model.num_masks > 1:
            inputs["u_mask"] = rng.random((n, 1)).astype(np.float32)
        return inputs

    def reference(inputs):
        return {"x": traced(*(tf.constant(inputs[name], tf.float32) for name in names))
                ["x"].numpy()}

    def errors(inputs, outputs):
        # The model's conditionals on the file's own samples (teacher forcing): the
        # file chose right where its choice is the model's choice given its x_<d.
        x = np.asarray(outputs["x"], np.float32)
        noise = np.asarray(inputs[noise_name], np.float64)
        components = (tf.zeros([len(x)], tf.int32) if model.num_masks == 1
                      else _components(model, tf.constant(inputs["u_mask"], tf.float32)))
        params = _teacher_forced(model, tf.constant(x), components)
        if _is_bernoulli(model):
            p = tf.math.sigmoid(params).numpy().astype(np.float64)
            chosen = (noise < p).astype(np.float64)
            return {"x": np.where(x == chosen, 0.0, np.abs(noise - p))}
        normal = model.likelihood.distribution(params).distribution
        expected = (np.asarray(normal.loc, np.float64)
                    + np.asarray(normal.scale, np.float64) * noise)
        return {"x": scaled_difference(x, expected)}

    kinds = {noise_name: "uniform" if _is_bernoulli(model) else "normal"}
    if model.num_masks > 1:
        kinds["u_mask"] = "uniform"
    return Endpoint("sampler", SIGNATURES["sampler"], traced, specs, probe, reference,
                    errors=errors, noise=kinds)


def endpoint(model, part: str) -> Endpoint:
    """The ``Endpoint`` of a ``tfae.MADE``'s ``part`` (see the module docstring).

    Args:
        model: a ``tfae.MADE`` (any masks, layers, likelihood, ordering).
        part: str, one of ``PARTS``.

    Returns:
        the ``Endpoint``.

    Raises:
        ValueError: ``part`` is not one of ``PARTS``.
    """
    builders = {"conditionals": _conditionals, "log_prob": _log_prob, "sampler": _sampler}
    if part not in builders:
        raise ValueError(f"part must be one of {PARTS} for a tfae.MADE, got {part!r}.")
    return dataclasses.replace(builders[part](model), refused=_refused(model, part))


def _refused(model, part: str) -> dict:
    """The quantizations ``check_quantize`` refuses for ``part``, with their messages."""
    refused = {}
    for quantize in QUANTIZATIONS:
        try:
            check_quantize(model, part, quantize)
        except ValueError as error:
            refused[quantize] = str(error)
    return refused
