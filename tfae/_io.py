"""Files and folders written whole or not at all.

Every file tfae writes (run folders, figures, arrays, exported models, mixture
files) is first written under a hidden name beside its destination and renamed into
place when complete, so that a failure or an interruption leaves nothing
half-written. Files and folders get the ordinary permissions of the user's umask
(``tempfile.mkdtemp`` alone would make folders readable by their owner only).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_destination(path: Path, overwrite: bool, flag: str) -> None:
    if path.exists() and not overwrite:
        if path.is_dir() and not any(path.iterdir()):
            return
        raise ValueError(f"{path} already exists; choose another path or pass {flag}.")


@contextlib.contextmanager
def _parents_made(folder: Path):
    """Creates ``folder`` and its missing parents; if the block fails, removes again
    those it created (when still empty), so that a failed write leaves no folders."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for created in missing:
            try:
                created.rmdir()
            except OSError:  # not empty: something else was written there meanwhile
                break
        raise


@contextlib.contextmanager
def atomic_folder(path, overwrite: bool = False, flag: str = "overwrite=True", within=None):
    """Yields a hidden staging folder beside ``path`` that replaces ``path`` only if the
    block succeeds; on any error the staging folder is removed and ``path`` is untouched.

    Args:
        within: a folder beside ``path`` to create the staging folder in (so that a
            process killed while writing leaves its staging folder there), or None.

    Raises:
        ValueError: ``path`` exists (and is not an empty folder) and ``overwrite`` is
            False; ``flag`` names the option that allows it in the message.
    """
    path = Path(path)
    _check_destination(path, overwrite, flag)
    with _parents_made(path.parent):
        if within is not None:
            Path(within).mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-",
                                        dir=path.parent if within is None else within))
        os.chmod(staging, 0o777 & ~_umask())
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    if path.exists():
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    os.replace(staging, path)


@contextlib.contextmanager
def atomic_file(path, overwrite: bool = True, flag: str = "overwrite=True"):
    """Yields a hidden temporary path beside ``path`` (same suffix) to write; it replaces
    ``path`` only if the block succeeds, and is removed otherwise."""
    path = Path(path)
    if not overwrite:
        _check_destination(path, overwrite, flag)
    with _parents_made(path.parent):
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.partial-",
                                             suffix=path.suffix)
        os.close(handle)
        temporary = Path(temporary)
        try:
            yield temporary
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, path)
        finally:
            if temporary.exists():
                temporary.unlink()


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json(path, payload: dict) -> None:
    """Writes ``payload`` as indented JSON, atomically (NumPy scalars, tuples and paths
    become JSON values)."""
    with atomic_file(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
