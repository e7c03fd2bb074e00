"""The checked option types of the ``tfae`` command: each value is checked by the
library's own check as argparse reads it, and a refusal is one line."""

from __future__ import annotations

import argparse
import inspect

import tfae
from tfae import runs

#: Importance samples per held-out digit of the demo's log p(x) estimate.
DEMO_IMPORTANCE_SAMPLES = 1000


#: How ``tfae train made`` applies masks unless --mask-op says: as measured in
#: docs/benchmarks.md, a select is fastest under XLA, a product without it.
MADE_MASK_OP = {False: "multiply", True: "select"}

#: Where the parsed constructor arguments of a model go (``model_args``).
MODEL_ARG = "model_args."

#: How the help names a constructor default of None (the model chooses).
MODEL_DEFAULT = "the model's"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors take one line, ``PROG: error: MESSAGE`` (exit 2),
    without the usage (``PROG --help`` shows it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A command's arguments do not go together (found after parsing, before anything
    runs); the command line prints it as a parse error."""


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (an OSError's without its errno)."""
    message = str(error)
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        message = f"{error.strerror}: {error.filename}"
    return " ".join(message.split()) or type(error).__name__


def reworded(error: Exception, name: str) -> str:
    """A library check's message, for ``argument --FLAG: ...``: without the leading
    argument name (the flag names it) and the final period."""
    message = one_line(error).removeprefix(f"{name} ")
    return message.removesuffix(".")


def option_type(parse, check, name: str, expected: str):
    """An argparse ``type``: ``parse`` reads the text (``expected`` says what it
    takes), then ``check``, a check of the library that gets the value as ``name``,
    returns it or raises; its ValueError or TypeError becomes the parse error."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            return check(value)
        except (ValueError, TypeError) as error:
            raise argparse.ArgumentTypeError(reworded(error, name)) from None

    convert.__name__ = name
    return convert


def integer_option(name: str, check):
    return option_type(int, check, name, "an integer")


def number_option(name: str, check):
    return option_type(float, check, name, "a number")


def config_check(model: str, field: str):
    """``TrainConfig``'s own check of ``field`` for ``model`` runs."""

    def check(value):
        return getattr(runs.TrainConfig(model=model, **{field: value}), field)

    return check


def seed_check(model: str):
    """The check of a run's seed (``tfae._checks.resolve_seed``: an int in [0, 2**31 - 1])."""
    return config_check(model, "seed")


def _hidden_units_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def hidden_units_option(check):
    return option_type(_hidden_units_list, check, "hidden_units",
                        "comma-separated integers such as 256,128")


def verbose_text(text: str):
    return text if text == "auto" or not text.lstrip("-").isdigit() else int(text)


def patience_check(model: str):
    check_field = config_check(model, "patience")

    def check(value: int):
        if value == 0:
            return None
        if isinstance(value, int) and value < 0:
            raise ValueError(f"patience must be >= 0 (0 trains all epochs), got {value}.")
        return check_field(value)

    return check


def returns_value(check):
    """A check that returns None, as one that returns the value it checked."""

    def checked(value):
        check(value)
        return value

    return checked


def mixture_check(param: str):
    """``tfae.GaussianMixture``'s own check of its constructor argument ``param``."""
    return returns_value(lambda value: tfae.GaussianMixture(**{param: value}))


def shown(value, none: str = "none") -> str:
    if value is None:
        return none
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def signature_defaults(function) -> dict:
    return {name: parameter.default
            for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def constructor_defaults(cls) -> dict:
    """The defaults of a tfae model's constructor arguments, those it passes on to its
    tfae base classes included (the subclass's own win)."""
    defaults = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("tfae.") and "__init__" in vars(klass):
            defaults = signature_defaults(klass.__init__) | defaults
    return defaults
