"""The one quarantine (ops/quarantine.py): durability, retention, counts, and the reader command."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from campus_twin.cli import main
from ops.quarantine import MAX_PAYLOAD_KEPT, Quarantine


def test_records_newest_first_counts_survive_trimming_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = Quarantine(path, max_records=10)
    for i in range(25):
        q.add("mqtt" if i % 2 else "normalise", f"t/{i}", f"bad {i}", f"payload {i}".encode())
    assert [r.topic for r in q.records(3)] == ["t/24", "t/23", "t/22"]
    assert len(q.records(100)) == 10  # retention: the newest max_records
    assert q.counts() == {"normalise": 13, "mqtt": 12} and q.total == 25
    q.close()
    again = Quarantine(path, readonly=True)
    assert again.counts() == {"normalise": 13, "mqtt": 12}
    assert [r.source for r in again.records(2, source="mqtt")] == ["mqtt", "mqtt"]
    again.close()


def test_autoflush_off_commits_only_at_flush(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = Quarantine(path, autoflush=False)
    q.add("payload", "campus/s/a/telemetry", "not valid JSON", b"{x")
    q.add("store", None, "field type conflict", b"m,t=1 v=1i")
    reader = Quarantine(path, readonly=True)
    assert reader.records() == [] and q.counts() == {"payload": 1, "store": 1}
    q.flush()
    got = reader.records()
    assert [(r.source, r.topic, r.payload) for r in got] == [
        ("store", "", b"m,t=1 v=1i"),
        ("payload", "campus/s/a/telemetry", b"{x"),
    ]
    q.add("payload", "t", "late", b"")
    q.close()  # a graceful stop commits what is pending
    assert reader.records(1)[0].reason == "late"
    reader.close()


def test_a_huge_payload_is_truncated_and_says_so(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q.sqlite")
    q.add("mqtt", "t", "too big", b"x" * (MAX_PAYLOAD_KEPT + 5))
    (r,) = q.records()
    assert r.truncated and len(r.payload) == MAX_PAYLOAD_KEPT and "truncated from" in r.reason
    q.close()


def test_a_file_from_the_old_agent_format_keeps_its_total(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO meta VALUES ('total', 7);"
    )
    db.close()
    q = Quarantine(path)
    q.add("mqtt", "t", "r", b"p")
    assert q.counts() == {"unknown": 7, "mqtt": 1}
    q.close()


def test_show_and_count_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "q.sqlite"
    q = Quarantine(path)
    q.add("payload", "campus/s/a/telemetry", "contract: not valid JSON", b"{oops")
    q.add("payload", "campus/s/b/telemetry", "contract: not valid JSON", b"[")
    q.add("store", None, "field type conflict", b"line")
    q.close()
    assert main(["quarantine", "show", str(path), "--json", "--limit", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"] == 3 and doc["counts"] == {"payload": 2, "store": 1}
    assert [r["source"] for r in doc["records"]] == ["store", "payload"]
    assert main(["quarantine", "count", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 quarantined in total" in out and "2  payload" in out and "not valid JSON" in out
    assert main(["quarantine", "show", str(tmp_path / "absent.sqlite")]) == 0
    assert "nothing quarantined yet" in capsys.readouterr().out
    assert main(["quarantine", "show"]) == 2


def test_a_binary_payload_keeps_its_bytes_as_base64(tmp_path: Path) -> None:
    """A CBOR sensor on a JSON subscription: the quarantine keeps the original bytes, and the
    JSON view gives them back exactly (base64), not as U+FFFD text."""
    import base64

    cbor = bytes.fromhex("a2647465 6d70fb40 36a3d70a 3d70a468 756d6964 18 30".replace(" ", ""))
    q = Quarantine(tmp_path / "q.sqlite")
    q.add("mqtt", "sensors/c-101", "binary payload", cbor)
    q.add("mqtt", "sensors/c-102", "not valid JSON", b'{"t": 2')
    binary, text = sorted((r.to_json() for r in q.records()), key=lambda d: str(d["topic"]))
    q.close()
    assert binary["payload_encoding"] == "base64"
    assert base64.b64decode(str(binary["payload"])) == cbor
    assert (text["payload"], text["payload_encoding"]) == ('{"t": 2', "utf-8")
