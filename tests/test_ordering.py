"""The order `tests/conftest.py` gives the collection: under `pytest -n N --dist
worksteal`, each worker's contiguous block starts with its share of the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import pytest_collection_modifyitems


@dataclass(frozen=True)
class Item:
    name: str
    seconds: float | None = None  # None: not end to end

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        if name != "e2e" or self.seconds is None:
            return None
        return pytest.mark.e2e(seconds=self.seconds).mark


def ordered(items: list[Item], workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    return [item.name for item in items]


SHORT = [Item(f"t{i}") for i in range(10)]
E2E = [Item("readme", 315), Item("cloud", 200), Item("cdktn", 130), Item("moto", 115)]


def test_two_workers_start_on_the_two_longest(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ordered([*SHORT[:3], *E2E, *SHORT[3:]], 2, monkeypatch)
    first, second = names[:7], names[7:]  # xdist's split of 14 tests: 14 // 2, the rest
    assert first == ["readme", "moto", "t0", "t1", "t2", "t3", "t4"]
    assert second == ["cloud", "cdktn", "t5", "t6", "t7", "t8", "t9"]


def test_one_process_runs_end_to_end_first_in_order_of_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ordered([*SHORT[:2], *E2E[::-1]], 1, monkeypatch)
    assert names == ["readme", "cloud", "cdktn", "moto", "t0", "t1"]


def test_three_workers_each_get_a_block_of_xdists_size(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ordered([*E2E, *SHORT], 3, monkeypatch)
    blocks = [names[:4], names[4:9], names[9:]]  # 14 // 3, then 10 // 2, then 5
    assert [block[0] for block in blocks] == ["readme", "cloud", "cdktn"]
    assert "moto" in blocks[2]  # the least loaded block takes the fourth
    assert sorted(names) == sorted(i.name for i in [*E2E, *SHORT])
