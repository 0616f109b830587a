"""Worker liveness, as pure rules: each worker stamps its own beat while it makes progress, and the supervisor
judges silence in its own checks, so its late wake-ups on a loaded machine are never held against a worker.

A worker beats (engine/worker.py) every `beat_interval` while its loop turns and it is not stuck on one
message: idle, in setup, or handling messages one after another all beat; a loop blocked by synchronous code,
or a handler that awaits forever, stops beating. The Workers pane shows the age of that beat.

The supervisor checks every `check_period`. Each check adds the time since the previous one to a worker's
silence, but at most LATE_CREDIT periods: a check that wakes later than that was itself held up (the machine
was busy, every thread was late), which says nothing about the worker. A worker is retired once its silence
passes `silence_deadline`: two heartbeat intervals (engine.heartbeat_interval_ms), plus one beat and one check
of margin for a beat that just missed a check.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BEAT_INTERVAL_S = 0.5  # a healthy worker's beat is never older than about this (plus one check)
LATE_CREDIT = 1.5  # periods of silence one check may add, however late it woke


def beat_interval(heartbeat_s: float) -> float:
    """How often a worker stamps its beat: often enough that two heartbeat intervals hold several beats."""
    return min(MAX_BEAT_INTERVAL_S, heartbeat_s / 4.0)


def check_period(heartbeat_s: float) -> float:
    """How often the supervisor reads the beats (and refreshes the ages the console shows)."""
    return min(MAX_BEAT_INTERVAL_S, heartbeat_s / 4.0)


def silence_deadline(heartbeat_s: float) -> float:
    """Credited seconds without a beat after which a worker is taken for dead."""
    return 2.0 * heartbeat_s + beat_interval(heartbeat_s) + check_period(heartbeat_s)


def credited(elapsed_s: float, period_s: float) -> float:
    """The part of the time since the last check that counts as silence: at most LATE_CREDIT periods."""
    return max(0.0, min(elapsed_s, period_s * LATE_CREDIT))


@dataclass
class Silence:
    """One worker instance's silence as the supervisor's checks have seen it."""

    seen_beat: float
    silent_s: float = 0.0

    def observe(self, beat_at: float, credit_s: float) -> float:
        """One check: a new beat ends the silence; no new beat adds this check's credit. Returns the silence."""
        if beat_at != self.seen_beat:
            self.seen_beat = beat_at
            self.silent_s = 0.0
        else:
            self.silent_s += credit_s
        return self.silent_s
