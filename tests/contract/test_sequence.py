from contract.sequence import SequenceTracker, SeqVerdict


def test_next_gap_late_duplicate() -> None:
    t = SequenceTracker()
    assert t.observe("s", "a", 0) is SeqVerdict.FIRST
    assert t.observe("s", "a", 1) is SeqVerdict.NEXT
    assert t.observe("s", "a", 4) is SeqVerdict.GAP
    assert t.open_gaps() == 2 and t.gaps_total == 2
    assert t.observe("s", "a", 2) is SeqVerdict.LATE
    assert t.open_gaps("s", "a") == 1
    assert t.observe("s", "a", 4) is SeqVerdict.DUPLICATE
    assert t.observe("s", "a", 1) is SeqVerdict.DUPLICATE
    assert t.duplicates_total == 2
    assert t.observe("s", "b", 9) is SeqVerdict.FIRST  # agents are independent
    assert t.open_gaps("s", "b") == 0


def test_scaled_clocks_agree_across_instances() -> None:
    import time

    from contract.clock import ScaledClock

    origin = time.time_ns() - 10_000_000_000  # 10 s ago
    a, b = ScaledClock(origin, 60.0), ScaledClock(origin, 60.0)
    ta, tb = a.now_ns(), b.now_ns()
    assert abs(ta - tb) < 60 * 50_000_000  # within 50 ms wall of each other
    assert ta - origin >= 60 * 10_000_000_000  # 10 s wall = 10 min simulated
