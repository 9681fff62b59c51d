"""The audit trail's hash chain and `andon audit verify|show|head`: an edit anywhere in the trail is found.

Each line of the trail (written by `andon.connectors.odoo.journal.AuditTrail`) is one JSON object that ends with
three chain fields::

    {"event_id": "…", …, "at": "…", "seq": 7, "prev": "sha256:<line 6's hash>", "hash": "sha256:<hex>"}

`hash` is SHA-256 (or HMAC-SHA256 under ANDON_AUDIT_KEY, written `hmac-sha256:`) of the line's bytes up to
``,"hash":`` — which includes `seq` and `prev`. So a changed byte changes that line's hash (found at that line),
and a removed, inserted or reordered line breaks the next line's `prev`. A sidecar `<trail>.head` holds the line
count and last hash (with an HMAC when keyed), so a cut-off tail is found too. Limits (docs/security.md): without
ANDON_AUDIT_KEY anyone who can write the files can recompute the whole chain and head; keep the key away from the
trail's host, or copy `andon audit head` output somewhere else now and then and check it with `--anchor`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from andon.cli_env import Group, option
from andon.errors import AndonError

KEY_ENV = "ANDON_AUDIT_KEY"
DEFAULT_TRAIL = "andon-data/odoo-audit.jsonl"
HASH_MARK = b',"hash":"'
GENESIS_HEX = "0" * 64


def audit_key(env: dict[str, str] | None = None) -> bytes | None:
    """The chain's HMAC key from ANDON_AUDIT_KEY or the file ANDON_AUDIT_KEY_FILE names (None: plain SHA-256)."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        return env[KEY_ENV].encode()
    path = env.get(f"{KEY_ENV}_FILE")
    if path:
        try:
            return Path(path).read_bytes().strip() or None
        except OSError as exc:
            raise AndonError(f"{KEY_ENV}_FILE points to {path!r}, which cannot be read: {exc.strerror}",
                             hint="mount the secret at that path or unset the variable") from None
    return None


def algorithm(key: bytes | None) -> str:
    return "hmac-sha256" if key else "sha256"


def digest(content: bytes, key: bytes | None) -> str:
    """`<algorithm>:<hex>` of `content`."""
    if key:
        return "hmac-sha256:" + hmac.new(key, content, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(content).hexdigest()


def genesis(key: bytes | None) -> str:
    """The `prev` of a trail's first line."""
    return f"{algorithm(key)}:{GENESIS_HEX}"


def chain_line(record_json: str, seq: int, prev: str, key: bytes | None) -> tuple[bytes, str]:
    """Append the chain fields to one record's JSON object; returns (line with newline, its hash)."""
    if not record_json.endswith("}"):
        raise ValueError("an audit record must be a JSON object")
    content = (record_json[:-1] + f',"seq":{seq},"prev":"{prev}"').encode("utf-8")
    h = digest(content, key)
    return content + b',"hash":"' + h.encode() + b'"}\n', h


def split_line(line: bytes) -> tuple[bytes, str] | None:
    """(hashed content, stored hash) of one line without its newline; None when it carries no hash."""
    at = line.rfind(HASH_MARK)
    if at < 0 or not line.endswith(b'"}'):
        return None
    return line[:at], line[at + len(HASH_MARK):-2].decode("ascii", "replace")


def head_mac(lines: int, last: str, key: bytes | None) -> str | None:
    """HMAC over the head's count and last hash (only with a key: without one anybody could recompute it)."""
    if not key:
        return None
    return hmac.new(key, f"andon-audit-head|{lines}|{last}".encode(), hashlib.sha256).hexdigest()


def head_path(trail: str | Path) -> Path:
    trail = Path(trail)
    return trail.with_name(trail.name + ".head")


@dataclass
class Verification:
    """What `verify` found: problems by line (0 = the trail as a whole), notes that are not failures."""

    path: Path
    lines: int = 0
    last_hash: str | None = None
    algorithm: str | None = None
    errors: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def first_bad_line(self) -> int | None:
        return min((n for n, _ in self.errors if n > 0), default=None)


def verify(path: str | Path, key: bytes | None = None, *, anchors: dict[int, str] | None = None,
           max_errors: int = 20) -> Verification:
    """Check every line's hash, sequence and link to the line before, the head sidecar and any external anchors."""
    path = Path(path)
    report = Verification(path)
    if not path.exists():
        report.errors.append((0, f"{path} does not exist"))
        return report
    data = path.read_bytes()
    prev_hash = None
    alg = None
    complete = data.endswith(b"\n") or not data
    lines = data.split(b"\n")[:-1] if complete else data.split(b"\n")
    report.lines = len(lines)
    for n, line in enumerate(lines, start=1):
        if len(report.errors) >= max_errors:
            report.notes.append(f"stopped after {max_errors} problems")
            break
        if n == len(lines) and not complete:
            report.errors.append((n, "line is incomplete (no newline at the end of the trail)"))
        parts = split_line(line)
        if parts is None:
            report.errors.append((n, "carries no hash: not a chained audit line (edited, or written before chaining)"))
            prev_hash = None
            continue
        content, stored = parts
        line_alg = stored.split(":", 1)[0]
        if alg is None:
            alg = report.algorithm = line_alg
        elif line_alg != alg:
            report.errors.append((n, f"hash algorithm changes from {alg} to {line_alg}"))
        if line_alg == "hmac-sha256" and not key:
            report.errors.append((n, f"the trail is keyed (hmac-sha256): set {KEY_ENV} to verify it"))
            return report
        if line_alg not in ("sha256", "hmac-sha256"):
            report.errors.append((n, f"unknown hash algorithm {line_alg[:20]!r}"))
            prev_hash = stored
            continue
        if not hmac.compare_digest(digest(content, key if line_alg == "hmac-sha256" else None), stored):
            report.errors.append((n, "content does not match its hash: the line was edited"))
        try:
            doc = json.loads(line)
        except ValueError:
            report.errors.append((n, "not valid JSON"))
            prev_hash = stored
            continue
        if doc.get("seq") != n:
            report.errors.append((n, f"seq is {doc.get('seq')!r}, expected {n}: lines were removed or inserted"))
        expected_prev = prev_hash if n > 1 else f"{line_alg}:{GENESIS_HEX}"
        if expected_prev is not None and doc.get("prev") != expected_prev:
            report.errors.append((n, "prev does not match the hash of the line before: a line was removed, "
                                     "inserted or reordered"))
        prev_hash = stored
    report.last_hash = prev_hash
    _check_head(report, key)
    for line_no, expected in (anchors or {}).items():
        _check_anchor(report, data, line_no, expected)
    return report


def _check_head(report: Verification, key: bytes | None) -> None:
    head_file = head_path(report.path)
    if not head_file.exists():
        if report.lines:
            report.errors.append((0, f"no head file {head_file.name}: a cut-off tail could not be detected"))
        return
    try:
        head = json.loads(head_file.read_text(encoding="utf-8"))
        lines, last = int(head["lines"]), str(head["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        report.errors.append((0, f"head file {head_file.name} is unreadable"))
        return
    if key and head.get("mac") != head_mac(lines, last, key):
        report.errors.append((0, f"head file {head_file.name} fails its HMAC: it was rewritten"))
    if report.lines < lines:
        report.errors.append((report.lines + 1, f"the trail ends after line {report.lines} but its head records "
                                                f"{lines} lines: the tail was cut off"))
    elif report.lines > lines:
        report.notes.append(f"{report.lines - lines} line(s) after the head's {lines} (written by an append that "
                            "stopped before updating the head; the next append updates it)")
    elif last != report.last_hash:
        report.errors.append((lines, "the last line's hash differs from the head: the tail was replaced"))


def _check_anchor(report: Verification, data: bytes, line_no: int, expected: str) -> None:
    lines = data.split(b"\n")
    if line_no < 1 or line_no > len(lines) - (1 if data.endswith(b"\n") else 0):
        report.errors.append((0, f"anchor line {line_no} is beyond the trail's {report.lines} lines: cut off"))
        return
    parts = split_line(lines[line_no - 1])
    if parts is None or parts[1] != expected:
        report.errors.append((line_no, "hash differs from the external anchor: the trail was rewritten"))


# ---- command line ---------------------------------------------------------------------------------------------

def _anchors(_ctx, _param, values: tuple[str, ...]) -> dict[int, str]:
    anchors = {}
    for text in values:
        line, _, h = text.partition(":")
        if not line.isdigit() or not h:
            raise click.BadParameter(f"{text!r}: use LINE:HASH as printed by `andon audit head`, e.g. 120:sha256:ab12…")
        anchors[int(line)] = h
    return anchors


_trail = click.argument("path", default=DEFAULT_TRAIL, required=False, metavar="[TRAIL]")


@click.group(cls=Group, help=f"Verify and read odoo_sync's audit trail (TRAIL defaults to {DEFAULT_TRAIL}).")
def audit() -> None:
    pass


@audit.command("verify")
@_trail
@option("--anchor", multiple=True, metavar="LINE:HASH", callback=_anchors,
        help="an externally kept `andon audit head` value the trail must still contain (repeatable)")
def verify_command(path: str, anchor: dict[int, str]) -> int:
    """check the hash chain and head; exit 1 on any edit, cut or reorder"""
    report = verify(path, audit_key(), anchors=anchor)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.ok:
        print(f"{report.path}: OK, {report.lines} lines, chain {report.algorithm or '-'}, "
              f"last {report.last_hash or '-'}")
        return 0
    for line_no, message in report.errors:
        where = f"line {line_no}" if line_no else "trail"
        print(f"{report.path}: {where}: {message}")
    first = report.first_bad_line
    print(f"{report.path}: FAILED ({len(report.errors)} problem(s)"
          f"{f'; first at line {first}' if first else ''})", file=sys.stderr)
    return 1


def _lines(path: str) -> list[bytes]:
    trail = Path(path)
    if not trail.exists():
        raise AndonError(f"audit trail {trail} does not exist", hint="pass the path given to odoo-sync --audit")
    return trail.read_bytes().splitlines()


@audit.command()
@_trail
def head(path: str) -> int:
    """print LINE:HASH of the last line, to keep somewhere else as an anchor"""
    lines = _lines(path)
    parts = split_line(lines[-1]) if lines else None
    if parts is None:
        raise AndonError(f"{path} has no chained last line", hint="run `andon audit verify` on it")
    print(f"{len(lines)}:{parts[1]}")
    return 0


@audit.command()
@_trail
@option("--event", default=None, help="only this event id")
@option("--last", type=int, default=20, show_default=True, help="how many records (0 = all)")
def show(path: str, event: str | None, last: int) -> int:
    """print records (optionally of one event), newest last"""
    records = []
    for n, line in enumerate(_lines(path), start=1):
        try:
            records.append((n, json.loads(line)))
        except ValueError:
            records.append((n, {"detail": "(not valid JSON: run `andon audit verify`)"}))
    if event:
        records = [(n, r) for n, r in records if r.get("event_id") == event]
    for n, r in records[-last:] if last else records:
        print(f"{n:>7} {r.get('at', '')} {r.get('outcome', ''):<11} {r.get('type', '')} {r.get('machine', '')} "
              f"{r.get('model') or '-'}#{r.get('record_id') or '-'} {r.get('operation', '')} {r.get('detail', '')}"
              .rstrip())
    return 0


def main(argv: list[str]) -> int:
    """`andon audit ARGS...` as a function: its exit status."""
    from andon.cli import invoke

    return invoke(audit, argv, "andon audit")
