"""护眼: class periods below the desk limit, counted from the standards engine's windows."""

from __future__ import annotations

from types import SimpleNamespace as W

from twin.indicators.eyecare import periods_below


def test_class_periods_below_the_desk_limit_from_the_engine_windows() -> None:
    """Contiguous windows form one class period; a break starts the next (new engine's windows)."""
    m = 60 * 10**9
    windows = [
        W(start=0, end=m, judged=True, passes=True),  # period 1: all above the limit
        W(start=m, end=2 * m, judged=True, passes=True),
        W(start=10 * m, end=11 * m, judged=True, passes=False),  # period 2: lights off for a while
        W(start=11 * m, end=12 * m, judged=True, passes=True),
        W(start=20 * m, end=21 * m, judged=False, passes=False),  # period 3: no data, not judged
    ]
    assert periods_below(W(windows=windows)) == (1, 2)  # type: ignore[arg-type]
    assert periods_below(W()) is None  # type: ignore[arg-type]  # the evaluator on main keeps no windows
