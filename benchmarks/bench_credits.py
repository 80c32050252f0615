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
    credits_per_h: float,
    max_credits: float,
    step_s: float,
) -> dict[str, float]:
    """The ledger rules as a plain per-step loop (T3: no launch credits).

    Computes the same totals as the compiled ledger: end balances, charged, spent
    and discarded credits, throttled hours, hours to exhaustion, lowest balance.
    """
    earned = credits_per_h * step_s / 3600
    balance = surplus = charged = spent = discarded = throttled_s = 0.0
    lowest = 0.0
    exhausted_s = math.nan
    for t, value in enumerate(profile):
        used = min(value * scale, vcpu) * step_s / 60
        signed = balance - surplus + earned - used
        empty_frac = -1.0
        if used > earned and signed <= 0:
            empty_frac = max(balance, 0.0) / (used - earned)
        if math.isnan(exhausted_s) and empty_frac >= 0:
            exhausted_s = (t + empty_frac) * step_s
        if signed > max_credits:
            discarded += signed - max_credits
        if unlimited:
            charged += max(-signed - max_credits, 0.0)
            signed = max(-max_credits, min(max_credits, signed))
            balance, surplus = max(signed, 0.0), max(-signed, 0.0)
            spent += used
        else:
            if empty_frac >= 0:
                throttled_s += (1 - empty_frac) * step_s
                used = used * empty_frac + earned * (1 - empty_frac)
            balance = max(0.0, min(max_credits, signed))
            spent += used
        lowest = min(lowest, balance)
    return {
        "end_balance_credits": balance,
        "end_surplus_credits": surplus,
        "surplus_charged_credits": charged,
        "spent_credits": spent,
        "discarded_credits": discarded,
        "throttled_hours": throttled_s / 3600,
        "hours_to_exhaustion": exhausted_s / 3600,
        "min_balance_credits": lowest,
    }


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
            float(rules.credits_per_h or 0),
            float(rules.max_credits or 0),
            STEP_S,
        )
    return (time.perf_counter() - start_s) / (SAMPLE_CONFIGS * len(sample))


def check_agreement(profile: np.ndarray, scale: np.ndarray, mode: str) -> float:
    """Largest difference in any summary total between the two, on the sample."""
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
        plain = plain_ledger(
            sample.tolist(),
            float(factor),
            mode == "unlimited",
            float(rules.vcpu),
            float(rules.credits_per_h or 0),
            float(rules.max_credits or 0),
            STEP_S,
        )
        for name, value in plain.items():
            compiled = float(getattr(result.summary, name)[c])
            if math.isnan(value) and math.isnan(compiled):
                continue
            worst = max(worst, abs(compiled - value))
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
            f"largest total difference {check_agreement(profile, scale, mode):.1e}"
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
