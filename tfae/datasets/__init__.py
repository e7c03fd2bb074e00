"""Image datasets for the autoencoders, as float32 NumPy arrays in [0, 1].

Three kinds of source are accepted by :func:`load`:

* ``"digits"``: the 8x8 handwritten digits embedded in the package (1797
  images, licence in ``tfae/data/LICENSE-digits.txt``). It works offline and is
  what the tests and the demo use.
* ``"mnist"``, ``"fashion_mnist"``, ``"binarized_mnist"``: read through
  TensorFlow Datasets from an already prepared ``data_dir``. Nothing is
  downloaded unless ``download=True`` is passed.
* A path to an ``.npz`` file holding ``train_data``, ``valid_data`` and
  ``test_data`` (the layout of the MADE authors' public ``binarized_mnist.npz``).

Every source is checked the same way: not empty, finite and inside [0, 1].
Values are never clipped; data outside [0, 1] is refused with a message saying
how to rescale it.

:class:`DynamicBinarization` feeds ``Model.fit`` a fresh Bernoulli draw of the
grey levels every epoch (Salakhutdinov & Murray, 2008). :func:`epoch_batches` makes
the batches of many epochs (optionally binarized anew in each) as one tf.data
dataset whose batches depend on (seed, epoch) alone, so a training run resumed at an
epoch sees the batches of an uninterrupted one.
"""

from tfae.choices import SPLITS
from tfae.datasets.batches import epoch_batches
from tfae.datasets.binarization import DynamicBinarization
from tfae.datasets.loading import load
from tfae.datasets.sources import KNOWN_DATASETS

__all__ = ["KNOWN_DATASETS", "SPLITS", "DynamicBinarization", "epoch_batches", "load"]
