"""What a run needs to know about one kind of model, in one place: ``ModelSpec``.

``tfae.runs.train``, ``evaluate``, ``sample`` and ``export`` handle every kind of
model alike, through its spec: they never ask which model a run holds. A spec says
which ``TrainConfig`` fields its kind uses, and how to build, fit, score, save,
load, sample and draw the model. The command line reads the specs to build its
options and ``--help``.
"""

from __future__ import annotations

from types import MappingProxyType

from tfae.choices import BINARIZATIONS

#: ``TrainConfig`` fields that every kind of model uses; a spec's ``fields`` name the others.
COMMON_FIELDS = ("model", "dataset", "model_args", "binarize", "seed", "data_dir",
                 "deterministic")


class ModelSpec:
    """How a run handles one kind of model. Subclasses set the attributes and
    implement the methods; one instance of each is registered in
    ``tfae.runs.MODELS``.

    Attributes:
        name: str, the model's name on the command line and in ``run.json``.
        summary: str, one line saying what the model is.
        fields: tuple of the ``TrainConfig`` fields the kind uses besides
            ``COMMON_FIELDS``. A config that sets any other field to a value other
            than its default is refused, and ``run.json`` records only these.
        flatten: bool, whether the model takes flat vectors (N, D).
        binarizations: the ``TrainConfig.binarize`` values the kind accepts.
        default_args: mapping, ``TrainConfig.model_args`` when none are given
            (also the command line's defaults where the model's constructor has none).
        seed_arg: str or None, the constructor argument that seeds the model (the
            command line passes ``--seed`` to it).
        parts: tuple of the parts ``tfae.export`` can write, the default first.
        score_options: mapping, the options of ``score`` and their defaults.
        sample_options: mapping, the options of ``sample`` and their defaults.
    """

    name: str
    summary: str
    fields: tuple[str, ...] = ()
    flatten: bool = False
    binarizations: tuple[str, ...] = BINARIZATIONS
    default_args = MappingProxyType({})
    seed_arg: str | None = "seed"
    parts: tuple[str, ...] = ()
    score_options = MappingProxyType({})
    sample_options = MappingProxyType({})

    @property
    def model_class(self) -> type:
        """The class of the models this spec builds and loads."""
        raise NotImplementedError

    @property
    def constructor(self) -> type:
        """The class whose constructor ``model_args`` configure (``default_args`` may
        add the spec's own, such as a mixture's ``pca_dim``)."""
        return self.model_class

    def build(self, config, event_shape: tuple):
        """Returns an untrained model for examples of ``event_shape``."""
        raise NotImplementedError

    def fit(self, model, config, splits: dict, checkpoint=None) -> dict | None:
        """Trains ``model`` on ``splits["train"]`` (``"valid"`` may guide it); returns
        the per-epoch history to write as ``history.json``, or None. A
        ``tfae.runs.resume.Checkpoint`` lets a killed run resume (a spec whose
        training takes seconds, such as a mixture's EM, may start over instead)."""
        raise NotImplementedError

    def summary_scores(self, model, history: dict | None) -> dict:
        """What ``metrics.json`` says about the training itself (epochs, size...)."""
        raise NotImplementedError

    def run_score_options(self, config) -> dict:
        """The ``score`` options a training run uses, from its config."""
        return {}

    def score(self, model, x, x_train, seed: int = 0, **options) -> dict:
        """Scores ``model`` on ``x`` (``x_train`` for baselines), in nats per example."""
        raise NotImplementedError

    def save(self, model, folder) -> None:
        """Writes ``model`` into the run folder ``folder``."""
        raise NotImplementedError

    def load(self, folder):
        """Reads the model that ``save`` wrote into ``folder``."""
        raise NotImplementedError

    def sample(self, model, num_samples: int, seed: int, **options):
        """Returns ``num_samples`` samples of the model as a NumPy array.

        Raises:
            ValueError: the model is not generative.
        """
        raise NotImplementedError

    def exportable(self, model):
        """What ``tfae.export`` writes the ``parts`` of: the model itself by default."""
        return model

    def figures(self, model, splits: dict, folder, seed: int) -> None:
        """Writes the run's PNG figures into ``folder``."""
        raise NotImplementedError

    def check_model_args(self, model_args: dict) -> None:
        """Refuses ``model_args`` the run sets itself; nothing by default."""

    def settings(self, method: str, given: dict) -> dict:
        """The options of ``score`` or ``sample`` (``method``): the defaults, updated
        with the ``given`` ones that are not None.

        Raises:
            ValueError: a given option does not apply to this kind of model.
        """
        defaults = {"score": self.score_options, "sample": self.sample_options}[method]
        for name, value in given.items():
            if value is not None and name not in defaults:
                raise ValueError(f"{name} does not apply to {self.name} runs ({self.summary}); "
                                 "leave it out.")
        return {**defaults, **{name: value for name, value in given.items() if value is not None}}
