"""Worker liveness rules on an injected clock: a blocked worker is taken for dead, a slow one that keeps beating
never is, and the supervisor's own late wake-ups are not counted against any worker."""

from __future__ import annotations

from engine.heartbeat import Silence, beat_interval, check_period, credited, silence_deadline

HEARTBEAT_S = 2.0  # what the benchmarks and the scale test run with
PERIOD = check_period(HEARTBEAT_S)
DEADLINE = silence_deadline(HEARTBEAT_S)


def run_checks(wakeups: list[float], beats: list[float]) -> tuple[float, list[float]]:
    """The supervisor's checks at these clock times against a worker that beat at these times: the largest
    silence seen, and the silence after each check."""
    silence = Silence(seen_beat=0.0)
    last, worst, trail = 0.0, 0.0, []
    for now in wakeups:
        latest = max((b for b in beats if b <= now), default=0.0)
        silent = silence.observe(latest, credited(now - last, PERIOD))
        last = now
        worst = max(worst, silent)
        trail.append(silent)
    return worst, trail


def test_deadline_is_two_intervals_plus_a_beat_and_a_check_of_margin():
    assert beat_interval(30.0) == 0.5 and check_period(30.0) == 0.5
    assert silence_deadline(30.0) == 61.0
    assert beat_interval(0.1) == check_period(0.1) == 0.025
    assert DEADLINE == 5.0


def test_a_blocked_worker_is_dead_after_the_deadline_and_not_before():
    wakeups = [PERIOD * i for i in range(1, 41)]  # 20 s of on-time checks
    worst, trail = run_checks(wakeups, beats=[0.2])  # one beat, then its loop blocks
    assert worst > DEADLINE
    first_dead = next(i for i, s in enumerate(trail) if s > DEADLINE)
    assert wakeups[first_dead] > DEADLINE  # never before the deadline has really passed


def test_a_slow_worker_that_keeps_beating_is_never_dead():
    wakeups = [PERIOD * i for i in range(1, 401)]  # 200 s
    beats = [3.0 * i for i in range(1, 70)]  # a beat every 3 s, under a 5 s deadline
    worst, _ = run_checks(wakeups, beats)
    assert worst < DEADLINE


def test_the_supervisors_own_lateness_is_not_blamed_on_workers():
    # A loaded machine: the supervisor wakes 6 s late every time, and the worker (starved as well) has
    # beaten again by every second check. Wall clock between its beats is 12 s, past the deadline.
    wakeups = [6.0 * i for i in range(1, 50)]
    beats = [12.0 * i + 1.0 for i in range(50)]
    worst, _ = run_checks(wakeups, beats)
    assert worst <= credited(6.0, PERIOD) < DEADLINE
    # ... while a worker that never beats again still dies, just after more (late) checks.
    worst, _ = run_checks(wakeups, beats=[1.0])
    assert worst > DEADLINE


def test_credit_per_check_is_capped_and_never_negative():
    assert credited(0.2, 0.5) == 0.2
    assert credited(30.0, 0.5) == 0.75
    assert credited(-1.0, 0.5) == 0.0
