"""One process of ``tests/test_multiworker.py``: trains tiny tfae models, saves the weights.

Run as ``python tests/multiworker_worker.py OUT.npz``. With ``TF_CONFIG`` set, the
process is a worker of a ``tf.distribute.MultiWorkerMirroredStrategy`` cluster, created
before any other TensorFlow op; without it, the process trains on one device (the
reference). Each case (``CASES``) gets one epoch of plain SGD from the same seed, and
its weights are saved in ``OUT.npz`` as ``"<case>/<index>"``.

Nothing runs on import (pytest's ``--doctest-modules`` imports this file).
"""

import json
import os
import sys

#: The cases trained, in order: (model, weighted by sample_weight, fed as a tf.data dataset).
CASES = {
    "ae": ("ae", False, False),
    "made": ("made", False, False),
    "vae-weighted": ("vae", True, False),
    "ae-dataset": ("ae", False, True),
}


def _build(kind):
    import tfae

    if kind == "ae":
        return tfae.Autoencoder((16,), latent_dim=3, hidden_units=(8,))
    if kind == "made":
        return tfae.MADE(16, hidden_units=(12,), seed=0)
    return tfae.VAE((16,), latent_dim=3, hidden_units=(8,), seed=0)  # its draws of z


def main(path):
    import tensorflow as tf

    # The cluster's strategy must exist before any other TensorFlow op.
    if "TF_CONFIG" in os.environ:
        from tfae.runs.distribution import reduce_leaves

        # Keras 3.15's fit fails on any cluster without it (see its docstring).
        strategy = reduce_leaves(tf.distribute.MultiWorkerMirroredStrategy())
    else:
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    import keras
    import numpy as np

    # 251 examples in global batches of 64: the last batch of 59 splits 30 / 29.
    x = (np.random.default_rng(0).random((251, 16)) < 0.3).astype("float32")
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(x)).astype("float32")

    def train(kind, weighted, as_dataset):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = _build(kind)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        if as_dataset:
            # Every worker reads the whole dataset, batched by the GLOBAL batch size; the
            # default auto-shard policy (AUTO: DATA here, there are no files) gives each
            # worker its block of every batch.
            model.fit(tf.data.Dataset.from_tensor_slices(x).batch(64), epochs=1,
                      shuffle=False, verbose=0)
        else:
            model.fit(x, sample_weight=weights if weighted else None, epochs=1,
                      batch_size=64, shuffle=False, verbose=0)
        return model.weights

    saved = {}
    for case, arguments in CASES.items():
        saved.update({f"{case}/{index:02d}": variable.numpy()
                      for index, variable in enumerate(train(*arguments))})
    np.savez(path, **saved)
    print("SAVED " + json.dumps({"replicas": strategy.num_replicas_in_sync}))


if __name__ == "__main__":
    main(sys.argv[1])
