"""Chart helpers: what each chart draws, checked on tiny hand-made frames."""

from __future__ import annotations

import pandas as pd

from capacity import charts


def test_cost_bars_leave_out_a_component_that_is_zero_everywhere() -> None:
    frame = pd.DataFrame(
        {
            "option": ["t3.large x17", "t3.large x17", "c5.large x17", "c5.large x17"],
            "component": ["instance hours", "surplus credits"] * 2,
            "monthly_usd": [1032.51, 0.0, 1054.85, 0.0],
        }
    )

    drawn = charts.cost_bars_chart(frame).data

    assert drawn["component"].unique().tolist() == ["instance hours"]
    assert len(drawn) == 2


def test_cost_bars_keep_a_component_that_is_paid_by_one_option() -> None:
    frame = pd.DataFrame(
        {
            "option": ["a", "a", "b", "b"],
            "component": ["instance hours", "surplus credits"] * 2,
            "monthly_usd": [100.0, 0.0, 90.0, 12.5],
        }
    )

    drawn = charts.cost_bars_chart(frame).data

    assert sorted(drawn["component"].unique()) == ["instance hours", "surplus credits"]


def test_a_share_is_drawn_on_a_percent_axis_with_a_readable_title() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"),
            "utilisation_frac": [0.1, 0.5, 0.2],
        }
    )

    y = charts.time_series_chart(frame, "utilisation_frac").to_dict()["encoding"]["y"]

    assert y["axis"]["format"] == "%"
    assert y["title"] == "CPU (%)"
