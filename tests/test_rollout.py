"""Rolling deployments, the outage replays and the ``rollout`` command."""

from __future__ import annotations

import argparse
import io
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from capacity import general_queues
from capacity.commands import rollout as command
from capacity.errors import ParameterError
from capacity.fleet import simulate_fleet
from capacity.incident import (
    OUTAGE_ROLLOUT,
    credit_drain,
    outage_impact,
    outage_workload,
    replay_outage_credits,
    replay_outage_deployment,
    replay_outage_fleet,
)
from capacity.rollout import (
    RolloutSettings,
    instance_refresh_settings,
    simulate_rollout,
)
from capacity.workload import Workload


def steady_workload(requests_per_s: float, cpu_ms: float, hours: float) -> Workload:
    """A constant workload on a one-minute UTC grid."""
    steps = int(hours * 60)
    index = pd.date_range("2026-04-05", periods=steps, freq="60s", tz="UTC")
    return Workload(
        index=index,
        requests_per_s=np.full(steps, requests_per_s),
        cpu_per_request_s=np.full(steps, cpu_ms / 1000),
        background_vcpu=np.zeros(steps),
        name="steady",
        source="test",
    )


QUIET = RolloutSettings(cpu_per_request_ms=50.0, hours=0.5)


def test_normal_deployment_converges_in_batches() -> None:
    # Each batch: 30 s drain, 20 s start, first probe 0-30 s later, a second pass
    # 30 s after it: 80-110 s per batch, ten batches.
    result = simulate_rollout(QUIET)

    assert result.converged
    assert 800 <= result.minutes_to_converge * 60 <= 1110
    assert result.min_healthy_tasks == 90  # minimumHealthyPercent 90 is kept
    assert result.failed_request_frac == 0.0
    assert result.new_healthy_tasks[-1] == 100


def test_an_overloaded_task_fails_only_the_excess() -> None:
    # 10 tasks of 1 vCPU at 100 ms serve 10 x 10 = 100 req/s; 130 req/s is 1.3 x
    # that. The 20 s request timeout is under the 30 s health-check timeout, so the
    # probes (waiting at most 20 s) pass and every task stays in service. Once all
    # are new and their backlogs hold 20 s of work, each still completes 10 req/s
    # and its 3 req/s of excess time out: 1 - 1/1.3 = 23.08 % fail, up to the
    # seeded fluctuation of the backlog.
    settings = RolloutSettings(
        tasks=10,
        batch=1,
        requests_per_s=130.0,
        cpu_per_request_ms=100.0,
        hc_timeout_s=30.0,
        request_timeout_s=20.0,
        hours=1.0,
    )

    result = simulate_rollout(settings)

    failed = result.failed_per_s[1800:].sum()
    assert result.converged and result.healthy_tasks[1800:].min() == 10
    assert failed / (failed + result.served_per_s[1800:].sum()) == pytest.approx(
        1 - 1 / 1.3, abs=0.005
    )


def test_simulation_is_deterministic_under_a_seed() -> None:
    settings = replace(OUTAGE_ROLLOUT, hours=0.3)

    first, again = simulate_rollout(settings), simulate_rollout(settings)
    other = simulate_rollout(replace(settings, seed=1))

    np.testing.assert_array_equal(first.healthy_tasks, again.healthy_tasks)
    np.testing.assert_array_equal(first.failed_per_s, again.failed_per_s)
    assert not np.array_equal(first.healthy_tasks, other.healthy_tasks)


def test_alb_fails_open_when_no_target_is_healthy() -> None:
    # No old task healthy: ECS stops all 100 at t = 0; they drain for 30 s, the new
    # ones start at t = 30 and register at t = 50 with no passing probe yet. From 30
    # to 50 s nothing is registered (every request fails); from 50 s the ALB fails
    # open to the registered, not yet healthy targets, which serve everything.
    result = simulate_rollout(replace(QUIET, old_healthy_frac=0.0, hours=0.05))

    assert result.failed_per_s[40] == pytest.approx(QUIET.requests_per_s)
    assert result.healthy_tasks[60] == 0
    assert result.served_per_s[60] == pytest.approx(QUIET.requests_per_s)


def test_outage_deployment_never_converges_with_the_original_timeout() -> None:
    result = replay_outage_deployment(5.0, hours=3.0)

    assert not result.converged
    assert result.minutes_to_converge is None
    assert result.failed_request_frac > 0.2  # INCIDENT.md: about 23 % failed
    assert result.healthy_tasks[-3600:].max() < 90


def test_outage_deployment_converges_with_five_times_the_timeout() -> None:
    result = replay_outage_deployment(25.0, hours=3.0)

    assert result.converged
    assert result.minutes_to_converge < 12  # INCIDENT.md: within about 10 minutes
    assert result.healthy_tasks[-1] == 100


def test_outage_credits_run_out_on_the_morning_of_day_two() -> None:
    # INCIDENT.md: release day 1 ~14:00, 502/504 from day 2 08:15. By hand, with
    # f(t) = 1 + 0.1 cos(2 pi (t - 15) / 24) and the integral of the cosine term
    # (24 / 2 pi) [sin]: 00:00-14:00 at 1157.4 x 0.012 / 25 = 0.5556 vCPU x f spends
    # 0.5556 x 60 x 13.63 = 454.4 credits and earns 36 x 14 = 504, so 93 credits
    # become 142.6 at the release. Then 0.7407 vCPU x f burns
    # 44.44 x 17.97 - 36 x 18.25 = 141.8 credits from 14:00 to 08:15: empty then.
    drain = replay_outage_credits()

    assert drain.exhausted_at is not None
    assert drain.exhausted_at.day == 6
    assert 7.75 <= drain.exhausted_at.hour + drain.exhausted_at.minute / 60 <= 8.75
    assert drain.balance_credits.min() == 0.0


def test_outage_fails_the_excess_over_the_throttled_fleet() -> None:
    # INCIDENT.md: about 23 % of requests fail from 08:15 to 17:40. By hand: held
    # to baseline the fleet serves 25 x 0.6 / 0.016 = 937.5 req/s; over the window
    # the integral of f is 9.417 + 0.382 x 1.624 = 10.04 h, mean traffic
    # 1157.4 x 10.04 / 9.417 = 1233.7 req/s, all above 937.5, so the excess fails:
    # 1 - 937.5 / 1233.7 = 24.0 %. Every request served waits the 60 s timeout.
    impact = outage_impact(outage_workload(), replay_outage_fleet())

    assert impact.failed_frac == pytest.approx(0.240, abs=0.005)
    assert impact.failed_frac == pytest.approx(0.23, abs=0.02)
    assert impact.slow_frac == pytest.approx(1.0)


def test_outage_impact_weights_steps_by_traffic() -> None:
    # Two t3.large held at baseline serve 24 req/s of 50 ms; 31.2 req/s is 1.3 x
    # that: after the backlog fills (100 s) 1 - 1/1.3 fails and the rest wait 60 s.
    work = steady_workload(31.2, 50.0, hours=1.0)
    fleet = simulate_fleet(work, "t3.large", 2, "standard", throttled_count=2)

    impact = outage_impact(work, fleet, start=work.index[5], end=work.index[-1])

    assert impact.failed_frac == pytest.approx(1 - 1 / 1.3, rel=1e-9)
    assert impact.slow_frac == 1.0


def test_outage_impact_refuses_a_window_outside_the_workload() -> None:
    work = steady_workload(31.2, 50.0, hours=1.0)
    fleet = simulate_fleet(work, "t3.large", 2, "standard")

    with pytest.raises(ParameterError, match="hold no step of the workload"):
        outage_impact(work, fleet, start="2030-01-01T00:00Z", end="2030-01-02T00:00Z")


def test_unlimited_mode_never_throttles_the_outage_fleet() -> None:
    drain = replay_outage_credits(mode="unlimited")

    assert drain.throttled_hours == 0.0
    assert drain.exhausted_at is not None  # the earned balance still empties


def test_unlimited_mode_owes_the_surplus_above_baseline_after_exhaustion() -> None:
    # From the balance's exhaustion at 32.24 h to the end (48 h) each instance runs
    # 0.7407 vCPU x f against a 0.6 baseline; the integral of f over those 15.76 h
    # is 15.76 + 0.382 x (0.7071 + 0.9809) = 16.40 h, so the surplus is
    # 60 x (0.7407 x 16.40 - 0.6 x 15.76) = 161.6 credits per instance, under the
    # 864 cap and not charged; 25 x 161.6 / 60 vCPU-h x $0.05 (T3 rate) = $3.37.
    drain = replay_outage_credits(mode="unlimited")

    assert drain.surplus_charge_usd == 0.0
    assert drain.surplus_owed_usd == pytest.approx(3.37, abs=0.03)


def test_credit_drain_without_the_release_keeps_credits() -> None:
    # Without the hash the fleet runs at 0.93 of its baseline on average.
    drain = credit_drain(
        outage_workload(hash_cpu_ms=0.0), "t3.large", 25, start_credits=93.0
    )

    assert drain.exhausted_at is None
    assert math.isnan(drain.hours_to_exhaustion)


REFRESH_BASE = replace(OUTAGE_ROLLOUT, old_healthy_frac=1.0, hours=2.0)


def test_instance_refresh_to_c5_converges() -> None:
    result = simulate_rollout(instance_refresh_settings(REFRESH_BASE, "c5.large"))

    assert result.converged
    assert result.failed_request_frac == 0.0


def test_instance_refresh_to_credit_less_t3_standard_collapses() -> None:
    # New t3.large in standard mode get no launch credits; two 1-vCPU tasks per
    # host at 11.57 req/s of 70 ms need 0.81 vCPU each against a 0.3 baseline share:
    # once earned credits are gone the fleet serves 100 x 0.3 / 0.07 = 429 req/s.
    settings = instance_refresh_settings(REFRESH_BASE, "t3.large", mode="standard")
    result = simulate_rollout(settings)

    assert settings.new_credits == 0.0
    assert not result.converged or result.healthy_tasks[-1800:].max() < 90
    assert result.failed_request_frac > 0.3


def test_t2_launch_credits_buy_about_an_hour() -> None:
    # t2.large: 60 launch credits per host, 30 per task; a task burns
    # (0.81 - 0.3) vCPU above its baseline share = 0.51 credits/min: about 59 min.
    settings = instance_refresh_settings(REFRESH_BASE, "t2.large", mode="standard")
    result = simulate_rollout(settings)

    assert settings.new_credits == 30.0
    assert result.converged
    assert result.healthy_tasks[45 * 60] == 100
    assert result.healthy_tasks[-1800:].min() < 90


def test_refresh_with_unlimited_t3_is_never_throttled() -> None:
    settings = instance_refresh_settings(REFRESH_BASE, "t3.large", mode="unlimited")

    assert settings.new_credits is None
    assert simulate_rollout(settings).converged


def des_round_robin_p99(
    tasks: int, rate: float, service_s: float, seconds: float, seed: int
) -> float:
    """Request-level FCFS simulation: Poisson arrivals dealt round robin to tasks.

    Each request is one event: it starts at max(arrival, its task's free time) and
    holds the task for an exponential service time (Lindley's recursion).
    """
    rng = np.random.default_rng(seed)
    warmup = 30.0
    count = int(rate * (seconds + warmup) * 1.1)
    arrivals = np.cumsum(rng.exponential(1 / rate, count))
    works = rng.exponential(service_s, count)
    free = [0.0] * tasks
    responses = []
    for index, arrival in enumerate(arrivals.tolist()):
        if arrival > warmup + seconds:
            break
        task = index % tasks
        free[task] = max(arrival, free[task]) + works[index]
        if arrival >= warmup:
            responses.append(free[task] - arrival)
    return float(np.quantile(responses, 0.99))


def test_rollout_p99_matches_a_request_level_simulation_on_a_steady_window() -> None:
    # After convergence all 100 tasks serve 1,157 req/s of 70 ms (rho = 0.81).
    result = simulate_rollout(replace(QUIET, cpu_per_request_ms=70.0))
    model_p99_s = float(np.mean(result.p99_ms[-60:])) / 1000

    runs = [des_round_robin_p99(100, QUIET.requests_per_s, 0.07, 60, s) for s in (1, 2)]

    assert model_p99_s == pytest.approx(np.mean(runs), rel=0.05)
    sigma = float(
        general_queues.round_robin_wait_probability(100, QUIET.requests_per_s * 7e-4)
    )
    assert model_p99_s == pytest.approx(math.log(100) * 0.07 / (1 - sigma), rel=1e-9)


def parse(*argv: str) -> argparse.Namespace:
    """Parse ``capacity rollout`` arguments with the command's own parser."""
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(["rollout", *argv])


def run_json(*argv: str) -> dict:
    out = io.StringIO()
    status = command.run(parse(*argv, "--json"), out)
    assert status == 0
    return json.loads(out.getvalue())


def test_command_replays_the_outage_both_ways() -> None:
    stuck = run_json("--hours", "3")
    fixed = run_json("--hours", "3", "--hc-timeout", "25")

    assert stuck["converged"] is False
    assert stuck["minutes_to_converge"] is None
    assert stuck["failed_request_frac"] > 0.2
    assert fixed["converged"] is True
    assert fixed["minutes_to_converge"] < 12
    assert fixed["settings"]["hc_timeout_s"] == 25.0
    assert set(fixed) == {
        "converged",
        "minutes_to_converge",
        "failed_request_frac",
        "min_healthy_tasks",
        "settings",
    }


def test_command_text_says_whether_it_converged() -> None:
    out = io.StringIO()
    command.run(
        parse("--hours", "0.5", "--cpu-ms", "50", "--old-healthy-frac", "1"), out
    )

    assert "converged after" in out.getvalue()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--hc-timeout", "1"), r"--hc-timeout=1.0 must be 2-120 s"),
        (("--hc-timeout", "40"), r"--hc-timeout=40.0 must be 2-120 s and at most"),
        (("--batch", "0"), r"--batch=0 must be between 1 and tasks=100"),
        (("--tasks", "0"), r"--tasks=0 must be at least 1"),
        (("--unhealthy-threshold", "1"), r"--unhealthy-threshold=1 must be 2-10"),
        (("--rps", "-5"), r"--rps=-5.0 must be > 0"),
        (("--rps", "nan"), r"--rps nan must be a finite number"),
        (("--grace", "-1"), r"--grace=-1.0 must be >= 0"),
        (("--hc-interval", "400"), r"--hc-interval=400.0 must be 5-300 s"),
        (("--seed", "-1"), r"--seed -1 must be a whole number from 0 to 2\*\*63-1"),
        (("--tasks", "1000000"), r"--tasks 1000000 is above 10,000"),
        (("--hours", "1e6"), r"--hours 1e\+06 is above 168 \(one week\)"),
        (("--hours", "0.0001"), r"--hours 0.0001 is shorter than a minute"),
        # 10,000 tasks for 3 hours: 1e4 x 10,800 s = 1.08e8 task-seconds > 5e7.
        (("--tasks", "10000", "--batch", "10"), r"is 1.08e\+08 task-seconds, above"),
    ],
)
def test_command_rejects_bad_values(argv: tuple[str, ...], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        command.run(parse(*argv), io.StringIO())


def test_refresh_rejects_bad_packing() -> None:
    with pytest.raises(ParameterError, match="tasks_per_instance=0 must be >= 1"):
        instance_refresh_settings(REFRESH_BASE, "c5.large", tasks_per_instance=0)


def test_outage_replay_rejects_an_out_of_range_timeout() -> None:
    with pytest.raises(ParameterError, match="hc_timeout_s=60 must be 2-30 s"):
        replay_outage_deployment(60)
