"""Rollout model against request-level discrete-event simulation: speed and p99.

One simulated hour of a 100-task rolling deployment at 1,157 requests/s with the
second-level model, against a heapq event-loop simulation of every request (Poisson
arrivals dealt round robin to 100 FCFS tasks with exponential CPU times). The event
simulation is timed on a short window and scaled per request to the hour. p99 is
compared on a steady 60-second window once every task is new and healthy.

Run: .venv/bin/python benchmarks/bench_rollout.py
"""

from __future__ import annotations

import heapq
import time
from collections import deque

import numpy as np

from capacity.rollout import RolloutSettings, simulate_rollout

TASKS = 100
REQUESTS_PER_S = 1157.0
CPU_PER_REQUEST_S = 0.070
DES_WARMUP_S = 20.0
DES_WINDOW_S = 60.0


def des_heapq(seconds: float, seed: int) -> tuple[np.ndarray, int]:
    """Event-loop simulation; response times after the warm-up and events handled."""
    rng = np.random.default_rng(seed)
    queues: list[deque[tuple[float, float]]] = [deque() for _ in range(TASKS)]
    events: list[tuple[float, int, int]] = [(rng.exponential(1 / REQUESTS_PER_S), 0, 0)]
    responses: list[float] = []
    handled, dealt = 0, 0

    while events:
        now, kind, task = heapq.heappop(events)
        handled += 1
        if kind == 0:  # arrival: deal it round robin, start it if the task is idle
            task = dealt % TASKS
            dealt += 1
            queues[task].append((now, rng.exponential(CPU_PER_REQUEST_S)))
            if len(queues[task]) == 1:
                heapq.heappush(events, (now + queues[task][0][1], 1, task))
            following = now + rng.exponential(1 / REQUESTS_PER_S)
            if following < seconds:
                heapq.heappush(events, (following, 0, 0))
        else:  # departure: record it, start the next request of the task
            arrived, _ = queues[task].popleft()
            if arrived >= DES_WARMUP_S:
                responses.append(now - arrived)
            if queues[task]:
                heapq.heappush(events, (now + queues[task][0][1], 1, task))
    return np.array(responses), handled


def des_lindley(seconds: float, seed: int) -> np.ndarray:
    """The same system by Lindley's recursion, one step per request (faster)."""
    rng = np.random.default_rng(seed)
    count = int(REQUESTS_PER_S * seconds * 1.1)
    arrivals = np.cumsum(rng.exponential(1 / REQUESTS_PER_S, count))
    works = rng.exponential(CPU_PER_REQUEST_S, count).tolist()
    free = [0.0] * TASKS
    responses = []
    for index, arrival in enumerate(arrivals[arrivals < seconds].tolist()):
        task = index % TASKS
        free[task] = max(arrival, free[task]) + works[index]
        if arrival >= DES_WARMUP_S:
            responses.append(free[task] - arrival)
    return np.array(responses)


def best_time(function: object, repeats: int) -> float:
    """Fastest of ``repeats`` wall-clock runs [s]."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    settings = RolloutSettings(
        tasks=TASKS,
        requests_per_s=REQUESTS_PER_S,
        cpu_per_request_ms=CPU_PER_REQUEST_S * 1000,
        hours=1.0,
    )
    simulate_rollout(RolloutSettings(hours=0.01))  # compile once, outside the timing
    model_s = best_time(lambda: simulate_rollout(settings), 3)
    result = simulate_rollout(settings)
    model_p99_ms = float(np.mean(result.p99_ms[-60:]))

    window_s = DES_WARMUP_S + DES_WINDOW_S
    start = time.perf_counter()
    responses, _ = des_heapq(window_s, seed=1)
    heapq_s = time.perf_counter() - start
    start = time.perf_counter()
    lindley = des_lindley(window_s, seed=1)
    lindley_s = time.perf_counter() - start

    requests_in_window = REQUESTS_PER_S * window_s
    hour_scale = REQUESTS_PER_S * 3600 / requests_in_window
    heapq_hour_s, lindley_hour_s = heapq_s * hour_scale, lindley_s * hour_scale
    des_p99_ms = float(np.quantile(responses, 0.99)) * 1000

    print(f"rollout model, 1 simulated hour, {TASKS} tasks: {model_s:.3f} s")
    print(f"  converged after {result.minutes_to_converge} min")
    print(f"heapq event simulation, {window_s:g} s window: {heapq_s:.2f} s")
    print(f"  scaled per request to 1 hour: {heapq_hour_s:.1f} s")
    print(f"  speed-up of the model: {heapq_hour_s / model_s:.0f} x (target >= 50)")
    print(f"Lindley-recursion simulation, same window: {lindley_s:.2f} s")
    print(f"  scaled to 1 hour: {lindley_hour_s:.1f} s")
    print(f"  speed-up of the model: {lindley_hour_s / model_s:.0f} x")
    lindley_p99_ms = float(np.quantile(lindley, 0.99)) * 1000
    print(f"p99 on a steady 60 s window: model {model_p99_ms:.1f} ms, ", end="")
    print(f"event simulation {des_p99_ms:.1f} ms, Lindley {lindley_p99_ms:.1f} ms")
    print(
        f"  model / event simulation: {model_p99_ms / des_p99_ms:.3f} (target 0.9-1.1)"
    )


if __name__ == "__main__":
    main()
