"""`campus-twin config migrate FILE`: rewrite a config's renamed keys to the current spelling.

The renames are the table the loaders warn from (`contract/config_renames.yaml`), so what a
loader calls deprecated is exactly what `migrate` rewrites. Each change is made on the file's
text at the old key's position (the key renamed, or its `key: value` entry replaced or
removed), so comments, order, quoting and layout stay as they were; the original is kept as
FILE.bak (FILE.bak.1, … if that exists). Should a change not match the text, the file is
written through ruamel's round-trip dump instead, and every comment line that did not survive
is named in the output — never lost silently. The result is read back: it must carry no old key.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract.cli import group
from contract.config_renames import TextEdit

KINDS = ("agent", "ingest", "api", "indicators")


def register(sub: Any) -> None:
    cmds = group(sub, "config", "Config files: upgrade renamed keys (迁移配置).")
    p: argparse.ArgumentParser = cmds.add_parser(
        "migrate",
        help="rewrite renamed keys to their current names (backup FILE.bak)",
        description="Rewrite the keys a release renamed (contract/config_renames.yaml) to their "
        "current names; comments and layout are kept, the original is saved as FILE.bak. "
        "Exit 0 done or nothing to do, 2 unreadable file or unknown config type.",
    )
    p.add_argument("file", help="config YAML (agent, ingest, API or indicators)")
    p.add_argument("--kind", choices=KINDS, help="which config (default: recognised from its keys)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from ruamel.yaml.util import load_yaml_guess_indent

    from contract.config_renames import apply_renames, detect_kind
    from contract.yamlio import ConfigError, load_yaml, loads_yaml

    path = Path(args.file)
    try:
        original = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    doc = load_yaml(path)  # ConfigError (YAML syntax with file:line:col) goes to the top-level CLI
    kind = args.kind or detect_kind(doc)
    if kind is None:
        print(
            f"error: {path}: not recognised as an agent, ingest, API or indicators config; give --kind",
            file=sys.stderr,
        )
        return 2
    changes = apply_renames(kind, doc, str(path))
    if not changes:
        print(f"{path}: nothing to migrate ({kind} config, every key current)")
        return 0
    for c in changes:
        print(f"  {c.where}: {c.old} → {c.new if c.new is not None else '(removed)'}")
    text = apply_text_edits(original, [e for c in changes for e in c.edits])
    how = "text edits at each key"
    if text is None or apply_renames(kind, loads_yaml(text, str(path)), str(path)):
        _, indent, block_seq_indent = load_yaml_guess_indent(original)
        text = _dump(doc, indent or 2, block_seq_indent or 0)
        how = "a YAML round-trip dump (layout may differ)"
    lost = [c for c in _comments(original) if c not in text]
    if args.dry_run:
        print(f"{path}: {len(changes)} change(s) (dry run, nothing written)")
        return 0
    backup = _backup_name(path)
    backup.write_text(original, encoding="utf-8")
    tmp = path.with_name(path.name + ".migrating")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    print(f"{path}: {len(changes)} change(s) written ({kind} config, by {how}); original kept as {backup}")
    if lost:
        print(f"comments NOT kept ({len(lost)}), see {backup}:")
        for comment in lost:
            print(f"  {comment}")
    else:
        print("every comment kept")
    try:
        _check(kind, path)
    except ConfigError as exc:
        print(f"the migrated file still has problems (fix by hand):\n{exc}", file=sys.stderr)
        return 2
    return 0


_SCALAR = r"""\s*:\s*(?:"[^"]*"|'[^']*'|[^,}\s#]+)"""


def apply_text_edits(text: str, edits: Sequence[TextEdit]) -> str | None:
    """`text` with every edit made at its key's position; None if one does not match the text."""
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        if e.line >= len(lines):
            return None
        line = lines[e.line]
        if not e.entry and e.replace is not None:  # rename the key only
            if line[e.col : e.col + len(e.key)] != e.key:
                return None
            lines[e.line] = line[: e.col] + e.replace + line[e.col + len(e.key) :]
            continue
        m = re.compile(re.escape(e.key) + _SCALAR).match(line, e.col)
        if m is None:
            return None
        if e.replace is not None:
            lines[e.line] = line[: e.col] + e.replace + line[m.end() :]
            continue
        before, after = line[: e.col], line[m.end() :]
        rest = after.strip()
        if not before.strip() and (not rest or rest.startswith("#")):  # block entry: its own line
            del lines[e.line]
        elif (tail := re.match(r"\s*,\s*", after)) is not None:  # flow: `key: v, next`
            lines[e.line] = before + after[tail.end() :]
        elif (head := re.search(r",\s*$", before)) is not None:  # flow: `prev, key: v}`
            lines[e.line] = before[: head.start()] + after
        else:
            return None
    return "\n".join(lines)


def _dump(doc: Any, indent: int, block_seq_indent: int) -> str:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line
    y.indent(mapping=indent, sequence=max(indent, block_seq_indent + 2), offset=block_seq_indent)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def _comments(text: str) -> list[str]:
    """The comment part of every line that has one (what must survive the rewrite)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(stripped)
        elif " #" in line and not stripped.startswith(("'", '"')):
            out.append(line[line.index(" #") + 1 :].strip())
    return out


def _backup_name(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    n = 1
    while backup.exists():  # never overwrite an earlier backup
        backup = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    return backup


def _check(kind: str, path: Path) -> None:
    """Load the result with its real loader: what a rename cannot fix is said at once."""
    if kind == "agent":
        from edge_agent.config import load_agent_config

        load_agent_config(path)
    elif kind == "ingest":
        from ingest.config import load_config

        load_config(path)
    elif kind == "api":
        from api.settings import load_settings

        load_settings(path)
    else:
        from twin.indicators import load_indicators

        load_indicators(path)
