"""What defines a training run (``TrainConfig``), and its record ``run.json``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tfae import _checks
from tfae.choices import STRATEGIES
from tfae.runs.spec import COMMON_FIELDS
from tfae.runs.specs import get_spec

#: Keras' progress displays (``fit(verbose=...)``).
VERBOSITIES = ("auto", 0, 1, 2)


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``).

    Each kind of model uses the fields of ``COMMON_FIELDS`` and those its spec
    names (``tfae.runs.MODELS[model].fields``); a field it does not use must keep
    its default (``epochs`` means nothing to a mixture fitted by EM), and
    ``run.json`` records only the fields used.

    Args:
        model: str, the model to train, a key of ``MODELS`` (``"ae"``, ``"dae"``,
            ``"made"``, ``"vae"``, ``"gmm"``).
        dataset: str, a name known to ``tfae.datasets.load`` or a ``.npz`` path.
        model_args: dict or None, the model's constructor arguments besides the
            example shape, e.g. ``{"latent_dim": 16, "hidden_units": [256, 128]}``.
            None takes the spec's ``default_args``.
        epochs: int, the maximum number of epochs.
        batch_size: int, examples per gradient step.
        learning_rate: float, Adam's step size.
        binarize: str, one of ``BINARIZATIONS``: ``"dynamic"`` redraws a
            binarization of the training set every epoch; held-out splits then
            get one fixed stochastic binarization.
        patience: int or None, epochs without validation improvement before
            stopping (the best weights are restored); None trains all epochs.
        seed: int or None, seeds the run (see ``tfae.runs.seeded``); None draws one
            from NumPy's global generator, and ``run.json`` records it.
        data_dir: str or None, the tensorflow-datasets data folder.
        verbose: int or str, Keras' progress display (``"auto"``, 0, 1, 2).
        importance_samples: int, VAE runs only: the importance samples k of the
            test and validation NLL estimates written to ``metrics.json``.
        steps_per_execution: int, training steps per compiled call (Keras'
            ``compile(steps_per_execution=...)``): fewer round trips from Python,
            faster epochs for small networks; callbacks still run once per epoch.
        deterministic: bool, run with TensorFlow's op determinism on (for the run
            only, see ``tfae.runs.seeded``); Keras then cannot compile with XLA.
        jit_compile: bool, compile the training steps with XLA (Keras'
            ``compile(jit_compile=...)``; for a mixture, its EM steps). With
            ``steps_per_execution=50`` and ``model_args={"mask_op": "select"}``, the
            fastest MADE setting of ``docs/benchmarks.md``.
        strategy: str, one of ``STRATEGIES``, where the Keras models train
            (``tfae.runs.distribution``): ``"default"`` (one device),
            ``"mirrored"`` (every local GPU, or the CPU) or ``"multiworker"`` (the
            workers of ``TF_CONFIG``). ``batch_size`` is the global batch size.

    Raises:
        ValueError: an unknown model or binarization, a bad value, a field the
            model does not use set to a value other than its default, or
            ``deterministic`` together with ``jit_compile``.
        TypeError: a value of the wrong type.

    Examples:
        >>> config = TrainConfig(model="gmm", model_args={"n_components": 3, "pca_dim": 5})
        >>> sorted(config.record())[:4]
        ['binarize', 'data_dir', 'dataset', 'deterministic']
        >>> TrainConfig(model="gmm", epochs=5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: epochs does not apply to gmm runs (...); leave it at its default 50.
    """

    model: str = "ae"
    dataset: str = "digits"
    model_args: dict | None = None
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    binarize: str = "threshold"
    patience: int | None = 10
    seed: int | None = 0
    data_dir: str | None = None
    verbose: int | str = "auto"
    importance_samples: int = 100
    steps_per_execution: int = 1
    deterministic: bool = False
    jit_compile: bool = False
    strategy: str = "default"

    def __post_init__(self):
        spec = get_spec(self.model)
        self._check_unused_fields(spec)
        if self.model_args is None:
            self.model_args = dict(spec.default_args)
        if not isinstance(self.model_args, dict):
            raise TypeError(f"model_args must be a dict of the model's constructor arguments, "
                            f"got {self.model_args!r}.")
        spec.check_model_args(self.model_args)
        if self.binarize not in spec.binarizations:
            raise ValueError(f"binarize must be one of {spec.binarizations} for {self.model} "
                             f"runs, got {self.binarize!r}.")
        self.seed = _checks.resolve_seed(self.seed, "seed")
        for name in ("epochs", "batch_size", "importance_samples", "steps_per_execution"):
            _checks.check_positive_int(getattr(self, name), name)
        _checks.check_number(self.learning_rate, "learning_rate", strict=True)
        if self.patience is not None:
            _checks.check_positive_int(self.patience, "patience")
        if self.verbose not in VERBOSITIES:
            raise ValueError(f"verbose must be one of {VERBOSITIES}, got {self.verbose!r}.")
        self.deterministic = _checks.check_bool(self.deterministic, "deterministic")
        self.jit_compile = _checks.check_bool(self.jit_compile, "jit_compile")
        if self.deterministic and self.jit_compile:
            raise ValueError("deterministic and jit_compile cannot both be on: Keras turns XLA "
                             "off while TensorFlow's op determinism is on; drop one of "
                             "--deterministic and --jit-compile.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}.")
        dataset_path = Path(self.dataset)
        if dataset_path.suffix == ".npz":  # so that `tfae evaluate` finds it from anywhere
            self.dataset = str(dataset_path.resolve())

    def _check_unused_fields(self, spec) -> None:
        used = set(COMMON_FIELDS) | set(spec.fields)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name not in used and value != field.default:
                raise ValueError(f"{field.name} does not apply to {spec.name} runs "
                                 f"({spec.summary}); leave it at its default {field.default!r}.")

    def record(self) -> dict:
        """The fields the model uses, as ``run.json`` records them."""
        used = set(COMMON_FIELDS) | set(get_spec(self.model).fields)
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name in used}


def read_config(run_dir) -> TrainConfig:
    """Returns the TrainConfig saved in a run folder.

    Raises:
        ValueError: ``run_dir`` holds no ``run.json``.
    """
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a tfae run folder (no run.json); pass the --out "
                         "folder of `tfae train`.")
    saved = json.loads(path.read_text())
    used = set(COMMON_FIELDS) | set(get_spec(saved.get("model")).fields)
    return TrainConfig(**{key: value for key, value in saved.items() if key in used})

