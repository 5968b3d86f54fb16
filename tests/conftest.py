"""Shared fixtures. Tests that need an external tool call `tests.tf_harness.require_tool`,
which skips with a reason, or fails when CI sets CRM_PORTS_REQUIRE_TOOLS=1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_ports.catalogue.load import default_catalogue_dir, load_catalogue
from crm_ports.catalogue.model import Catalogue
from crm_ports.cli import run

REPO = Path(__file__).resolve().parent.parent
# moto_server, aws_env, start_moto: a local EC2 endpoint per session, always stopped.
pytest_plugins = ("tests.moto_server",)


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` deselection: blocks of what runs
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each worker starts with its share of the end-to-end tests (stable order otherwise).

    `--dist worksteal` hands each worker one contiguous block of the collection and later
    lets an idle worker take the *tail* of another's queue. With every end-to-end test at
    the front, the first worker alone would run them all one after the other while the
    other ran the short tests. So the end-to-end tests are dealt, longest first, to the
    block of the worker with the least end-to-end time so far (their `e2e(seconds=...)`
    estimates), each block starts with its own, and the short tests fill the rest.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    e2e = [item for item in items if item.get_closest_marker("e2e") is not None]
    rest = [item for item in items if item.get_closest_marker("e2e") is None]
    e2e.sort(key=lambda item: -_estimated_seconds(item))  # stable: ties keep their order
    blocks: list[list[pytest.Item]] = [[] for _ in range(max(workers, 1))]
    for item in e2e:
        min(blocks, key=lambda block: sum(map(_estimated_seconds, block))).append(item)
    remaining = len(items)
    for index, block in enumerate(blocks):  # xdist's split: len(pending) // nodes left
        size = remaining // (len(blocks) - index)
        remaining -= size
        fill = max(size - len(block), 0)
        block.extend(rest[:fill])
        del rest[:fill]
    blocks[-1].extend(rest)
    items[:] = [item for block in blocks for item in block]


def _estimated_seconds(item: pytest.Item) -> float:
    """The `e2e(seconds=...)` estimate of a test (a CI run's duration, for ordering)."""
    marker = item.get_closest_marker("e2e")
    seconds = marker.kwargs.get("seconds", 60) if marker is not None else 0
    return float(seconds)


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
