"""Every notebook in notebooks/: its parameters contract, and a run with small inputs.

Expected numbers come from the bundled price table (AWS on-demand prices, us-east-1
Linux, data/prices_us-east-1_linux.csv), the surplus rate AWS publishes ($0.05 per
vCPU-hour for T3 Linux), the T3 credit table (data-real README, AWS user guide) and
formulas worked in the comments.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from capacity import report
from capacity.errors import NotebookRunError, ParameterError

NOTEBOOKS = sorted(report.NOTEBOOKS_DIR.glob("*.ipynb"))
HOURS_PER_MONTH = 730.0
T3_SURPLUS_USD_PER_VCPU_H = 0.05  # AWS: T3 Linux surplus credits


def _price_usd_per_h(root: Path, instance_type: str) -> float:
    """The on-demand price in the bundled table (copied from AWS's price list)."""
    table = root / "data" / "prices_us-east-1_linux.csv"
    with table.open(newline="") as stream:
        rows = {row["instance_type"]: row for row in csv.DictReader(stream)}
    return float(rows[instance_type]["price_usd_per_h"])


def _table(result: report.RunResult, name: str) -> list[dict[str, str]]:
    with result.tables[name].open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_the_four_notebooks_are_there() -> None:
    assert [path.stem for path in NOTEBOOKS] == [
        "cost_comparison",
        "credit_forecast",
        "incident_replay",
        "sizing",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)

    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_parameters_are_typed_documented_and_match_papermill(path: Path) -> None:
    ours = report.notebook_parameters(path)
    theirs = papermill.inspect_notebook(str(path))

    assert [p.name for p in ours] == list(theirs)
    for parameter in ours:
        assert theirs[parameter.name]["inferred_type_name"] == parameter.type_name
        assert ast.literal_eval(theirs[parameter.name]["default"]) == parameter.default
        assert parameter.help


@pytest.fixture(scope="module")
def sizing_run(tmp_path_factory: pytest.TempPathFactory) -> report.RunResult:
    parameters = {"families": ["t3", "c5"], "sizes": ["large"]}
    output_dir = tmp_path_factory.mktemp("reports")
    return report.run_notebook("sizing", parameters, output_dir=output_dir)


@pytest.mark.slow
def test_sizing_meets_its_constraints(sizing_run: report.RunResult) -> None:
    results = sizing_run.results

    # The bundled workload is generated at 100M requests/day (workloads manifest).
    assert results["requests_per_day"] == pytest.approx(1e8, rel=1e-6)
    assert results["p99_at_peak_ms"] <= 250.0  # the p99_slo_ms default
    assert results["peak_utilisation_frac"] <= 1 - 0.25  # the headroom_frac default
    assert results["recommended_instance_type"] in ("t3.large", "c5.large")


@pytest.mark.slow
def test_sizing_monthly_cost_is_count_times_hours_times_price(
    sizing_run: report.RunResult, root_dir: Path
) -> None:
    results = sizing_run.results
    price = _price_usd_per_h(root_dir, results["recommended_instance_type"])
    options = _table(sizing_run, "options")

    # Compute cost = count x 730 h x price; surplus is reported apart.
    expected = results["recommended_count"] * HOURS_PER_MONTH * price
    assert float(options[0]["compute_cost_usd"]) == pytest.approx(expected)
    # results.json carries USD rounded to the cent; options.csv full precision.
    assert results["monthly_cost_usd"] == pytest.approx(
        expected + float(options[0]["surplus_cost_usd"]), abs=0.005
    )


@pytest.mark.slow
def test_sizing_report_has_every_section(sizing_run: report.RunResult) -> None:
    assert sorted(sizing_run.tables) == [
        "alarms",
        "burstable_vs_fixed",
        "options",
        "peak",
        "rejected",
    ]
    html = sizing_run.html_path.read_text(encoding="utf-8")
    for heading in ("The recommendation", "Why burstable", "The alarms to set"):
        assert heading in html


@pytest.mark.slow
@pytest.mark.shared
def test_sizing_on_elb_request_counts_scaled_to_100m_a_day(
    tmp_path: Path, nab_dir: Path
) -> None:
    parameters = {
        "workload": str(nab_dir / "elb_request_count_8c0756.csv"),
        "metric": "RequestCount",
        "requests_per_day": 1e8,
        "families": ["t3", "c5"],
        "sizes": ["large", "xlarge"],
    }

    result = report.run_notebook("sizing", parameters, output_dir=tmp_path)

    # The export is rescaled so that its mean day carries 100M requests.
    assert result.results["requests_per_day"] == pytest.approx(1e8, rel=1e-6)
    assert result.results["p99_at_peak_ms"] <= 250.0


@pytest.mark.slow
@pytest.mark.shared
def test_sizing_on_a_cpu_utilisation_export(tmp_path: Path, nab_dir: Path) -> None:
    export = nab_dir / "ec2_cpu_utilization_825cc2.csv"
    parameters = {
        "workload": str(export),
        "metric": "CPUUtilization",
        "current_instance_type": "t3.xlarge",
        "current_count": 2,
        "families": ["t3", "c5"],
        "sizes": ["large"],
    }

    result = report.run_notebook("sizing", parameters, output_dir=tmp_path)

    # Busy CPU of 2 x t3.xlarge (4 vCPU each) at 8 ms per request (the default):
    # requests/day = mean CPU % / 100 x 8 vCPU / 0.008 s x 86,400 s.
    values = pd.read_csv(export)["value"]
    expected_per_day = values.mean() / 100 * 8 / 0.008 * 86_400
    results = result.results
    assert results["requests_per_day"] == pytest.approx(expected_per_day, rel=0.01)
    # The peak, 99.12 % of 8 vCPU (README maximum), is 7.93 busy vCPUs. Headroom
    # 0.25 needs 7.93 / 0.75 = 10.6 vCPUs, so at least 6 large (2 vCPU) instances.
    count = results["recommended_count"]
    assert count >= 6
    assert results["peak_utilisation_frac"] == pytest.approx(
        0.9912 * 8 / (2 * count), rel=1e-3
    )
    assert results["p99_at_peak_ms"] <= 250.0


@pytest.mark.slow
@pytest.mark.shared
def test_a_doubtful_input_is_a_note_in_the_report_not_python_text(
    tmp_path: Path, nab_dir: Path
) -> None:
    # The data README: grok_asg_anomaly.csv holds 447 exact zeros (missing data).
    parameters = {
        "workload": str(nab_dir / "grok_asg_anomaly.csv"),
        "metric": "CPUUtilization",
        "current_instance_type": "t3.large",
        "current_count": 4,
        "families": ["t3", "c5"],
        "sizes": ["large"],
    }

    result = report.run_notebook("sizing", parameters, output_dir=tmp_path)

    html = result.html_path.read_text(encoding="utf-8")
    assert "<b>Check the input.</b> grok_asg_anomaly.csv: 447 exact zeros" in html
    assert "CapacityWarning" not in html and "params.py" not in html


@pytest.mark.slow
def test_sizing_prices_with_the_planners_table_and_holds_a_surge(
    tmp_path: Path, root_dir: Path
) -> None:
    # A negotiated table: every bundled price doubled, under its own source name.
    bundled = pd.read_csv(root_dir / "data" / "prices_us-east-1_linux.csv")
    negotiated = bundled.assign(
        price_usd_per_h=bundled["price_usd_per_h"] * 2, source="negotiated-2026"
    )
    table = tmp_path / "negotiated.csv"
    negotiated.to_csv(table, index=False)
    parameters = {
        "families": ["c5"],
        "sizes": ["large"],
        "price_table": str(table),
        "surges": ["2026-04-03T12:00:00Z/6/1.5"],
    }

    result = report.run_notebook("sizing", parameters, output_dir=tmp_path)

    # A fixed type has no surplus: cost = count x 730 h x (2 x $0.085), c5.large.
    count = result.results["recommended_count"]
    assert result.results["monthly_cost_usd"] == pytest.approx(
        count * HOURS_PER_MONTH * 0.17, abs=0.005
    )
    html = result.html_path.read_text(encoding="utf-8")
    assert "negotiated-2026" in html
    assert "6 h at 1.5 x the traffic from 2026-04-03T12:00:00Z" in html


def test_sizing_refuses_a_bad_value_before_the_kernel_starts(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"p99_slo_ms=-5.0 must be greater"):
        report.run_notebook("sizing", {"p99_slo_ms": -5.0}, output_dir=tmp_path)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sizing_rejects_a_bad_value_in_its_validation_cell(tmp_path: Path) -> None:
    # Run by papermill alone, past run_notebook's own check: the cell after the
    # parameters still refuses the value, for a notebook opened in Jupyter.
    sizing = report.NOTEBOOKS_DIR / "sizing.ipynb"

    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(sizing),
            str(tmp_path / "sizing.ipynb"),
            parameters={"p99_slo_ms": -5.0},
            kernel_name="python3",
            progress_bar=False,
        )

    assert failure.value.ename == "ParameterError"
    assert "p99_slo_ms" in failure.value.evalue
    assert failure.value.source.startswith("import pandas as pd")  # the check cell


@pytest.mark.slow
def test_sizing_reports_a_corrupt_export(tmp_path: Path) -> None:
    corrupt = tmp_path / "requests.csv"
    corrupt.write_text("timestamp,value\n2026-01-01 00:00:00,12\nnot a time,x\n")

    with pytest.raises(NotebookRunError, match=r"IngestError: .*requests.csv"):
        report.run_notebook(
            "sizing",
            {"workload": str(corrupt), "metric": "RequestCount"},
            output_dir=tmp_path / "reports",
        )


def test_sizing_refuses_an_unknown_parameter_before_running(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="'p99_slo' .* did you mean 'p99_slo_ms'"):
        report.run_notebook("sizing", {"p99_slo": 200.0}, output_dir=tmp_path)


@pytest.fixture(scope="module")
def cost_run(tmp_path_factory: pytest.TempPathFactory) -> report.RunResult:
    parameters = {"count": 4, "days": 1, "step_s": 3600.0}
    output_dir = tmp_path_factory.mktemp("reports")
    return report.run_notebook("cost_comparison", parameters, output_dir=output_dir)


@pytest.mark.slow
def test_cost_comparison_totals_are_instance_hours_times_price(
    cost_run: report.RunResult, root_dir: Path
) -> None:
    totals = {(r["instance_type"], r["mode"]): r for r in _table(cost_run, "totals")}

    for (instance_type, mode), row in totals.items():
        price = _price_usd_per_h(root_dir, instance_type)
        assert float(row["compute_usd"]) == pytest.approx(4 * HOURS_PER_MONTH * price)
        assert float(row["annual_cost_usd"]) == pytest.approx(
            float(row["monthly_cost_usd"]) * 12
        )
        if mode != "unlimited":  # only unlimited mode pays for surplus credits
            assert float(row["surplus_usd"]) == 0.0
    assert set(totals) == {
        ("t3.large", "standard"),
        ("t3.large", "unlimited"),
        ("c5.large", "fixed"),
        ("m5.large", "fixed"),
        ("c6i.large", "fixed"),
        ("c7g.large", "fixed"),
    }


@pytest.mark.slow
def test_cost_comparison_breakeven_against_m5(
    cost_run: report.RunResult, root_dir: Path
) -> None:
    rows = {row["fixed"]: row for row in _table(cost_run, "breakeven")}
    t3_usd_per_h = _price_usd_per_h(root_dir, "t3.large")
    m5_usd_per_h = _price_usd_per_h(root_dir, "m5.large")

    # AWS's method: baseline 30 % plus the price gap bought as surplus vCPU-hours
    # over 2 vCPUs: 30 + (0.096 - 0.0832) / (2 x 0.05) x 100 = 42.8 %.
    expected_pct = (
        30 + (m5_usd_per_h - t3_usd_per_h) / (2 * T3_SURPLUS_USD_PER_VCPU_H) * 100
    )
    assert float(rows["m5.large"]["breakeven_cpu_pct"]) == pytest.approx(expected_pct)


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory: pytest.TempPathFactory) -> report.RunResult:
    # A flat load (peak_to_mean 1) makes the burn constant, so hand-checkable.
    parameters = {
        "instance_types": ["t3.large"],
        "counts": [17],
        "peak_to_mean": 1.0,
        "days": 4,
        "step_s": 900.0,
        "warning_hours_wanted": [6.0],
    }
    output_dir = tmp_path_factory.mktemp("reports")
    return report.run_notebook("credit_forecast", parameters, output_dir=output_dir)


@pytest.mark.slow
def test_credit_forecast_exhaustion_at_the_hand_worked_hour(
    forecast_run: report.RunResult,
) -> None:
    # 1e8 requests/day = 1157.4 /s; after the release 12 ms each: 13.889 busy vCPU
    # over 17 instances = 0.8170 vCPU each. A t3.large earns 0.6 vCPU (2 x 30 %),
    # so it burns (0.8170 - 0.6) x 60 = 13.02 credits/h and its full 864 credits
    # last 864 / 13.02 = 66.4 h after the release. Before it (8 ms: 0.5447 vCPU),
    # it sat below the baseline with a full bucket.
    demand_vcpu = 1e8 / 86_400 * 0.012 / 17
    expected_hours = 864 / ((demand_vcpu - 0.6) * 60)
    (row,) = _table(forecast_run, "exhaustion")

    assert float(row["hours_after_release"]) == pytest.approx(expected_hours, rel=0.01)
    assert float(row["throttled_hours"]) > 0


@pytest.mark.slow
def test_credit_forecast_alarm_is_burn_times_lead_time(
    forecast_run: report.RunResult,
) -> None:
    # Threshold = warning hours x worst burn (alarms module docstring, AWS's
    # CPUCreditBalance semantics); at a flat 13.02 credits/h, 6 h is 78.1 credits.
    burn_credits_per_h = (1e8 / 86_400 * 0.012 / 17 - 0.6) * 60
    (row,) = _table(forecast_run, "alarms")

    assert float(row["threshold_credits"]) == pytest.approx(6 * burn_credits_per_h)
    assert float(row["achieved_warning_hours"]) == pytest.approx(6.0)


@pytest.fixture(scope="module")
def incident_run(tmp_path_factory: pytest.TempPathFactory) -> report.RunResult:
    output_dir = tmp_path_factory.mktemp("reports")
    return report.run_notebook(
        "incident_replay", {"rollout_hours": 0.5}, output_dir=output_dir
    )


@pytest.mark.slow
def test_incident_replay_drains_credits_on_the_morning_of_day_2(
    incident_run: report.RunResult,
) -> None:
    exhausted_at = pd.Timestamp(incident_run.results["credits_exhausted_at_utc"])

    # INCIDENT.md: ALB errors from 08:15 on day 2 (the replay's day 2 is 04-06).
    assert pd.Timestamp("2026-04-06 07:30Z") <= exhausted_at
    assert exhausted_at <= pd.Timestamp("2026-04-06 08:15Z")
    assert incident_run.results["failed_frac_after_exhaustion"] > 0.23 / 2


@pytest.mark.slow
def test_incident_replay_fails_about_a_quarter_of_requests_after_08_15(
    incident_run: report.RunResult,
) -> None:
    results = incident_run.results

    # INCIDENT.md: about 23 % of requests fail from 08:15 to 17:40, and many of
    # the rest are much slower than usual (the replay makes all of them slow).
    assert results["failed_frac_08_15_to_17_40"] == pytest.approx(0.23, abs=0.02)
    assert results["slow_frac_of_served_08_15_to_17_40"] >= 0.5


@pytest.mark.slow
def test_incident_replay_deployment_needs_the_longer_timeout(
    incident_run: report.RunResult,
) -> None:
    results = incident_run.results

    # INCIDENT.md: stuck with the original timeout; five times the timeout brought
    # everything back within about ten minutes.
    assert results["converged_with_outage_timeout"] is False
    assert results["converged_with_fixed_timeout"] is True
    assert results["minutes_to_converge_with_fixed_timeout"] <= 10.0


@pytest.mark.slow
def test_incident_replay_alternatives_are_not_throttled(
    incident_run: report.RunResult,
) -> None:
    rows = {row["option"]: row for row in _table(incident_run, "alternatives")}

    # Unlimited mode and a fixed type are never held to a baseline.
    assert float(rows["t3.large unlimited"]["throttled_hours"]) == 0.0
    assert float(rows["c5.large fixed"]["throttled_hours"]) == 0.0
    assert float(rows["t3.large standard"]["throttled_hours"]) > 0.0
    assert float(rows["c5.large fixed"]["surplus_usd"]) == 0.0
    # Unlimited mode owes surplus credits for every vCPU-minute above baseline.
    assert float(rows["t3.large unlimited"]["surplus_usd"]) > 0.0


@pytest.mark.slow
def test_sizing_report_states_the_answer_first(sizing_run: report.RunResult) -> None:
    results = sizing_run.results
    html = sizing_run.html_path.read_text(encoding="utf-8")
    answer = (
        f"Run {results['recommended_count']} x {results['recommended_instance_type']}"
    )

    assert answer in html
    assert html.index(answer) < html.index("The recommendation")
    assert "Families searched" in html and "t3, c5" in html  # the fixture's families


@pytest.mark.slow
def test_sizing_results_are_rounded_and_the_csv_is_not(
    sizing_run: report.RunResult,
) -> None:
    results = sizing_run.results
    options = _table(sizing_run, "options")

    # Cents for USD, 0.1 ms, 4 decimals for fractions (tables.rounded's rules).
    assert results["monthly_cost_usd"] == round(results["monthly_cost_usd"], 2)
    assert results["p99_at_peak_ms"] == round(results["p99_at_peak_ms"], 1)
    assert results["peak_utilisation_frac"] == round(
        results["peak_utilisation_frac"], 4
    )
    assert float(options[0]["p99_at_peak_ms"]) == pytest.approx(
        results["p99_at_peak_ms"], abs=0.05
    )
    assert "binding_constraint" in options[0]  # canonical names kept for finance


@pytest.mark.slow
def test_sizing_report_shows_readable_headers(sizing_run: report.RunResult) -> None:
    html = sizing_run.html_path.read_text(encoding="utf-8")

    for header in ("Monthly cost (USD)", "p99 at peak (ms)", "Binding constraint"):
        assert f">{header}</th>" in html
    assert ">monthly_cost_usd</th>" not in html


@pytest.mark.slow
def test_cost_comparison_says_which_type_is_cheaper_at_any_load(
    cost_run: report.RunResult, root_dir: Path
) -> None:
    rows = {row["fixed"]: row for row in _table(cost_run, "breakeven")}

    # Bundled prices: c7g.large costs less per hour than t3.large, so no load
    # makes the T3 cheaper; m5.large costs more, so the T3 wins below 42.8 %.
    assert _price_usd_per_h(root_dir, "c7g.large") < _price_usd_per_h(
        root_dir, "t3.large"
    )
    assert rows["c7g.large"]["verdict"] == "c7g.large cheaper at any load"
    assert rows["m5.large"]["verdict"] == "t3.large cheaper below 42.8 % average CPU"
