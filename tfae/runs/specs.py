"""The kinds of model a run can train: name -> ``ModelSpec``."""

from __future__ import annotations

from tfae.runs.keras_models import AutoencoderSpec, DenoisingSpec, MADESpec, VAESpec
from tfae.runs.mixture import MixtureSpec
from tfae.runs.spec import ModelSpec

#: Model name (command line, ``run.json``) -> its spec.
MODELS = {spec.name: spec for spec in (AutoencoderSpec(), DenoisingSpec(), MADESpec(),
                                        MixtureSpec(), VAESpec())}


def get_spec(name) -> ModelSpec:
    """The spec of the model called ``name``.

    Raises:
        ValueError: no model has that name.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name]


def spec_of(model) -> ModelSpec:
    """The spec of a model's class (or of its nearest registered base class).

    Raises:
        TypeError: no run trains models of that class.
    """
    by_class = {spec.model_class: spec for spec in MODELS.values()}
    for cls in type(model).__mro__:
        if cls in by_class:
            return by_class[cls]
    raise TypeError(f"no tfae run trains a {type(model).__name__}; pass one of the models "
                    f"of tfae.runs.MODELS ({sorted(MODELS)}).")
