"""`campus-twin api …` commands. Registering imports nothing heavy; handlers import lazily."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from contract.cli import group


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.settings import load_settings
    from contract.secrets import SecretError
    from ops.metrics import parse_listen
    from store.base import StoreError

    settings = load_settings(args.config)
    try:
        app = create_app(settings, clock=settings.clock.build())
    except (SecretError, StoreError, OSError) as exc:  # names the reference/file, never a secret
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    # uvicorn's own access log writes whole request targets; api/access_log.py writes a safe one
    host, port = parse_listen(args.listen or settings.listen)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, server_header=False)
    return 0


def _hash(args: argparse.Namespace) -> int:
    import getpass

    from api.auth import hash_token

    token = args.token if args.token is not None else getpass.getpass("token: ")
    print(f"sha256:{hash_token(token).hex()}" if not args.bare else hash_token(token).hex())
    return 0


def register(sub: Any) -> None:
    cmds = group(sub, "api", "HTTP API and web UI for facilities staff.")
    p = cmds.add_parser("serve", help="Serve the API and web UI (uvicorn).")
    p.add_argument("config", help="API config YAML (see api/README.md)")
    p.add_argument(
        "--listen", metavar="HOST:PORT", default=None, help="bind here instead of the config's listen"
    )
    p.set_defaults(func=_serve, _parser=p)
    h = cmds.add_parser("hash-token", help="Print the SHA-256 of a token for the tokens file.")
    h.add_argument("--token", default=None, help="token (default: prompt without echo)")
    h.add_argument("--bare", action="store_true", help="hex only, without the 'sha256:' prefix")
    h.set_defaults(func=_hash, _parser=h)
    from api.token_cli import register as register_token

    register_token(cmds)
