"""A killed run resumes where it stopped and ends with the weights of an uninterrupted one.

``tfae train`` saves its training state after every epoch beside the run folder
(``tfae.runs.resume``); the same command started again continues at the first
unfinished epoch. The SIGKILL test kills a real ``tfae train`` process in the middle of
an epoch (from inside, at a fixed batch, so the test does not depend on timing), starts
the same command again and compares the weights bit for bit.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import tfae
from tfae import runs
from tfae.runs import resume


def _weights(folder):
    model = keras.models.load_model(folder / "model.keras")
    return [np.asarray(variable) for variable in model.variables]


def _assert_same_weights(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ the batches' order


@pytest.mark.parametrize("binarize", [False, True])
def test_the_batches_of_an_epoch_depend_on_seed_and_epoch_alone(binarize):
    x = np.random.default_rng(0).random((20, 3)).astype("float32")
    every = [batch.numpy() for batch in tfae.datasets.epoch_batches(
        x, 8, epochs=4, seed=3, binarize=binarize)]
    resumed = [batch.numpy() for batch in tfae.datasets.epoch_batches(
        x, 8, epochs=4, seed=3, initial_epoch=2, binarize=binarize)]
    assert len(every) == 4 * 3 and [len(batch) for batch in every[:3]] == [8, 8, 4]
    for a, b in zip(every[6:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    first, second = np.concatenate(every[:3]), np.concatenate(every[3:6])
    assert not np.array_equal(first, second)  # another order (or draw) each epoch
    if binarize:
        assert set(np.unique(first)) <= {0.0, 1.0}
    else:  # each epoch visits every example once
        for epoch in (first, second):
            np.testing.assert_array_equal(np.sort(epoch[:, 0]), np.sort(x[:, 0]))


# ------------------------------------------------------------------ in one process


class _Interrupted(Exception):
    pass


@pytest.fixture
def interrupt_at_epoch(monkeypatch):
    """Makes the next run raise at the start of the given epoch (its checkpoint holds the
    epochs before)."""
    def arm(epoch):
        original = resume.CheckpointEveryEpoch.on_epoch_begin

        def on_epoch_begin(self, current, logs=None):
            if current == epoch:
                raise _Interrupted(f"interrupted at epoch {epoch}")
            original(self, current, logs)
        monkeypatch.setattr(resume.CheckpointEveryEpoch, "on_epoch_begin", on_epoch_begin)
        return lambda: monkeypatch.setattr(resume.CheckpointEveryEpoch, "on_epoch_begin",
                                           original)
    return arm


# MADE with two masks and dropout: the mask counter, the dropout's random generator,
# Adam's moments and early stopping's patience all carry over.
MADE_RUN = {"model": "made", "epochs": 4, "patience": 1, "verbose": 0, "binarize": "dynamic",
            "model_args": {"hidden_units": [24], "num_masks": 2, "dropout": 0.1}}


def test_an_interrupted_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path,
                                                                       interrupt_at_epoch):
    config = runs.TrainConfig(**MADE_RUN)
    whole = runs.train(config, tmp_path / "whole")
    disarm = interrupt_at_epoch(2)
    with pytest.raises(_Interrupted):
        runs.train(config, tmp_path / "run")
    disarm()
    checkpoint = tmp_path / ".run.resume"
    assert (checkpoint / "state.npz").is_file() and not (tmp_path / "run").exists()
    saved = json.loads(str(np.load(checkpoint / "state.npz")["meta"]))
    assert saved["epoch"] == 2 and len(saved["history"]["loss"]) == 2

    resumed = runs.train(config, tmp_path / "run")
    _assert_same_weights(_weights(whole), _weights(resumed))
    assert (json.loads((whole / "history.json").read_text())
            == json.loads((resumed / "history.json").read_text()))
    assert not checkpoint.exists()  # removed once the run folder is written


def test_a_checkpoint_of_other_settings_is_refused_unless_overwrite(tmp_path,
                                                                    interrupt_at_epoch):
    disarm = interrupt_at_epoch(1)
    with pytest.raises(_Interrupted):
        runs.train(runs.TrainConfig(**MADE_RUN), tmp_path / "run")
    disarm()
    other = runs.TrainConfig(**{**MADE_RUN, "epochs": 2, "learning_rate": 0.01})
    with pytest.raises(ValueError, match=r"settings differ \(epochs, learning_rate\).*"
                                         r"run its command again.*overwrite=True"):
        runs.train(other, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    out = runs.train(other, tmp_path / "run", overwrite=True)  # starts over
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 2
    assert not (tmp_path / ".run.resume").exists()


def test_a_damaged_checkpoint_says_how_to_start_over(tmp_path):
    folder = tmp_path / ".run.resume"
    folder.mkdir()
    (folder / "state.npz").write_bytes(b"PK\x03\x04 not a whole file")
    with pytest.raises(ValueError, match=r"state.npz is damaged.*remove .*\.run\.resume"):
        runs.train(runs.TrainConfig(**MADE_RUN), tmp_path / "run")


# ------------------------------------------------------------------ SIGKILL, the CLI

# ``tfae train`` that kills itself (SIGKILL: no cleanup of any kind) at batch 3 of the
# third epoch, after the checkpoint of the second.
_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from tfae.cli import main
    from tfae.runs import resume

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.current == 2 and batch == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    resume.CheckpointEveryEpoch.on_epoch_begin = on_epoch_begin
    resume.CheckpointEveryEpoch.on_train_batch_end = on_train_batch_end
    sys.exit(main(sys.argv[1:]))
""")

# ``tfae train`` that kills itself while it writes the run folder (at metrics.json).
_KILLED_WRITING = textwrap.dedent("""
    import os, signal, sys
    from tfae.cli import main
    from tfae.runs import commands

    write_json = commands.write_json
    def killing_write_json(path, payload):
        if path.name == "metrics.json":
            os.kill(os.getpid(), signal.SIGKILL)
        write_json(path, payload)
    commands.write_json = killing_write_json
    sys.exit(main(sys.argv[1:]))
""")

# The VAE draws z with its own random generator; dynamic binarization redraws the data.
_COMMAND = ["train", "vae", "--epochs", "4", "--patience", "2", "--binarize", "dynamic",
            "--latent-dim", "3", "--hidden-units", "16", "--importance-samples", "2",
            "--verbose", "2", "--seed", "5"]


def _tfae(arguments, script=None):
    code = script or "import sys; from tfae.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _epochs_run(output: str) -> list:
    return [int(epoch) for epoch in re.findall(r"^Epoch (\d+)/4", output, re.MULTILINE)]


def test_a_killed_tfae_train_resumes_with_the_same_command(tmp_path):
    killed = _tfae([*_COMMAND, "--out", str(tmp_path / "run")], script=_KILLED_RUN)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _epochs_run(killed.stdout) == [1, 2, 3]
    assert not (tmp_path / "run").exists()
    assert (tmp_path / ".run.resume" / "state.npz").is_file()

    # Started again, and killed again while it writes the run folder.
    again = _tfae([*_COMMAND, "--out", str(tmp_path / "run")], script=_KILLED_WRITING)
    assert again.returncode == -signal.SIGKILL, again.stderr[-2000:]
    assert _epochs_run(again.stdout) == [3, 4]  # epochs 1 and 2 are not trained again
    assert [path.name for path in tmp_path.iterdir()] == [".run.resume"]

    last = _tfae([*_COMMAND, "--out", str(tmp_path / "run")])
    assert last.returncode == 0, last.stderr[-2000:]
    assert _epochs_run(last.stdout) == []  # trained already: scored and written
    # The uninterrupted run, in this process.
    from tfae.cli import main

    assert main([*_COMMAND, "--verbose", "0", "--out", str(tmp_path / "whole")]) == 0

    _assert_same_weights(_weights(tmp_path / "whole"), _weights(tmp_path / "run"))
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text())
               for name in ("whole", "run")]
    for scores in metrics:
        scores.pop("train_seconds")
    assert metrics[0] == metrics[1]
    assert not (tmp_path / ".run.resume").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run", "whole"]
    keras.backend.clear_session()
