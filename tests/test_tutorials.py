"""Every tutorial notebook runs from top to bottom without an error.

Each notebook in ``tutorials/`` is executed in a fresh ``python3`` kernel, from
the notebook's own folder as Jupyter would, and the test fails on the first cell
that raises. The stored notebook is not modified.

``Model.fit`` trains for at most ``MAX_EPOCHS`` epochs in the tested kernel: the test
checks that every cell runs (every call, shape, plot and check of the tutorial), not
the numbers of full training, which the stored outputs show; the tutorials' checks
(``assert``) hold whatever the training length. Full training would take about three
minutes of the suite's time.
"""

import sys
from pathlib import Path

import pytest

_MISSING = "is not installed: pip install -e '.[dev,notebooks]'"
nbformat = pytest.importorskip("nbformat", reason=f"nbformat {_MISSING}")
nbclient = pytest.importorskip("nbclient", reason=f"nbclient {_MISSING}")

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))

# Runs first in the kernel: the notebook must be tested with this environment's
# Python and tfae, not with whatever another "python3" kernelspec points at.
# (jupyter_client starts a kernelspec whose command is "python" with sys.executable.)
_SAME_PYTHON_CHECK = f"""
import sys
assert sys.prefix == {sys.prefix!r}, (
    f"the notebook kernel runs {{sys.executable}} (prefix {{sys.prefix}}), not the test's "
    f"{sys.executable!r}; check `jupyter kernelspec list`"
)
"""

#: The most epochs ``Model.fit`` trains for in the tested notebooks.
MAX_EPOCHS = 2

# Runs second: caps the epochs of every Keras fit (tfae's models call keras.Model.fit).
_SHORT_TRAINING = f"""
import keras
_full_fit = keras.Model.fit
def _short_fit(self, *args, **kwargs):
    kwargs["epochs"] = min(kwargs.get("epochs", 1), {MAX_EPOCHS})
    return _full_fit(self, *args, **kwargs)
keras.Model.fit = _short_fit
"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_without_errors(path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[:0] = [nbformat.v4.new_code_cell(_SAME_PYTHON_CHECK),
                          nbformat.v4.new_code_cell(_SHORT_TRAINING)]
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,  # per cell; a whole tutorial takes well under a minute
        resources={"metadata": {"path": str(path.parent)}},
    )
    # Raises CellExecutionError, with the failing cell and its traceback, on an error.
    client.execute()
