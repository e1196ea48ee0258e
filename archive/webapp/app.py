"""The routes of `newsarchive serve`: thin handlers over `archive/`, pages and their JSON twins.

Every handler opens the catalog read-only (WAL: a running crawl is never blocked) and reads
records by the offsets the catalog gives, so the app works while the crawl or daemon writes, and
no request can change a byte of the archive. Handlers are plain functions: Starlette runs them
in its thread pool, off the event loop.
"""

from __future__ import annotations

import hmac
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archive.capture import Capture, read_capture
from archive.collection import Collection, as_collection
from archive.dashboard import collection_daily_counts, collection_overview
from archive.errors import NewsarchiveError, NotFoundError, UsageError
from archive.export import EXPORT_FORMATS, export_records
from archive.history import version_changes
from archive.layout import ArchiveLayout
from archive.query import Filters, Hit, time_bound
from archive.show import find_article, show_article
from archive.snippets import snippet

PAGE_SIZE = 20
MAX_PAGE = 500  # deeper pages are refused: narrow the search instead
TOKEN_COOKIE = "newsarchive_token"
# The app's own pages: nothing inline, nothing from elsewhere; frames only of captures.
APP_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
# Archived pages: a sandbox (opaque origin, no scripts, no forms), nothing fetched from the web.
CAPTURE_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
SourcesInfo = Callable[[], list[dict[str, Any]]]

_templates = Environment(
    loader=PackageLoader("archive.webapp", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _page_url(query: dict[str, str], page: int) -> str:
    """The query string of the same search on another page."""
    return urlencode({**{k: v for k, v in query.items() if v}, "page": page})


_templates.filters["pageurl"] = _page_url


def create_app(
    archive: ArchiveLayout | Collection,
    *,
    token: str | None = None,
    sources_info: SourcesInfo | None = None,
) -> Starlette:
    """The app over the archive, or over every shard of a collection as one. With `token`,
    every request must carry it (see `_TokenGate`).

    `sources_info` gives the configured sources' schedules and runs (the CLI builds it from the
    config); without it the dashboard shows what the archive itself knows.
    """
    views = _Views(as_collection(archive), sources_info)
    routes = [
        Route("/", views.search),
        Route("/api/search", views.api_search),
        Route("/articles/{id}", views.article),
        Route("/api/articles/{id}", views.api_article),
        Route("/articles/{id}/record.json", views.record_json),
        Route("/articles/{id}/diff", views.diff),
        Route("/articles/{id}/capture", views.capture_page),
        Route("/articles/{id}/raw", views.capture_raw),
        Route("/captured/{id}", views.captured),
        Route("/export", views.export),
        Route("/sources", views.sources),
        Route("/api/sources", views.api_sources),
        Mount("/static", StaticFiles(packages=[("archive.webapp", "static")]), name="static"),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if token:
        middleware.insert(0, Middleware(_TokenGate, token=token))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _error_page, NewsarchiveError: _error_page},
    )


class _Views:
    """The handlers; each reads the archive and renders a page or its JSON twin."""

    def __init__(self, collection: Collection, sources_info: SourcesInfo | None) -> None:
        self.collection = collection
        self.sources_info = sources_info

    def _results(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        page = _page_number(params.get("page", "1"))
        filters = _filters(params, limit=page * PAGE_SIZE + 1)
        found = self.collection.find(filters)
        try:
            hits = list(islice(found, (page - 1) * PAGE_SIZE, None))
        finally:
            found.close()
        shown = hits[:PAGE_SIZE]
        records = [json.loads(line) for line in self.collection.lines(shown)]
        return {
            "query": {key: params.get(key, "") for key in _FILTER_KEYS},
            "export": urlencode({k: params[k] for k in _FILTER_KEYS[:-1] if params.get(k)}),
            "page": page,
            "more": len(hits) > PAGE_SIZE,
            "results": [
                _result(hit, record, filters.search)
                for hit, record in zip(shown, records, strict=True)
            ],
        }

    def search(self, request: Request) -> Response:
        try:
            found = self._results(request)
        except UsageError as exc:
            found = {"query": dict(request.query_params), "error": str(exc), "results": []}
            return _page("search.html", found, status_code=400)
        return _page("search.html", found)

    def api_search(self, request: Request) -> Response:
        try:
            return JSONResponse(self._results(request))
        except UsageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def export(self, request: Request) -> Response:
        """The search's whole selection as a file: JSON Lines streamed from the records, CSV or
        Parquet written by `export_records` to a private temporary file, then streamed."""
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        filters = _filters(request.query_params, limit=None)
        name = f"newsarchive-export.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "jsonl":
            return StreamingResponse(
                self._lines(filters), media_type="application/x-ndjson", headers=headers
            )
        folder = tempfile.mkdtemp(prefix="newsarchive-export-")
        try:
            out = Path(folder) / name
            export_records(self.collection, filters, fmt, out)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            out,
            headers=headers,
            media_type="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    def _lines(self, filters: Filters) -> Iterator[bytes]:
        found = self.collection.find(filters)
        try:
            yield from self.collection.lines(found)
        finally:
            found.close()

    def _article(self, record_id: str) -> dict[str, Any]:
        view = show_article(self.collection, record_id)
        return {
            **view.as_dict(),
            "paragraphs": (view.record.get("text") or "").split("\n\n"),
        }

    def article(self, request: Request) -> Response:
        return _page("article.html", self._article(request.path_params["id"]))

    def api_article(self, request: Request) -> Response:
        found = self._article(request.path_params["id"])
        del found["warc_path"], found["paragraphs"]  # the server's paths are not the API's
        return JSONResponse(found)

    def diff(self, request: Request) -> Response:
        """Word-level changes between two versions of one article (default: this one and the
        one before it), title and metadata included."""
        record_id = request.path_params["id"]
        with self.collection.catalogs() as dbs:
            article = find_article(dbs, record_id)
        records = {r["id"]: r for r in article.records(self.collection)}
        if record_id not in records:
            raise NotFoundError(f"no archived record {record_id!r}")
        ids = list(records)
        against = request.query_params.get("against") or ids[max(0, ids.index(record_id) - 1)]
        if against not in records:
            raise UsageError(f"{against!r} is not a version of this article")
        old, new = records[against], records[record_id]
        changes = version_changes(old, new)
        return _page(
            "diff.html",
            {"old": old, "new": new, "changes": changes, "versions": list(records.values())},
        )

    def _record(self, record_id: str) -> tuple[Hit, bytes]:
        """Record `record_id` as the index knows it, and its JSON line: what the record and
        capture routes need, without the versions and duplicates of an article page."""
        with self.collection.catalogs() as dbs:
            article = find_article(dbs, record_id)
        if article.asked.id != record_id:  # found by URL: these routes take record ids only
            raise NotFoundError(f"no archived record {record_id!r}")
        return article.asked, next(self.collection.lines([article.asked]))

    def record_json(self, request: Request) -> Response:
        record_id = request.path_params["id"]
        _, line = self._record(record_id)
        return Response(
            line,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{_safe_name(record_id)}.json"'},
        )

    def _capture(self, record_id: str) -> tuple[dict[str, Any], Capture]:
        hit, line = self._record(record_id)
        record = json.loads(line)
        pointer = record.get("warc") or {}
        return {"record": record}, read_capture(self.collection, pointer, hit.shard)

    def capture_page(self, request: Request) -> Response:
        found, capture = self._capture(request.path_params["id"])
        return _page("capture.html", {**found, "capture": capture})

    def capture_raw(self, request: Request) -> Response:
        found, capture = self._capture(request.path_params["id"])
        body = capture.body.decode("utf-8", "replace")
        return _page("raw.html", {**found, "capture": capture, "body": body})

    def captured(self, request: Request) -> Response:
        """The archived body as received, sandboxed: never the app's origin's scripts."""
        _, capture = self._capture(request.path_params["id"])
        return Response(
            capture.body,
            media_type=capture.content_type,
            headers={"Content-Security-Policy": CAPTURE_CSP, "Cache-Control": "no-store"},
        )

    def _sources(self) -> dict[str, Any]:
        with self.collection.catalogs() as dbs:
            overview = collection_overview(self.collection, dbs)
            days = collection_daily_counts(dbs)
        configured = {c["source"]: c for c in (self.sources_info() if self.sources_info else [])}
        archived = {s["source"]: s for s in overview["sources"]}
        rows = [
            {"source": name, **archived.get(name, {}), **configured.get(name, {})}
            for name in sorted(archived.keys() | configured.keys())
        ]
        return {"overview": overview, "sources": rows, "days": days}

    def sources(self, request: Request) -> Response:
        found = self._sources()
        return _page("sources.html", {**found, "chart": _chart(found["days"])})

    def api_sources(self, request: Request) -> Response:
        return JSONResponse(self._sources())


_FILTER_KEYS = (
    "q",
    "source",
    "language",
    "since",
    "until",
    "duplicates",
    "versions",
    "order",
    "page",
)


def _filters(params: Any, *, limit: int | None) -> Filters:
    """The search form's fields as `query`'s filters; bad values are UsageErrors."""
    search = params.get("q", "").strip() or None
    since, until = params.get("since", "").strip(), params.get("until", "").strip()
    return Filters(
        sources=tuple(s for s in params.getlist("source") if s),
        since=time_bound(since) if since else None,
        until=time_bound(until, end=True) if until else None,
        search=search,
        languages=tuple(lang for lang in params.getlist("language") if lang),
        include_duplicates=params.get("duplicates") == "on",
        all_versions=params.get("versions") == "on",
        limit=limit,
        newest_first=params.get("order") == "newest",
    )


def _page_number(text: str) -> int:
    try:
        page = int(text)
    except ValueError:
        raise UsageError(f"page must be a number, not {text[:20]!r}") from None
    if not 1 <= page <= MAX_PAGE:
        raise UsageError(f"page must be from 1 to {MAX_PAGE}: narrow the search instead")
    return page


def _result(hit: Hit, record: dict[str, Any], search: str | None) -> dict[str, Any]:
    return {**hit.brief(), "snippet": snippet(record.get("text") or "", search)}


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100] or "record"


def _chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry for the articles-per-day chart (inline SVG: no script needed)."""
    peak = max((max(d["published"], d["fetched"]) for d in days), default=0) or 1
    width = 12
    bars = []
    for index, day in enumerate(days):
        for offset, key in ((0, "published"), (width // 2, "fetched")):
            height = round(120 * day[key] / peak)
            bars.append(
                {
                    "x": index * width + offset,
                    "y": 130 - height,
                    "height": height,
                    "kind": key,
                    "label": f"{day['day']}: {day[key]} {key}",
                }
            )
    return {"bars": bars, "width": max(len(days) * width, width), "peak": peak}


def _page(template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(template).render(context), status_code)


def _error_page(request: Request, exc: Exception) -> Response:
    """An error as a page, or as JSON under /api/: 404 for what is not archived, 400 for a bad
    request, 500 for an archive that cannot be read."""
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:
        status = (
            404 if isinstance(exc, NotFoundError) else 400 if isinstance(exc, UsageError) else 500
        )
        message = str(exc)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return _page("error.html", {"status": status, "message": message}, status_code=status)


class _SecurityHeaders(BaseHTTPMiddleware):
    """A strict CSP on the app's pages (captures set their own sandbox), and no sniffing."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", APP_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response


class _TokenGate(BaseHTTPMiddleware):
    """Every request carries the token: `Authorization: Bearer T`, or the cookie that a first
    visit with `?token=T` sets (so links and forms keep working in a browser)."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self._token = token.encode()

    def _carried(self, request: Request) -> tuple[bool, bool]:
        """(carries the token, came in the URL and should become a cookie)."""
        header = request.headers.get("authorization", "")
        for given, from_url in (
            (header[7:] if header.lower().startswith("bearer ") else "", False),
            (request.cookies.get(TOKEN_COOKIE, ""), False),
            (request.query_params.get("token", ""), True),
        ):
            if given and hmac.compare_digest(given.encode(), self._token):
                return True, from_url
        return False, False

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        allowed, from_url = self._carried(request)
        if not allowed:
            return PlainTextResponse("a valid token is required", status_code=401)
        response = await call_next(request)
        if from_url:
            response.set_cookie(
                TOKEN_COOKIE, self._token.decode(), httponly=True, samesite="strict"
            )
        return response
