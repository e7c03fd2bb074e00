"""Training runs on disk: one folder per run, written whole or not at all.

A run folder holds the model (``model.keras``; a mixture's ``model.npz`` and
``pca.npz``), ``run.json`` (how the run was made: model, dataset, the settings the
model uses, seed, versions), ``history.json`` (per-epoch losses of the Keras models),
``metrics.json`` (held-out scores, in nats per example; for a VAE also the ELBO and
the importance-weighted NLL) and its figures (``reconstructions.png``,
``samples.png``). It is written in a hidden sibling folder and renamed into place at
the end, so a run that fails or is interrupted leaves nothing half-written behind.

Every kind of model has one ``ModelSpec`` (``MODELS``), through which ``train``,
``evaluate``, ``sample`` and ``export`` treat them alike. The modules, one idea each:

- ``config``: ``TrainConfig`` and ``read_config`` (``run.json``).
- ``seeding``: ``seeded``, a run's seeds and op determinism, restored afterwards.
- ``spec``, ``keras_models``, ``mixture``, ``specs``: the specs and their registry.
- ``pca``: ``PrincipalComponents``, the space of the mixture.
- ``data``, ``figures``: a run's splits and its figures.
- ``commands``: ``train``, ``evaluate``, ``sample``, ``export``, ``score``.

The command line builds its ``--help`` from ``TrainConfig`` and ``MODELS``.
"""

from tfae.choices import BINARIZATIONS
from tfae.runs.commands import EXPORT_FORMATS, evaluate, export, sample, score, train
from tfae.runs.config import TrainConfig, read_config
from tfae.runs.data import load_split
from tfae.runs.pca import PrincipalComponents
from tfae.runs.seeding import seed_everything, seeded
from tfae.runs.spec import ModelSpec
from tfae.runs.specs import MODELS

__all__ = [
    "BINARIZATIONS",
    "EXPORT_FORMATS",
    "MODELS",
    "ModelSpec",
    "PrincipalComponents",
    "TrainConfig",
    "evaluate",
    "export",
    "load_split",
    "read_config",
    "sample",
    "score",
    "seed_everything",
    "seeded",
    "train",
]
