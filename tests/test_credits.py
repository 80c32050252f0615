"""Tests of the CPU-credit ledger against AWS's published examples and invariants.

Expected values come from AWS-CREDITS.md section 4 (AWS's examples, with the exact
value where AWS rounds), from the rules of its section 2 worked by hand in comments,
and, for the random cases, from a second plain implementation of AWS's 5-minute
balance equations (AWS-CREDITS.md 2.9) written here independently of the kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.catalog import get_instance
from capacity.credits import run_ledger, run_ledger_scaled
from capacity.errors import CatalogError, ParameterError

HOUR_S = 3600.0
TOL = 1e-9


def end(result, name: str) -> float:  # type: ignore[no-untyped-def]
    """One summary field of a one-config result as a float."""
    return float(getattr(result.summary, name)[0])


# --- E1: definitions [KC] -------------------------------------------------------------


def test_e1_t3_nano_at_2_pct_for_an_hour_accrues_3_6() -> None:
    # 2 vCPU x 2% = 0.04 busy vCPU; earn 6, spend 0.04 x 60 = 2.4 -> 3.6.
    result = run_ledger([0.04], instance="t3.nano", step_s=HOUR_S, mode="standard")
    assert end(result, "end_balance_credits") == pytest.approx(3.6, abs=TOL)


def test_e1_t3_nano_cap_is_144() -> None:
    result = run_ledger(
        np.zeros(48), instance="t3.nano", step_s=HOUR_S, mode="standard"
    )
    assert end(result, "end_balance_credits") == 144
    assert end(result, "earned_credits") == pytest.approx(288)
    assert end(result, "discarded_credits") == pytest.approx(144)


def test_e1_t3_large_at_30_pct_baseline_earns_what_it_spends() -> None:
    # 30% of 2 vCPU = 0.6 busy vCPU = the baseline: balance unchanged.
    result = run_ledger(
        [0.6] * 10,
        instance="t3.large",
        step_s=HOUR_S,
        mode="standard",
        start_credits=50,
    )
    assert end(result, "end_balance_credits") == pytest.approx(50, abs=TOL)
    assert math.isnan(end(result, "hours_to_exhaustion"))


def test_e1_t3_micro_carries_288_surplus_without_charge() -> None:
    # t3.micro: r = 12/60 = 0.2 credit/min; at 2 vCPU the net is -1.8/min, so the
    # surplus reaches 288 after 160 min; 10 more minutes are charged 1.8 x 10 = 18.
    at_cap = run_ledger([2.0], instance="t3.micro", step_s=160 * 60, mode="unlimited")
    assert end(at_cap, "end_surplus_credits") == pytest.approx(288)
    assert end(at_cap, "surplus_charged_credits") == pytest.approx(0, abs=TOL)

    beyond = run_ledger([2.0], instance="t3.micro", step_s=170 * 60, mode="unlimited")
    assert end(beyond, "end_surplus_credits") == pytest.approx(288)
    assert end(beyond, "surplus_charged_credits") == pytest.approx(18)


# --- E2: launch credits [SMC] ---------------------------------------------------------


def test_e2_t2_micro_idle_24_h_reads_174() -> None:
    result = run_ledger(np.zeros(24), instance="t2.micro", step_s=HOUR_S)
    assert result.mode == "standard"
    balance = end(result, "end_balance_credits") + end(result, "end_launch_credits")
    assert balance == pytest.approx(174)
    assert result.balance_credits is not None
    assert result.launch_balance_credits is not None
    assert result.balance_credits[0, -1] + result.launch_balance_credits[0, -1] == 174


def test_e2_t2_xlarge_gets_120_launch_credits() -> None:
    result = run_ledger([0.0], instance="t2.xlarge", step_s=60)
    assert end(result, "end_launch_credits") == 120


def test_e2_after_launch_credits_are_spent_balance_never_exceeds_144() -> None:
    # t2.micro at 1 vCPU for 30 min spends its 30 launch credits while earning
    # 0.1 x 30 = 3; then 48 h idle fill the earned balance only to its cap 144.
    demand = np.concatenate([np.ones(30), np.zeros(48 * 60)])
    result = run_ledger(demand, instance="t2.micro", step_s=60)
    assert result.launch_balance_credits is not None
    assert result.balance_credits is not None
    assert result.launch_balance_credits[0, 29] == pytest.approx(0, abs=TOL)
    assert result.balance_credits[0, 29] == pytest.approx(3)
    total = result.balance_credits + result.launch_balance_credits
    assert total[0, 30:].max() == pytest.approx(144)
    assert end(result, "end_balance_credits") == pytest.approx(144)


def test_launch_credits_are_spent_before_earned_credits() -> None:
    # t2.micro, earned 50 and launch 30, 1 vCPU for 10 min: launch 30 -> 20,
    # earned 50 + 0.1 x 10 = 51.
    result = run_ledger([1.0], instance="t2.micro", step_s=600, start_credits=50)
    assert end(result, "end_launch_credits") == pytest.approx(20)
    assert end(result, "end_balance_credits") == pytest.approx(51)


def test_t2_unlimited_has_no_launch_credits() -> None:
    result = run_ledger([0.0], instance="t2.micro", step_s=60, mode="unlimited")
    assert end(result, "end_launch_credits") == 0


# --- E3: the 5-minute update [MON] ----------------------------------------------------


def test_e3_balance_2_plus_0_5_minus_1_is_1_5() -> None:
    # CPUCreditUsage 1 credit in 5 min = 0.2 busy vCPU; t3.nano earns 0.5 per 5 min.
    result = run_ledger(
        [0.2], instance="t3.nano", step_s=300, mode="standard", start_credits=2
    )
    assert end(result, "end_balance_credits") == pytest.approx(1.5, abs=TOL)


# --- E4: T3 standard example, t3.nano, 96 h [SEX] -------------------------------------

E4_PHASES = [
    (24, 0.0),
    (12, 2.5),
    (24, 7.0),
    (12, 2.5),
    (2, 60.0),
    (14, 5.0),
    (24, 0.0),
]
E4_END_BALANCES = [144, 144, 86.4, 122.4, 0, 0, 144]


@pytest.mark.parametrize("step_s", [300.0, 3600.0])
def test_e4_phase_end_balances(step_s: float) -> None:
    steps_per_h = int(HOUR_S / step_s)
    demand = np.concatenate(
        [np.full(h * steps_per_h, pct / 100 * 2) for h, pct in E4_PHASES]
    )
    result = run_ledger(demand, instance="t3.nano", step_s=step_s, mode="standard")
    phase_ends = np.cumsum([h * steps_per_h for h, _ in E4_PHASES]) - 1
    assert result.balance_credits is not None
    balances = result.balance_credits[0, phase_ends]
    np.testing.assert_allclose(balances, E4_END_BALANCES, atol=1e-9)

    # P5: 122.4 credits drain at 2 x 0.6 x 60 - 6 = 66 per hour.
    depletion_hours = 122.4 / 66
    assert end(result, "hours_to_exhaustion") == pytest.approx(72 + depletion_hours)
    assert end(result, "throttled_hours") == pytest.approx(2 - depletion_hours)
    # P2 earns 72 and spends 36 at the cap: 36 discarded; nothing else is.
    assert end(result, "discarded_credits") == pytest.approx(36)


def test_e4_p3_gross_spend_and_net_spend() -> None:
    # 24 h at 7% of 2 vCPU: gross spend 0.14 x 1440 = 201.6, earned 144, net 57.6.
    result = run_ledger(
        [0.14],
        instance="t3.nano",
        step_s=24 * HOUR_S,
        mode="standard",
        start_credits=144,
    )
    assert end(result, "spent_credits") == pytest.approx(201.6)
    assert end(result, "earned_credits") == pytest.approx(144)
    assert end(result, "end_balance_credits") == pytest.approx(86.4)


def test_e4_p5_delivers_baseline_once_empty() -> None:
    # 2 h at 1.2 vCPU from 122.4: full demand for 122.4/66 h, then 0.1 vCPU.
    result = run_ledger(
        [1.2],
        instance="t3.nano",
        step_s=2 * HOUR_S,
        mode="standard",
        start_credits=122.4,
    )
    burst_hours = 122.4 / 66
    expected_vcpu = (1.2 * burst_hours + 0.1 * (2 - burst_hours)) / 2
    assert result.delivered_vcpu is not None and result.unserved_vcpu is not None
    assert result.delivered_vcpu[0, 0] == pytest.approx(expected_vcpu)
    assert result.unserved_vcpu[0, 0] == pytest.approx(1.2 - expected_vcpu)


# --- unlimited mode, worked by hand [UMC][MON] ----------------------------------------


def test_unlimited_surplus_accrual_and_pay_back() -> None:
    # t3.nano: r = 0.1/min. 1 h at 2 vCPU: surplus 1.9 x 60 = 114.
    # Then idle: 6 per hour pay back first; after 19 h the surplus is 0, and the
    # 20th hour's 6 credits accrue in the earned balance.
    demand = np.concatenate([[2.0], np.zeros(20)])
    result = run_ledger(demand, instance="t3.nano", step_s=HOUR_S)
    assert result.mode == "unlimited"
    assert result.surplus_balance_credits is not None
    assert result.balance_credits is not None
    assert result.surplus_balance_credits[0, 0] == pytest.approx(114)
    assert result.surplus_balance_credits[0, 1] == pytest.approx(108)
    assert result.surplus_balance_credits[0, 19] == pytest.approx(0, abs=TOL)
    assert result.balance_credits[0, 19] == pytest.approx(0, abs=TOL)
    assert end(result, "end_balance_credits") == pytest.approx(6)
    assert end(result, "surplus_charged_credits") == 0
    assert end(result, "hours_to_exhaustion") == 0


def test_unlimited_charges_surplus_beyond_the_cap() -> None:
    # 2 h at 2 vCPU: 1.9 x 120 = 228 surplus; 144 carried, 84 charged at $0.05/60.
    result = run_ledger([2.0], instance="t3.nano", step_s=2 * HOUR_S)
    assert end(result, "end_surplus_credits") == pytest.approx(144)
    assert end(result, "surplus_charged_credits") == pytest.approx(84)
    assert end(result, "surplus_charge_usd") == pytest.approx(84 * 0.05 / 60)


def test_unlimited_charges_outstanding_surplus_at_stop() -> None:
    # 114 surplus at stop are charged: 114 x 0.05 / 60 = $0.095.
    result = run_ledger([2.0], instance="t3.nano", step_s=HOUR_S, stop_at_end=True)
    assert end(result, "end_surplus_credits") == 0
    assert end(result, "surplus_charged_credits") == pytest.approx(114)
    assert end(result, "surplus_charge_usd") == pytest.approx(0.095)
    assert result.surplus_charged_credits is not None
    assert result.surplus_charged_credits[0, -1] == pytest.approx(114)


def test_windows_surplus_rate() -> None:
    # 60 charged credits = 1 vCPU-hour at $0.096 (Windows).
    result = run_ledger(
        [0.0],
        instance="t3.nano",
        step_s=60,
        os="windows",
        start_surplus_credits=60,
        stop_at_end=True,
    )
    assert end(result, "surplus_charge_usd") == pytest.approx(0.096 - 0.1 * 0.096 / 60)


def test_switch_to_standard_charges_surplus_at_once() -> None:
    # The standard run starts from an unlimited end state: 50 surplus are charged
    # in the first step and the earned balance then moves on from 0.
    result = run_ledger(
        [0.0, 0.0],
        instance="t3.nano",
        step_s=HOUR_S,
        mode="standard",
        start_surplus_credits=50,
    )
    assert end(result, "surplus_charged_credits") == 50
    assert result.surplus_charged_credits is not None
    assert list(result.surplus_charged_credits[0]) == [50, 0]
    assert end(result, "end_balance_credits") == pytest.approx(12)


def test_section_2_9_equations_step_by_step() -> None:
    # t3.nano, E = 0.5 per 5 min, MAX = 144; usage U per 5-min step (U/5 vCPU).
    # B0 = 1: Adj = 1 + 0.5 - 3 = -1.5 -> B 0, S 1.5
    # U 0: Adj = -1.5 + 0.5 = -1 -> S 1;  U 0: -0.5 -> S 0.5;  U 0: 0 -> both 0
    # U 0: 0.5 -> B 0.5;  U 1: 0.5 + 0.5 - 1 = 0 -> both 0
    usage = [3.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    demand = np.array(usage) / 5
    result = run_ledger(demand, instance="t3.nano", step_s=300, start_credits=1)
    assert result.balance_credits is not None
    assert result.surplus_balance_credits is not None
    np.testing.assert_allclose(
        result.balance_credits[0], [0, 0, 0, 0, 0.5, 0], atol=TOL
    )
    np.testing.assert_allclose(
        result.surplus_balance_credits[0], [1.5, 1, 0.5, 0, 0, 0], atol=TOL
    )


def test_section_2_9_charge_beyond_max() -> None:
    # Prior S = 144, U = 10: Adj = -144 + 0.5 - 10 = -153.5 -> S 144, charged 9.5.
    result = run_ledger(
        [2.0], instance="t3.nano", step_s=300, start_surplus_credits=144
    )
    assert result.surplus_charged_credits is not None
    assert result.surplus_charged_credits[0, 0] == pytest.approx(9.5)
    assert end(result, "end_surplus_credits") == pytest.approx(144)


# --- shapes, scaling, options ---------------------------------------------------------


def test_scaled_run_clips_demand_at_vcpu() -> None:
    # profile 1.5 x scale 2 = 3 > 2 vCPU: the t3.nano delivers 2.
    result = run_ledger_scaled([1.5], [2.0], instance="t3.nano", step_s=60)
    assert result.delivered_vcpu is not None
    assert result.delivered_vcpu[0, 0] == 2


def test_scaled_equals_materialised_demand() -> None:
    profile = np.array([0.1, 0.5, 1.0, 0.0, 0.3])
    scale = np.array([0.5, 1.0, 1.9])
    scaled = run_ledger_scaled(
        profile,
        scale,
        instance="t3.micro",
        step_s=HOUR_S,
        mode="standard",
        start_credits=20,
    )
    plain = run_ledger(
        np.minimum(profile * scale[:, None], 2),
        instance="t3.micro",
        step_s=HOUR_S,
        mode="standard",
        start_credits=20,
    )
    np.testing.assert_array_equal(scaled.balance_credits, plain.balance_credits)
    np.testing.assert_array_equal(
        scaled.summary.throttled_hours, plain.summary.throttled_hours
    )


def test_keep_steps_false_gives_same_summary() -> None:
    demand = np.linspace(0, 2, 100)
    kept = run_ledger(demand, instance="t3.nano", step_s=600)
    bare = run_ledger(demand, instance="t3.nano", step_s=600, keep_steps=False)
    assert bare.balance_credits is None and bare.delivered_vcpu is None
    assert bare.summary.end_surplus_credits == kept.summary.end_surplus_credits


def test_squeeze_drops_the_config_axis() -> None:
    result = run_ledger([0.0, 0.0], instance="t3.nano", step_s=HOUR_S).squeeze()
    assert result.balance_credits is not None
    assert result.balance_credits.shape == (2,)
    assert float(result.summary.end_balance_credits) == pytest.approx(12)


def test_instance_type_object_is_accepted() -> None:
    result = run_ledger([0.0], instance=get_instance("t4g.nano"), step_s=HOUR_S)
    assert (result.instance_type, result.mode) == ("t4g.nano", "unlimited")


def test_per_config_start_credits() -> None:
    result = run_ledger(
        np.zeros((2, 1)),
        instance="t3.nano",
        step_s=HOUR_S,
        mode="standard",
        start_credits=[0, 100],
    )
    np.testing.assert_allclose(result.summary.end_balance_credits, [6, 106])


def test_min_balance_includes_the_start() -> None:
    # From 50, 1 h at 0.6 vCPU on a t3.nano drains 0.5/min to 20, then idle
    # earns 6/h: the lowest CPUCreditBalance is 20; idle alone keeps it at 50.
    drained = run_ledger(
        [0.6, 0.0],
        instance="t3.nano",
        step_s=HOUR_S,
        mode="standard",
        start_credits=50,
    )
    assert end(drained, "min_balance_credits") == pytest.approx(20)
    idle = run_ledger(
        [0.0], instance="t3.nano", step_s=HOUR_S, mode="standard", start_credits=50
    )
    assert end(idle, "min_balance_credits") == 50


def test_min_balance_with_surplus_is_zero() -> None:
    result = run_ledger([2.0, 0.0], instance="t3.nano", step_s=HOUR_S)
    assert end(result, "min_balance_credits") == 0


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"demand_vcpu": [2.5]},
            r"demand_vcpu 2\.5 \(config 0, step 0\) exceeds the 2 "
            r"vCPUs of t3\.nano; clip it",
        ),
        ({"demand_vcpu": [-1.0]}, r"demand_vcpu must be finite and >= 0"),
        ({"demand_vcpu": [math.nan]}, r"demand_vcpu must be finite and >= 0"),
        ({"demand_vcpu": []}, r"demand_vcpu must have shape \(steps,\) or"),
        ({"step_s": 0}, r"step_s must be a positive number of seconds, got 0"),
        ({"step_s": "x"}, r"step_s must be a positive number of seconds, got 'x'"),
        ({"mode": "burst"}, r"mode 'burst' is not a credit mode; use 'standard' or"),
        ({"start_credits": 145}, r"start_credits must lie in \[0, 144\] credits"),
        ({"start_credits": -1}, r"start_credits must lie in \[0, 144\] credits"),
        (
            {"start_credits": [1, 2, 3]},
            r"start_credits must be one number or one per "
            r"config \(1\)",
        ),
        ({"start_surplus_credits": 200}, r"start_surplus_credits must lie in \[0, 144"),
        (
            {"launch_credits": 30},
            r"launch_credits 30 given for t3\.nano in unlimited "
            r"mode; only T2",
        ),
        (
            {"start_credits": 5, "start_surplus_credits": 5},
            r"both positive; AWS pays "
            r"surplus from earned credits first",
        ),
        (
            {"instance": "c5.large"},
            r"c5\.large is a fixed-performance type and has no "
            r"CPU credits",
        ),
        (
            {"instance": "t3.nanno"},
            r"unknown instance type 't3\.nanno'; did you mean "
            r"'t3\.nano'",
        ),
        (
            {"instance": "t4g.nano", "os": "windows"},
            r"no windows surplus-credit rate "
            r"for t4g",
        ),
    ],
)
def test_bad_input_is_refused(kwargs: dict, match: str) -> None:
    arguments = {"demand_vcpu": [0.5], "instance": "t3.nano", "step_s": 60} | kwargs
    error = CatalogError if "instance" in kwargs else ParameterError
    with pytest.raises(error, match=match):
        run_ledger(**arguments)


def test_fixed_instance_type_object_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"c5\.large is a fixed-performance type"):
        run_ledger([0.5], instance=get_instance("c5.large"), step_s=60)


def test_launch_credits_in_unlimited_t2_refused() -> None:
    with pytest.raises(
        ParameterError,
        match=r"t2\.micro in unlimited mode; only T2 "
        r"instances in standard mode have launch credits",
    ):
        run_ledger(
            [0.5], instance="t2.micro", step_s=60, mode="unlimited", launch_credits=30
        )


def test_negative_launch_credits_refused() -> None:
    with pytest.raises(ParameterError, match=r"launch_credits must be >= 0, got -1"):
        run_ledger([0.5], instance="t2.micro", step_s=60, launch_credits=-1)


def test_squeeze_of_many_configs_refused() -> None:
    result = run_ledger(np.zeros((2, 3)), instance="t3.nano", step_s=60)
    with pytest.raises(ParameterError, match=r"squeeze\(\) needs a one-config result"):
        result.squeeze()


def test_scaled_profile_must_be_1d() -> None:
    with pytest.raises(ParameterError, match=r"profile_vcpu must be 1-D"):
        run_ledger_scaled(np.zeros((2, 3)), [1.0], instance="t3.nano", step_s=60)


def test_scaled_scale_must_be_non_negative() -> None:
    with pytest.raises(ParameterError, match=r"scale must be a 1-D array of finite"):
        run_ledger_scaled([0.5], [-1.0], instance="t3.nano", step_s=60)


def test_scaled_needs_instance() -> None:
    with pytest.raises(ParameterError, match=r"instance is required"):
        run_ledger_scaled([0.5], [1.0], step_s=60)


# --- a second, plain implementation of AWS's 5-minute equations (2.9) -----------------


def mon_equations(
    usage: list[float], earned: float, max_credits: float, unlimited: bool
) -> tuple[list[float], list[float], float]:
    """Balances after each interval and total charged, by AWS-CREDITS.md 2.9.

    Standard: B = min(max_credits, B + E - U) with U limited to what is available (the
    instance is held at baseline at zero, so it never spends more than B + E).
    """
    balance, surplus, charged = 0.0, 0.0, 0.0
    balances, surpluses = [], []
    for used in usage:
        if unlimited:
            adj = balance - surplus + earned - used
            balance = min(max_credits, adj) if adj > 0 else 0.0
            surplus = min(max_credits, -adj) if adj < 0 else 0.0
            charged += max(-adj - max_credits, 0.0)
        else:
            balance = min(max_credits, max(0.0, balance + earned - used))
        balances.append(balance)
        surpluses.append(surplus)
    return balances, surpluses, charged


demands = st.lists(st.floats(0, 2), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(demand=demands, unlimited=st.booleans())
def test_matches_the_5_minute_equations(demand: list[float], unlimited: bool) -> None:
    mode = "unlimited" if unlimited else "standard"
    result = run_ledger(demand, instance="t3.nano", step_s=300, mode=mode)
    usage = [d * 5 for d in demand]
    balances, surpluses, charged = mon_equations(usage, 0.5, 144, unlimited)
    assert result.balance_credits is not None
    assert result.surplus_balance_credits is not None
    np.testing.assert_allclose(result.balance_credits[0], balances, atol=1e-9)
    np.testing.assert_allclose(result.surplus_balance_credits[0], surpluses, atol=1e-9)
    assert end(result, "surplus_charged_credits") == pytest.approx(charged, abs=1e-9)


# --- properties -----------------------------------------------------------------------

instances = st.sampled_from(
    ["t2.micro", "t2.xlarge", "t3.nano", "t3a.large", "t4g.2xlarge"]
)


@st.composite
def runs(draw: st.DrawFn) -> dict:
    name = draw(instances)
    rules = get_instance(name)
    steps = draw(st.integers(1, 40))
    demand = draw(st.lists(st.floats(0, rules.vcpu), min_size=steps, max_size=steps))
    max_credits = float(rules.max_credits or 0)
    return {
        "demand_vcpu": demand,
        "instance": name,
        "step_s": draw(st.sampled_from([60.0, 300.0, 3600.0, 7200.0])),
        "mode": draw(st.sampled_from(["standard", "unlimited"])),
        "start_credits": draw(st.floats(0, max_credits)),
        "stop_at_end": draw(st.booleans()),
    }


@settings(max_examples=150, deadline=None)
@given(run=runs())
def test_balances_stay_within_bounds(run: dict) -> None:
    max_credits = float(get_instance(run["instance"]).max_credits or 0)
    result = run_ledger(**run)
    assert result.balance_credits is not None
    assert result.surplus_balance_credits is not None
    assert result.launch_balance_credits is not None
    assert np.all(result.balance_credits >= 0)
    assert np.all(result.balance_credits <= max_credits + 1e-9)
    assert np.all(result.surplus_balance_credits >= 0)
    assert np.all(result.surplus_balance_credits <= max_credits + 1e-9)
    assert np.all(result.launch_balance_credits >= 0)


@settings(max_examples=150, deadline=None)
@given(run=runs())
def test_conservation(run: dict) -> None:
    # earned - spent = dB + dL - dS + discarded - charged
    result = run_ledger(**run)
    s = result.summary
    launch0 = 0.0
    if run["mode"] == "standard":
        launch0 = float(get_instance(run["instance"]).launch_credits or 0)
    change = (
        s.end_balance_credits[0]
        - run["start_credits"]
        + s.end_launch_credits[0]
        - launch0
        - s.end_surplus_credits[0]
    )
    lhs = s.earned_credits[0] - s.spent_credits[0]
    rhs = change + s.discarded_credits[0] - s.surplus_charged_credits[0]
    assert lhs == pytest.approx(rhs, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(run=runs())
def test_delivered_never_exceeds_demand(run: dict) -> None:
    result = run_ledger(**run)
    assert result.delivered_vcpu is not None and result.unserved_vcpu is not None
    assert np.all(result.delivered_vcpu <= np.asarray(run["demand_vcpu"]) + 1e-12)
    np.testing.assert_allclose(
        result.delivered_vcpu + result.unserved_vcpu, [run["demand_vcpu"]], atol=1e-9
    )
    if run["mode"] == "unlimited" or result.summary.throttled_hours[0] == 0:
        assert np.all(result.unserved_vcpu == 0)


@settings(max_examples=150, deadline=None)
@given(run=runs(), extra=st.floats(0, 1))
def test_more_demand_never_leaves_a_higher_balance(run: dict, extra: float) -> None:
    vcpu = get_instance(run["instance"]).vcpu
    more = dict(
        run, demand_vcpu=np.minimum(np.asarray(run["demand_vcpu"]) + extra, vcpu)
    )
    run = dict(run, stop_at_end=False)
    more["stop_at_end"] = False

    def standing(result) -> float:  # type: ignore[no-untyped-def]
        s = result.summary
        return float(
            s.end_balance_credits[0]
            + s.end_launch_credits[0]
            - s.end_surplus_credits[0]
        )

    assert standing(run_ledger(**more)) <= standing(run_ledger(**run)) + 1e-9


@settings(max_examples=100, deadline=None)
@given(run=runs(), other=st.lists(st.floats(0, 1), min_size=40, max_size=40))
def test_one_config_alone_equals_the_same_config_in_a_batch(
    run: dict, other: list[float]
) -> None:
    demand = np.asarray(run["demand_vcpu"])
    batch = np.vstack([other[: demand.size], demand, demand[::-1]])
    alone = run_ledger(**run)
    together = run_ledger(**dict(run, demand_vcpu=batch))
    assert together.balance_credits is not None
    np.testing.assert_array_equal(together.balance_credits[1], alone.balance_credits[0])
    for name in ("end_balance_credits", "throttled_hours", "surplus_charged_credits"):
        assert getattr(together.summary, name)[1] == getattr(alone.summary, name)[0]


@settings(max_examples=100, deadline=None)
@given(
    name=instances,
    fraction=st.floats(0, 1),
    hours=st.integers(1, 30),
    mode=st.sampled_from(["standard", "unlimited"]),
    start_frac=st.floats(0, 1),
)
def test_step_length_does_not_change_the_result(
    name: str, fraction: float, hours: int, mode: str, start_frac: float
) -> None:
    rules = get_instance(name)
    demand = fraction * rules.vcpu
    common = {
        "instance": name,
        "mode": mode,
        "stop_at_end": True,
        "start_credits": start_frac * float(rules.max_credits or 0),
    }
    fine = run_ledger(np.full(hours * 60, demand), step_s=60, **common)
    coarse = run_ledger(np.full(hours, demand), step_s=3600, **common)
    for field in (
        "end_balance_credits",
        "end_launch_credits",
        "end_surplus_credits",
        "surplus_charged_credits",
        "throttled_hours",
        "spent_credits",
        "discarded_credits",
    ):
        assert getattr(fine.summary, field)[0] == pytest.approx(
            getattr(coarse.summary, field)[0], abs=1e-6
        ), field
    np.testing.assert_allclose(
        fine.summary.hours_to_exhaustion, coarse.summary.hours_to_exhaustion, atol=1e-9
    )
