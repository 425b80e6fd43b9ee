"""The limits of a real `govledger serve` (uvicorn) process, met over raw sockets as an attacker would: an anonymous
body is refused before it is sent, a 100 MB chunked body does not grow the server, a slow body is cut off."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BODY_TIMEOUT_S = 2


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[int, int, str]]:
    """(port, pid, superadmin key) of a server on a fresh SQLite store."""
    cwd: Path = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["GOVLEDGER_HTTP_BODY_TIMEOUT"] = str(BODY_TIMEOUT_S)

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "govledger.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("init")
    cli("migrate")
    key = cli("users", "create-admin", "root").strip().splitlines()[-1]
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "govledger.cli", "serve", "--port", str(port)], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
            time.sleep(0.2)
    yield port, process.pid, key
    process.terminate()
    process.wait(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_S + 5)
    return sock


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict]:
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body[:_length(raw)])


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_an_unauthenticated_20_mb_body_is_refused_with_401_before_it_is_sent(server):
    port, _, _ = server
    with _connect(port) as sock:
        sock.sendall(_head("/v1/models", {"Content-Length": str(20 * 1024 * 1024)}))  # and not one byte of the body
        started = time.monotonic()
        status, body = _answer(sock)
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    assert time.monotonic() - started < BODY_TIMEOUT_S


def test_a_100_mb_chunked_body_is_refused_with_413_without_growing_the_server(server):
    port, pid, key = server
    before = _peak_rss_kib(pid)
    chunk = b"x" * (1024 * 1024)
    with _connect(port) as sock:
        sock.sendall(_head("/v1/models", {"Authorization": f"Bearer {key}", "Transfer-Encoding": "chunked"}))
        try:
            for _ in range(100):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while the rest was still coming
        status, body = _answer(sock)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert _peak_rss_kib(pid) - before < 32 * 1024  # the body was never held: at most a few MiB of buffers


def test_a_body_that_trickles_in_is_cut_off_with_408(server):
    port, _, key = server
    with _connect(port) as sock:
        sock.sendall(_head("/v1/models", {"Authorization": f"Bearer {key}", "Content-Length": "100"}) + b'{"name": ')
        started = time.monotonic()
        status, body = _answer(sock)
    assert (status, body["error"]["code"]) == (408, "body_timeout")
    assert BODY_TIMEOUT_S - 0.5 < time.monotonic() - started < BODY_TIMEOUT_S + 3


def test_the_server_still_serves_after_each_attack(server):
    port, _, key = server
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/users", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
