"""The progress messages of ``verbose``, worded and timed as scikit-learn prints them.

``verbose=1`` prints the start and end of each initialisation and every
``verbose_interval``-th EM iteration; ``verbose=2`` adds the time since the last
message, the change of the lower bound and the final lower bound.
"""

from __future__ import annotations

import time


class Progress:
    """Prints EM's progress to standard output; ``verbose=0`` prints nothing.

    Args:
        verbose: int >= 0.
        verbose_interval: int >= 1, iterations between two messages.
    """

    def __init__(self, verbose: int, verbose_interval: int):
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self._init_start = self._last = time.perf_counter()

    def init_begin(self, init: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {init}")
            self._init_start = self._last = time.perf_counter()

    def iteration_end(self, n_iter: int, change: float) -> None:
        if self.verbose == 0 or n_iter % self.verbose_interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
            return
        now = time.perf_counter()
        print(f"  Iteration {n_iter}\t time lapse {now - self._last:.5f}s\t ll change "
              f"{change:.5f}")
        self._last = now

    def init_end(self, lower_bound: float, converged: bool) -> None:
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            seconds = time.perf_counter() - self._init_start
            print(f"Initialization {message}. time lapse {seconds:.5f}s\t lower bound "
                  f"{lower_bound:.5f}.")
