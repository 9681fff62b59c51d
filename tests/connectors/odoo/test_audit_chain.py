"""The audit trail cannot be silently rewritten: a flipped byte, a removed, inserted or swapped line and a cut tail
are found by `andon audit verify` with the line number; an intact trail verifies (exit 0)."""

from __future__ import annotations

import json
import threading

import pytest
from flowtools import andon

from andon.audit import head_path, main, verify
from andon.connectors.odoo.journal import AuditRecord, AuditTrail, read_audit

KEY = b"audit-key-for-tests-91c2"


def records(n: int, start: int = 0) -> list[AuditRecord]:
    return [AuditRecord(f"ev-{i:04d}", "production.scrap_recorded", f"press-{i % 3:02d}", "stock.scrap", 100 + i,
                        "create", "applied", "détail ünïcode" if i % 4 == 0 else "", "2026-03-02T05:01:10.123Z")
            for i in range(start, start + n)]


@pytest.fixture
def trail(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditTrail(path, key=None)
    for start in range(0, 12, 4):  # three batches
        audit.append(records(4, start))
    return path


def line_of(data: bytes, position: int) -> int:
    return data[:position].count(b"\n") + 1


def flip(path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_trail_verifies_and_reads_as_before(trail, capsys):
    report = verify(trail)
    assert report.ok, report.errors
    assert report.lines == 12 and report.algorithm == "sha256"
    assert main(["verify", str(trail)]) == 0
    assert "OK, 12 lines" in capsys.readouterr().out
    docs = read_audit(trail)
    assert [d["seq"] for d in docs] == list(range(1, 13))
    assert docs[0]["event_id"] == "ev-0000" and docs[0]["detail"] == "détail ünïcode"
    assert all(d["prev"] == p["hash"] for p, d in zip(docs, docs[1:], strict=False))
    assert json.loads(head_path(trail).read_text())["lines"] == 12


@pytest.mark.parametrize("where", ["first byte", "event id in line 1", "middle of line 6", "a seq digit",
                                   "prev of line 7", "hash of line 9", "newline after line 3", "outcome of last line",
                                   "last byte"])
def test_one_flipped_byte_anywhere_fails_with_its_line_number(trail, where, capsys):
    data = trail.read_bytes()
    lines = data.split(b"\n")
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    position = {
        "first byte": 0,
        "event id in line 1": data.index(b"ev-0000") + 5,
        "middle of line 6": starts[5] + len(lines[5]) // 2,
        "a seq digit": data.index(b'"seq":4,') + 6,
        "prev of line 7": starts[6] + lines[6].index(b'"prev":"sha256:') + 20,
        "hash of line 9": starts[8] + lines[8].index(b'"hash":"sha256:') + 30,
        "newline after line 3": starts[3] - 1,
        "outcome of last line": starts[11] + lines[11].index(b"applied"),
        "last byte": len(data) - 1,
    }[where]
    expected_line = line_of(data, position)
    flip(trail, position)
    report = verify(trail)
    assert not report.ok
    assert report.first_bad_line == expected_line, report.errors
    assert main(["verify", str(trail)]) == 1
    assert f"line {expected_line}:" in capsys.readouterr().out


@pytest.mark.parametrize(("edit", "message"), [
    (lambda ls: ls[:4] + ls[5:], "seq is 6, expected 5"),  # a line removed
    (lambda ls: ls[:4] + [ls[5], ls[4]] + ls[6:], "seq is 6, expected 5"),  # two lines swapped
    (lambda ls: ls[:4] + [ls[4]] + ls[4:], "prev does not match"),  # a line duplicated
    (lambda ls: ls[:-2], "the tail was cut off"),  # the last two lines removed
])
def test_removed_swapped_duplicated_and_cut_lines_fail(trail, edit, message):
    lines = trail.read_bytes().splitlines(keepends=True)
    trail.write_bytes(b"".join(edit(lines)))
    report = verify(trail)
    assert not report.ok
    assert any(message in text for _, text in report.errors), report.errors


def test_keyed_chain_resists_a_recomputed_rewrite(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditTrail(path, key=KEY).append(records(5))
    assert verify(path, KEY).ok
    assert not verify(path, None).ok  # a keyed trail cannot be checked (or forged) without the key
    # An attacker without the key edits line 2 and recomputes the whole chain and head as unkeyed SHA-256 ...
    forged = tmp_path / "forged.jsonl"
    docs = read_audit(path)
    docs[1]["outcome"] = "skipped"
    AuditTrail(forged, key=None).append([AuditRecord(**{k: v for k, v in d.items() if k not in ("seq", "prev", "hash")})
                                         for d in docs])
    path.write_bytes(forged.read_bytes())
    head_path(path).write_bytes(head_path(forged).read_bytes())
    assert verify(path, None).ok  # ... which an unkeyed check cannot tell (documented limit)
    assert not verify(path, KEY).ok  # ... but the keyed check can
    # Cutting the tail and rewriting the head with the true earlier values fails the head's HMAC.
    AuditTrail(tmp_path / "b.jsonl", key=KEY).append(records(5))
    lines = (tmp_path / "b.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "b.jsonl").write_bytes(b"".join(lines[:3]))
    head = json.loads(head_path(tmp_path / "b.jsonl").read_text())
    head.update(lines=3, hash=json.loads(lines[2])["hash"])
    head_path(tmp_path / "b.jsonl").write_text(json.dumps(head))
    report = verify(tmp_path / "b.jsonl", KEY)
    assert any("fails its HMAC" in text for _, text in report.errors)


def test_external_anchor_catches_a_full_rewrite(trail, capsys):
    assert main(["head", str(trail)]) == 0
    anchor = capsys.readouterr().out.strip()
    assert anchor.startswith("12:sha256:")
    AuditTrail(trail, key=None).append(records(2, 100))
    assert main(["verify", str(trail), "--anchor", anchor]) == 0
    # rebuild the trail from scratch with one record changed: chain and head are consistent, the anchor is not
    docs = read_audit(trail)
    docs[0]["record_id"] = 999
    trail.unlink()
    head_path(trail).unlink()
    AuditTrail(trail, key=None).append([AuditRecord(**{k: v for k, v in d.items() if k not in ("seq", "prev", "hash")})
                                        for d in docs])
    assert verify(trail).ok
    assert main(["verify", str(trail), "--anchor", anchor]) == 1


def test_a_torn_last_line_from_a_crash_is_dropped_by_the_next_append(trail):
    with open(trail, "ab") as fh:
        fh.write(b'{"event_id":"ev-torn","type":"produc')
    assert verify(trail).first_bad_line == 13
    AuditTrail(trail, key=None).append(records(1, 50))
    report = verify(trail)
    assert report.ok, report.errors
    assert report.lines == 13 and read_audit(trail)[-1]["event_id"] == "ev-0050"


def test_a_missing_head_fails_and_an_emptied_trail_keeps_the_old_head(trail):
    head_path(trail).unlink()
    assert any("no head file" in text for _, text in verify(trail).errors)
    AuditTrail(trail, key=None).append(records(1, 60))  # writes the head again
    assert verify(trail).ok
    trail.write_bytes(b"")
    AuditTrail(trail, key=None).append(records(1, 70))
    assert verify(trail).ok and verify(trail).lines == 1
    assert list(trail.parent.glob("audit.jsonl.head.cut-*")), "the head of the cut trail is kept as evidence"


def test_concurrent_appenders_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    trails = [AuditTrail(path, key=None) for _ in range(4)]  # separate instances: only the file lock serializes

    def work(n: int) -> None:
        for b in range(25):
            trails[n].append(records(3, n * 1000 + b * 3))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(path)
    assert report.ok, report.errors[:3]
    assert report.lines == 4 * 25 * 3


def test_andon_audit_command(trail):
    ok = andon("audit", "verify", str(trail))
    assert "OK, 12 lines" in ok.stdout
    flip(trail, 10)
    bad = andon("audit", "verify", str(trail), check=False)
    assert bad.returncode == 1 and "line 1:" in bad.stdout and "FAILED" in bad.stderr
    assert "not valid JSON" in andon("audit", "show", str(trail), "--last", "0").stdout.splitlines()[0]
    shown = andon("audit", "show", str(trail), "--event", "ev-0005")
    assert len(shown.stdout.splitlines()) == 1 and "stock.scrap#105" in shown.stdout
