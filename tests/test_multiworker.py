"""Training on a cluster of 2 workers (``tf.distribute.MultiWorkerMirroredStrategy``, 2
processes on 127.0.0.1) gives the weights of one device: the loss is the global batch's
mean and a VAE's draws of z are an example's own, however the batches are split.

Each process of the cluster and a third on one device run ``multiworker_worker.py``
(one epoch of plain SGD on 251 examples in global batches of 64, so the last batch
is 59, from the same seed) and save their weights; the workers' weights are equal bit
for bit (a sum of 2 workers' gradients is the same in either order) and within float
rounding of one device's (measured: up to 6e-8; a mean per worker would be 0.1 off).

How ``fit`` feeds a cluster (Keras 3.15, TF 2.21):

* Arrays: pass the GLOBAL ``batch_size``. Keras's array dataset sets the DATA
  auto-shard policy; every worker reads every batch, which TF splits into one block
  per worker in replica order (64 as 32 / 32, the last 59 as 30 / 29), the blocks a
  ``MirroredStrategy`` of 2 replicas gets.
* A ``tf.data.Dataset``: batch it by the GLOBAL batch size and keep the default
  ``options.experimental_distribute.auto_shard_policy`` (AUTO, which is DATA for data
  in memory). With OFF every worker gets every half batch: a step trains on the same
  32 examples twice, and an epoch takes twice the steps.

Keras 3.15's ``fit`` fails on any cluster before its first step (its reductions of the
logs and of the first batch), so the workers wrap their strategy's ``reduce`` with
``tfae.runs.distribution.reduce_leaves``, which the gradients do not go through; ``tfae
train --strategy multiworker`` does the same.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

_WORKER = Path(__file__).with_name("multiworker_worker.py")
_TIMEOUT_S = 120
_PORT_TAKEN = "Could not start gRPC server"


def _free_ports(count):
    """``count`` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sockets[-1].bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path, characters=2000):
    """The last ``characters`` of a log (None: all of it)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return text if characters is None else text[-characters:]


def _run_cluster(directory, ports, command=None, one_device=True):
    """Runs 2 workers on ``ports`` and a one-device process, each ``command(name)``
    (default: ``multiworker_worker.py`` writing ``name.npz``); returns {name: (return
    code, log path)}, killing every process at the first failure or after
    ``_TIMEOUT_S``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    environment = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    configs = {f"worker{index}": {"cluster": cluster,
                                  "task": {"type": "worker", "index": index}}
               for index in range(2)}
    if one_device:
        configs["one_device"] = None
    processes, logs = {}, {}
    try:
        for name, config in configs.items():
            logs[name] = directory / f"{name}.log"
            env = environment if config is None else {**environment,
                                                      "TF_CONFIG": json.dumps(config)}
            with open(logs[name], "w") as log:
                processes[name] = subprocess.Popen(
                    command(name) if command else
                    [sys.executable, str(_WORKER), str(directory / f"{name}.npz")],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory)
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            codes = [process.poll() for process in processes.values()]
            if all(code is not None for code in codes) or any(codes):
                break  # all done, or one failed: its peer would wait for it
            time.sleep(0.2)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
    return {name: (process.returncode, logs[name]) for name, process in processes.items()}


def _cluster_run(tmp_path_factory, prefix, command=None, one_device=True):
    """Runs ``_run_cluster`` (again if a port was taken before the gRPC server bound
    it), asserts every process succeeded and returns its folder."""
    for attempt in range(2):
        try:
            ports = _free_ports(2)
        except OSError as error:
            pytest.skip(f"cannot bind a port on 127.0.0.1 for a local cluster: {error}")
        directory = tmp_path_factory.mktemp(f"{prefix}{attempt}")
        results = _run_cluster(directory, ports, command, one_device)
        if not any(_PORT_TAKEN in _tail(log, None) for _, log in results.values()):
            break
    assert all(code == 0 for code, _ in results.values()), "\n\n".join(
        f"--- {name} (exit {code}; -9: killed after another's failure or {_TIMEOUT_S} s)"
        f" ---\n{_tail(log)}" for name, (code, log) in results.items())
    return directory


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The weights each process saved: {"worker0" | "worker1" | "one_device": npz}."""
    directory = _cluster_run(tmp_path_factory, "cluster")
    return {name: np.load(directory / f"{name}.npz") for name in
            ("worker0", "worker1", "one_device")}


def _weights(saved, case):
    names = sorted(name for name in saved.files if name.startswith(f"{case}/"))
    assert names, f"no weights saved for {case}"
    return [saved[name] for name in names]


def _differences(first, second):
    """The largest absolute difference of each pair of weights."""
    return [float(np.abs(a - b).max()) for a, b in zip(first, second, strict=True)]


#: multiworker_worker.CASES: arrays (weighted for the VAE) and a tf.data dataset.
CASES = ["ae", "made", "vae-weighted", "ae-dataset"]


@pytest.mark.parametrize("case", CASES)
def test_the_workers_train_the_same_weights(trained, case):
    worker0, worker1 = _weights(trained["worker0"], case), _weights(trained["worker1"], case)
    assert all(np.array_equal(a, b) for a, b in zip(worker0, worker1, strict=True)), (
        _differences(worker0, worker1))


@pytest.mark.parametrize("case", CASES)
def test_two_workers_train_the_weights_of_one_device(trained, case):
    one, cluster = _weights(trained["one_device"], case), _weights(trained["worker0"], case)
    # A local mean per worker (gradients summed over the workers) would be 0.1 apart.
    assert max(_differences(one, cluster)) < 1e-6


# --------------------------------------------------------------- tfae train --strategy

_TRAIN = ["train", "ae", "--epochs", "2", "--patience", "0", "--latent-dim", "3",
          "--hidden-units", "8", "--verbose", "0"]


def test_tfae_train_on_two_workers_writes_the_run_of_one_process(tmp_path_factory):
    def command(name):
        return [sys.executable, "-m", "tfae.cli", *_TRAIN, "--strategy", "multiworker",
                "--out", "run"]

    directory = _cluster_run(tmp_path_factory, "cli", command, one_device=False)
    # The chief (worker 0) writes the run folder; worker 1 writes nothing that stays.
    assert sorted(path.name for path in directory.iterdir() if not path.suffix) == ["run"]
    assert json.loads((directory / "run" / "run.json").read_text())["strategy"] == (
        "multiworker")
    # The same command on one device, in this process.
    import keras

    from tfae.cli import main

    assert main([*_TRAIN, "--out", str(directory / "one_device")]) == 0
    one, cluster = (keras.models.load_model(directory / name / "model.keras").weights
                    for name in ("one_device", "run"))
    # Adam for 2 epochs on the digits (the training split's 1077 examples in batches of
    # 64, Keras' PyDataset through tf.data's DATA auto-sharding).
    assert max(_differences([np.asarray(w) for w in one], [np.asarray(w) for w in cluster])
               ) < 1e-5
