"""Same input and seed give the same plan; the generator is reproducible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import BACKEND_NAMES, EXAMPLE

from benchmarks.generator import generate, write_folder
from optimizer import Scenario, load_scenario, solve


def generated_scenario(threads: int = 1, size: tuple[int, int] = (30, 4)) -> Scenario:
    data = generate(*size, seed=3)
    data["solver"] = {"time_limit_s": 30, "gap": 0.0, "seed": 5, "threads": threads}
    return Scenario.from_dict(data)


def without_seconds(plan_dict: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(plan_dict.pop("seconds"), float)
    return plan_dict


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_same_input_and_seed_give_the_same_plan(backend: str) -> None:
    first = solve(generated_scenario(), backend=backend)
    second = solve(generated_scenario(), backend=backend)
    assert first.status == "optimal"
    assert without_seconds(first.to_dict()) == without_seconds(second.to_dict())


def test_cpsat_with_two_workers_is_reproducible() -> None:
    first = solve(generated_scenario(threads=2, size=(20, 3)), backend="cpsat")
    second = solve(generated_scenario(threads=2, size=(20, 3)), backend="cpsat")
    assert first.status == "optimal"
    assert without_seconds(first.to_dict()) == without_seconds(second.to_dict())


def test_generator_is_seeded() -> None:
    assert generate(40, 5, seed=9) == generate(40, 5, seed=9)
    assert generate(40, 5, seed=9) != generate(40, 5, seed=10)
    data = generate(40, 5, seed=9)
    assert (len(data["accounts"]), len(data["csms"])) == (40, 5)
    Scenario.from_dict(data)  # valid


def test_written_folder_loads_back_to_the_same_scenario(tmp_path: Path) -> None:
    path = write_folder(generate(20, 3, seed=3), tmp_path / "team")
    assert path.name == "scenario.json"
    assert {p.name for p in path.parent.iterdir()} == {"scenario.json", "accounts.csv", "csms.csv"}
    assert load_scenario(path) == Scenario.from_dict(generate(20, 3, seed=3))


def test_bundled_example_is_the_generators_seed_7() -> None:
    bundled = load_scenario(EXAMPLE)
    generated = Scenario.from_dict(generate(150, 8, seed=7))
    assert bundled.accounts == generated.accounts
    assert bundled.csms == generated.csms
    assert bundled.constraints == generated.constraints
