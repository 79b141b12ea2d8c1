"""When the dataplane applies: throttling, retry back-off and periodic refreshes.

* **Throttle.**  Updates arrive in bursts (a deployment creates fifty pods).
  Applying after each would run ``iptables-restore`` fifty times; instead an
  apply may start only ``min_interval`` after the previous one ended, and
  everything that arrived in between goes in one batch.  The first apply
  after InSync is immediate.
* **Back-off.**  A failed apply is retried after 0.1 s, doubling up to 10 s,
  and the delay resets on success.
* **Refreshes.**  Each driver trusts its cached view of the kernel between
  refreshes; every ``interval`` seconds a named refresh (``iptables``,
  ``ipsets``, ``routes``) comes due, the driver forgets its cache and the
  next apply repairs whatever drifted.  An interval of 0 disables it.

Pure bookkeeping on a caller-supplied clock, so unit tests step time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MIN_BACKOFF = 0.1
MAX_BACKOFF = 10.0
IDLE_WAKEUP = 1.0  # the loop wakes at least this often (health heartbeats)


class ApplySchedule:
    def __init__(self, min_interval: float, refresh_intervals: Mapping[str, float]) -> None:
        self._min_interval = min_interval
        self._intervals = {name: i for name, i in refresh_intervals.items() if i > 0}
        self._due: dict[str, float] = {}
        self._not_before = 0.0  # throttle
        self._retry_at = 0.0  # back-off
        self._backoff = MIN_BACKOFF

    def start(self, now: float) -> None:
        """Start the refresh timers (at the first apply after InSync)."""
        self._due = {name: now + interval for name, interval in self._intervals.items()}

    def due_refreshes(self, now: float) -> list[str]:
        """Refreshes whose time has come; each is rescheduled one interval on."""
        due = sorted(name for name, at in self._due.items() if at <= now)
        for name in due:
            self._due[name] = now + self._intervals[name]
        return due

    def may_apply(self, now: float) -> bool:
        return now >= self._not_before and now >= self._retry_at

    def applied(self, now: float, ok: bool) -> None:
        self._not_before = now + self._min_interval
        if ok:
            self._retry_at, self._backoff = 0.0, MIN_BACKOFF
        else:
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def next_wakeup(self, now: float, dirty: bool, deadlines: Iterable[float] = ()) -> float:
        candidates = [now + IDLE_WAKEUP, *self._due.values(), *deadlines]
        if dirty:
            candidates.append(max(self._not_before, self._retry_at))
        return max(now, min(candidates))
