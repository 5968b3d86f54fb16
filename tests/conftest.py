"""Shared fixtures. Tests that need an external tool call `tests.tf_harness.require_tool`,
which skips with a reason, or fails when CI sets CRM_PORTS_REQUIRE_TOOLS=1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_ports.catalogue import default_catalogue_dir, load_catalogue
from crm_ports.cli import run
from crm_ports.model import Catalogue

REPO = Path(__file__).resolve().parent.parent
# moto_server, aws_env, start_moto: a local EC2 endpoint per session, always stopped.
pytest_plugins = ("tests.moto_server",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first (stable order otherwise): under `pytest -n 2` the longest
    tests then start at once and the short ones fill the gaps, instead of one worker
    starting the README deploy session when the other has nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="session", autouse=True)
def _parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test run (and each process it starts) gets a parse cache of its own, so a
    developer's ~/.cache never decides an outcome and the tests never write there."""
    folder = tmp_path_factory.mktemp("crm-ports-cache")
    saved = os.environ.get("CRM_PORTS_CACHE_DIR")
    os.environ["CRM_PORTS_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("CRM_PORTS_CACHE_DIR", None)
    else:
        os.environ["CRM_PORTS_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `crm-ports ARGS...` in-process; returns exit code, stdout, stderr."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    """A writable copy of the built-in catalogue, for tests that break it on purpose."""
    target = tmp_path / "catalog"
    shutil.copytree(default_catalogue_dir(), target)
    return target
