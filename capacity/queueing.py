"""Queueing models: from utilisation to waiting, response-time percentiles and probes.

Erlang B and C, the exact M/M/c waiting- and response-time distributions, the
Allen-Cunneen M/G/c approximation with its tail heuristic, the GI/M/1 queue a target
sees under round-robin routing, and the health-check probe models of QUEUEING.md
section 3.3. Every function is vectorised with numpy broadcasting over its arguments
(``servers`` may be an array); times are seconds. At or above saturation the M/M/c
means and quantiles are ``inf``; the fluid model for overload lives in
:mod:`capacity.fleet`.

Internally the formulas run in units of the mean service time (mu = 1), so that
``offered_load`` a = lambda E[S] and ``servers`` c are the only shape parameters.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from capacity.errors import ModelError

FloatArray = NDArray[np.float64]

BISECTION_STEPS = 64


def check_servers(servers: ArrayLike) -> FloatArray:
    """Server counts as floats, rejected unless whole numbers of at least 1."""
    count = np.asarray(servers, dtype=float)
    if np.any(~np.isfinite(count)) or np.any(count < 1) or np.any(count % 1 != 0):
        raise ModelError(
            f"servers={servers!r} must be whole numbers >= 1 (workers or vCPUs per "
            "target); round to an integer count"
        )
    return count


def check_nonnegative(name: str, value: ArrayLike) -> FloatArray:
    """A finite, non-negative array, or a ModelError naming the argument."""
    array = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        raise ModelError(
            f"{name}={value!r} must be finite and >= 0; pass a rate or time"
        )
    return array


def check_positive(name: str, value: ArrayLike) -> FloatArray:
    """A finite, strictly positive array, or a ModelError naming the argument."""
    array = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(array)) or np.any(array <= 0):
        raise ModelError(f"{name}={value!r} must be finite and > 0; pass a duration")
    return array


def check_probability(name: str, value: ArrayLike) -> FloatArray:
    """A probability strictly inside (0, 1), as used for quantile levels."""
    array = np.asarray(value, dtype=float)
    if np.any(~(array > 0)) or np.any(~(array < 1)):
        raise ModelError(
            f"{name}={value!r} must lie strictly between 0 and 1 (0.99 for p99)"
        )
    return array


def erlang_b(servers: ArrayLike, offered_load: ArrayLike) -> FloatArray:
    """Erlang B: the probability an arrival finds all servers busy in M/M/c/c.

    Parameters
    ----------
    servers : array_like of int
        Number of servers c [count], >= 1.
    offered_load : array_like of float
        Offered load a = lambda / mu [Erlang], >= 0.

    Returns
    -------
    numpy.ndarray
        B(c, a) [0..1], broadcast over the inputs.

    Raises
    ------
    ModelError
        If ``servers`` is not a whole number >= 1 or ``offered_load`` is negative.

    Notes
    -----
    Jagerman's recursion B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1}) needs no
    factorials and stays exact for thousands of servers; the loop runs to max(c).

    References
    ----------
    http://jungar.net/network/erlang.html ; https://github.com/DrQz/pdq-qnm-pkg

    Examples
    --------
    >>> round(float(erlang_b(2, 1.0)), 12)
    0.2
    """
    count, load = np.broadcast_arrays(
        check_servers(servers), check_nonnegative("offered_load", offered_load)
    )
    blocking = np.ones(load.shape)
    result = np.ones(load.shape)

    for k in range(1, int(count.max(initial=1)) + 1):
        blocking = load * blocking / (k + load * blocking)
        result = np.where(count == k, blocking, result)
    return result


def erlang_c(servers: ArrayLike, offered_load: ArrayLike) -> FloatArray:
    """Erlang C: the probability an arrival waits in M/M/c, from Erlang B.

    Parameters
    ----------
    servers : array_like of int
        Number of servers c [count], >= 1.
    offered_load : array_like of float
        Offered load a [Erlang], >= 0.

    Returns
    -------
    numpy.ndarray
        C(c, a) [0..1]; 1 at or above saturation (a >= c).

    Raises
    ------
    ModelError
        As :func:`erlang_b`.

    Notes
    -----
    C = c B / (c - a (1 - B)), the stable form (no factorials).

    References
    ----------
    https://en.wikipedia.org/wiki/M/M/c_queue

    Examples
    --------
    >>> round(float(erlang_c(2, 1.0)), 12)
    0.333333333333
    """
    count = check_servers(servers)
    load = check_nonnegative("offered_load", offered_load)
    blocking = erlang_b(count, load)

    with np.errstate(divide="ignore", invalid="ignore"):
        waiting = count * blocking / (count - load * (1.0 - blocking))
    return np.where(load < count, waiting, 1.0)


def mmc_empty_probability(servers: ArrayLike, offered_load: ArrayLike) -> FloatArray:
    """P0, the probability that an M/M/c system is empty.

    Parameters
    ----------
    servers : array_like of int
        Number of servers c [count].
    offered_load : array_like of float
        Offered load a [Erlang].

    Returns
    -------
    numpy.ndarray
        P0 [0..1]; 0 at or above saturation.

    Notes
    -----
    Since sum_{k<=c} a^k/k! = (a^c/c!) / B, P0 = 1 / ((a^c/c!) (1/B - 1 + 1/(1 - rho))),
    with a^c/c! taken through logarithms so that large c does not overflow.

    References
    ----------
    HP 12C Solutions Handbook, "Queuing and Waiting Theory".

    Examples
    --------
    >>> round(float(mmc_empty_probability(2, 20 / 30)), 12)
    0.5
    """
    from scipy.special import gammaln  # here, not at the top: 0.25 s to import

    count = check_servers(servers)
    load = check_nonnegative("offered_load", offered_load)
    utilisation = load / count
    blocking = erlang_b(count, load)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_last_term = count * np.log(load) - gammaln(count + 1.0)
        inverse = np.exp(log_last_term) * (1 / blocking - 1 + 1 / (1 - utilisation))
        empty = np.where(load == 0, 1.0, 1.0 / inverse)
    return np.where(utilisation < 1, empty, 0.0)


def mmc_mean_wait_s(
    servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Mean time in queue E[Wq] of an M/M/c queue.

    Parameters
    ----------
    servers : array_like of int
        Number of servers c [count].
    arrival_per_s : array_like of float
        Arrival rate lambda [1/s].
    service_s : array_like of float
        Mean service time E[S] [s], > 0.

    Returns
    -------
    numpy.ndarray
        E[Wq] = C / (c mu - lambda) [s]; inf at or above saturation.

    References
    ----------
    https://en.wikipedia.org/wiki/M/M/c_queue

    Examples
    --------
    >>> round(float(mmc_mean_wait_s(1, 80.0, 0.010)), 12)
    0.04
    """
    count = check_servers(servers)
    service = check_positive("service_s", service_s)
    load = check_nonnegative("arrival_per_s", arrival_per_s) * service
    waiting = erlang_c(count, load)

    with np.errstate(divide="ignore"):
        mean_wait = waiting * service / (count - load)
    return np.where(load < count, mean_wait, np.inf)


def mmc_mean_response_s(
    servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Mean response (sojourn) time E[T] = E[Wq] + E[S] of an M/M/c queue [s].

    Parameters are those of :func:`mmc_mean_wait_s`.

    Examples
    --------
    >>> round(float(mmc_mean_response_s(1, 80.0, 0.010)), 12)
    0.05
    """
    return mmc_mean_wait_s(servers, arrival_per_s, service_s) + np.asarray(service_s)


def mmc_mean_in_system(
    servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Mean number in system L = lambda E[T] (Little's law) [requests].

    Parameters are those of :func:`mmc_mean_wait_s`.

    Examples
    --------
    >>> round(float(mmc_mean_in_system(2, 20 / 3600, 3600 / 30)), 12)
    0.75
    """
    arrivals = np.asarray(arrival_per_s, dtype=float)
    return arrivals * mmc_mean_response_s(servers, arrival_per_s, service_s)


def wait_shape(
    servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """C, theta in units of 1/E[S] (0 when unstable), and E[S] [s], broadcast."""
    count = check_servers(servers)
    service = check_positive("service_s", service_s)
    load = check_nonnegative("arrival_per_s", arrival_per_s) * service
    waiting = erlang_c(count, load)

    decay = np.maximum(count - load, 0.0)
    return np.broadcast_arrays(waiting, decay, service)  # type: ignore[return-value]


def mmc_wait_survival(
    t_s: ArrayLike, servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """P(Wq > t) = C exp(-theta t) for an M/M/c queue, theta = c mu - lambda.

    Parameters
    ----------
    t_s : array_like of float
        Time [s], >= 0.
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.

    Returns
    -------
    numpy.ndarray
        Survival probability [0..1]; 1 when unstable.

    Examples
    --------
    >>> round(float(mmc_wait_survival(0.0, 1, 50.0, 0.010)), 12)
    0.5
    """
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)
    time = check_nonnegative("t_s", t_s)
    return waiting * np.exp(-decay * time / service)


def mmc_wait_quantile_s(
    p: ArrayLike, servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Quantile of the M/M/c waiting time: 0 if p <= 1 - C, else ln(C/(1-p))/theta.

    Parameters
    ----------
    p : array_like of float
        Quantile level in (0, 1) [frac], e.g. 0.99.
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.

    Returns
    -------
    numpy.ndarray
        Waiting-time quantile [s]; inf when unstable.

    Examples
    --------
    >>> round(float(mmc_wait_quantile_s(0.95, 1, 50.0, 0.010)) * 1000, 8)
    46.05170186
    """
    level = check_probability("p", p)
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)

    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.log(waiting / (1 - level)) * service / decay
    quantile = np.where(level <= 1 - waiting, 0.0, tail)
    return np.where(decay > 0, quantile, np.inf)


def response_survival_scaled(
    t_units: ArrayLike, waiting: ArrayLike, decay: ArrayLike
) -> FloatArray:
    """P(T > t) with time in mean service times: e^-t + C (e^-theta t - e^-t)/(1-theta).

    The kernel behind the M/M/c and M/G/c survival functions, for callers that hold
    C and theta already (the fleet model evaluates it many times per step).

    Parameters
    ----------
    t_units : array_like of float
        Time in units of the mean service time [E[S]], >= 0.
    waiting : array_like of float
        Probability of waiting C [0..1].
    decay : array_like of float
        Decay rate theta of the conditional wait, > 0 [1/E[S]] (c - a for M/M/c).

    Returns
    -------
    numpy.ndarray
        P(T > t) [0..1].

    Notes
    -----
    The convolution term is e^-t expm1((1 - theta) t) / (1 - theta) near theta = 1 and
    its limit t e^-t at theta = 1 exactly (a = c - 1), QUEUEING.md 1.6.

    Examples
    --------
    >>> round(float(response_survival_scaled(1.0, 1.0, 1.0)), 12)  # 2 / e
    0.735758882343
    """
    t_units = np.asarray(t_units, dtype=float)
    waiting = np.asarray(waiting, dtype=float)
    decay = np.asarray(decay, dtype=float)
    gap = 1.0 - decay
    scaled = gap * t_units
    safe_gap = np.where(gap == 0, 1.0, gap)

    with np.errstate(over="ignore", invalid="ignore"):
        near = np.exp(-t_units) * np.expm1(scaled) / safe_gap
        far = (np.exp(-decay * t_units) - np.exp(-t_units)) / safe_gap
    convolution = np.where(np.abs(scaled) < 1, near, far)

    convolution = np.where(gap == 0, t_units * np.exp(-t_units), convolution)
    return np.exp(-t_units) + waiting * convolution


def mmc_response_survival(
    t_s: ArrayLike, servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Exact P(T > t) for the M/M/c (FCFS) response time T = Wq + S.

    Parameters
    ----------
    t_s : array_like of float
        Time [s], >= 0.
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.

    Returns
    -------
    numpy.ndarray
        Survival probability [0..1]; 1 when unstable.

    Notes
    -----
    P(T > t) = e^{-mu t} + C mu (e^{-theta t} - e^{-mu t}) / (mu - theta), with the
    a = c - 1 branch e^{-mu t} (1 + C mu t) (QUEUEING.md 1.6).

    Examples
    --------
    >>> f"{float(mmc_response_survival(1.0, 2, 24.0, 0.050)):.4e}"
    '2.5063e-07'
    """
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)
    time = check_nonnegative("t_s", t_s)
    survival = response_survival_scaled(time / service, waiting, decay)
    return np.where(decay > 0, survival, 1.0)


def response_quantile_scaled(
    level: FloatArray, waiting: FloatArray, decay: FloatArray
) -> FloatArray:
    """Quantile of T in mean service times, by vectorised bisection (decay > 0)."""
    level, waiting, decay = np.broadcast_arrays(level, waiting, decay)
    tail = 1.0 - level
    with np.errstate(divide="ignore"):
        wait_bound = np.log(np.maximum(2 * waiting / tail, 1.0)) / decay
    low = np.zeros(level.shape)
    high = 2.0 * np.maximum(wait_bound, np.log(2 / tail))

    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        above = response_survival_scaled(middle, waiting, decay) > tail
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    return 0.5 * (low + high)


def mmc_response_quantile_s(
    p: ArrayLike, servers: ArrayLike, arrival_per_s: ArrayLike, service_s: ArrayLike
) -> FloatArray:
    """Quantile of the exact M/M/c response time (p50, p99, ...).

    Parameters
    ----------
    p : array_like of float
        Quantile level in (0, 1) [frac].
    servers, arrival_per_s, service_s
        As :func:`mmc_mean_wait_s`.

    Returns
    -------
    numpy.ndarray
        Response-time quantile [s]; inf when unstable.

    Notes
    -----
    No closed form for c > 1: solved by bisection on the strictly decreasing survival
    function of :func:`mmc_response_survival`, 64 halvings of a proven bracket.

    Examples
    --------
    >>> round(float(mmc_response_quantile_s(0.5, 2, 24.0, 0.050)) * 1000, 3)
    57.636
    """
    level = check_probability("p", p)
    waiting, decay, service = wait_shape(servers, arrival_per_s, service_s)
    stable_decay = np.where(decay > 0, decay, 1.0)

    quantile = response_quantile_scaled(level, waiting, stable_decay) * service
    return np.where(decay > 0, quantile, np.inf)
