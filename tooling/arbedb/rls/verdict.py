"""Time to a verdict: a disagreement is shown the moment a world shows it, and
hypothesis's shrinking of that world to a smaller one is bounded in time.

Hypothesis shrinks a failing example by replaying smaller variants of it, each a
whole world here (loaded, read, probed, written): unbounded, that took minutes
after a failure found in seconds. The bound is checked before each world, so a
run stops at most one world's time past it; the world reported is then the
smallest failing one seen by then (each failing variant hypothesis tries is
smaller than the one it keeps, so the latest is the smallest).
"""

from __future__ import annotations

import time


class _BudgetSpent(KeyboardInterrupt):
    """Raised into hypothesis to end the run. A KeyboardInterrupt: the one exception
    hypothesis neither takes for a failure of the world (which it would replay and
    shrink) nor records as a draw that went differently (which it would call flaky);
    it lets it through untouched. Caught again in Shrinking.run, right above."""


class Shrinking:
    """One property run's first disagreement and the time left to shrink it.
    ``seconds=None``: no bound of ours (hypothesis's own applies)."""

    def __init__(self, seconds: float | None, on_found=None, clock=time.perf_counter):
        self.seconds = seconds
        self.on_found = on_found
        self.clock = clock
        self.started = clock()
        self.worlds = 0  # worlds begun, the failing ones included
        self.found_at: float | None = None
        self.latest: str | None = None

    def before_world(self) -> None:
        if self.found_at is not None and self.seconds is not None and self.clock() - self.found_at >= self.seconds:
            raise _BudgetSpent
        self.worlds += 1

    def failed(self, message: str) -> None:
        """A world disagreed: the first one is shown at once (``on_found(message,
        world number, seconds into the run)``), before any shrinking."""
        self.latest = message
        if self.found_at is None:
            self.found_at = self.clock()
            if self.on_found:
                self.on_found(message, self.worlds, self.found_at - self.started)

    def run(self, test, disagreement: type[Exception]) -> None:
        """Run the hypothesis test; when the bound ends it, raise ``disagreement``
        with the smallest failing world seen, saying that shrinking was cut short."""
        try:
            test()
        except _BudgetSpent:
            raise disagreement(f"{self.latest}\n(shrinking stopped after {self.seconds:g} s, its bound: this is the "
                               "smallest failing world found by then)") from None
