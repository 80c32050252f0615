"""``capacity rollout``: will an ECS rolling deployment converge under this load?"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, replace
from typing import Any, TextIO

from capacity.errors import ParameterError
from capacity.incident import OUTAGE_ROLLOUT
from capacity.rollout import RolloutResult, RolloutSettings, simulate_rollout

NAME = "rollout"

# Command-line flag of each setting, so that errors name what the user typed.
FLAGS = {
    "tasks": "--tasks",
    "batch": "--batch",
    "requests_per_s": "--rps",
    "cpu_per_request_ms": "--cpu-ms",
    "task_vcpu": "--task-vcpu",
    "hc_interval_s": "--hc-interval",
    "hc_timeout_s": "--hc-timeout",
    "healthy_threshold": "--healthy-threshold",
    "unhealthy_threshold": "--unhealthy-threshold",
    "grace_s": "--grace",
    "start_s": "--start-s",
    "hours": "--hours",
    "old_healthy_frac": "--old-healthy-frac",
    "seed": "--seed",
}


# Bounds that keep one run within memory and minutes: the simulation draws one normal
# per task slot and second (8 bytes each), so tasks x seconds sets its size.
MAX_TASKS = 10_000  # ECS services run up to 5,000 tasks; twice that is the bound
MAX_HOURS = 168.0  # one week [hours]
MIN_SECONDS = 60.0  # the shortest horizon simulated: one minute [s]
MAX_TASK_SECONDS = 5e7  # slots x simulated seconds: 400 MB of draws at most
MAX_SEED = 2**63 - 1  # largest seed numpy's generator takes as an int64


def add_parser(subparsers: Any) -> None:
    """Register the ``rollout`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="simulate an ECS rolling deployment behind an ALB, second by second",
        description=(
            "Simulate an ECS rolling deployment: tasks start, pass health checks, "
            "serve, fail health checks when their queue is too long, and are "
            "replaced. Reports whether and when every task was new and healthy. "
            "Defaults replay the outage's deployment (5 s health-check timeout); "
            "try --hc-timeout 25."
        ),
    )
    defaults = OUTAGE_ROLLOUT
    options: list[tuple[str, type, str, str]] = [
        ("tasks", int, "N", "desired task count"),
        ("batch", int, "N", "tasks ECS may stop at once (sets minimumHealthyPercent)"),
        ("requests_per_s", float, "R", "requests per second at the load balancer"),
        ("cpu_per_request_ms", float, "M", "CPU per request [ms]"),
        ("task_vcpu", float, "V", "vCPUs per task"),
        ("hc_interval_s", float, "S", "health-check interval [s], 5-300"),
        ("hc_timeout_s", float, "S", "health-check timeout [s], 2-120"),
        ("healthy_threshold", int, "K", "passes to become healthy, 2-10"),
        ("unhealthy_threshold", int, "K", "failures to become unhealthy, 2-10"),
        ("grace_s", float, "S", "ECS health-check grace period [s]"),
        ("start_s", float, "S", "container start time [s]"),
        ("hours", float, "H", "simulated horizon [hours]"),
        ("old_healthy_frac", float, "F", "share of old tasks healthy at the start"),
        ("seed", int, "N", "seed of probe phases and queue fluctuations"),
    ]
    for field, kind, metavar, text in options:
        default = getattr(defaults, field)
        parser.add_argument(
            FLAGS[field],
            dest=field,
            type=kind,
            default=default,
            metavar=metavar,
            help=f"{text} (default {default:g})",
        )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> RolloutSettings:
    """The settings the arguments ask for, on top of the outage's defaults."""
    changes = {field: getattr(args, field) for field in FLAGS}
    settings = replace(OUTAGE_ROLLOUT, **changes)
    for field, value in changes.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{FLAGS[field]} {value!r} must be a finite number")
    _check_size(settings)
    return settings


def _check_size(settings: RolloutSettings) -> None:
    """Refuse a seed numpy cannot take and runs too large for memory."""
    if not 0 <= settings.seed <= MAX_SEED:
        raise ParameterError(
            f"--seed {settings.seed} must be a whole number from 0 to 2**63-1"
        )
    if settings.tasks > MAX_TASKS:
        raise ParameterError(
            f"--tasks {settings.tasks} is above {MAX_TASKS:,}; simulate one service "
            "of at most that many tasks"
        )
    if settings.hours * 3600 < MIN_SECONDS:
        raise ParameterError(
            f"--hours {settings.hours:g} is shorter than a minute; give at "
            f"least {MIN_SECONDS / 3600:.6f} hours (a deployment takes minutes)"
        )
    if settings.hours > MAX_HOURS:
        raise ParameterError(
            f"--hours {settings.hours:g} is above {MAX_HOURS:g} (one week); a "
            "rolling deployment that has not converged in a week never will"
        )
    task_seconds = settings.tasks * settings.max_pct / 100.0 * settings.hours * 3600
    if task_seconds > MAX_TASK_SECONDS:
        raise ParameterError(
            f"--tasks {settings.tasks} for --hours {settings.hours:g} is "
            f"{task_seconds:.3g} task-seconds, above {MAX_TASK_SECONDS:g} (400 MB of "
            "draws); lower --hours or --tasks"
        )


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Simulate the deployment and write the summary; return the exit status."""
    settings = settings_from(args)
    try:
        result = simulate_rollout(settings)
    except ParameterError as error:
        raise ParameterError(_with_flag(str(error))) from None

    if args.json:
        out.write(json.dumps(rollout_record(result), indent=2) + "\n")
    else:
        out.write(rollout_text(result))
    return 0


def _with_flag(message: str) -> str:
    """Name the command-line flag instead of the setting in an error message."""
    field = message.split("=", 1)[0]
    if field in FLAGS:
        return f"{FLAGS[field]}{message[len(field) :]}"
    return message


def rollout_record(result: RolloutResult) -> dict[str, Any]:
    """The JSON record: headline figures and settings, non-finite numbers as null."""
    record = result.summary()
    record["settings"] = asdict(result.settings)
    return _finite(record)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def rollout_text(result: RolloutResult) -> str:
    """A short report: outcome, failures and the healthy count every 10 minutes."""
    settings = result.settings
    if result.converged and result.minutes_to_converge is not None:
        outcome = f"converged after {result.minutes_to_converge:.1f} min"
    else:
        outcome = f"did NOT converge within {settings.hours:g} h"
    healthy = result.healthy_tasks[::600].tolist()
    return (
        f"rolling deployment of {settings.tasks} tasks in batches of "
        f"{settings.batch}, {settings.requests_per_s:g} req/s, "
        f"health-check timeout {settings.hc_timeout_s:g} s: {outcome}\n"
        f"failed requests: {100 * result.failed_request_frac:.1f} %\n"
        f"fewest healthy tasks: {result.min_healthy_tasks}\n"
        f"healthy tasks every 10 min: {healthy}\n"
    )
