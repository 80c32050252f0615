"""Display formatting of report tables, headline sentences and result rounding.

Expected texts are written by hand from the rules in capacity/tables.py's docstrings
(dollars with cents and thousands separators, shares as percentages with one
decimal, 0.1 ms) and the breakeven worked by AWS's method in the comments.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity import breakeven, tables
from capacity.errors import ParameterError


def test_for_display_names_units_and_formats_values() -> None:
    frame = pd.DataFrame(
        {
            "instance_type": ["t3.large", "c6i.large"],
            "count": [17, 17],
            "monthly_cost_usd": [1032.512, 1054.85],
            "peak_utilisation_frac": [0.5945595, 0.5945595],
            "p99_at_peak_ms": [52.02993, 52.02993],
            "min_balance_credits": [678.353, math.nan],
            "binding_constraint": ["zone_loss", "p99_slo,credit_floor"],
        }
    )

    shown = tables.for_display(frame).frame

    assert list(shown.columns) == [
        "Instance type",
        "Instances",
        "Monthly cost (USD)",
        "Peak CPU (%)",
        "p99 at peak (ms)",
        "Lowest credit balance (credits)",
        "Binding constraint",
    ]
    assert shown.iloc[0].tolist() == [
        "t3.large",
        "17",
        "$1,032.51",
        "59.5 %",
        "52.0",
        "678",
        "zone loss",
    ]
    assert shown.iloc[1, 5] == "–"
    assert shown.iloc[1, 6] == "p99 slo, credit floor"


def test_for_display_keeps_the_columns_asked_for_in_order() -> None:
    frame = pd.DataFrame({"count": [3], "mode": ["standard"], "detail": ["x"]})

    shown = tables.for_display(frame, ["mode", "count"], headers={"count": "Fleet"})

    assert list(shown.frame.columns) == ["Credit mode", "Fleet"]


def test_for_display_names_a_missing_column() -> None:
    frame = pd.DataFrame({"count": [3]})

    with pytest.raises(ParameterError, match=r"columns \['p99_ms'\] are not in"):
        tables.for_display(frame, ["count", "p99_ms"])


def test_the_html_has_no_index_and_aligns_numbers_right() -> None:
    frame = pd.DataFrame({"option": ["t3.large x17"], "monthly_cost_usd": [60.9]})

    page = tables.for_display(frame)._repr_html_()

    assert "<th" in page and ">0<" not in page  # no pandas index column
    assert '<td style="text-align:left">t3.large x17</td>' in page
    assert '<td style="text-align:right">$60.90</td>' in page


def test_the_html_escapes_text() -> None:
    frame = pd.DataFrame({"detail": ["<b>x</b>"]})

    assert "&lt;b&gt;" in tables.for_display(frame)._repr_html_()


@pytest.mark.parametrize(
    ("name", "header", "kind"),
    [
        ("queue_wait_ms", "Queue wait (ms)", "ms"),
        ("spare_frac", "Spare (%)", "frac"),
        ("extra_usd", "Extra (USD)", "usd"),
        ("drain_hours", "Drain (h)", "hours"),
        ("region", "Region", "text"),
    ],
)
def test_an_unlisted_column_is_named_by_its_unit(
    name: str, header: str, kind: str
) -> None:
    assert tables.column_for(name) == tables.Column(header, kind)


def test_the_legend_explains_each_reason_once() -> None:
    reasons = ["zone_loss", "p99_slo,credit_floor", "zone_loss", "none (one)"]

    legend = tables.reason_legend(reasons).frame

    assert legend["Constraint"].tolist() == [
        "zone loss",
        "p99 slo",
        "credit floor",
        "none",
    ]
    assert legend["Meaning"].tolist() == [
        tables.REASONS[name]
        for name in ("zone_loss", "p99_slo", "credit_floor", "none")
    ]


def test_every_constraint_the_screen_checks_has_a_plain_meaning() -> None:
    # The names capacity.screening and capacity.recommend write (their Check and
    # rejection rows): headroom, zone_loss, p99_slo, credit_floor, surge,
    # max_count and fleet_model.
    checked = {
        "headroom",
        "zone_loss",
        "p99_slo",
        "credit_floor",
        "surge",
        "max_count",
        "fleet_model",
    }

    assert checked <= set(tables.REASONS)


def test_the_sizing_headline_states_the_answer() -> None:
    best = {
        "instance_type": "t3.large",
        "count": 17,
        "mode": "standard",
        "monthly_cost_usd": 1032.512,
        "cost_per_million_requests_usd": 0.339456,
        "p99_at_peak_ms": 52.0299,
        "binding_constraint": "zone_loss",
    }

    assert tables.sizing_headline(best) == (
        "Run 17 x t3.large in standard mode: $1,032.51 a month ($0.34 per million "
        "requests), p99 52.0 ms at the peak; the binding constraint is zone loss "
        "(with one instance fewer, " + tables.REASONS["zone_loss"] + ")."
    )


def test_an_arm_type_headline_says_the_service_needs_arm64_builds() -> None:
    # t4g is AWS Graviton (arm64), AWS-CREDITS.md 1.1 / the catalog's arch column.
    best = {
        "instance_type": "t4g.medium",
        "count": 17,
        "mode": "unlimited",
        "monthly_cost_usd": 488.79,
        "cost_per_million_requests_usd": 0.16,
        "p99_at_peak_ms": 52.0,
        "binding_constraint": "zone_loss",
    }

    headline = tables.sizing_headline(best)

    assert headline.startswith("Run 17 x t4g.medium in unlimited mode: $488.79")
    assert headline.endswith(
        "t4g.medium is an Arm (Graviton) type: the service must run arm64 builds; "
        "search x86 families only (t3, c5, m5, ...) if it cannot."
    )


def test_a_fixed_type_headline_names_no_credit_mode() -> None:
    best = {
        "instance_type": "c6i.large",
        "count": 4,
        "mode": "fixed",
        "monthly_cost_usd": 248.2,
        "cost_per_million_requests_usd": 1.5,
        "p99_at_peak_ms": 9.0,
        "binding_constraint": "headroom",
    }

    assert tables.sizing_headline(best).startswith("Run 4 x c6i.large: $248.20")


def _option(instance_type: str, mode: str, count: int, **costs: float) -> dict:
    return {
        "instance_type": instance_type,
        "mode": mode,
        "count": count,
        "monthly_cost_usd": costs["monthly"],
        "surplus_cost_usd": costs.get("surplus", 0.0),
        "hours_of_credit_at_worst_surge": math.nan,
        "binding_constraint": "zone_loss",
    }


def test_burstable_verdicts_compare_with_the_cheapest_fixed_fleet() -> None:
    options = pd.DataFrame(
        [
            _option("c6i.large", "fixed", 17, monthly=1054.85),
            _option("t3.large", "unlimited", 17, monthly=1100.0, surplus=67.49),
            _option("c5.large", "fixed", 17, monthly=1054.85),
        ]
    )
    rejected = pd.DataFrame(
        [
            {
                "instance_type": "t3.large",
                "mode": "standard",
                "count": 400,
                "reason": "credit_floor",
                "detail": "credits exhausted",
                "measured": 0.0,
                "limit": 86.4,
            }
        ]
    )

    lines = tables.burstable_verdicts(options, rejected)

    # 1100.00 - 1054.85 = 45.15 more a month than the cheapest fixed fleet.
    assert lines == [
        "No burstable type is feasible in standard mode at any fleet size.",
        "Cheapest in unlimited mode: 17 x t3.large unlimited at $1,100.00 a month, "
        "$67.49 of it surplus credits; $45.15 more a month than 17 x c6i.large, the "
        "cheapest fixed-performance fleet (binding: zone loss).",
        "t3.large standard was rejected: "
        + tables.REASONS["credit_floor"]
        + " (credits exhausted).",
    ]


def _prices(burstable_usd_per_h: float, fixed_usd_per_h: float, pct: float) -> object:
    return SimpleNamespace(
        burstable="t3.large",
        fixed="x.large",
        breakeven_cpu_pct=pct,
        burstable_price_usd_per_h=burstable_usd_per_h,
        fixed_price_usd_per_h=fixed_usd_per_h,
    )


@pytest.mark.parametrize(
    ("burstable_usd_per_h", "fixed_usd_per_h", "pct", "verdict"),
    [
        (0.0832, 0.096, 42.8, "t3.large cheaper below 42.8 % average CPU"),
        (0.0832, 0.0725, 19.3, "x.large cheaper at any load"),
        (0.0832, 0.4, 350.0, "t3.large cheaper at any load"),
    ],
)
def test_breakeven_verdict_from_the_prices(
    burstable_usd_per_h: float, fixed_usd_per_h: float, pct: float, verdict: str
) -> None:
    prices = _prices(burstable_usd_per_h, fixed_usd_per_h, pct)

    assert tables.breakeven_verdict(prices) == verdict


def test_breakeven_verdict_uses_fixed_always_cheaper_when_given() -> None:
    result = SimpleNamespace(
        burstable="t3.large",
        fixed="c7g.large",
        breakeven_cpu_pct=math.nan,
        fixed_always_cheaper=True,
        burstable_price_usd_per_h=0.0832,
        fixed_price_usd_per_h=0.0725,
    )

    assert tables.breakeven_verdict(result) == "c7g.large cheaper at any load"


def test_breakeven_verdict_on_the_bundled_prices() -> None:
    # Bundled us-east-1 Linux prices: t3.large 0.0832, m5.large 0.096, c7g.large
    # 0.0725 USD/h. AWS's method: 30 + (0.096 - 0.0832) / (2 x 0.05) x 100 = 42.8 %
    # for m5.large; c7g.large costs less per hour than t3.large at 0 % CPU.
    m5 = breakeven.breakeven("t3.large", "m5.large")
    c7g = breakeven.breakeven("t3.large", "c7g.large")

    assert tables.breakeven_verdict(m5) == "t3.large cheaper below 42.8 % average CPU"
    assert tables.breakeven_verdict(c7g) == "c7g.large cheaper at any load"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("monthly_cost_usd", 1032.512, 1032.51),
        ("cost_per_million_requests_usd", 0.33945600071770693, 0.34),
        ("p99_at_peak_ms", 52.02993474676944, 52.0),
        ("peak_utilisation_frac", 0.5945595294117648, 0.5946),
        ("failed_frac_08_15_to_17_40", 0.231234, 0.2312),
        ("hours_to_exhaustion", 18.2051, 18.21),
        ("requests_per_day", 99999999.78857143, 100000000),
        ("minutes_to_converge_with_fixed_timeout", 7.4567, 7.46),
        ("recommended_count", 17, 17),
        ("recommended_mode", "standard", "standard"),
        ("converged_with_outage_timeout", False, False),
    ],
)
def test_rounded_by_the_unit_in_the_name(
    name: str, value: object, expected: object
) -> None:
    assert tables.rounded(name, value) == expected
    assert type(tables.rounded(name, value)) is type(expected)


def test_rounded_timestamps_are_iso_8601_to_the_second() -> None:
    moment = pd.Timestamp("2026-04-06 08:12:18.568000875+00:00")

    assert tables.rounded("credits_exhausted_at_utc", moment) == (
        "2026-04-06T08:12:18+00:00"
    )
    assert tables.rounded("credits_exhausted_at_utc", str(moment)) == (
        "2026-04-06T08:12:18+00:00"
    )
    assert tables.rounded("credits_exhausted_at_utc", "None") is None


def test_rounded_leaves_nan_for_the_publisher() -> None:
    assert math.isnan(tables.rounded("monthly_cost_usd", math.nan))


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_usd_reads_back_to_the_cent(value: float) -> None:
    text = tables.usd(value)

    assert float(text.replace("$", "").replace(",", "")) == pytest.approx(
        value, abs=0.005 + 1e-9 * abs(value)
    )


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
def test_rounded_usd_is_within_half_a_cent(value: float) -> None:
    assert abs(tables.rounded("x_usd", value) - value) <= 0.005 + 1e-9 * abs(value)
