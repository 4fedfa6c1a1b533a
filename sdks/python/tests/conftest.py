"""A live gateway for the SDK's tests: the real `ccgate serve` (CCGATE_BIN, else the
debug build in CARGO_TARGET_DIR or target/) with the real Claude Code from `.tools`
(CCGATE_TEST_CLAUDE_BIN overrides it), a temporary data directory, and a test key
(`ccg_test_…`), whose tasks run against the gateway's built-in scripted model."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sdks/python/src"))


def ccgate_bin() -> Path:
    if os.environ.get("CCGATE_BIN"):
        return Path(os.environ["CCGATE_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return (target if target.is_absolute() else ROOT / target) / "debug/ccgate"


def claude_bin() -> Path:
    default = ROOT / ".tools/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    return Path(os.environ.get("CCGATE_TEST_CLAUDE_BIN", default))


@dataclass
class Webhook:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A local webhook receiver: every POST it gets, in order."""

    def __init__(self) -> None:
        self.received: queue.Queue[Webhook] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.put(Webhook({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.address = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass
class Gateway:
    url: str
    admin_key: str
    key: str
    webhook_secret: str
    receiver: Receiver

    def create_key(self, **fields: object) -> dict:
        """A key made over HTTP with the admin key (a test key unless told otherwise)."""
        body = {"name": "sdk-extra", "environment": "test", **fields}
        response = httpx.post(f"{self.url}/v1/keys", json=body, headers={"Authorization": f"Bearer {self.admin_key}"})
        response.raise_for_status()
        return response.json()


def _env(data_dir: str, receiver: Receiver) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CCGATE_DATA_DIR": data_dir,
        "CCGATE_LISTEN": "127.0.0.1:0",
        "CCGATE_CLAUDE_BIN": str(claude_bin()),
        "CCGATE_WORKERS": "2",
        "CCGATE_LOG_FORMAT": "json",
        "CCGATE_SHUTDOWN_GRACE_SECONDS": "2",
        "CCGATE_WEBHOOK_ALLOWED_HOSTS": receiver.address,
        # Test keys never reach the configured upstream: nothing listens here.
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "ANTHROPIC_API_KEY": "sk-ant-unused",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def _create_key(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [str(ccgate_bin()), "keys", "create", *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="ccgate-sdk-") as data_dir:
        env = _env(data_dir, receiver)
        admin = _create_key(env, "--name", "admin", "--scope", "admin")
        key = _create_key(env, "--name", "sdk", "--test")
        process = subprocess.Popen(
            [str(ccgate_bin()), "serve"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        address: queue.Queue[str] = queue.Queue()
        log: list[str] = []

        def read_log() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                log.append(line)
                found = re.search(r"ccgate listening on http://([0-9.:]+)", line)
                if found:
                    address.put(found.group(1))

        threading.Thread(target=read_log, daemon=True).start()
        try:
            url = f"http://{address.get(timeout=60)}"
        except queue.Empty:
            process.kill()
            raise RuntimeError("the gateway did not start:\n" + "".join(log)) from None
        try:
            yield Gateway(url, admin["secret"], key["secret"], key["webhook_secret"], receiver)
        finally:
            process.terminate()
            process.wait(timeout=60)
            receiver.server.shutdown()
