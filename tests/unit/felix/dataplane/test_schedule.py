"""When to apply: throttle, back-off, refresh timers."""

from __future__ import annotations

import pytest

from calico.felix.dataplane.schedule import ApplySchedule


def test_throttle_spaces_applies() -> None:
    s = ApplySchedule(0.1, {})
    assert s.may_apply(0.0)
    s.applied(0.0, ok=True)
    assert not s.may_apply(0.05)
    assert s.next_wakeup(0.05, dirty=True) == pytest.approx(0.1)
    assert s.may_apply(0.1)


def test_backoff_doubles_and_resets() -> None:
    s = ApplySchedule(0.0, {})
    s.applied(0.0, ok=False)
    assert not s.may_apply(0.09)
    assert s.may_apply(0.1)
    s.applied(0.1, ok=False)
    assert not s.may_apply(0.29)
    assert s.may_apply(0.31)
    for _ in range(20):
        s.applied(1.0, ok=False)
    assert s.may_apply(11.0)  # capped at 10 s
    s.applied(11.0, ok=True)
    assert s.may_apply(11.0)


def test_refreshes_come_due_and_reschedule() -> None:
    s = ApplySchedule(0.0, {"iptables": 2.0, "routes": 3.0, "off": 0.0})
    s.start(10.0)
    assert s.due_refreshes(11.9) == []
    assert s.due_refreshes(12.0) == ["iptables"]
    assert s.due_refreshes(13.0) == ["routes"]
    assert s.due_refreshes(14.0) == ["iptables"]
    assert s.next_wakeup(14.0, dirty=False) == pytest.approx(15.0)
