"""Queues beyond M/M/c: G/G/c approximations and the GI/M/1 queue of round robin.

Allen-Cunneen's mean wait, the tail heuristic of QUEUEING.md 1.8 built on it (for a
known service-time variability), and the GI/M/1 queue a single-worker target sees
when a load balancer deals a Poisson stream round robin over N targets (1.9).
Vectorised with numpy broadcasting; times in seconds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from capacity.errors import ModelError
from capacity.queueing import (
    BISECTION_STEPS,
    FloatArray,
    check_nonnegative,
    check_probability,
    check_servers,
    mmc_mean_wait_s,
    response_quantile_scaled,
    response_survival_scaled,
    wait_shape,
)


def allen_cunneen_mean_wait_s(
    servers: ArrayLike,
    arrival_per_s: ArrayLike,
    service_s: ArrayLike,
    *,
    arrival_scv: ArrayLike = 1.0,
    service_scv: ArrayLike = 1.0,
) -> FloatArray:
    """Allen-Cunneen approximation of E[Wq] for G/G/c: E[Wq]_MMc (ca^2 + cs^2) / 2.

    Parameters
    ----------
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.
    arrival_scv : array_like of float
        Squared coefficient of variation of inter-arrival times [dimensionless].
    service_scv : array_like of float
        Squared coefficient of variation of service times [dimensionless].

    Returns
    -------
    numpy.ndarray
        Approximate mean wait [s]; inf when unstable.

    Notes
    -----
    Exact for M/M/c and, through Pollaczek-Khinchine, for M/G/1; errors of -3 % to
    +13 % are usual for M/G/c (QUEUEING.md 1.8, section 4).

    References
    ----------
    https://github.com/A-Herzog/QueueSim (``queuesim/analytic/ac_approx.py``)

    Examples
    --------
    >>> round(float(allen_cunneen_mean_wait_s(1, 80.0, 0.010, service_scv=0.0)), 12)
    0.02
    """
    variability = 0.5 * (
        check_nonnegative("arrival_scv", arrival_scv)
        + check_nonnegative("service_scv", service_scv)
    )
    return mmc_mean_wait_s(servers, arrival_per_s, service_s) * variability


def mgc_wait_quantile_s(
    p: ArrayLike,
    servers: ArrayLike,
    arrival_per_s: ArrayLike,
    service_s: ArrayLike,
    *,
    arrival_scv: ArrayLike = 1.0,
    service_scv: ArrayLike = 1.0,
) -> FloatArray:
    """Heuristic G/G/c waiting-time quantile: P(Wq > t) ~ C exp(-t C / E[Wq]_AC).

    Parameters
    ----------
    p : array_like of float
        Quantile level in (0, 1) [frac].
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.
    arrival_scv, service_scv : array_like of float
        Squared coefficients of variation [dimensionless], as
        :func:`allen_cunneen_mean_wait_s`.

    Returns
    -------
    numpy.ndarray
        Approximate waiting-time quantile [s]: 0 if p <= 1 - C; inf when unstable.

    Notes
    -----
    The practical tail heuristic of QUEUEING.md 1.8 (not a theorem): its error on the
    p99 wait ranges from about -26 % to +8 %; exact for M/M/c.

    Examples
    --------
    >>> round(float(mgc_wait_quantile_s(0.99, 1, 80.0, 0.010, service_scv=0.0)), 6)
    0.109551
    """
    level = check_probability("p", p)
    mean_wait = allen_cunneen_mean_wait_s(
        servers,
        arrival_per_s,
        service_s,
        arrival_scv=arrival_scv,
        service_scv=service_scv,
    )
    waiting, decay, _ = wait_shape(servers, arrival_per_s, service_s)

    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.log(waiting / (1 - level)) * mean_wait / waiting
    quantile = np.where(level <= 1 - waiting, 0.0, tail)
    return np.where(decay > 0, quantile, np.inf)


def mgc_response_quantile_s(
    p: ArrayLike,
    servers: ArrayLike,
    arrival_per_s: ArrayLike,
    service_s: ArrayLike,
    *,
    service_scv: ArrayLike = 1.0,
) -> FloatArray:
    """Heuristic M/G/c response-time quantile from the Allen-Cunneen tail.

    Parameters
    ----------
    p : array_like of float
        Quantile level in (0, 1) [frac].
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.
    service_scv : array_like of float
        Squared coefficient of variation of service times [dimensionless].

    Returns
    -------
    numpy.ndarray
        Approximate response-time quantile [s]; inf when unstable.

    Notes
    -----
    Keeps P(Wq > 0) = C(c, a) and takes the conditional wait as exponential with mean
    E[Wq]_AC / C (QUEUEING.md 1.8, a heuristic: -26 % to +8 % on the wait p99). The
    tagged request's own service time is kept exponential, so the result equals
    :func:`mmc_response_quantile_s` at ``service_scv = 1`` and is approximate
    otherwise.

    Examples
    --------
    >>> round(float(mgc_response_quantile_s(0.5, 2, 24.0, 0.050)) * 1000, 3)
    57.636
    """
    level = check_probability("p", p)
    variability = 0.5 * (1.0 + check_nonnegative("service_scv", service_scv))
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)
    stable_decay = np.where(decay > 0, decay / variability, 1.0)

    quantile = response_quantile_scaled(level, waiting, stable_decay) * service
    return np.where(decay > 0, quantile, np.inf)


def mgc_response_survival(
    t_s: ArrayLike,
    servers: ArrayLike,
    arrival_per_s: ArrayLike,
    service_s: ArrayLike,
    *,
    service_scv: ArrayLike = 1.0,
) -> FloatArray:
    """Heuristic M/G/c P(T > t), the survival behind :func:`mgc_response_quantile_s`.

    Parameters
    ----------
    t_s : array_like of float
        Time [s], >= 0.
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.
    service_scv : array_like of float
        Squared coefficient of variation of service times [dimensionless].

    Returns
    -------
    numpy.ndarray
        Survival probability [0..1]; exact M/M/c at ``service_scv = 1``; 1 when
        unstable.

    Examples
    --------
    >>> f"{float(mgc_response_survival(1.0, 2, 24.0, 0.050)):.4e}"
    '2.5063e-07'
    """
    variability = 0.5 * (1.0 + check_nonnegative("service_scv", service_scv))
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)
    time = check_nonnegative("t_s", t_s)

    survival = response_survival_scaled(time / service, waiting, decay / variability)
    return np.where(decay > 0, survival, 1.0)


def round_robin_wait_probability(
    targets: ArrayLike, utilisation_frac: ArrayLike
) -> FloatArray:
    """sigma of the GI/M/1 queue one target sees under round robin over N targets.

    Parameters
    ----------
    targets : array_like of int
        Number N of identical single-worker targets sharing a Poisson stream [count].
    utilisation_frac : array_like of float
        Per-target utilisation rho in [0, 1) [frac].

    Returns
    -------
    numpy.ndarray
        sigma = P(wait) [0..1]: the root in (0, 1) of sigma = (N rho /
        (N rho + 1 - sigma))^N; sojourn time is then Exp(mu (1 - sigma)).

    Raises
    ------
    ModelError
        If ``utilisation_frac`` is outside [0, 1) or ``targets`` not a count >= 1.

    Notes
    -----
    Each target receives every N-th arrival, so its gaps are Erlang(N, lambda)
    (QUEUEING.md 1.9); N = 1 gives M/M/1 (sigma = rho), N -> inf gives D/M/1.

    Examples
    --------
    >>> round(float(round_robin_wait_probability(1, 0.6)), 12)
    0.6
    """
    count = check_servers(targets)
    rho = check_nonnegative("utilisation_frac", utilisation_frac)
    if np.any(rho >= 1):
        raise ModelError(
            f"utilisation_frac={utilisation_frac!r} must be < 1 for a stable GI/M/1 "
            "target; use the fluid model of capacity.fleet for overload"
        )
    count, rho = np.broadcast_arrays(count, rho)
    low, high = np.zeros(rho.shape), np.ones(rho.shape)

    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        transform = (count * rho / (count * rho + 1 - middle)) ** count
        below_root = middle < transform
        low = np.where(below_root, middle, low)
        high = np.where(below_root, high, middle)
    return np.where(rho > 0, 0.5 * (low + high), 0.0)
