"""The `tfae` command: demo, train, evaluate, help, run folders written whole or not at all."""

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tfae.cli import main

SMALL = ["--epochs", "2", "--latent-dim", "4", "--hidden-units", "16", "--verbose", "0"]


def _train(out, *extra, model="ae"):
    return main(["train", model, "--out", str(out), *SMALL, *extra])


def _error_line(capsys, prog: str) -> str:
    """The message of the one line a failed command printed: ``PROG: error: MESSAGE``."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), err
    return lines[0].removeprefix(f"{prog}: error: ")


#: Tiny runs of every kind of model, one epoch each (shared by the module's tests).
TINY = {
    "ae": ["--epochs", "1", "--latent-dim", "2", "--hidden-units", "8", "--verbose", "0"],
    "dae": ["--epochs", "1", "--latent-dim", "2", "--hidden-units", "8", "--verbose", "0"],
    "made": ["--epochs", "1", "--hidden-units", "16", "--direct-connection", "--verbose", "0"],
    "gmm": ["--components", "2", "--pca-dim", "3", "--max-iter", "20", "--tol", "1"],
    "vae": ["--epochs", "1", "--latent-dim", "2", "--hidden-units", "8", "--verbose", "0",
            "--importance-samples", "2"],
}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Model kind -> the folder of a tiny run of it, written by `tfae train`."""
    root = tmp_path_factory.mktemp("runs")
    for model, options in TINY.items():
        assert main(["train", model, "--out", str(root / model), *options]) == 0
    return {model: root / model for model in TINY}


def test_demo_beats_the_per_pixel_mean_model_on_held_out_digits(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert {"model.keras", "metrics.json", "reconstructions.png", "samples.png", "run.json",
            "history.json", "decoder.tflite", "device-samples.png"} <= {
        path.name for path in run.iterdir()}
    # The device side: the LiteRT decoder, sampled by the TensorFlow-free runner.
    png = (run / "device-samples.png").read_bytes()
    assert png.startswith(b"\x89PNG")  # 20 8x8 samples, 10 a row, 1-pixel gaps
    assert struct.unpack(">II", png[16:24]) == (10 * 9 - 1, 2 * 9 - 1)
    assert json.loads((run / "run.json").read_text())["model"] == "vae"
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["examples"] == 360
    # A generative model's -log p(x), estimated with importance sampling, well below the
    # independent-pixels model's; the ELBO below the (tighter) importance-weighted bound.
    assert test["iw_nll"] < 0.85 * test["pixel_mean_nll"]
    assert test["elbo"] <= -test["iw_nll"]
    assert test["reconstruction_nll"] + test["kl"] == pytest.approx(-test["elbo"], abs=0.5)
    printed = capsys.readouterr().out
    assert str(run.resolve()) in printed and f"{test['pixel_mean_nll']:.2f}" in printed


def test_train_then_evaluate_reports_the_same_test_nll(tiny_runs, capsys):
    out = tiny_runs["ae"]
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "metrics.json").read_text())["test"]
    assert printed["reconstruction_nll"] == pytest.approx(saved["reconstruction_nll"], rel=1e-6)
    assert printed["pixel_mean_nll"] == pytest.approx(saved["pixel_mean_nll"], rel=1e-9)
    assert main(["evaluate", str(out), "--importance-samples", "5"]) == 2  # a VAE option
    assert "importance_samples does not apply to ae runs" in capsys.readouterr().err


def test_the_same_seed_gives_the_same_run(tmp_path):
    for name in ("a", "b"):
        assert _train(tmp_path / name, "--seed", "3") == 0
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("a", "b"))
    assert a["test"]["reconstruction_nll"] == b["test"]["reconstruction_nll"]
    assert json.loads((tmp_path / "a" / "history.json").read_text()) == json.loads(
        (tmp_path / "b" / "history.json").read_text())


def test_trains_on_an_npz_path_with_dynamic_binarization(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, **{key: rng.uniform(size=(n, 36)).astype("float32")
                      for key, n in (("train_data", 64), ("valid_data", 16), ("test_data", 16))})
    out = tmp_path / "run"
    assert _train(out, "--dataset", str(path), "--binarize", "dynamic") == 0
    config = json.loads((out / "run.json").read_text())
    assert config["dataset"] == str(path.resolve()) and config["event_shape"] == [36]


def test_an_existing_run_folder_is_not_overwritten_without_asking(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert _train(out) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert _train(out, "--overwrite") == 0
    assert not (out / "keep.txt").exists() and (out / "model.keras").exists()


def test_a_mirrored_run_trains_on_the_local_devices_and_says_so(tmp_path):
    assert _train(tmp_path / "run", "--strategy", "mirrored") == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["strategy"] == "mirrored"


def test_a_failed_run_leaves_no_run_folder_only_its_training_state(tmp_path, monkeypatch,
                                                                   capsys):
    def broken_save(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "run"))

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save", broken_save)
        assert _train(tmp_path / "run") == 2
    state = tmp_path / ".run.resume"
    assert _error_line(capsys, "tfae train ae") == (
        f"No space left on device: {tmp_path / 'run'}; {state} keeps the training state: "
        "the same command resumes the run")
    assert [path.name for path in tmp_path.iterdir()] == [".run.resume"]
    assert _train(tmp_path / "run") == 0  # nothing left to train: scored and written
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("argv, message", [
    (["train", "ae", "--out", "x", "--dataset", "cifar"], "digits"),
    (["evaluate", "nowhere"], "run.json"),
    (["train", "ae", "--out", "x", "--steps-per-execution", "0"], "--steps-per-execution"),
    (["train", "vae", "--out", "x", "--activation", "wiggle"], "Unknown activation 'wiggle'"),
    (["train", "made", "--out", "x", "--deterministic", "--jit-compile"], "cannot both be on"),
    (["train", "ae", "--out", "x", "--strategy", "multiworker"],
     "reads the cluster from the TF_CONFIG environment variable, which is not set"),
    (["train", "gmm", "--out", "x", "--strategy", "mirrored"], "unrecognized arguments"),
])
def test_bad_input_exits_with_a_clear_message(tmp_path, capsys, argv, message):
    assert main([arg.replace("x", str(tmp_path / "x")) if arg == "x" else arg
                 for arg in argv]) == 2
    assert message in capsys.readouterr().err


def test_train_a_denoising_autoencoder_and_sample_its_chain(tmp_path, capsys):
    out = tmp_path / "dae"
    assert _train(out, "--walkback-steps", "1", "--noise-level", "0.3", model="dae") == 0
    config = json.loads((out / "run.json").read_text())
    assert config["model_args"]["corruption"] == ["salt_and_pepper", 0.3]
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert {"denoising_nll", "walkback_nll"} <= set(test)
    assert main(["sample", str(out), "--num", "6", "--steps", "5", "--seed", "2"]) == 0
    samples = np.load(out / "samples-seed2.npy")
    assert samples.shape == (6, 8, 8, 1) and set(np.unique(samples)) <= {0.0, 1.0}
    assert (out / "samples-seed2.png").stat().st_size > 0
    assert main(["sample", str(out), "--num", "6", "--steps", "5", "--seed", "2",
                 "--out", str(tmp_path / "again.png")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), samples)
    # The same file again: refused unless asked for, never silently replaced.
    again = ["sample", str(out), "--num", "3", "--steps", "5", "--seed", "2"]
    assert main(again) == 2
    assert "already exists" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(out / "samples-seed2.npy"), samples)
    assert main([*again, "--overwrite"]) == 0
    assert np.load(out / "samples-seed2.npy").shape[0] == 3


@pytest.mark.parametrize("command", [[], ["train"], ["train", "ae"], ["train", "dae"],
                                     ["train", "made"], ["train", "gmm"], ["train", "vae"],
                                     ["evaluate"], ["sample"], ["export"], ["demo"]])
def test_every_command_has_help(command, capsys):
    assert main([*command, "--help"]) == 0
    assert "usage: tfae" in capsys.readouterr().out


def test_a_model_parser_offers_only_the_settings_its_model_uses(capsys):
    assert main(["train", "gmm", "--out", "x", "--epochs", "3"]) == 2  # EM has no epochs
    assert "unrecognized arguments: --epochs 3" in capsys.readouterr().err


def test_the_console_entry_point_is_installed():
    tfae = Path(sys.executable).parent / "tfae"
    result = subprocess.run([str(tfae), "train", "ae", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--dataset" in result.stdout


def test_train_made_and_sample_beside_nearest_training_examples(tmp_path):
    out = tmp_path / "made"
    assert main(["train", "made", "--out", str(out), "--epochs", "40", "--hidden-units", "64",
                 "--num-masks", "2", "--ordering", "random", "--learning-rate", "0.01",
                 "--dropout", "0.1", "--steps-per-execution", "8", "--verbose", "0"]) == 0
    config = json.loads((out / "run.json").read_text())
    assert config["model_args"]["dropout"] == 0.1 and config["steps_per_execution"] == 8
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert test["nll"] < test["pixel_mean_nll"]  # an exact NLL below the independent model's
    assert (out / "samples.png").exists()
    assert main(["sample", str(out), "--num", "4", "--seed", "1"]) == 0
    samples = np.load(out / "samples-seed1.npy")
    assert samples.shape == (4, 64) and set(np.unique(samples)) <= {0.0, 1.0}
    assert main(["export", str(out), "--part", "log_prob"]) == 0  # log p(x) on the device


def test_train_made_with_xla_in_the_fastest_measured_setting(tmp_path):
    out = tmp_path / "made"
    assert main(["train", "made", "--out", str(out), "--epochs", "1", "--hidden-units", "32",
                 "--jit-compile", "--steps-per-execution", "50", "--verbose", "0"]) == 0
    config = json.loads((out / "run.json").read_text())
    assert config["jit_compile"] is True and config["deterministic"] is False
    assert config["model_args"]["mask_op"] == "select" and config["steps_per_execution"] == 50
    assert keras.models.load_model(out / "model.keras").jit_compile is True


def test_train_gmm_evaluate_and_sample(tmp_path, capsys):
    out = tmp_path / "gmm"
    assert main(["train", "gmm", "--out", str(out), "--components", "3", "--pca-dim", "5",
                 "--covariance-type", "diag", "--binarize", "none"]) == 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["em_iterations"] >= 1 and np.isfinite(saved["test"]["pca_log_likelihood"])
    config = json.loads((out / "run.json").read_text())
    assert not {"epochs", "batch_size", "learning_rate", "patience"} & set(config)
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["pca_log_likelihood"] == pytest.approx(
        saved["test"]["pca_log_likelihood"], rel=1e-9)
    assert main(["sample", str(out), "--num", "5", "--seed", "3"]) == 0
    samples = np.load(out / "samples-seed3.npy")
    assert samples.shape == (5, 64)
    assert main(["sample", str(out), "--num", "5", "--seed", "3", "--out",
                 str(tmp_path / "again.png")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), samples)
    assert main(["export", str(out), "--part", "log_prob"]) == 0  # log p(z) on the device


def test_train_vae_evaluate_with_importance_sampling_and_sample(tmp_path, capsys):
    out = tmp_path / "vae"
    assert _train(out, "--beta", "1", "--kl", "monte_carlo", "--importance-samples", "20",
                  "--activation", "glu", model="vae") == 0
    config = json.loads((out / "run.json").read_text())
    assert config["model_args"]["kl"] == "monte_carlo" and config["importance_samples"] == 20
    assert config["model_args"]["activation"] == "glu"
    assert keras.models.load_model(out / "model.keras").encoder.get_layer("dense_0_gate")
    saved = json.loads((out / "metrics.json").read_text())["test"]
    assert saved["importance_samples"] == 20
    assert {"reconstruction_nll", "kl", "elbo", "iw_nll"} <= set(saved)
    assert (out / "samples.png").exists() and (out / "reconstructions.png").exists()
    capsys.readouterr()
    assert main(["evaluate", str(out), "--importance-samples", "200"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["importance_samples"] == 200
    assert printed["elbo"] == pytest.approx(saved["elbo"], rel=1e-6)  # seeded
    # More importance samples: a tighter bound (up to Monte Carlo noise).
    assert printed["elbo"] <= -printed["iw_nll"] and printed["iw_nll"] < saved["iw_nll"] + 0.05
    assert main(["evaluate", str(out), "--importance-samples", "0"]) == 2
    assert "--importance-samples: must be >= 1" in capsys.readouterr().err
    assert main(["sample", str(out), "--num", "5", "--seed", "4"]) == 0
    samples = np.load(out / "samples-seed4.npy")
    assert samples.shape == (5, 8, 8, 1) and set(np.unique(samples)) <= {0.0, 1.0}


def test_a_vae_run_that_produces_nan_writes_nothing(tmp_path, monkeypatch, capsys):
    import tfae

    loss_terms = tfae.VAE.loss_terms

    def poisoned(self, x, training=False):
        return {name: value * np.nan for name, value in loss_terms(self, x, training).items()}

    monkeypatch.setattr(tfae.VAE, "loss_terms", poisoned)
    assert _train(tmp_path / "vae", model="vae") == 2
    assert "non-finite loss" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ refused at parse time

BAD_VALUES = [  # (model, flag, value, message)
    ("ae", "--epochs", "0", "must be >= 1, got 0"),
    ("ae", "--epochs", "1.5", "expected an integer, got '1.5'"),
    ("ae", "--batch-size", "-3", "must be >= 1, got -3"),
    ("ae", "--learning-rate", "0", "must be a finite number > 0"),
    ("vae", "--learning-rate", "nan", "must be a finite number > 0"),
    ("ae", "--learning-rate", "fast", "expected a number, got 'fast'"),
    ("dae", "--patience", "-1", "must be >= 0 (0 trains all epochs), got -1"),
    ("ae", "--verbose", "3", "must be one of ('auto', 0, 1, 2), got 3"),
    ("made", "--verbose", "loud", "must be one of ('auto', 0, 1, 2), got 'loud'"),
    ("ae", "--steps-per-execution", "0", "must be >= 1, got 0"),
    ("ae", "--seed", "-1", "must be >= 0, got -1"),
    ("vae", "--seed", str(2**31), "must be <= 2**31 - 1"),
    ("gmm", "--seed", str(2**31), "must be <= 2**31 - 1"),
    ("ae", "--latent-dim", "0", "must be >= 1, got 0"),
    ("vae", "--latent-dim", "-2", "must be >= 1, got -2"),
    ("ae", "--hidden-units", "8,0", "each entry of hidden_units must be >= 1, got 0"),
    ("vae", "--hidden-units", "8;4", "expected comma-separated integers"),
    ("made", "--hidden-units", "", "is empty"),
    ("ae", "--activation", "wiggle", "Unknown activation 'wiggle'"),
    ("dae", "--walkback-steps", "-1", "must be >= 0, got -1"),
    ("dae", "--walkback-probability", "2", "must be a probability in [0, 1], got 2.0"),
    ("made", "--num-masks", "0", "must be >= 1, got 0"),
    ("made", "--dropout", "1", "must be in [0, 1)"),
    ("vae", "--beta", "-1", "must be a finite number >= 0"),
    ("vae", "--importance-samples", "0", "must be >= 1, got 0"),
    ("gmm", "--components", "0", "must be >= 1, got 0"),
    ("gmm", "--pca-dim", "0", "must be >= 1, got 0"),
    ("gmm", "--max-iter", "0", "must be >= 1, got 0"),
    ("gmm", "--tol", "-1", "must be a finite number >= 0"),
    ("gmm", "--covariance-type", "round", "invalid choice: 'round'"),
    ("ae", "--binarize", "half", "invalid choice: 'half'"),
]


@pytest.mark.parametrize("model, flag, value, message", BAD_VALUES)
def test_a_bad_value_is_refused_in_one_line_before_anything_runs(
        tmp_path, capsys, monkeypatch, model, flag, value, message):
    monkeypatch.setattr("tfae.runs.train", None)  # never reached
    out = tmp_path / "a" / "run"
    assert main(["train", model, "--out", str(out), flag, value]) == 2
    line = _error_line(capsys, f"tfae train {model}")
    assert line.startswith(f"argument {flag}: ") and message in line
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("argv, message", [
    (["dae", "--noise-level", "1.5", "--out", "OUT"],
     "must be a probability in [0, 1], got 1.5"),
    (["dae", "--corruption", "gaussian", "--noise-level", "-0.1", "--out", "OUT"],
     "must be a finite number >= 0, got -0.1"),
    (["ae", "--dataset", "cifar", "--out", "OUT"], "argument --dataset: Unknown dataset"),
    (["made", "--deterministic", "--jit-compile", "--out", "OUT"], "cannot both be on"),
    (["vae"], "the following arguments are required: --out"),
])
def test_options_that_do_not_go_together_are_refused_before_anything_runs(
        tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr("tfae.runs.train", None)  # never reached
    out = str(tmp_path / "a" / "run")
    assert main(["train", *[out if arg == "OUT" else arg for arg in argv]]) == 2
    line = _error_line(capsys, f"tfae train {argv[0]}")
    flag = {"dae": "--noise-level", "ae": "--dataset"}.get(argv[0])
    assert message in line and line.startswith(f"argument {flag}: " if flag else "")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "RUN", "--importance-samples", "0"], "argument --importance-samples: must "
                                                       "be >= 1, got 0"),
    (["evaluate", "RUN", "--split", "dev"], "argument --split: invalid choice: 'dev'"),
    (["sample", "RUN", "--num", "0"], "argument --num: must be >= 1, got 0"),
    (["sample", "RUN", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
    (["sample", "RUN", "--seed", "-2"], "argument --seed: must be >= 0, got -2"),
    (["export", "RUN", "--part", "nonsense"], "argument --part: invalid choice: 'nonsense'"),
    (["export", "RUN", "--format", "onnx"], "argument --format: invalid choice: 'onnx'"),
    (["demo", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["demo", "--seed", "x"], "argument --seed: expected an integer, got 'x'"),
])
def test_every_command_refuses_bad_values_in_one_line(tmp_path, capsys, argv, message):
    assert main([str(tmp_path) if arg == "RUN" else arg for arg in argv]) == 2
    assert _error_line(capsys, f"tfae {argv[0]}").startswith(message)


# ------------------------------------------------------------------ every command, every run


@pytest.mark.parametrize("model", sorted(TINY))
def test_evaluate_works_on_every_kind_of_run(tiny_runs, capsys, model):
    capsys.readouterr()
    options = ["--importance-samples", "2"] if model == "vae" else []  # as the run's
    assert main(["evaluate", str(tiny_runs[model]), "--split", "valid", *options]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tiny_runs[model] / "metrics.json").read_text())["valid"]
    assert printed["examples"] == saved["examples"] == 180
    scores = [name for name, value in saved.items() if isinstance(value, float)]
    assert scores and all(printed[name] == pytest.approx(saved[name], rel=1e-5)
                          for name in scores)


@pytest.mark.parametrize("model", sorted(TINY))
def test_sample_works_on_every_generative_run(tiny_runs, tmp_path, capsys, model):
    out = tmp_path / "samples.png"
    status = main(["sample", str(tiny_runs[model]), "--num", "3", "--out", str(out)])
    if model == "ae":
        assert status == 2
        assert "not a generative model" in _error_line(capsys, "tfae sample")
        assert list(tmp_path.iterdir()) == []
    else:
        assert status == 0 and np.load(tmp_path / "samples.npy").shape[0] == 3


@pytest.mark.parametrize("model, part, format, quantize", [
    ("ae", "encoder", "tflite", "int8"), ("dae", "autoencoder", "saved_model", None),
    ("vae", None, "tflite", "float16"), ("made", None, "tflite", None),
    ("made", "log_prob", "saved_model", None), ("gmm", None, "tflite", None),
    ("gmm", "log_prob", "tflite", "float16")])
def test_export_works_on_every_kind_of_run_and_prints_the_report(
        tiny_runs, tmp_path, capsys, model, part, format, quantize):
    out = tmp_path / ("part.tflite" if format == "tflite" else "part")
    options = [*(["--part", part] if part else []), *(["--quantize", quantize] if quantize else [])]
    capsys.readouterr()
    assert main(["export", str(tiny_runs[model]), "--format", format, "--out", str(out),
                 *options]) == 0
    printed = capsys.readouterr().out
    expected = part or {"vae": "decoder"}.get(model, "sampler")
    assert f"part                {expected}, signature" in printed
    assert ("reported only" if quantize == "int8" else "verified") in printed
    assert out.exists()


@pytest.mark.parametrize("model, part, message", [
    ("ae", "sampler", "ae runs have no part 'sampler' to export; choose one of ('decoder', "
                      "'encoder', 'autoencoder')."),
    ("made", "decoder", "made runs have no part 'decoder' to export; choose one of "
                        "('sampler', 'conditionals', 'log_prob')."),
    ("gmm", "encoder", "gmm runs have no part 'encoder' to export; choose one of ('sampler', "
                       "'log_prob')."),
])
def test_export_refuses_a_part_the_run_has_not(tiny_runs, tmp_path, capsys, model, part, message):
    out = tmp_path / "part.tflite"
    assert main(["export", str(tiny_runs[model]), "--part", part, "--out", str(out)]) == 2
    assert _error_line(capsys, "tfae export") == message
    assert not out.exists()


def test_run_folders_and_exports_get_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        assert _train(tmp_path / "run") == 0
        assert main(["export", str(tmp_path / "run"), "--format", "saved_model"]) == 0
    finally:
        os.umask(previous)
    for path in (tmp_path / "run").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() else 0o640), (path, oct(mode))


def test_export_refuses_to_replace_a_file_or_the_run_itself(tiny_runs, tmp_path, capsys):
    run = tiny_runs["ae"]
    out = tmp_path / "decoder.tflite"
    out.write_text("mine")
    assert main(["export", str(run), "--out", str(out)]) == 2
    assert "already exists" in _error_line(capsys, "tfae export")
    assert out.read_text() == "mine"
    for parent in (run, run.parent):
        assert main(["export", str(run), "--format", "saved_model", "--out", str(parent)]) == 2
        assert "would replace the run" in _error_line(capsys, "tfae export")
        assert (run / "model.keras").exists()
    assert main(["export", str(run), "--format", "saved_model", "--quantize", "float16"]) == 2
    assert "applies to format 'tflite' only" in _error_line(capsys, "tfae export")
    assert main(["export", str(run), "--out", str(out), "--overwrite"]) == 0
    assert out.stat().st_size > 4
    # A quantized file does not take the float32 file's default name.
    assert main(["export", str(run), "--quantize", "float16"]) == 0
    assert (run / "decoder-float16.tflite").is_file()
    (run / "decoder-float16.tflite").unlink()


@pytest.fixture
def damaged_runs(tiny_runs, tmp_path):
    """Copies of tiny runs, each damaged in one way: name -> (folder, what the message says)."""
    def copy(model, name):
        shutil.copytree(tiny_runs[model], tmp_path / name)
        return tmp_path / name

    runs = {}
    (copy("vae", "bad-json") / "run.json").write_text("{not json")
    runs["bad-json"] = "is not the record of a tfae run"
    (copy("dae", "list-json") / "run.json").write_text("[1, 2]")
    runs["list-json"] = "is not the record of a tfae run"
    path = copy("vae", "bad-field") / "run.json"
    path.write_text(path.read_text().replace('"epochs": 1', '"epochs": "one"'))
    runs["bad-field"] = "epochs must be an integer"
    (copy("vae", "bad-model") / "model.keras").write_bytes(b"not a zip file")
    runs["bad-model"] = "is not a .keras file (not a zip archive"
    (copy("dae", "no-model") / "model.keras").unlink()
    runs["no-model"] = "holds no model.keras"
    (copy("gmm", "bad-mixture") / "model.npz").write_bytes(b"garbage")
    runs["bad-mixture"] = "could not be loaded"
    (tmp_path / "file").write_text("not a folder")
    runs["file"] = "is not a tfae run folder"
    return {name: (tmp_path / name, message) for name, message in runs.items()}


@pytest.mark.parametrize("command", [["evaluate"], ["sample", "--seed", "5"],
                                     ["export", "--format", "saved_model"]])
def test_a_damaged_run_folder_is_refused_in_one_line(damaged_runs, capsys, command):
    for name, (folder, message) in damaged_runs.items():
        assert main([command[0], str(folder), *command[1:]]) == 2, name
        assert message in _error_line(capsys, f"tfae {command[0]}"), name
        assert not list(folder.glob("*seed5*")) and not list(folder.glob("*_savedmodel"))


def test_an_interrupted_command_says_so_in_one_line(tiny_runs, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    from tfae import runs

    monkeypatch.setattr(runs.MODELS["ae"], "load", interrupted)
    assert main(["evaluate", str(tiny_runs["ae"])]) == 130
    assert capsys.readouterr().err == "tfae evaluate: interrupted\n"


def test_running_out_of_device_memory_says_what_to_do(tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    def out_of_memory(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor\n...")

    monkeypatch.setattr("tfae.runs.train", out_of_memory)
    assert _train(tmp_path / "run") == 2
    assert "lower --batch-size" in _error_line(capsys, "tfae train ae")


def test_a_file_that_cannot_be_written_is_reported_in_one_line(tiny_runs, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "samples.png"  # a folder that is a file
    assert main(["sample", str(tiny_runs["vae"]), "--out", str(out)]) == 2
    assert str(tmp_path / "file") in _error_line(capsys, "tfae sample")


# ------------------------------------------------------------------ the console command

REPO = Path(__file__).resolve().parents[1]


def _launch(*args, **env):
    """Runs the console command's module in a fresh Python, as `tfae` runs it."""
    environment = {name: value for name, value in os.environ.items()
                   if name != "TF_CPP_MIN_LOG_LEVEL"} | env
    return subprocess.run([sys.executable, "-m", "tfae_launcher", *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_the_command_prints_no_tensorflow_start_up_lines():
    result = _launch("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: tfae")
    assert result.stderr == ""


def test_the_users_log_level_wins():
    import tfae_launcher

    result = _launch("--help", TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0 and result.stdout.startswith("usage: tfae")
    lines = result.stderr.encode().splitlines(keepends=True)
    assert lines and any(tfae_launcher.is_startup_line(line) for line in lines)


_FAKE_START = """
import os, sys, tfae_launcher
def start():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                b"written to STDERR\\n")
    os.write(2, b"I0000 00:00:1795939837.557271   22539 cudart_stub.cc:31] Could not find "
                b"cuda drivers on your machine, GPU will not be used.\\n")
    os.write(2, b"E0000 00:00:1795939894.099553   23388 cuda_platform.cc:52] failed call to "
                b"cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\\n")
    print("a genuine warning", file=sys.stderr)
    os.write(2, b"E0000 00:00:1795939894.099553   23388 something.cc:1] a genuine error\\n")
    if sys.argv[1] == "fail":
        raise ImportError("broken install")
tfae_launcher._start_tensorflow = start
tfae_launcher.start_quietly()
"""


@pytest.mark.parametrize("outcome", ["start", "fail"])
def test_the_launcher_hides_only_the_known_start_up_lines(outcome):
    result = subprocess.run([sys.executable, "-c", _FAKE_START, outcome], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    lines = result.stderr.splitlines()
    if outcome == "start":
        assert result.returncode == 0
        assert lines == ["a genuine warning", "E0000 00:00:1795939894.099553   23388 "
                         "something.cc:1] a genuine error"]
    else:  # every line back, then the traceback
        assert result.returncode == 1 and len(lines) > 5
        assert lines[0].startswith("WARNING: All log messages") and "cuInit" in lines[2]
        assert lines[-1] == "ImportError: broken install"
