"""Deployment: every tfae model as a verified LiteRT (``.tflite``) file or SavedModel.

A phone needs neither Keras nor TFP: it needs a function from tensors to tensors.
``tflite(model, path, part=...)`` and ``saved_model(model, path, part=...)`` write one
part of a model with one signature, float32 inputs and outputs with a dynamic batch
axis, builtin LiteRT ops only; they run the written file on probe batches, compare it
with the model and return an ``ExportReport`` (size, error, signature).

| model | part | signature | inputs -> outputs |
|---|---|---|---|
| Autoencoder, DAE, VAE | ``encoder`` | ``encode`` | x -> h (a VAE: h, scale of q(z given x)) |
| | ``decoder`` | ``decode`` | h -> mean (of p(x given h)), params = g(h) |
| | ``autoencoder`` | ``reconstruct`` | x -> mean = g(f(x)) |
| VAE | ``sampler`` | ``sample`` | u (uniform), eps (normal) -> mean, params, z ~ p(z) |
| MADE | ``conditionals`` | ``conditionals`` | x -> params, mean of each p(x_d given x_<d) |
| | ``log_prob`` | ``log_prob`` | x -> log_prob = log p(x) (the ensemble) |
| | ``sampler`` | ``sample`` | u (uniform) or eps (normal) [, u_mask] -> x |
| GaussianMixture | ``log_prob`` | ``log_prob`` | x -> log_prob = log p(x) |
| | ``sampler`` | ``sample`` | u (uniform), eps (normal) -> x, z |

A VAE's decoder is its generative model when fed z ~ p(z): for the standard normal prior
the decoder is the default part (feed it h ~ N(0, I)); for another prior (a mixture of
diagonal Gaussians, learned or fixed) the default is the ``sampler``, whose file draws
z = mu_k + sigma_k eps with the component k chosen by u. MADE's sampler runs the
whole ancestral loop in the file: x_d = [u_d < p(x_d = 1 | x_<d)], the same sample as
the Keras model for the same noise. Noise inputs are named ``u``/``u_*`` (uniform on
[0, 1)) or ``h``/``eps`` (standard normal): ``export/run_litert.py --samples N``
draws them on the device side.

Files are written under a hidden name and renamed into place once verified, so a
failed export leaves nothing; files and folders get the user's umask.
"""

from tfae.choices import QUANTIZATIONS, SIGNATURES
from tfae.export.endpoint import Endpoint
from tfae.export.parts import default_part, endpoint_of, parts_of
from tfae.export.report import ExportReport
from tfae.export.writing import TOLERANCES, ExportVerificationError, saved_model, tflite


def signature_name(part: str) -> str:
    """The name of the signature an exported ``part`` serves (``encode``, ``sample``...)."""
    if part not in SIGNATURES:
        raise ValueError(f"part must be one of {tuple(SIGNATURES)}, got {part!r}.")
    return SIGNATURES[part]


__all__ = [
    "QUANTIZATIONS",
    "TOLERANCES",
    "Endpoint",
    "ExportReport",
    "ExportVerificationError",
    "default_part",
    "endpoint_of",
    "parts_of",
    "saved_model",
    "signature_name",
    "tflite",
]
