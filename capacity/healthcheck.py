"""Health-check probes against a queue: one probe's failure, and runs of failures.

An ALB probe is a tiny request that waits in the same FCFS queue as the traffic, so
it fails when the wait ahead of it exceeds the timeout (QUEUEING.md 3.3). Successive
probes 30 s apart are not independent when the queue relaxes slowly (near
saturation); :func:`probe_chain` follows the number in system between probes instead
of multiplying probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg import expm
from scipy.special import gammaln
from scipy.stats import poisson

from capacity.errors import ModelError
from capacity.queueing import FloatArray, mmc_wait_survival


def _timeout_slack(timeout_s: ArrayLike, probe_s: ArrayLike) -> FloatArray:
    """tau - h: the wait a probe can afford, refused for a bad timeout or probe."""
    timeout = np.asarray(timeout_s, dtype=float)
    probe = np.asarray(probe_s, dtype=float)
    if np.any(~np.isfinite(timeout)) or np.any(timeout <= 0):
        raise ModelError(
            f"timeout_s={timeout_s!r} must be finite and > 0 (ALB: 2-120 s)"
        )
    if np.any(~np.isfinite(probe)) or np.any(probe < 0):
        raise ModelError(f"probe_s={probe_s!r} must be finite and >= 0 s of CPU")
    return timeout - probe


def probe_failure_probability(
    timeout_s: ArrayLike,
    servers: ArrayLike,
    arrival_per_s: ArrayLike,
    service_s: ArrayLike,
    *,
    probe_s: ArrayLike = 0.0,
) -> FloatArray:
    """Probability one health-check probe times out: P(Wq > tau - h) (QUEUEING.md 3.3).

    Parameters
    ----------
    timeout_s : array_like of float
        Health-check timeout tau [s], > 0.
    servers, arrival_per_s, service_s
        The target's M/M/c queue, as :func:`mmc_mean_wait_s`.
    probe_s : array_like of float
        The probe's own processing time h at the target's current speed [s].

    Returns
    -------
    numpy.ndarray
        p [0..1]; 1 when the target is unstable or the probe alone exceeds tau.

    Notes
    -----
    The probe waits in the same FCFS queue as requests. Successive probes are not
    independent; use :func:`probe_chain` for consecutive failures.

    Examples
    --------
    >>> round(float(probe_failure_probability(0.1, 1, 50.0, 0.010)), 10)
    0.0033689735
    """
    slack = _timeout_slack(timeout_s, probe_s)
    survival = mmc_wait_survival(
        np.maximum(slack, 0.0), servers, arrival_per_s, service_s
    )
    return np.where(slack > 0, survival, 1.0)


@dataclass(frozen=True)
class ProbeChain:
    """Consecutive health-check failures of one M/M/c target, probes correlated."""

    failure_frac: float  # P(a probe fails), stationary [0..1]
    repeat_failure_frac: float  # P(next probe fails | this one failed) [0..1]
    checks_to_unhealthy: float  # expected probes until k consecutive failures [count]
    hours_to_unhealthy: float  # checks_to_unhealthy x interval [hours]
    independent_checks_to_unhealthy: float  # the same under independence [count]


def _birth_death_generator(size: int, servers: int, arrival: float) -> FloatArray:
    """Generator of the M/M/c number-in-system chain truncated at size - 1 (mu = 1)."""
    generator = np.zeros((size, size))
    states = np.arange(size)
    generator[states[:-1], states[:-1] + 1] = arrival
    generator[states[1:], states[1:] - 1] = np.minimum(states[1:], servers)
    generator[states, states] = -generator.sum(axis=1)
    return generator


def _failing_moves(
    size: int, servers: int, load: float, timeout_units: float
) -> FloatArray:
    """P(probe fails and the system holds n' after tau | n at the probe) (mu = 1).

    With n >= c the probe fails iff fewer than n - c + 1 departures happen within
    tau; all c servers stay busy meanwhile, so departures are Poisson(c tau) and
    arrivals, independent, Poisson(a tau). States beyond the truncation are lumped
    into the last one.
    """
    moves = np.zeros((size, size))
    arrivals = poisson.pmf(np.arange(size), load * timeout_units)
    for start in range(servers, size):
        departures = poisson.pmf(
            np.arange(start - servers + 1), servers * timeout_units
        )
        landing = np.convolve(arrivals, departures[::-1])  # index j: state c + j
        moves[start, servers:] = landing[: size - servers]
        moves[start, size - 1] += landing[size - servers :].sum()
    return moves


def probe_chain(
    timeout_s: float,
    interval_s: float,
    unhealthy_threshold: int,
    servers: int,
    arrival_per_s: float,
    service_s: float,
) -> ProbeChain:
    """Correlated probe chain: how long until k consecutive health checks fail.

    Parameters
    ----------
    timeout_s : float
        Health-check timeout tau [s].
    interval_s : float
        Time between probes [s], >= ``timeout_s``.
    unhealthy_threshold : int
        Consecutive failures k that mark the target unhealthy [count], >= 1.
    servers, arrival_per_s, service_s
        The target's stable M/M/c queue, as :func:`mmc_mean_wait_s`.

    Returns
    -------
    ProbeChain
        Failure probability, P(fail | previous failed), expected checks and hours
        until ``unhealthy_threshold`` consecutive failures, and the independence figure
        (1 - p^k) / ((1 - p) p^k) for comparison.

    Raises
    ------
    ModelError
        For an unstable target, a threshold below 1 or an interval shorter than the
        timeout.

    Notes
    -----
    Hidden state: the number n in system seen by each probe (stationary by PASTA for
    the first). With n >= c all servers stay busy, so the probe fails iff fewer than
    n - c + 1 departures, Poisson(c mu tau), occur within tau; the state after tau is
    taken conditionally on that outcome, then the truncated birth-death chain
    evolves for the rest of the interval (QUEUEING.md 3.3). Expected checks solve a
    linear system on (n, current run length).

    Examples
    --------
    >>> chain = probe_chain(5.0, 30.0, 2, 1, 18.0, 0.05)
    >>> chain.repeat_failure_frac > chain.failure_frac
    True
    """
    if unhealthy_threshold < 1 or interval_s < timeout_s:
        raise ModelError(
            f"unhealthy_threshold={unhealthy_threshold!r} must be >= 1 and "
            f"interval_s={interval_s!r} >= timeout_s={timeout_s!r}; use ALB settings"
        )
    load = arrival_per_s * service_s
    if load >= servers:
        raise ModelError(
            f"arrival_per_s={arrival_per_s!r} saturates {servers} servers of "
            f"{service_s!r} s; the probe chain needs a stable target (utilisation < 1)"
        )
    rho = load / servers
    size = servers + int(np.ceil(np.log(1e-13) / np.log(max(rho, 1e-3)))) + 2
    states = np.arange(size)

    log_terms = np.where(
        states < servers,
        states * np.log(max(load, 1e-300)) - gammaln(states + 1.0),
        servers * np.log(max(load, 1e-300))
        - gammaln(servers + 1.0)
        + (states - servers) * np.log(max(rho, 1e-300)),
    )
    stationary = np.exp(log_terms - log_terms.max())
    stationary /= stationary.sum()

    generator = _birth_death_generator(size, servers, load)
    during = _failing_moves(size, servers, load, timeout_s / service_s)
    passing = expm(generator * (timeout_s / service_s)) - during
    rest = expm(generator * ((interval_s - timeout_s) / service_s))
    fail_moves, pass_moves = during @ rest, passing @ rest
    fail = during.sum(axis=1)

    failure = float(stationary @ fail)
    repeat = float(stationary @ fail_moves @ fail / failure) if failure > 0 else 0.0

    k = unhealthy_threshold
    transient = np.zeros((size * k, size * k))
    for run in range(k):
        rows = slice(run * size, (run + 1) * size)
        transient[rows, 0:size] = pass_moves
        if run + 1 < k:
            transient[rows, (run + 1) * size : (run + 2) * size] = fail_moves
    checks = np.linalg.solve(np.eye(size * k) - transient, np.ones(size * k))

    expected = float(stationary @ checks[:size])
    independent = (
        (1 - failure**k) / ((1 - failure) * failure**k) if failure > 0 else np.inf
    )
    return ProbeChain(
        failure_frac=failure,
        repeat_failure_frac=repeat,
        checks_to_unhealthy=expected,
        hours_to_unhealthy=expected * interval_s / 3600.0,
        independent_checks_to_unhealthy=float(independent),
    )
