"""The exportable parts of an autoencoder (``Autoencoder``, ``DenoisingAutoencoder``, ``VAE``).

- ``"encoder"``: ``encode(x) -> {"h": f(x)}``; for a ``tfae.VAE``,
  ``encode(x) -> {"h": E[z | x], "scale": the standard deviations of q(z | x)}``.
- ``"decoder"``: ``decode(h) -> {"mean": E[x | h], "params": g(h)}``, the mean of
  p(x | h) (an image) and the raw decoder outputs (logits, or loc and scale), so
  that an app can draw or sample without TFP. A VAE's decoder is its generative
  model: feed it z ~ p(z), N(0, I) for the standard normal prior (with another prior,
  such as a learned one, draw z from ``model.prior`` instead).
- ``"autoencoder"``: ``reconstruct(x) -> {"mean": g(f(x))}`` (for a VAE, the mean of
  p(x | z) at z = E[z | x], or with a posterior flow at the posterior's center).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfae.choices import SIGNATURES
from tfae.export.endpoint import Endpoint, as_numpy, data_probe, float_spec

PARTS = ("encoder", "decoder", "autoencoder")


def is_autoencoder(model) -> bool:
    return all(hasattr(model, name) for name in ("encoder", "decoder", "latent_dim",
                                                  "event_shape", "likelihood"))


def _code_probe(model):
    def probe(n: int, rng: np.random.Generator) -> dict:
        return {"h": rng.standard_normal((n, model.latent_dim)).astype(np.float32)}
    return probe


def endpoint(model, part: str) -> Endpoint:
    """The ``Endpoint`` of an autoencoder's ``part`` (see the module docstring)."""
    is_vae = hasattr(model, "posterior_parameters")
    x_spec = float_spec("x", model.event_shape)
    if part == "decoder":
        def decode(h):
            params = model.decoder(h)
            return {"mean": model.likelihood.distribution(params).mean(), "params": params}

        def reference(inputs):
            return {"mean": model.decode(inputs["h"]).mean(),
                    "params": model.decoder(inputs["h"])}

        return Endpoint(part, SIGNATURES[part], tf.function(decode),
                        (float_spec("h", (model.latent_dim,)),), _code_probe(model),
                        lambda inputs: as_numpy(reference(inputs)), noise={"h": "normal"})
    if part == "encoder" and getattr(model, "posterior_flow", None) is not None:
        raise ValueError(
            "this VAE's q(z|x) has a posterior flow: it is no Gaussian N(h, diag scale^2) "
            "that an encoder file could return; export the 'autoencoder' (reconstructions "
            "at the posterior's center) or the 'decoder'.")
    if part == "encoder" and is_vae:  # q(z | x) = N(h, diag(scale^2))
        def encode(x):
            loc, scale = model.posterior_parameters(x)
            return {"h": loc, "scale": scale}

        def reference(inputs):
            posterior = model.encode(inputs["x"])
            return {"h": posterior.mean(), "scale": posterior.stddev()}
    elif part == "encoder":
        def encode(x):
            return {"h": model.encoder(x)}

        def reference(inputs):
            return {"h": model.encode(inputs["x"])}
    else:
        def encode(x):
            return {"mean": model.reconstruct(x)}

        def reference(inputs):
            return {"mean": model.reconstruct(inputs["x"])}
    return Endpoint(part, SIGNATURES[part], tf.function(encode), (x_spec,),
                    data_probe(model), lambda inputs: as_numpy(reference(inputs)))
