"""The package's surface: the public names, and models that load in a fresh process."""

import subprocess
import sys

import numpy as np

import tfae


def test_every_public_name_resolves():
    for name in tfae.__all__:
        assert getattr(tfae, name) is not None
    assert tfae.GaussianMixture is tfae.models.GaussianMixture


def test_a_saved_model_loads_in_a_fresh_process_that_imported_tfae(tmp_path, binary_digits):
    # Keras finds a .keras file's classes only among registered ones: `import tfae`
    # must register every model, or load_model fails in a new session (and the CLI).
    model = tfae.MADE(64, hidden_units=(16,), num_masks=2, hidden_degrees="equal", seed=0)
    path = tmp_path / "made.keras"
    model.save(path)
    x = binary_digits[1][:4].reshape(4, -1)
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, keras, numpy as np, tfae\n"
            f"model = keras.models.load_model({str(path)!r})\n"
            f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
            "print(repr(model.log_prob(x).numpy().tolist()))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = eval(result.stdout.strip().splitlines()[-1])
    np.testing.assert_array_equal(np.float32(loaded), model.log_prob(x).numpy())
