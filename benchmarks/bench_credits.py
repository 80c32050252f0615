"""Benchmark of the CPU-credit ledger against a plain per-step Python loop.

Runs 1,000 configurations (scalings of one daily profile) over a year of one-minute
steps through ``run_ledger_scaled`` with ``keep_steps=False``, in both credit modes,
and a plain Python loop of the same rules on a sample of the same work. Prints
config-steps per second, wall time, peak memory and the speed ratio.

Run: ``.venv/bin/python benchmarks/bench_credits.py [configs] [steps]``.
"""

from __future__ import annotations

import math
import resource
import sys
import time
import tracemalloc

import numpy as np

from capacity.catalog import get_instance
from capacity.credits import run_ledger_scaled

INSTANCE = "t3.large"
STEP_S = 60.0
SAMPLE_CONFIGS = 3
SAMPLE_STEPS = 200_000


def daily_profile_vcpu(steps: int) -> np.ndarray:
    """Busy vCPUs per minute: a daily sine around 0.5 vCPU with a noon peak."""
    minute = np.arange(steps)
    day_frac = (minute % 1440) / 1440
    return 0.5 + 0.4 * np.sin(2 * np.pi * (day_frac - 0.25))


def plain_ledger(
    profile: list[float],
    scale: float,
    unlimited: bool,
    vcpu: float,
    rate: float,
    cap: float,
    dt: float,
) -> tuple[float, float, float]:
    """The ledger rules as a plain per-step loop (T3: no launch credits).

    Returns end earned balance, end surplus balance and charged credits.
    """
    balance = 0.0
    surplus = 0.0
    charged = 0.0
    for value in profile:
        demand = min(value * scale, vcpu)
        if unlimited:
            signed = balance - surplus + (rate - demand) * dt
            if signed < -cap:
                charged += -cap - signed
            signed = max(-cap, min(cap, signed))
            balance, surplus = max(signed, 0.0), max(-signed, 0.0)
        else:
            balance = max(0.0, min(cap, balance + (rate - demand) * dt))
    return balance, surplus, charged


def time_compiled(profile: np.ndarray, scale: np.ndarray, mode: str) -> float:
    """Wall time [s] of one compiled run (after a warm-up that loads the cache)."""
    run_ledger_scaled(
        profile[:10],
        scale[:2],
        instance=INSTANCE,
        step_s=STEP_S,
        mode=mode,
        keep_steps=False,
    )
    start_s = time.perf_counter()
    run_ledger_scaled(
        profile, scale, instance=INSTANCE, step_s=STEP_S, mode=mode, keep_steps=False
    )
    return time.perf_counter() - start_s


def time_plain(profile: np.ndarray, scale: np.ndarray, mode: str) -> float:
    """Wall time [s] per config-step of the plain loop on a sample."""
    rules = get_instance(INSTANCE)
    sample = profile[:SAMPLE_STEPS].tolist()
    start_s = time.perf_counter()
    for factor in scale[:SAMPLE_CONFIGS]:
        plain_ledger(
            sample,
            float(factor),
            mode == "unlimited",
            float(rules.vcpu),
            float(rules.credits_per_h or 0) / 60,
            float(rules.max_credits or 0),
            STEP_S / 60,
        )
    return (time.perf_counter() - start_s) / (SAMPLE_CONFIGS * len(sample))


def check_agreement(profile: np.ndarray, scale: np.ndarray, mode: str) -> float:
    """Largest end-balance difference [credits] between the two on the sample."""
    rules = get_instance(INSTANCE)
    sample = profile[:SAMPLE_STEPS]
    result = run_ledger_scaled(
        sample,
        scale[:SAMPLE_CONFIGS],
        instance=INSTANCE,
        step_s=STEP_S,
        mode=mode,
        keep_steps=False,
    )
    worst = 0.0
    for c, factor in enumerate(scale[:SAMPLE_CONFIGS]):
        balance, surplus, _ = plain_ledger(
            sample.tolist(),
            float(factor),
            mode == "unlimited",
            float(rules.vcpu),
            float(rules.credits_per_h or 0) / 60,
            float(rules.max_credits or 0),
            STEP_S / 60,
        )
        signed = (
            result.summary.end_balance_credits[c]
            - result.summary.end_surplus_credits[c]
        )
        worst = max(worst, abs(signed - (balance - surplus)))
    return worst


def main(configs: int, steps: int) -> None:
    profile = daily_profile_vcpu(steps)
    scale = np.linspace(0.1, 3.0, configs)
    config_steps = configs * steps
    print(f"ledger: {configs} configs x {steps} steps of {STEP_S:g} s, {INSTANCE}")

    tracemalloc.start()
    for mode in ("standard", "unlimited"):
        wall_s = time_compiled(profile, scale, mode)
        plain_s_per_step = time_plain(profile, scale, mode)
        compiled_s_per_step = wall_s / config_steps
        print(
            f"  {mode:9s} compiled: {wall_s:7.3f} s wall, "
            f"{config_steps / wall_s:12.4g} config-steps/s | plain loop: "
            f"{1 / plain_s_per_step:10.4g} config-steps/s on "
            f"{SAMPLE_CONFIGS}x{SAMPLE_STEPS} | ratio "
            f"{plain_s_per_step / compiled_s_per_step:7.0f}x | "
            f"max end difference {check_agreement(profile, scale, mode):.2e} credits"
        )
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  peak traced allocations {traced_peak / 2**20:8.1f} MiB; "
        f"peak resident set {peak_rss_mib:8.1f} MiB (process total)"
    )
    budget_ok = math.isfinite(peak_rss_mib) and peak_rss_mib < 1024
    verdict = "ok" if budget_ok else "OVER"
    print(f"  goal: <= 2 s per mode, >= 100x, < 1 GiB -> memory {verdict}")


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*(arguments + [1000, 525_600][len(arguments) :]))
