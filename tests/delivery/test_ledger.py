"""Ingest's shared delivery ledger and confirmer (ingest/delivery.py), two members on one file."""

from __future__ import annotations

import json
from pathlib import Path

from contract.delivery import Gone, decode_control
from ingest.delivery import Confirmer, Ledger, read_delivery


def test_durable_is_contiguous_across_share_group_members(tmp_path: Path) -> None:
    a, b = Ledger(tmp_path / "state.db"), Ledger(tmp_path / "state.db")
    old = 50_000  # an agent with a long history: tracked from the first seq seen
    assert a.stored([("s", "g", old), ("s", "g", old + 1)]) == {("s", "g"): old + 1}
    assert b.stored([("s", "g", old + 3)]) == {}  # old+2 went to the other member, not written yet
    assert a.stored([("s", "g", old + 2)]) == {("s", "g"): old + 3}
    assert b.stored([("s", "g", old + 2)]) == {}  # a redelivered duplicate changes nothing
    assert read_delivery(tmp_path / "state.db")[0].durable == old + 3
    # a young agent is tracked from seq 0: its first batches lost in the broker are a gap
    assert a.stored([("s", "young", 3)]) == {}
    assert [(g.agent, g.first, g.last) for g in a.gaps()] == [("young", 0, 2)]


def test_gap_is_asked_for_after_the_timeout_and_gone_closes_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state.db")
    sent: list[tuple[str, bytes, bool]] = []
    c = Confirmer(ledger, lambda t, p, r: sent.append((t, p, r)), resend_after_s=5)
    c.stored([("s", "g", 0), ("s", "g", 4), ("s", "g", 5)])
    assert sent == [("campus/s/g/durable", b'{"v":1,"seq":0}', True)]
    assert c.check_gaps(now=100.0) == []  # just noticed
    assert c.check_gaps(now=104.0) == []
    [gap] = c.check_gaps(now=105.5)
    assert (gap.first, gap.last) == (1, 3)
    topic, payload, retain = sent[-1]
    assert topic == "campus/s/g/resend" and not retain
    assert json.loads(payload) == {"v": 1, "from": 1, "to": 3}
    assert c.check_gaps(now=106.0) == []  # not again before another resend_after_s
    c.stored([("s", "g", 1)])  # partly resent
    c.on_gone("s", "g", Gone.model_validate({"from": 2, "to": 3, "readings": 42}))
    assert decode_control(sent[-1][1], sent[-1][0]).model_dump() == {"v": 1, "seq": 5}
    c.on_gone("s", "g", Gone.model_validate({"from": 2, "to": 3, "readings": 42}))  # redelivered
    [st] = read_delivery(tmp_path / "state.db")
    assert (st.durable, st.missing, st.lost_readings) == (5, 0, 42)
    assert ledger.gaps() == []


def test_a_share_group_without_delivery_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from ingest.config import IngestConfig

    with pytest.raises(ValidationError, match=r"share_group needs delivery\.enabled"):
        IngestConfig.model_validate({"share_group": "ingest", "delivery": {"enabled": False}})
    assert IngestConfig.model_validate({"share_group": "ingest"}).delivery.enabled
