"""SizingParams: defaults, strict YAML reading and one test per error message."""

from __future__ import annotations

import dataclasses
import datetime
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.errors import CapacityWarning, CatalogError, IngestError, ParameterError
from capacity.ingest import Trace, trace_to_workload
from capacity.params import (
    AmbiguousScalar,
    SizingParams,
    Surge,
    load_params_yaml,
    sizing_workload,
)


def test_an_empty_mapping_gives_the_defaults() -> None:
    assert SizingParams.from_mapping({}) == SizingParams()


def test_default_horizon_is_one_month_of_730_hours() -> None:
    # AWS bills a month as 730 hours (8760 h / 12).
    assert SizingParams().horizon_hours == 730.0


def test_a_full_yaml_file_is_read_into_typed_fields() -> None:
    text = """
    workload: default
    requests_per_day: 100000000
    cpu_per_request_ms: 2.5
    families: [t3, c5]
    modes: [standard]
    p99_slo_ms: 200
    zones: 3
    surges:
      - {start: '2026-04-06 08:00', hours: 4, multiplier: 1.5}
    discount_pct: 30
    """

    params = SizingParams.from_mapping(load_params_yaml(text))

    assert params.families == ("t3", "c5")
    assert params.modes == ("standard",)
    assert params.requests_per_day == 1e8
    assert params.surges == (Surge("2026-04-06 08:00", 4.0, 1.5),)
    assert isinstance(params.p99_slo_ms, float)


def test_yaml_octal_looking_integer_is_kept_ambiguous() -> None:
    value = load_params_yaml("horizon_hours: 0730")["horizon_hours"]

    assert isinstance(value, AmbiguousScalar)
    assert "octal number 472" in value.reason  # 7*64 + 3*8 + 0 = 472


def test_yaml_octal_looking_integer_is_rejected_by_name() -> None:
    values = load_params_yaml("horizon_hours: 0730")

    with pytest.raises(ParameterError, match=r"horizon_hours: .*octal.*leading zero"):
        SizingParams.from_mapping(values)


def test_yaml_base_60_integer_is_rejected_by_name() -> None:
    values = load_params_yaml("warning_hours: 1:30")

    with pytest.raises(ParameterError, match=r"warning_hours: .*base-60"):
        SizingParams.from_mapping(values)


def test_plain_yaml_integers_still_read_as_numbers() -> None:
    assert load_params_yaml("zones: 3\nmax_count: 1_000") == {
        "zones": 3,
        "max_count": 1000,
    }


def test_a_date_is_rejected_with_the_advice_to_quote_it() -> None:
    with pytest.raises(
        ParameterError, match=r"surges\[0\].start=.*read as a date.*quote"
    ):
        SizingParams.from_mapping(
            load_params_yaml(
                "surges:\n  - {start: 2026-04-06, hours: 2, multiplier: 2}"
            )
        )


def test_a_date_for_a_number_is_rejected() -> None:
    with pytest.raises(
        ParameterError, match=r"horizon_hours=2026-01-05 was read as a date"
    ):
        SizingParams.from_mapping({"horizon_hours": datetime.date(2026, 1, 5)})


def test_a_huge_integer_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"max_count=10{12} is larger than"):
        SizingParams.from_mapping({"max_count": 10**12})


def test_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(
        ParameterError, match=r"unknown parameter 'p99_slo'.*'p99_slo_ms'"
    ):
        SizingParams.from_mapping({"p99_slo": 200})


def test_a_yaml_boolean_for_text_is_rejected() -> None:
    # YAML 1.1 reads an unquoted `no` as False.
    with pytest.raises(
        ParameterError, match=r"os=False is a bool, but os must be text"
    ):
        SizingParams.from_mapping(load_params_yaml("os: no"))


def test_a_boolean_for_a_number_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"zones=True is a bool"):
        SizingParams.from_mapping({"zones": True})


def test_more_zones_than_any_region_has_are_refused() -> None:
    # us-east-1, the largest AWS region, has six availability zones.
    assert SizingParams.from_mapping({"zones": 6}).zones == 6
    with pytest.raises(ParameterError, match=r"zones=7 is more availability zones"):
        SizingParams.from_mapping({"zones": 7})


def test_an_export_shorter_than_a_day_is_warned_about(tmp_path: Path) -> None:
    # 8 hours of 5-minute CPU readings: 96 rows, less than one day of credit cycle.
    rows = [
        f"2014-04-10 {h:02d}:{m:02d}:00,13.0" for h in range(8) for m in range(0, 60, 5)
    ]
    export = tmp_path / "short_cpu.csv"
    export.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    params = SizingParams.from_mapping(
        {
            "workload": str(export),
            "metric": "CPUUtilization",
            "current_instance_type": "t3.large",
            "current_count": 4,
        }
    )

    with pytest.warns(CapacityWarning, match=r"covers only 8.0 h; credit balances"):
        sizing_workload(params)


def test_a_fractional_count_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"max_count=2.5 .* a whole number"):
        SizingParams.from_mapping({"max_count": 2.5})


def test_numeric_text_is_read_as_a_number() -> None:
    # YAML 1.1 reads `1e3` (no dot) as the text '1e3'; it means 1000.
    values = load_params_yaml("requests_per_day: 1e3\np99_slo_ms: '2.5E+2'")
    params = SizingParams.from_mapping(values)
    assert (params.requests_per_day, params.p99_slo_ms) == (1000.0, 250.0)


def test_text_that_is_not_a_number_is_still_rejected() -> None:
    with pytest.raises(ParameterError, match=r"p99_slo_ms='fast' is a str"):
        SizingParams.from_mapping(load_params_yaml("p99_slo_ms: fast"))


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan"])
def test_non_finite_numbers_name_the_parameter(text: str) -> None:
    with pytest.raises(
        ParameterError, match=r"^p99_slo_ms=(-?inf|nan) must be a finite number"
    ):
        SizingParams.from_mapping(load_params_yaml(f"p99_slo_ms: {text}"))
    with pytest.raises(ParameterError, match=r"^p99_slo_ms=.* must be a finite"):
        SizingParams(p99_slo_ms=float(text.replace(".", ""))).validate()


def test_a_duplicate_key_is_rejected_naming_it() -> None:
    text = "p99_slo_ms: 200\nzones: 3\np99_slo_ms: 300\n"
    with pytest.raises(
        ParameterError,
        match=r"gives 'p99_slo_ms' twice \(lines 1 and 3\); keep one line",
    ):
        load_params_yaml(text)


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        ({"p99_slo_ms": 0}, r"p99_slo_ms=0.0 must be greater than zero"),
        ({"headroom_frac": 20}, r"headroom_frac=20.0 is outside \[0, 1\)"),
        ({"slo_share_frac": 0}, r"slo_share_frac=0.0 is outside \(0, 1\]"),
        ({"discount_pct": 100}, r"discount_pct=100.0 is outside \[0, 100\)"),
        ({"modes": ["unlimted"]}, r"modes: unknown value 'unlimted'; did you mean"),
        ({"modes": []}, r"modes is empty"),
        (
            {"discount_pct": 30, "committed_price_table": "sp.csv"},
            r"discount_pct=30.0 and committed_price_table are both given",
        ),
        ({"os": "macos"}, r"os: unknown value 'macos'"),
        (
            {"current_instance_type": "t3.large"},
            r"current_instance_type='t3.large' and current_count=None: give both",
        ),
        (
            {"current_instance_type": "t3.large", "current_count": 0},
            r"current_count=0 must be greater than zero",
        ),
        ({"initial_credits": "ful"}, r"initial_credits: unknown value 'ful'"),
        ({"surges": [{"start": "x", "hours": 1, "multiplier": 2}]}, r"not an ISO"),
        ({"surges": [{"start": "2026-04-06", "hours": 1}]}, r"give exactly start"),
        ({"surges": "big"}, r"surges='big' is a str"),
        (
            {"requests_per_day": 1e300},
            r"requests_per_day=1e\+300 is above 8.64e\+13, beyond any fleet",
        ),
        ({"tz": ""}, r"tz='' is not a time zone; pass an IANA name such as 'UTC'"),
        ({"tz": "Mars/Olympus"}, r"tz='Mars/Olympus' is not a time zone"),
        (
            {"surges": [{"start": "2026-04-06", "hours": 0, "multiplier": 2}]},
            r"surges\[0\].hours=0.0 must be greater than zero",
        ),
    ],
)
def test_out_of_range_values_are_rejected(values: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        SizingParams.from_mapping(values)


def test_not_a_mapping_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"mapping of names to values, got list"):
        load_params_yaml("- 1\n- 2")


def test_invalid_yaml_is_rejected() -> None:
    with pytest.raises(ParameterError, match=r"not valid YAML"):
        load_params_yaml("a: [1, 2")


@settings(max_examples=30, deadline=None)
@given(
    p99_slo_ms=st.floats(min_value=1e-3, max_value=1e6),
    zones=st.integers(min_value=1, max_value=6),
)
def test_round_trip_through_a_mapping(p99_slo_ms: float, zones: int) -> None:
    params = SizingParams.from_mapping({"p99_slo_ms": p99_slo_ms, "zones": zones})

    assert SizingParams.from_mapping(dataclasses.asdict(params)) == params


def test_an_unknown_current_type_is_rejected() -> None:
    with pytest.raises(CatalogError, match=r"t3.lage"):
        SizingParams.from_mapping(
            {"current_instance_type": "t3.lage", "current_count": 2}
        )


@pytest.mark.shared
def test_a_cpu_utilisation_export_sizes_from_the_current_fleet(nab_dir: Path) -> None:
    # NAB's ec2_cpu_utilization_825cc2: CPUUtilization [%] every 5 minutes, median
    # 92.45 % (README). On 3 x c5.large (2 vCPU each) at 10 ms per request the median
    # step serves 0.9245 x 2 x 3 / 0.010 = 554.7 requests/s.
    export = nab_dir / "ec2_cpu_utilization_825cc2.csv"
    params = SizingParams.from_mapping(
        {
            "workload": str(export),
            "current_instance_type": "c5.large",
            "current_count": 3,
            "cpu_per_request_ms": 10,
        }
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", CapacityWarning)
        workload = sizing_workload(params)

    assert np.median(workload.requests_per_s) == pytest.approx(554.7, abs=0.5)
    np.testing.assert_array_equal(workload.cpu_per_request_s, 0.010)


@pytest.mark.shared
def test_a_cpu_export_needs_the_current_fleet(nab_dir: Path) -> None:
    export = nab_dir / "ec2_cpu_utilization_825cc2.csv"
    params = SizingParams.from_mapping({"workload": str(export)})

    with pytest.raises(ParameterError, match=r"holds CPUUtilization; give current_"):
        sizing_workload(params)


@pytest.mark.shared
def test_the_current_fleet_applies_to_cpu_exports_only(nab_dir: Path) -> None:
    export = nab_dir / "elb_request_count_8c0756.csv"
    params = SizingParams.from_mapping(
        {
            "workload": str(export),
            "current_instance_type": "t3.large",
            "current_count": 2,
        }
    )

    with pytest.raises(ParameterError, match=r"applies to a CPUUtilization export"):
        sizing_workload(params)


@pytest.mark.shared
def test_an_export_of_another_metric_is_not_a_workload(nab_dir: Path) -> None:
    export = nab_dir / "ec2_network_in_257a54.csv"
    params = SizingParams.from_mapping({"workload": str(export)})

    with pytest.raises(
        ParameterError, match=r"metric='NetworkIn' in .* not a workload"
    ):
        sizing_workload(params)


def test_docstring_examples_run() -> None:
    import doctest

    import capacity.params

    results = doctest.testmod(capacity.params)
    assert results.attempted >= 3
    assert results.failed == 0


def write_gappy_requests(tmp_path: Path) -> Path:
    # 5-minute counts with the 01:00-02:00 steps missing: one gap of 60 min > 30 min.
    stamps = pd.date_range("2026-04-06", periods=48, freq="5min")
    kept = [t for t in stamps if not 1 <= t.hour < 2]
    path = tmp_path / "requestcount.csv"
    rows = "".join(f"{t:%Y-%m-%d %H:%M:%S},300\n" for t in kept)
    path.write_text("timestamp,value\n" + rows)
    return path


def test_a_long_gap_names_the_file_and_the_sizing_parameters(tmp_path: Path) -> None:
    params = SizingParams(workload=str(write_gappy_requests(tmp_path)))
    with pytest.raises(
        IngestError,
        match=r"^requestcount\.csv: 1 gap\(s\) are longer than max_gap_s=1800 s.*"
        r"max_gap_s: in the sizing parameters",
    ):
        sizing_workload(params)


# The export is 4 h long: its short-span warning is expected and tested elsewhere.
@pytest.mark.filterwarnings("ignore:.*covers only:capacity.errors.CapacityWarning")
@pytest.mark.parametrize(
    "values", [{"max_gap_s": 3600}, {"gap_policy": "hold"}, {"gap_policy": "zero"}]
)
def test_gap_parameters_reach_the_reader(tmp_path: Path, values: dict) -> None:
    path = str(write_gappy_requests(tmp_path))
    params = SizingParams.from_mapping({"workload": path, **values})
    workload = sizing_workload(params)
    # 48 steps from 00:00 to 03:55, the 12 missing ones filled: 300 per 300 s = 1/s
    # where data exist; zero fills 0/s, hold and interpolation keep 1/s.
    assert len(workload.index) == 48
    expected_min = 0.0 if values.get("gap_policy") == "zero" else 1.0
    assert float(np.min(workload.requests_per_s)) == expected_min


def test_gap_policy_drop_is_not_offered_for_sizing() -> None:
    with pytest.raises(ParameterError, match=r"gap_policy: unknown value 'drop'"):
        SizingParams.from_mapping({"gap_policy": "drop"})


def test_a_cpu_trace_as_request_workload_names_the_sizing_parameters() -> None:
    index = pd.date_range("2026-01-01", periods=2, freq="300s", tz="UTC")
    trace = Trace(
        pd.Series([10.0, 20.0], index=index),
        "CPUUtilization",
        "Percent",
        "Average",
        300.0,
        "cpu.csv",
        2,
        (),
    )
    with pytest.raises(
        IngestError, match=r"sizing parameters current_instance_type and current_count"
    ):
        trace_to_workload(trace)


def test_a_surge_can_be_written_as_start_hours_multiplier() -> None:
    params = SizingParams.from_mapping({"surges": ["2026-04-03T12:00:00Z/6/3"]})

    assert params.surges == (Surge("2026-04-03T12:00:00Z", 6.0, 3.0),)
    with pytest.raises(ParameterError, match=r"is not START/HOURS/MULTIPLIER"):
        SizingParams.from_mapping({"surges": ["2026-04-03T12:00:00Z/6"]})


def test_invalid_yaml_is_one_line_naming_where() -> None:
    with pytest.raises(ParameterError) as refused:
        load_params_yaml("p99_slo_ms: [200\n")

    message = str(refused.value)
    assert "\n" not in message
    assert "not valid YAML (line 2, column 1: expected ',' or ']'" in message
