"""A fake Semantic Scholar API on 127.0.0.1 that replays real recorded responses, for tests.

It loads the recordings in ``shared/data/semantic_scholar/``: the vcrpy YAML cassettes of the ``semanticscholar``
client's own tests and of paper-qa (only ``api.semanticscholar.org`` traffic), and paper-qa's extracted
interactions JSON. Point the client at :attr:`S2Replay.api_url` (``SemanticScholar(api_url=...)``).

Choices written down here:

- A request matches a recording by method, path and query parameters, ignoring ``fields`` and ``limit`` (our
  client asks for more fields than the recordings did); the ``query`` value is compared case-insensitively and
  ``offset`` defaults to ``0``. A search answer is cut to the requested ``limit``, as the real API does; a paper
  object is cut to the requested ``fields``.
- ``GET /graph/v1/paper/{id}`` with no exact recording is answered from every full paper object in the recordings
  (``Paper.json``, batch answers, paper-qa DOI lookups), by paperId or ``DOI:``; an unknown id gets the real API's
  404 body. Any other unrecorded request is answered ``500`` and listed in :attr:`S2Replay.unmatched`, so a test
  that strays from the recordings fails visibly; with :attr:`S2Replay.empty_for_unrecorded_searches` set, an
  unrecorded ``/paper/search`` gets the recorded empty answer instead (for flows that search free text).
- Faults (:meth:`S2Replay.fail`, :meth:`S2Replay.stall`) are queued in front of the recordings: the recordings
  contain no 429, so rate limiting is scripted on top of a real answer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

HOST = "api.semanticscholar.org"
_IGNORED_PARAMS = {"fields", "limit"}


@dataclass(frozen=True)
class Recording:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    body: str
    source: str


@dataclass
class ReplayRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Fault:
    path_contains: str
    status: int
    body: str
    stall_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Key = tuple[str, str, tuple[tuple[str, str], ...]]


def _key(method: str, path: str, params: list[tuple[str, str]], *, exact: bool = False) -> Key:
    kept = {k: v for k, v in params if exact or k not in _IGNORED_PARAMS}
    if "query" in kept:
        kept["query"] = " ".join(kept["query"].lower().split())
    if path.endswith("/search") or path.endswith("/papers"):
        kept.setdefault("offset", "0")
    return method.upper(), unquote(path).rstrip("/"), tuple(sorted(kept.items()))


def _split(uri: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(uri)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def load_recordings(data_dir: Path) -> list[Recording]:
    """Every Semantic Scholar interaction recorded under ``data_dir`` (``shared/data/semantic_scholar``)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the 2 MB of cassettes 10x faster
    out: list[Recording] = []
    for cassette in sorted(data_dir.rglob("*.yaml")):
        doc = yaml.load(cassette.read_text(encoding="utf-8"), Loader=loader) or {}
        for it in doc.get("interactions") or []:
            req, resp = it.get("request") or {}, it.get("response") or {}
            uri = str(req.get("uri", ""))
            if urlsplit(uri).hostname != HOST:
                continue
            path, params = _split(uri)
            # two cassette formats: vcrpy's (body.string, status.code) and httpx's (content, status_code)
            body = (resp.get("body") or {}).get("string", "") if "body" in resp else resp.get("content", "")
            status = int((resp.get("status") or {}).get("code", resp.get("status_code", 200)))
            out.append(Recording(str(req.get("method", "GET")), path, tuple(params), status, body, cassette.name))
    for extracted in sorted(data_dir.rglob("*interactions*.json")):
        for it in json.loads(extracted.read_text(encoding="utf-8")):
            uri = str(it.get("uri", ""))
            if urlsplit(uri).hostname != HOST:
                continue
            path, params = _split(uri)
            body = it.get("body")
            text_body = body if isinstance(body, str) else json.dumps(body)
            method = str(it.get("method", "GET"))
            out.append(Recording(method, path, tuple(params), int(it["status"]), text_body, extracted.name))
    return out


def _paper_objects(data_dir: Path, recordings: list[Recording]) -> dict[str, dict[str, Any]]:
    """Full paper objects by lower-cased paperId and ``doi:<doi>``."""
    objects: list[dict[str, Any]] = []
    for name in ("Paper.json",):
        for path in data_dir.rglob(name):
            objects.append(json.loads(path.read_text(encoding="utf-8")))
    for rec in recordings:
        if rec.status != 200 or "/paper/" not in rec.path or rec.path.endswith(("/citations", "/references")):
            continue
        try:
            body = json.loads(rec.body)
        except ValueError:
            continue
        items = body if isinstance(body, list) else body.get("data", [body]) if isinstance(body, dict) else []
        objects += [o for o in items if isinstance(o, dict) and o.get("paperId") and o.get("title")]
    index: dict[str, dict[str, Any]] = {}
    for obj in objects:
        keys = [str(obj["paperId"]).lower()]
        doi = (obj.get("externalIds") or {}).get("DOI")
        if doi:
            keys.append(f"doi:{str(doi).lower()}")
        for k in keys:  # keep the richest object seen for an id
            if len(obj) > len(index.get(k, {})):
                index[k] = obj
    return index


@lru_cache(maxsize=2)
def _index(
    data_dir: Path,
) -> tuple[list[Recording], dict[Key, Recording], dict[Key, Recording], dict[str, dict[str, Any]]]:
    """Recordings, exact and loose lookup tables, and paper objects (parsed once per process: ~3 s of YAML)."""
    recordings = load_recordings(data_dir)
    exact: dict[Key, Recording] = {}
    loose: dict[Key, Recording] = {}
    for rec in recordings:
        exact.setdefault(_key(rec.method, rec.path, list(rec.params), exact=True), rec)
        if rec.status != 400:  # a 400 is about the exact parameters it was recorded with
            loose.setdefault(_key(rec.method, rec.path, list(rec.params)), rec)
    return recordings, exact, loose, _paper_objects(data_dir, recordings)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    replay: S2Replay


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("s2 replay: " + format, *args)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer("POST")

    def _answer(self, method: str) -> None:
        replay = self.server.replay
        path, params = _split(self.path)
        request = ReplayRequest(method, unquote(path), dict(params), {k.lower(): v for k, v in self.headers.items()})
        with replay._lock:
            replay.requests.append(request)
        status, body, headers = replay._respond(method, path, params)
        request.status = status
        data = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) first
            self.close_connection = True


class S2Replay:
    """The fake API. Use as a context manager; ``api_url`` is what ``SemanticScholar(api_url=...)`` takes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.recordings, self._exact, self._loose, self.papers = _index(data_dir.resolve())
        empty = [r.body for r in self.recordings if r.path.endswith("/paper/search") and '"total": 0' in r.body]
        self._empty_search = empty[0] if empty else '{"total": 0, "offset": 0}'
        self.requests: list[ReplayRequest] = []
        self.unmatched: list[str] = []
        self.empty_for_unrecorded_searches = False
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.api_url = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> S2Replay:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.replay = self
        self._httpd = httpd
        self.api_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="s2-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> S2Replay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------------------------

    def fail(self, status: int, *, times: int = 1, path_contains: str = "", body: str | None = None) -> None:
        """Answer the next ``times`` requests whose path contains ``path_contains`` with HTTP ``status``."""
        default = {429: '{"message": "Too Many Requests. Please wait and try again or apply for a key."}'}
        text = body if body is not None else default.get(status, json.dumps({"message": f"HTTP {status}"}))
        with self._lock:
            self._faults.extend(_Fault(path_contains, status, text) for _ in range(times))

    def stall(self, seconds: float, *, times: int = 1, path_contains: str = "") -> None:
        """Hold the next ``times`` matching requests for ``seconds`` (cut short by ``stop``), then answer 504."""
        with self._lock:
            self._faults.extend(
                _Fault(path_contains, 504, '{"message": "Endpoint request timed out"}', stall_s=seconds)
                for _ in range(times)
            )

    def requests_to(self, path_contains: str) -> list[ReplayRequest]:
        with self._lock:
            return [r for r in self.requests if path_contains in r.path]

    # -- answering ---------------------------------------------------------------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path_contains in unquote(path):
                    del self._faults[i]
                    return fault
        return None

    def _respond(self, method: str, path: str, params: list[tuple[str, str]]) -> tuple[int, str, dict[str, str]]:
        fault = self._take_fault(path)
        if fault is not None:
            if fault.stall_s:
                self._stopping.wait(fault.stall_s)
            return fault.status, fault.body, fault.headers
        query = dict(params)
        rec = self._exact.get(_key(method, path, params, exact=True)) or self._loose.get(_key(method, path, params))
        if rec is not None:
            return rec.status, self._shape(rec.body, query), {}
        upath = unquote(path).rstrip("/")
        prefix = "/graph/v1/paper/"
        if method == "GET" and upath.startswith(prefix) and "/search" not in upath:
            paper_id = upath[len(prefix) :]
            obj = self.papers.get(paper_id.lower())
            if obj is not None:
                return 200, json.dumps(_only_fields(obj, query.get("fields"))), {}
            with self._lock:
                self.unmatched.append(f"{method} {upath} (unknown paper id)")
            return 404, json.dumps({"error": f"Paper with id {paper_id} not found"}), {}
        with self._lock:
            self.unmatched.append(f"{method} {upath}?{params}")
        if self.empty_for_unrecorded_searches and upath == "/graph/v1/paper/search":
            return 200, self._empty_search, {}
        return 500, json.dumps({"message": f"s2 replay: no recording for {method} {upath}"}), {}

    @staticmethod
    def _shape(body: str, query: dict[str, str]) -> str:
        """Cut a recorded search page to the requested ``limit`` (the real API's behaviour)."""
        try:
            obj = json.loads(body)
        except ValueError:
            return body
        limit = query.get("limit")
        if isinstance(obj, dict) and isinstance(obj.get("data"), list) and limit and limit.isdigit():
            n = int(limit)
            if len(obj["data"]) > n:
                obj = {**obj, "data": obj["data"][:n], "next": int(obj.get("offset", 0)) + n}
            return json.dumps(obj)
        return body


def _only_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return {k: obj[k] for k in ("paperId", "title") if k in obj}
    wanted = {f.split(".")[0] for f in fields.split(",")} | {"paperId"}
    return {k: v for k, v in obj.items() if k in wanted}
