"""A moto server (local EC2 emulator) for tests, as a pytest plugin.

Test modules opt in with ``pytest_plugins = ("tests.moto_server",)`` and ask for the
``moto_server`` fixture (and ``aws_env`` for credentials only moto accepts): one server
per session (per xdist worker) on a free 127.0.0.1 port, its state reset before each
test, always stopped at the end, with every wait bounded. The server is this
interpreter's moto, run by ``serial_moto_server.py`` (one request at a time): a
``moto_server`` elsewhere on PATH may belong to another interpreter and another moto.
Missing moto skips, or fails under CRM_PORTS_REQUIRE_TOOLS=1 (``require_tool``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tf_harness import require_tool

START_TIMEOUT_S = 120.0  # a bound for a failure only: a busy machine may take long to start moto
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3  # a free port can be taken between choosing and binding it


@dataclass(frozen=True)
class MotoServer:
    url: str
    log: Path

    def reset(self) -> None:
        """Forget every resource (moto's own reset API), so tests never see each other."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def failed_requests(self, lines: int = 12) -> str:
        """The last requests moto answered with an error status, from its access log: what a
        failing Terraform run sent, for the assertion message."""
        failed = [
            line
            for line in _tail(self.log, 100_000).splitlines()
            if _error_status(line) or line.startswith("crm-ports-moto:")
        ]
        return "\n".join(failed[-lines:]) or "(none)"

    def ec2(self, region: str = "us-east-1") -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        ).client("ec2", endpoint_url=self.url)


def server_command() -> list[str]:
    """This interpreter's moto, through `serial_moto_server.py`: moto's server, one request
    at a time, because moto's EC2 backend loses changes under concurrent requests."""
    if importlib.util.find_spec("moto") and importlib.util.find_spec("flask"):
        from moto.moto_server import werkzeug_app

        if not hasattr(werkzeug_app, "MotoRequestHandler"):  # the server would not start
            pytest.fail(
                f"moto {importlib.metadata.version('moto')} has no MotoRequestHandler, which "
                "tests/serial_moto_server.py extends: the test extra pins moto to the 5.2 "
                "line from 5.2.5 (pip install -e '.[test]')",
                pytrace=False,
            )
        return [sys.executable, str(Path(__file__).with_name("serial_moto_server.py"))]
    require_tool("moto_server", "emulates EC2 for the audit tests (moto[server])")
    pytest.fail("moto_server is on PATH but this interpreter cannot import moto[server]")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def _error_status(access_line: str) -> bool:
    """True for a werkzeug access-log line (`... "POST / HTTP/1.1" 400 -`) with status >= 400."""
    _, quote, after = access_line.rpartition('" ')
    status = after.split(" ", 1)[0]
    return bool(quote) and status.isdigit() and int(status) >= 400


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_moto(
    timeout: float = START_TIMEOUT_S, extra_env: dict[str, str] | None = None
) -> Iterator[MotoServer]:
    """Start a moto server, wait until it answers, yield it, and always stop it.

    `extra_env` configures moto itself, e.g. INITIAL_NO_AUTH_ACTION_COUNT=0 to make it
    check credentials the way AWS does."""
    command = server_command()
    workdir = Path(tempfile.mkdtemp(prefix="crm-ports-moto-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTO_")}
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    env.update(extra_env or {})
    try:
        yield from _start(command, workdir, env, timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _start(
    command: list[str], workdir: Path, env: dict[str, str], timeout: float
) -> Iterator[MotoServer]:
    for attempt in range(START_ATTEMPTS):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = workdir / f"moto-{attempt}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*command, "-H", "127.0.0.1", "-p", str(port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=env,
            )
        try:
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                if _answers(url):
                    break
                time.sleep(0.1)
            else:
                if process.poll() is None:
                    pytest.fail(
                        f"moto server did not answer at {url} within {timeout:.0f}s:\n{_tail(log)}"
                    )
                if attempt + 1 == START_ATTEMPTS:
                    pytest.fail(f"moto server exited ({process.returncode}):\n{_tail(log)}")
                continue  # exited early: most likely the port was taken meanwhile
            yield MotoServer(url, log)
            return
        finally:
            _stop(process)


StartMoto = Callable[..., AbstractContextManager[MotoServer]]


@pytest.fixture(scope="session")
def start_moto() -> StartMoto:
    """`running_moto` for tests that need a differently configured server of their own."""
    return running_moto


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoServer]:
    with running_moto() as server:
        yield server


@pytest.fixture
def moto_server(moto_session: MotoServer) -> MotoServer:
    """A moto server with no resources in it."""
    moto_session.reset()
    return moto_session


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's test credentials in the environment, and no way for boto3 (or the code
    under test) to find any other: no profile, no config files, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
