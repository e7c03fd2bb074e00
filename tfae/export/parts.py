"""Which parts each kind of model exports, and the ``Endpoint`` of each."""

from __future__ import annotations

from tfae.export.endpoint import Endpoint


def _kinds() -> tuple:
    """(test, model -> parts, module, what the kind is called) for each kind of
    exportable model."""
    from tfae.export import autoencoders, made, mixture

    return (
        (made.is_made, lambda model: made.PARTS, made, "a tfae.MADE"),
        (autoencoders.is_autoencoder, autoencoders.model_parts, autoencoders,
         "an autoencoder (tfae.Autoencoder, DenoisingAutoencoder, VAE)"),
        (mixture.is_mixture, lambda model: mixture.PARTS, mixture, "a tfae.GaussianMixture"),
    )


def _kind(model):
    if hasattr(model, "export_parts") and hasattr(model, "export_endpoint"):
        # A composite that describes its own parts (a run's mixture on principal
        # components, see tfae.runs.mixture).
        return model.export_parts, _Own, f"a {type(model).__name__}"
    for is_kind, parts, module, description in _kinds():
        if is_kind(model):
            return parts(model), module, description
    raise TypeError(
        "model must be a tfae model: an Autoencoder, DenoisingAutoencoder, VAE, MADE or "
        f"GaussianMixture, got {type(model).__name__}.")


class _Own:
    """The ``endpoint`` of a model that builds its own (``export_endpoint``)."""

    @staticmethod
    def endpoint(model, part: str) -> Endpoint:
        return model.export_endpoint(part)


def parts_of(model) -> tuple[str, ...]:
    """The parts ``model`` can export, e.g. ``("encoder", "decoder", "autoencoder")``
    (a ``tfae.VAE`` adds ``"sampler"``).

    Raises:
        TypeError: ``model`` is not a tfae model.
    """
    return _kind(model)[0]


def default_part(model) -> str:
    """The part written when none is named, the model's generative part: the decoder of
    an Autoencoder, a DenoisingAutoencoder or a VAE with the standard normal prior; the
    sampler of a VAE with another prior (its decoder fed N(0, I) would not sample the
    model), of a MADE and of a mixture.

    Raises:
        TypeError: ``model`` is not a tfae model.
    """
    parts, module, _ = _kind(model)
    if hasattr(module, "default_part"):
        return module.default_part(model)
    return "decoder" if "decoder" in parts else "sampler"


def endpoint_of(model, part: str | None) -> Endpoint:
    """The ``Endpoint`` of ``model``'s ``part`` (None: ``default_part``).

    Raises:
        TypeError: ``model`` is not a tfae model.
        ValueError: ``model`` has no such part.
    """
    parts, module, description = _kind(model)
    if part is None:
        part = default_part(model)
    if not isinstance(part, str) or part not in parts:
        raise ValueError(f"part must be one of {parts} for {description}, got {part!r}.")
    return module.endpoint(model, part)
