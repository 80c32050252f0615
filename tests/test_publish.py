"""Publishing from a notebook: nothing outside a run, CSV and JSON lines inside one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from capacity import publish
from capacity.errors import ParameterError


def test_publishing_outside_a_run_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(publish.PUBLISH_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    table = pd.DataFrame({"monthly_usd": [1.0]})

    assert publish.publish_table("costs", table) is table
    publish.publish_result("monthly_usd", 1.0)

    assert list(tmp_path.iterdir()) == []


def test_publishing_inside_a_run_writes_csv_and_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(publish.PUBLISH_DIR_ENV, str(tmp_path))

    publish.publish_table("costs", pd.DataFrame({"monthly_usd": [1.5]}))
    publish.publish_result("monthly_usd", float("nan"))
    publish.publish_result("monthly_usd", 2.0)

    assert (tmp_path / "costs.csv").read_text() == "monthly_usd\n1.5\n"
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"monthly_usd": None},
        {"monthly_usd": 2.0},
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Monthly USD", 1.0, "'Monthly USD' must be lower-case snake case"),
        ("options", [1, 2], "'options' must be a number, text, bool or None"),
    ],
)
def test_bad_publications_are_refused(name: str, value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        publish.publish_result(name, value)  # type: ignore[arg-type]
