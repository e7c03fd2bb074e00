"""scikit-learn's estimator contract: ``get_params``, ``set_params``, a repr of the settings.

The contract (which ``sklearn.base.clone`` checks): ``__init__`` stores each argument
under its own name, exactly as given, and ``get_params`` returns them all.
"""

from __future__ import annotations

import inspect

import numpy as np

from tfae.mixture.settings import RENAMED, Settings, check_settings


class Estimator:
    """The parameter methods of a scikit-learn estimator, for ``GaussianMixture``."""

    @classmethod
    def _defaults(cls) -> dict:
        signature = inspect.signature(cls.__init__)  # follows accept_renamed's wrapper
        return {name: p.default for name, p in signature.parameters.items() if name != "self"}

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments by name, as given (scikit-learn's ``get_params``).

        Args:
            deep: bool, accepted for scikit-learn's signature: no parameter is an
                estimator, so deep and shallow are the same.
        """
        del deep
        return {name: getattr(self, name) for name in self._defaults()}

    def set_params(self, **params):
        """Sets constructor arguments by name, checked together; returns the estimator.

        Raises:
            ValueError: a name that is not a parameter, or an invalid value.
            TypeError: a value of the wrong type.
        """
        valid = self.get_params()
        for name in params:
            if name not in valid:
                hint = f" ({name} is now called {RENAMED[name]})" if name in RENAMED else ""
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}{hint}; "
                                 f"valid parameters are: {', '.join(sorted(valid))}.")
        check_settings({**valid, **params})
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _settings(self) -> Settings:
        """The constructor's arguments, checked (``check_settings``)."""
        return check_settings(self.get_params())

    def __repr__(self) -> str:
        defaults = self._defaults()
        shown = []
        for name, value in self.get_params().items():
            default = defaults[name]
            if value is default or (default is not None and isinstance(value, type(default))
                                    and value == default):
                continue
            if isinstance(value, (np.ndarray, list, tuple)):
                shown.append(f"{name}=<array of shape {np.shape(value)}>")
            else:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"
