"""A small in-memory Hugging Face Hub on 127.0.0.1, for tests that run the real ``huggingface_hub`` client.

It speaks the parts of the Hub's HTTP API that the client uses to download and to commit:

- ``HEAD``/``GET /{repo_id}/resolve/{revision}/{path}``: ``ETag``, ``X-Repo-Commit``,
  ``Content-Length``, ``Range: bytes=N-`` (206/416), and 404s carrying ``X-Error-Code``
  ``RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound`` as the Hub sends them. The ETag is
  what the real Hub sends: the sha256 of a file stored in Git LFS (a weights or archive file by the
  Hub's default ``.gitattributes``, or any file of 10 MiB or more) and the git blob sha1 of any other
  (``config.json``, ``README.md``); :meth:`FakeHub.keep_in_git` stores a file outside LFS, as a repo
  whose ``.gitattributes`` does not cover it does.
- ``POST /api/repos/create``, ``/api/validate-yaml``, ``/api/models/{repo_id}/preupload/{rev}``
  (every file "regular", i.e. inline) and ``/api/models/{repo_id}/commit/{rev}`` (NDJSON).

It also serves plain files at ``/files/{name}`` (:meth:`FakeHub.put_file`), as a release page or
a mirror would, for the weights whose source is a URL.

Faults for the failure tests: :meth:`FakeHub.cut_file` makes the server's copy of a file short
(it still announces the full length, sends what it has and closes the connection),
:meth:`FakeHub.drop_once` cuts only the first transfer, and :meth:`FakeHub.lie_about_etag` makes
the Hub announce another file's ETag.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

WRITE_TOKEN = "hf_fakehub_write_token"  # the only token the fake Hub accepts for writes


class Request(NamedTuple):
    method: str
    path: str
    user_agent: str
    range: str | None  # the Range header of a resumed download


# The file types the Hub's default .gitattributes stores in Git LFS, and the size from which the Hub
# refuses a file outside LFS (10 MiB).
LFS_SUFFIXES = (
    ".7z", ".arrow", ".bin", ".bz2", ".ckpt", ".ftz", ".gz", ".h5", ".joblib", ".mlmodel", ".model",
    ".msgpack", ".npy", ".npz", ".onnx", ".ot", ".parquet", ".pb", ".pickle", ".pkl", ".pt", ".pth",
    ".rar", ".safetensors", ".tar", ".tflite", ".tgz", ".wasm", ".xz", ".zip", ".zst",
)  # fmt: skip
LFS_MIN_BYTES = 10 * 1024 * 1024


@dataclass
class _Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> files
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha


class FakeHub:
    """The fake Hub: its state, its fault switches, and the server thread that serves it."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.requests: list[Request] = []
        self._short: dict[tuple[str, str], int] = {}  # (repo, path) -> bytes the server really has
        self._drop: dict[tuple[str, str], int] = {}  # (repo, path) -> cut the next GET after n bytes
        self._etags: dict[tuple[str, str], str] = {}  # (repo, path) -> the ETag announced instead
        self._in_git: set[tuple[str, str]] = set()  # (repo, path) stored outside LFS whatever its name
        self.files: dict[str, bytes] = {}  # plain files served at /files/{name}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- state ---------------------------------------------------------------------------------

    def commit(self, repo_id: str, files: dict[str, bytes], *, branch: str = "main") -> str:
        """Commit ``files`` on top of the branch (creating the repo if needed); return the commit sha."""
        with self._lock:
            repo = self.repos.setdefault(repo_id, _Repo())
            parent = repo.branches.get(branch)
            tree = {**(repo.commits[parent] if parent else {}), **files}
            digest = hashlib.sha1(f"{repo_id}\n{parent}\n".encode())
            for path in sorted(tree):
                digest.update(path.encode() + b"\0" + hashlib.sha256(tree[path]).digest())
            sha = digest.hexdigest()
            repo.commits[sha] = tree
            repo.branches[branch] = sha
            return sha

    def cut_file(self, repo_id: str, path: str, nbytes: int) -> None:
        """Make the server hold only the first ``nbytes`` of a file while announcing its full size."""
        self._short[(repo_id, path)] = nbytes

    def drop_once(self, repo_id: str, path: str, nbytes: int) -> None:
        """Cut the next download of a file after ``nbytes``; later requests (resumes) are served."""
        self._drop[(repo_id, path)] = nbytes

    def lie_about_etag(self, repo_id: str, path: str, etag: str) -> None:
        """Announce ``etag`` for a file instead of its sha256 (a corrupt mirror, a tampered proxy)."""
        self._etags[(repo_id, path)] = etag

    def keep_in_git(self, repo_id: str, path: str) -> None:
        """Store a file outside LFS (its ETag becomes its git blob sha1): ``.gitattributes`` missed it."""
        self._in_git.add((repo_id, path))

    def etag(self, repo_id: str, path: str, content: bytes) -> str:
        """The ETag the Hub sends for a file: sha256 of an LFS file, git blob sha1 of any other."""
        lfs = (repo_id, path) not in self._in_git and (
            path.endswith(LFS_SUFFIXES) or len(content) >= LFS_MIN_BYTES
        )
        if lfs:
            return hashlib.sha256(content).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()

    def put_file(self, name: str, content: bytes) -> str:
        """Serve ``content`` at a plain URL (no Hub API); return the URL. Faults use repo ``"files"``."""
        self.files[name] = content
        return f"{self.url}/files/{name}"

    def downloads(self, path_suffix: str) -> int:
        """How many GET requests for a path ending in ``path_suffix`` reached the server."""
        return sum(1 for r in self.requests if r.method == "GET" and r.path.endswith(path_suffix))

    # -- server --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Hub is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fakehub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: a free port
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects; every response has a length
    fakehub: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # silence the default stderr log
        pass

    # -- plumbing ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(
            status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message, **(headers or {})}
        )

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _record(self) -> str:
        path = urlsplit(self.path).path
        self.fakehub.requests.append(
            Request(self.command, path, self.headers.get("User-Agent", ""), self.headers.get("Range"))
        )
        return path

    # -- downloads -----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._resolve(self._record())

    def do_GET(self) -> None:
        self._resolve(self._record())

    def _resolve(self, path: str) -> None:
        parts = path.lstrip("/").split("/")
        if parts[0] == "files" and len(parts) >= 2:
            name = unquote("/".join(parts[1:]))
            if name not in self.fakehub.files:
                self._error(404, "NotFound", f"no file {name}")
                return
            self._serve("files", name, self.fakehub.files[name], {"Content-Type": "application/octet-stream"})
            return
        if len(parts) < 5 or parts[2] != "resolve":
            self._error(404, "NotFound", f"no route for {path}")
            return
        repo_id, revision, file_path = "/".join(parts[:2]), unquote(parts[3]), unquote("/".join(parts[4:]))
        hub = self.fakehub
        repo = hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return
        sha = repo.branches.get(revision, revision if revision in repo.commits else None)
        if sha is None:
            self._error(404, "RevisionNotFound", "Invalid rev id: " + revision)
            return
        content = repo.commits[sha].get(file_path)
        if content is None:
            self._error(404, "EntryNotFound", f"{file_path} does not exist", {"X-Repo-Commit": sha})
            return
        etag = hub._etags.get((repo_id, file_path)) or hub.etag(repo_id, file_path, content)
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{etag}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        self._serve(repo_id, file_path, content, headers)

    def _serve(self, repo_id: str, file_path: str, content: bytes, headers: dict[str, str]) -> None:
        """Send a file (its length only, for HEAD), with Range support and the configured faults."""
        hub = self.fakehub
        if self.command == "HEAD":
            self._send(200, content, headers)  # HEAD: the length of the body it would send, no body
            return
        total = len(content)
        available = hub._short.get((repo_id, file_path), total)
        start = 0
        range_header = self.headers.get("Range")
        if range_header:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= available:  # what a server says when asked for bytes it does not have
                self._send(416, b"", {"Content-Range": f"bytes */{total}"})
                return
        cut = min(available, hub._drop.pop((repo_id, file_path), total))
        self.send_response(206 if range_header else 200)
        for name, value in headers.items():
            self.send_header(name, value)
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.send_header("Content-Length", str(total - start))
        self.end_headers()
        self.wfile.write(content[start:cut] if cut > start else b"")
        if cut < total:
            # Fewer bytes than announced, then the connection goes away, as on a network failure.
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- uploads -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = self._record()
        body = self._body()
        if self.headers.get("Authorization") != f"Bearer {WRITE_TOKEN}" and path != "/api/validate-yaml":
            self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return
        hub = self.fakehub
        if path == "/api/repos/create":
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}"
            if repo_id in hub.repos:  # the Hub's 409 carries the repo url too
                message = "You already created this model repo"
                self._json(
                    409, {"error": message, "url": f"{hub.url}/{repo_id}"}, {"X-Error-Message": message}
                )
                return
            hub.repos[repo_id] = _Repo()
            self._json(200, {"url": f"{hub.url}/{repo_id}"})
            return
        if path == "/api/validate-yaml":
            self._json(200, {"errors": [], "warnings": []})
            return
        parts = path.split("/")  # /api/models/{org}/{name}/{preupload|commit}/{rev}
        if len(parts) != 7 or parts[:3] != ["", "api", "models"]:
            self._error(404, "NotFound", f"no route for {path}")
            return
        repo_id, action, revision = f"{parts[3]}/{parts[4]}", parts[5], unquote(parts[6])
        if repo_id not in hub.repos:
            self._error(404, "RepoNotFound", "Repository not found")
            return
        if action == "preupload":
            files = json.loads(body)["files"]
            self._json(
                200,
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                    ]
                },
            )
        elif action == "commit":
            files = {}
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                elif item["key"] != "header":
                    self._error(400, "BadRequest", f"the fake Hub does not support {item['key']} operations")
                    return
            sha = hub.commit(repo_id, files, branch=revision)
            self._json(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha})
        else:
            self._error(404, "NotFound", f"no route for {path}")
