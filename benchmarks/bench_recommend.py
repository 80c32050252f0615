"""Wall time of one sizing recommendation over the full catalog.

The bundled default workload (14 days at 1-minute steps, about 100 million requests a
day) with three surge scenarios, every catalog type, both credit modes for burstable
types. The baseline measured in the same run is Netflix's service-capacity-modeling
planner on the equivalent steady-state workload (mean request rate and CPU per
request); it sizes from one steady rate, without a time series, credits or surges.

Run: .venv/bin/python benchmarks/bench_recommend.py
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

from capacity.params import Surge
from capacity.recommend import Constraints, candidates, recommend
from capacity.workload import daily_profile, load_default

SURGES = (
    Surge("2026-04-01T14:00:00+00:00", 3.0, 1.5),
    Surge("2026-04-06T08:00:00+00:00", 6.0, 2.0),
    Surge("2026-04-09T20:00:00+00:00", 12.0, 1.3),
)
REPEATS = 5
INSTALL_HINT = (
    ".venv/bin/pip install -c requirements.lock pydantic isodate && "
    ".venv/bin/pip install --no-deps service-capacity-modeling"
)


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    workload = load_default()
    every_candidate = candidates(min_memory_gib=0.0)  # every type, both modes
    constraints = Constraints()
    print(
        f"workload: {len(workload.index)} steps of {workload.step_s:g} s, "
        f"{workload.requests_per_s.mean() * 86_400:,.0f} requests/day; "
        f"{len(every_candidate)} candidates; {len(SURGES)} surges"
    )

    tiny = daily_profile(1e6, 2.0, days=1, step_s=3600)
    first_s = timed(lambda: recommend(tiny, constraints), 1)[0]
    print(f"first call on a tiny workload (numba compiles the ledger): {first_s:.3f} s")

    def ours() -> object:
        return recommend(
            workload, constraints, candidate_list=every_candidate, surges=SURGES
        )

    result = ours()
    cpu_start_s = time.process_time()
    ours_s = timed(ours, REPEATS)
    cpu_s = (time.process_time() - cpu_start_s) / REPEATS
    best = result.best or {}
    print(
        f"capacity.recommend: median {statistics.median(ours_s):.3f} s, best "
        f"{min(ours_s):.3f} s over {REPEATS} runs (goal: under 1 s), CPU time "
        f"{cpu_s:.3f} s per run; "
        f"{len(result.options)} options, {len(result.rejected)} rejection rows; "
        f"winner {best.get('count')} x {best.get('instance_type')} "
        f"({best.get('mode')})"
    )

    netflix_s = time_netflix_planner(
        requests_per_s=float(workload.requests_per_s.mean()),
        cpu_per_request_ms=1000.0 * float(workload.cpu_per_request_s.mean()),
    )
    if netflix_s is not None:
        ratio = statistics.median(ours_s) / statistics.median(netflix_s)
        print(
            f"service-capacity-modeling plan_certain (steady state): median "
            f"{statistics.median(netflix_s):.4f} s; ratio ours / theirs = {ratio:.1f}"
        )

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB")


def time_netflix_planner(
    *, requests_per_s: float, cpu_per_request_ms: float
) -> list[float] | None:
    """Times of Netflix's stateless-app planner on a steady rate, or None if absent."""
    try:
        from service_capacity_modeling.capacity_planner import planner
        from service_capacity_modeling.interface import (
            CapacityDesires,
            DataShape,
            QueryPattern,
            certain_float,
            certain_int,
        )
    except ImportError:
        print(f"service-capacity-modeling: skipped (not installed; {INSTALL_HINT})")
        return None

    desires = CapacityDesires(
        service_tier=1,
        query_pattern=QueryPattern(
            estimated_read_per_second=certain_int(round(requests_per_s)),
            estimated_write_per_second=certain_int(0),
            estimated_mean_read_latency_ms=certain_float(cpu_per_request_ms),
        ),
        data_shape=DataShape(estimated_state_size_gib=certain_int(0)),
    )

    def theirs() -> object:
        return planner.plan_certain(
            model_name="org.netflix.stateless-java",
            region="us-east-1",
            desires=desires,
        )

    plans = theirs()
    cluster = plans[0].candidate_clusters.regional[0]
    print(
        f"service-capacity-modeling answer: {cluster.count} x "
        f"{cluster.instance.name} per zone (its own catalog and prices)"
    )
    return timed(theirs, REPEATS)


if __name__ == "__main__":
    main()
