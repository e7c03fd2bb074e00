"""The `tfae` command: demo, train, evaluate, help, run folders written whole or not at all."""

import json
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


def test_demo_beats_the_per_pixel_mean_model_on_held_out_digits(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert {"model.keras", "metrics.json", "reconstructions.png", "samples.png", "run.json",
            "history.json"} <= {path.name for path in run.iterdir()}
    assert json.loads((run / "run.json").read_text())["model"] == "vae"
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["examples"] == 360
    # A generative model's -log p(x), estimated with importance sampling, well below the
    # independent-pixels model's; the ELBO below the (tighter) importance-weighted bound.
    assert test["iw_nll"] < 0.85 * test["pixel_mean_nll"]
    assert test["elbo"] <= -test["iw_nll"]
    assert test["loss"] == pytest.approx(-test["elbo"], abs=0.5)  # both estimate -ELBO
    printed = capsys.readouterr().out
    assert str(run.resolve()) in printed and f"{test['pixel_mean_nll']:.2f}" in printed


def test_train_then_evaluate_reports_the_same_test_nll(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "metrics.json").read_text())["test"]
    assert printed["loss"] == pytest.approx(saved["loss"], rel=1e-6)
    assert printed["pixel_mean_nll"] == pytest.approx(saved["pixel_mean_nll"], rel=1e-9)
    assert main(["evaluate", str(out), "--split", "valid"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--importance-samples", "5"]) == 2  # a VAE option
    assert "importance_samples does not apply to ae runs" in capsys.readouterr().err


def test_the_same_seed_gives_the_same_run(tmp_path):
    for name in ("a", "b"):
        assert _train(tmp_path / name, "--seed", "3") == 0
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("a", "b"))
    assert a["test"]["loss"] == b["test"]["loss"]
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


def test_a_failed_run_leaves_nothing_on_disk(tmp_path, monkeypatch):
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _train(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["train", "ae", "--out", "x", "--dataset", "cifar"], "digits"),
    (["evaluate", "nowhere"], "run.json"),
    (["train", "ae", "--out", "x", "--steps-per-execution", "0"], "steps_per_execution"),
    (["train", "vae", "--out", "x", "--activation", "wiggle"], "Unknown activation 'wiggle'"),
    (["train", "made", "--out", "x", "--deterministic", "--jit-compile"], "cannot both be on"),
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
    assert {"loss", "denoising", "walkback"} <= set(test)
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


def test_sampling_a_vanilla_autoencoder_is_refused(tmp_path, capsys):
    assert _train(tmp_path / "ae") == 0
    assert main(["sample", str(tmp_path / "ae")]) == 2
    assert "not a generative model" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["train"], ["train", "ae"], ["train", "dae"],
                                     ["train", "made"], ["train", "gmm"], ["train", "vae"],
                                     ["evaluate"], ["sample"], ["export"], ["demo"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: tfae" in capsys.readouterr().out


def test_a_model_parser_offers_only_the_settings_its_model_uses(capsys):
    with pytest.raises(SystemExit) as exit_info:  # EM has no epochs
        main(["train", "gmm", "--out", "x", "--epochs", "3"])
    assert exit_info.value.code == 2
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
    assert test["loss"] < test["pixel_mean_nll"]  # an exact NLL below the independent model's
    assert (out / "samples.png").exists()
    assert main(["sample", str(out), "--num", "4", "--seed", "1"]) == 0
    samples = np.load(out / "samples-seed1.npy")
    assert samples.shape == (4, 64) and set(np.unique(samples)) <= {0.0, 1.0}
    assert main(["export", str(out)]) == 2  # no encoder, no decoder


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
    assert saved["em_iterations"] >= 1 and np.isfinite(saved["test"]["log_likelihood"])
    config = json.loads((out / "run.json").read_text())
    assert not {"epochs", "batch_size", "learning_rate", "patience"} & set(config)
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["log_likelihood"] == pytest.approx(
        saved["test"]["log_likelihood"], rel=1e-9)
    assert main(["sample", str(out), "--num", "5", "--seed", "3"]) == 0
    samples = np.load(out / "samples-seed3.npy")
    assert samples.shape == (5, 64)
    assert main(["sample", str(out), "--num", "5", "--seed", "3", "--out",
                 str(tmp_path / "again.png")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), samples)
    assert main(["export", str(out)]) == 2  # a mixture has no encoder, no decoder


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
    assert {"loss", "reconstruction", "kl", "elbo", "iw_nll"} <= set(saved)
    assert (out / "samples.png").exists() and (out / "reconstructions.png").exists()
    capsys.readouterr()
    assert main(["evaluate", str(out), "--importance-samples", "200"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["importance_samples"] == 200
    assert printed["elbo"] == pytest.approx(saved["elbo"], rel=1e-6)  # seeded
    # More importance samples: a tighter bound (up to Monte Carlo noise).
    assert printed["elbo"] <= -printed["iw_nll"] and printed["iw_nll"] < saved["iw_nll"] + 0.05
    assert main(["evaluate", str(out), "--importance-samples", "0"]) == 2
    assert "num_samples must be >= 1" in capsys.readouterr().err
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
