"""The package's surface: lazy imports and the public names."""

import subprocess
import sys

import tfae


def test_import_tfae_does_not_start_tensorflow():
    # `import tfae` and the NumPy-only modules (masks, choices) stay light, so that
    # the command line's --help answers without a TensorFlow start.
    code = ("import sys, tfae, tfae.masks, tfae.choices; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_every_public_name_resolves():
    for name in tfae.__all__:
        assert getattr(tfae, name) is not None
    assert set(tfae.__all__) == set(tfae._LAZY) | {"__version__"}
    assert tfae.MADE.__module__.startswith("tfae.")
    assert "MADE" in dir(tfae)


def test_unknown_name_is_an_attribute_error():
    try:
        tfae.NoSuchModel  # noqa: B018
    except AttributeError as error:
        assert "NoSuchModel" in str(error)
    else:
        raise AssertionError("tfae.NoSuchModel should raise AttributeError")
