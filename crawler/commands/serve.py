"""Serve a read-only web app over the archive: search, articles, versions, captured pages and
the sources dashboard, with a JSON API beside the pages (/api/search, /api/articles/ID,
/api/sources).

It binds 127.0.0.1 by default. Binding any other address needs a token (--token or
--token-file): every request must then carry it, as `Authorization: Bearer TOKEN` or, in a
browser, by opening the app once with ?token=TOKEN (a cookie keeps it).

examples:
  newsarchive serve --config /etc/newsarchive/sources.toml
  newsarchive serve --archive-dir data --port 8800
  newsarchive serve --archive-dir data --host 0.0.0.0 --token-file /etc/newsarchive/token
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from archive.errors import UsageError
from crawler.commands.arguments import archive_collection, collection_options
from crawler.config import load_config

NAME = "serve"
HELP = "read-only web app: search, articles, captured pages, sources"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    collection_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--token", help="a secret every request must carry")
    parser.add_argument("--token-file", type=Path, help="read the token from this file")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from archive.webapp.app import create_app

    token = _token(args)
    if token is None and not _loopback(args.host):
        raise UsageError(f"serve: binding {args.host} needs --token or --token-file")
    if not 0 < args.port < 65536:
        raise UsageError(f"serve: --port must be from 1 to 65535, not {args.port}")
    collection = archive_collection(args)
    for layout in collection.shards:
        if not layout.catalog_path.is_file():
            raise UsageError(f"serve: no archive at {layout.root} (no catalog.sqlite)")
    sources_info = None
    if args.config is not None and collection.single:  # a shard's runs are its worker's
        from crawler.status import source_status

        config = load_config(args.config, archive_dir=collection.shards[0].root)
        sources_info = lambda: [s.as_dict() for s in source_status(config).sources]  # noqa: E731
    app = create_app(collection, token=token, sources_info=sources_info)
    print(f"serving {collection} on http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"serve: cannot read {args.token_file}: {exc.strerror}") from None
        if not token:
            raise UsageError(f"serve: {args.token_file} is empty")
        return token
    return args.token or None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
