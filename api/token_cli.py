"""`campus-twin api token add|list|revoke`: manage the tokens file (only SHA-256 digests at rest).

The new token is printed once and never stored; the file keeps its comments and is replaced
atomically with mode 0600. A running API picks the change up within a second (api/auth.py).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from api.auth import Role, TokenFile, hash_token
from api.rebind import write_atomic
from api.timeparse import parse_duration_s
from contract.yamlio import ConfigError, load_model, load_yaml_for_edit


def tokens_path(args: argparse.Namespace) -> Path:
    if args.file:
        return Path(args.file)
    if args.config:
        from api.settings import load_settings

        path = load_settings(args.config).tokens.file
        if path is None:
            raise ConfigError(str(args.config), [f"{args.config}: tokens.file is not set"])
        return path
    raise ConfigError("token", ["give --file TOKENS.yaml or --config api.yaml"])


def _load_doc(path: Path) -> CommentedMap:
    if path.is_file():
        load_model(TokenFile, path)  # refuse to edit a file that does not validate
        doc = load_yaml_for_edit(path)
        if isinstance(doc, CommentedMap):
            return doc
    return CommentedMap(tokens=CommentedSeq())


def _save(path: Path, doc: CommentedMap) -> None:
    buf = io.StringIO()
    YAML(typ="rt").dump(doc, buf)
    write_atomic(path, buf.getvalue())
    os.chmod(path, 0o600)


def expiry(text: str | None, now: datetime) -> datetime | None:
    """`90d`, `12h`… from now, or an ISO 8601 time with an offset; None = never."""
    if not text:
        return None
    try:
        return now + timedelta(seconds=parse_duration_s(text))
    except ValueError:
        pass
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"--expires {text!r}: give a duration (90d) or a time with an offset")
    return dt


def add(
    path: Path,
    name: str,
    role: Role,
    expires: datetime | None,
    now: datetime,
    campuses: list[str] | None = None,
) -> str:
    """A new token; `campuses` limits it to those campus ids (None/empty = district)."""
    doc = _load_doc(path)
    entries = doc.setdefault("tokens", CommentedSeq())
    if any(isinstance(e, dict) and e.get("name") == name for e in entries):
        raise ValueError(f"{path}: a token named {name!r} exists; revoke it first")
    token = secrets.token_urlsafe(32)
    entry = CommentedMap(name=name, role=role.value, sha256=hash_token(token).hex())
    if campuses:
        entry["campuses"] = CommentedSeq(dict.fromkeys(campuses))  # in order, once each
    entry["created"] = now.isoformat(timespec="seconds")
    if expires is not None:
        entry["expires"] = expires.isoformat(timespec="seconds")
    entries.append(entry)
    _save(path, doc)
    return token


def revoke(path: Path, name: str) -> list[bytes]:
    """Remove the token named `name`; returns the removed tokens' digests (empty: none had it)."""
    doc = _load_doc(path)
    entries = doc.get("tokens") or CommentedSeq()
    gone = [e for e in entries if isinstance(e, dict) and e.get("name") == name]
    if not gone:
        return []
    keep = [e for e in entries if not any(e is g for g in gone)]
    entries.clear()
    entries.extend(keep)
    _save(path, doc)
    return [bytes.fromhex(e["sha256"]) if e.get("sha256") else hash_token(str(e["token"])) for e in gone]


def check_campuses(config: str | None, campuses: list[str]) -> list[str]:
    """With `--config`, every `--campus` must be a campus of the twin (a typo would make a token
    that sees nothing); without it the ids are taken as given."""
    if not config or not campuses:
        return campuses
    from api.settings import load_settings
    from twin.config import load_config

    known = {c.id for c in load_config(load_settings(config).twin_config)[0].campuses}
    unknown = [c for c in campuses if c not in known]
    if unknown:
        raise ValueError(
            f"--campus {', '.join(unknown)}: not a campus of the twin config ({', '.join(sorted(known))})"
        )
    return campuses


def end_sessions(config: str | None, digests: list[bytes]) -> int:
    """With `--config`, also end the revoked tokens' sessions in the API's `sessions_file` at once
    (a running or restarted API refuses them anyway, since every request re-checks the token)."""
    if not config or not digests:
        return 0
    from api.sessions import SessionBook
    from api.settings import load_settings

    path = load_settings(config).sessions_file
    if path is None or not path.is_file():
        return 0
    book = SessionBook(path)
    return sum(book.end_for_token(d) for d in digests)


def listing(path: Path, now: datetime) -> list[str]:
    tf = load_model(TokenFile, path) if path.is_file() else TokenFile()
    rows = []
    for e in tf.tokens:
        state = "expired 已过期" if e.expires and e.expires <= now else "active 有效"
        until = e.expires.isoformat(timespec="minutes") if e.expires else "never 永不"
        scope = "district 全区" if e.campuses is None else "campuses " + ",".join(e.campuses)
        rows.append(f"{e.name}\t{e.role.value}\t{state}\texpires {until}\t{scope}")
    return rows


def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC).astimezone()
    try:
        path = tokens_path(args)
        if args.action == "add":
            campuses = check_campuses(args.config, args.campus or [])
            token = add(path, args.name, Role(args.role), expiry(args.expires, now), now, campuses)
            where = ", ".join(campuses) if campuses else "district 全区"
            print(
                f"token for {args.name!r} ({args.role}, {where}); shown once, keep it safe / 令牌只显示一次:"
            )
            print(token)
        elif args.action == "revoke":
            digests = revoke(path, args.name)
            if not digests:
                print(f"{path}: no token named {args.name!r}", file=sys.stderr)
                return 1
            ended = end_sessions(args.config, digests)
            print(f"revoked {args.name!r} (a running API refuses it within a second) / 已吊销")
            if ended:
                print(f"ended {ended} browser session(s) / 已结束 {ended} 个浏览器会话")
        else:
            print("\n".join(listing(path, now)) or "no tokens / 无令牌")
    except (ValueError, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def register(cmds: argparse._SubParsersAction) -> None:
    t = cmds.add_parser("token", help="Add, list or revoke API tokens (hashed at rest).")
    where = argparse.ArgumentParser(add_help=False)
    src = where.add_mutually_exclusive_group()
    src.add_argument("--file", help="tokens YAML file")
    src.add_argument("--config", help="API config YAML (uses its tokens.file)")
    sub = t.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", parents=[where], help="Create a token and print it once.")
    a.add_argument("name")
    a.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
    a.add_argument(
        "--campus",
        action="append",
        metavar="ID",
        help="limit the token to this campus (repeat for several); none = the whole district",
    )
    a.add_argument("--expires", help="90d, 12h … from now, or ISO 8601 time with offset (default: never)")
    a.set_defaults(func=run, _parser=a)
    r = sub.add_parser("revoke", parents=[where], help="Remove a token by name.")
    r.add_argument("name")
    r.set_defaults(func=run, _parser=r)
    ls = sub.add_parser("list", parents=[where], help="Names, roles and expiry (never the secrets).")
    ls.set_defaults(func=run, _parser=ls)
    t.set_defaults(_parser=t)
