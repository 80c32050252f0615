"""Tests of the instance catalog, price tables and surplus rates.

Spot values come from AWS-CREDITS.md tables 1.1 and 1.2 (AWS's credit table [KC],
hardware tables [GP][CO], launch credits [SMC], prices [KAR26]) and section 2.6
(surplus rates [PRICE]).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from capacity import catalog
from capacity.catalog import (
    credit_rules,
    get_instance,
    instance_types,
    load_prices,
    surplus_usd_per_vcpu_h,
)
from capacity.errors import CapacityWarning, CatalogError

BURSTABLE_FAMILIES = ("t2", "t3", "t3a", "t4g")
FIXED_FAMILIES = ("c5", "c6i", "c6a", "c7g", "m5", "m6i", "m7g")
HEADER = "instance_type,price_usd_per_h,region,os,source,retrieved\n"
ROW_TAIL = ",us-east-1,linux,https://example.org/prices,2026-02-23\n"


# --- invariants over the whole catalog ------------------------------------------------


def test_scope_every_size_of_every_family() -> None:
    names = {t.name for t in instance_types()}
    burst_sizes = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")
    for family in BURSTABLE_FAMILIES:
        assert {f"{family}.{size}" for size in burst_sizes} <= names
    for family in FIXED_FAMILIES:
        assert {
            f"{family}.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge")
        } <= names
    assert {"c7g.medium", "m7g.medium"} <= names
    assert len(names) == 4 * 7 + 7 * 4 + 2


@pytest.mark.parametrize("instance", instance_types(BURSTABLE_FAMILIES), ids=str)
def test_credit_invariants(instance: catalog.InstanceType) -> None:
    # [KC]: credits/h = baseline x vCPU x 60; cap = 24 h of earnings.
    assert instance.burstable
    assert instance.baseline_frac is not None and 0 < instance.baseline_frac < 1
    assert instance.credits_per_h is not None and instance.max_credits is not None
    assert math.isclose(
        instance.credits_per_h, instance.baseline_frac * instance.vcpu * 60
    )
    assert math.isclose(instance.max_credits, 24 * instance.credits_per_h)


@pytest.mark.parametrize("instance", instance_types(BURSTABLE_FAMILIES), ids=str)
def test_launch_credits_and_default_mode(instance: catalog.InstanceType) -> None:
    # [SMC]: T2 standard gets 30 launch credits per vCPU; T3/T3a/T4g none.
    # [HOW]: T2 launches standard, T3/T3a/T4g unlimited.
    if instance.family == "t2":
        assert instance.launch_credits == 30 * instance.vcpu
        assert instance.default_mode == "standard"
    else:
        assert instance.launch_credits == 0
        assert instance.default_mode == "unlimited"


@pytest.mark.parametrize("instance", instance_types(FIXED_FAMILIES), ids=str)
def test_fixed_types_have_no_credit_fields(instance: catalog.InstanceType) -> None:
    assert not instance.burstable
    assert instance.baseline_frac is None
    assert instance.max_credits is None
    assert instance.launch_credits is None
    assert instance.default_mode is None


def test_every_burstable_family_has_a_linux_surplus_rate() -> None:
    for family in BURSTABLE_FAMILIES:
        assert surplus_usd_per_vcpu_h(family) > 0


def test_every_type_has_a_positive_price() -> None:
    prices = load_prices()
    for instance in instance_types():
        assert prices.price_usd_per_h(instance.name) > 0


def test_names_split_into_family_and_size() -> None:
    for instance in instance_types():
        assert instance.name == f"{instance.family}.{instance.size}"
        expected_arch = "arm64" if instance.family.endswith("g") else "x86_64"
        assert instance.arch == expected_arch


# --- spot values from AWS-CREDITS.md tables 1.1 and 1.2 -------------------------------

# type, vCPU, GiB, baseline per vCPU, credits/h, cap, launch credits (table 1.1)
BURSTABLE_ROWS = [
    ("t2.nano", 1, 0.5, 0.05, 3, 72, 30),
    ("t2.micro", 1, 1, 0.10, 6, 144, 30),
    ("t2.medium", 2, 4, 0.20, 24, 576, 60),
    ("t2.xlarge", 4, 16, 0.225, 54, 1296, 120),
    ("t2.2xlarge", 8, 32, 0.17, 81.6, 1958.4, 240),
    ("t3.nano", 2, 0.5, 0.05, 6, 144, 0),
    ("t3.small", 2, 2, 0.20, 24, 576, 0),
    ("t3.medium", 2, 4, 0.20, 24, 576, 0),
    ("t3.large", 2, 8, 0.30, 36, 864, 0),
    ("t3.xlarge", 4, 16, 0.40, 96, 2304, 0),
    ("t3.2xlarge", 8, 32, 0.40, 192, 4608, 0),
    ("t3a.micro", 2, 1, 0.10, 12, 288, 0),
    ("t4g.large", 2, 8, 0.30, 36, 864, 0),
]


@pytest.mark.parametrize("row", BURSTABLE_ROWS, ids=lambda row: row[0])
def test_burstable_spot_values(row: tuple) -> None:
    name, vcpu, memory_gib, baseline_frac, per_h, cap, launch = row
    instance = get_instance(name)
    assert instance.vcpu == vcpu
    assert instance.memory_gib == memory_gib
    assert instance.baseline_frac == baseline_frac
    assert instance.credits_per_h == per_h
    assert instance.max_credits == cap
    assert instance.launch_credits == launch


# type, vCPU, GiB, us-east-1 Linux $/h (tables 1.1 and 1.2)
PRICE_ROWS = [
    ("t2.micro", 1, 1, 0.0116),
    ("t2.small", 1, 2, 0.023),
    ("t2.medium", 2, 4, 0.0464),
    ("t3.large", 2, 8, 0.0832),
    ("t3a.large", 2, 8, 0.0752),
    ("t4g.medium", 2, 4, 0.0336),
    ("c5.large", 2, 4, 0.085),
    ("c6a.4xlarge", 16, 32, 0.612),
    ("c7g.medium", 1, 2, 0.0363),
    ("c7g.large", 2, 4, 0.0725),
    ("m5.large", 2, 8, 0.096),
    ("m6i.4xlarge", 16, 64, 0.768),
    ("m7g.medium", 1, 4, 0.0408),
    ("m7g.large", 2, 8, 0.0816),
]


@pytest.mark.parametrize("row", PRICE_ROWS, ids=lambda row: row[0])
def test_shape_and_price_spot_values(row: tuple) -> None:
    name, vcpu, memory_gib, price_usd_per_h = row
    instance = get_instance(name)
    assert (instance.vcpu, instance.memory_gib) == (vcpu, memory_gib)
    assert load_prices().price_usd_per_h(name) == price_usd_per_h


def test_bundled_price_table_carries_provenance() -> None:
    prices = load_prices()
    assert (prices.region, prices.os, prices.retrieved) == (
        "us-east-1",
        "linux",
        "2026-02-23",
    )
    assert prices.source.startswith("https://github.com/aws/karpenter-provider-aws/")


@pytest.mark.parametrize(
    ("family", "os", "rate"),
    [
        ("t2", "linux", 0.05),
        ("t2", "windows", 0.096),
        ("t3", "linux", 0.05),
        ("t3", "windows", 0.096),
        ("t3a", "linux", 0.05),  # assumed = T3 (AWS-CREDITS.md Q5)
        ("t4g", "linux", 0.04),
        ("T3", "Linux", 0.05),
    ],
)
def test_surplus_rates(family: str, os: str, rate: float) -> None:
    assert surplus_usd_per_vcpu_h(family, os) == rate


def test_lookup_is_case_and_blank_insensitive() -> None:
    assert get_instance(" T3.Large ").name == "t3.large"


def test_instance_types_takes_one_family_name() -> None:
    assert [t.name for t in instance_types("t3a")][0] == "t3a.nano"


def test_instance_types_filters_by_family_in_catalog_order() -> None:
    names = [t.name for t in instance_types(["m7g"])]
    assert names == [
        f"m7g.{s}" for s in ("medium", "large", "xlarge", "2xlarge", "4xlarge")
    ]


# --- errors ---------------------------------------------------------------------------


def test_unknown_type_names_close_match() -> None:
    with pytest.raises(
        CatalogError,
        match=r"unknown instance type 't3\.lage'; did you "
        r"mean 't3\.large'",
    ):
        get_instance("t3.lage")


def test_unknown_type_without_close_match_points_to_listing() -> None:
    with pytest.raises(CatalogError, match=r"'zz9'; `capacity catalog` lists every"):
        get_instance("zz9")


def test_unknown_family() -> None:
    with pytest.raises(
        CatalogError,
        match=r"unknown instance family 't5'.*known "
        r"families: c5, c6a",
    ):
        instance_types(["t5"])


def test_credit_rules_refuses_fixed_type() -> None:
    with pytest.raises(
        CatalogError,
        match=r"c5\.large is a fixed-performance type and "
        r"has no CPU credits",
    ):
        credit_rules("c5.large")


def test_credit_rules_returns_burstable() -> None:
    assert credit_rules("t2.micro").launch_credits == 30


def test_surplus_rate_unknown_family() -> None:
    with pytest.raises(CatalogError, match=r"no surplus-credit rate for family 'm5'"):
        surplus_usd_per_vcpu_h("m5")


def test_surplus_rate_unknown_os() -> None:
    with pytest.raises(CatalogError, match=r"unknown os 'macos'.*linux, windows"):
        surplus_usd_per_vcpu_h("t3", "macos")


def test_t4g_has_no_windows_rate() -> None:
    with pytest.raises(CatalogError, match=r"no windows surplus-credit rate for t4g"):
        surplus_usd_per_vcpu_h("t4g", "windows")


def write_prices(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_load_user_price_table(tmp_path: Path) -> None:
    path = write_prices(tmp_path, "t3.large,0.1" + ROW_TAIL + "m5.large,0.2" + ROW_TAIL)
    prices = load_prices(path)
    assert prices.prices_usd_per_h == {"t3.large": 0.1, "m5.large": 0.2}
    assert prices.source == "https://example.org/prices"


def test_missing_price_in_table(tmp_path: Path) -> None:
    prices = load_prices(write_prices(tmp_path, "t3.large,0.1" + ROW_TAIL))
    with pytest.raises(CatalogError, match=r"no price for instance type 'm5\.large'"):
        prices.price_usd_per_h("m5.large")


def test_price_file_missing(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"price table file .*nope\.csv' not found"):
        load_prices(tmp_path / "nope.csv")


def test_price_column_missing(tmp_path: Path) -> None:
    path = write_prices(tmp_path, "t3.large,0.1\n", header="instance_type,price\n")
    with pytest.raises(
        CatalogError, match=r"lacks column\(s\) price_usd_per_h, region"
    ):
        load_prices(path)


def test_price_table_without_rows(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"has no rows"):
        load_prices(write_prices(tmp_path, ""))


@pytest.mark.parametrize("cell", ["abc", ""])
def test_price_not_numeric(tmp_path: Path, cell: str) -> None:
    path = write_prices(tmp_path, f"t3.large,{cell}" + ROW_TAIL)
    with pytest.raises(
        CatalogError, match=r"line 2: price_usd_per_h .* is not a number"
    ):
        load_prices(path)


@pytest.mark.parametrize("cell", ["0", "-0.1", "nan", "inf"])
def test_price_not_positive(tmp_path: Path, cell: str) -> None:
    path = write_prices(tmp_path, f"t3.large,{cell}" + ROW_TAIL)
    with pytest.raises(
        CatalogError, match=r"must be a positive number of USD per hour"
    ):
        load_prices(path)


def test_duplicate_type(tmp_path: Path) -> None:
    path = write_prices(tmp_path, ("t3.large,0.1" + ROW_TAIL) * 2)
    with pytest.raises(
        CatalogError, match=r"line 3: duplicate instance type 't3\.large'"
    ):
        load_prices(path)


def test_unknown_type_in_price_table_warns_and_is_ignored(tmp_path: Path) -> None:
    path = write_prices(tmp_path, "t3.large,0.1" + ROW_TAIL + "x9.huge,9" + ROW_TAIL)
    with pytest.warns(CapacityWarning, match=r"not in the catalog, ignored: x9\.huge"):
        prices = load_prices(path)
    assert list(prices.prices_usd_per_h) == ["t3.large"]


def test_mixed_regions_refused(tmp_path: Path) -> None:
    body = "t3.large,0.1" + ROW_TAIL + "m5.large,0.2,eu-west-1,linux,x,2026-02-23\n"
    with pytest.raises(CatalogError, match=r"column 'region' must hold one non-empty"):
        load_prices(write_prices(tmp_path, body))


def test_retrieved_must_be_iso_date(tmp_path: Path) -> None:
    body = "t3.large,0.1,us-east-1,linux,x,23/02/2026\n"
    with pytest.raises(CatalogError, match=r"'23/02/2026', not an ISO date"):
        load_prices(write_prices(tmp_path, body))


# --- provenance -----------------------------------------------------------------------


def test_manifest_hashes_match_the_data_files(root_dir: Path) -> None:
    data_dir = root_dir / "data"
    manifest = json.loads((data_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    names = {"instance_types.csv", "prices_us-east-1_linux.csv", "surplus_rates.csv"}
    assert names <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        digest = hashlib.sha256((data_dir / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name}: update MANIFEST.json's sha256"
        assert entry["sources"] and all(
            s["url"].startswith("https://") for s in entry["sources"]
        )


# --- price tables as spreadsheets and finance tools write them ------------------------


def test_price_table_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "t3.large,0.0832" + ROW_TAIL, encoding="utf-8-sig")
    assert load_prices(path).prices_usd_per_h == {"t3.large": 0.0832}


def test_price_with_decimal_comma(tmp_path: Path) -> None:
    path = write_prices(tmp_path, "t3.large,0,0832" + ROW_TAIL)
    with pytest.raises(
        CatalogError,
        match=r"prices\.csv' line 2 has more cells than the header; a decimal comma",
    ):
        load_prices(path)


def test_price_table_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    body = HEADER + "t3.large,0.0832,us-east-1,linux,Preisliste März,2026-02-23\n"
    path.write_bytes(body.encode("cp1252"))
    with pytest.raises(
        CatalogError, match=r"prices\.csv' line 2: byte 0xe4 is not UTF-8 .* UTF-8'"
    ):
        load_prices(path)


def test_json_passed_as_price_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{\n  "t3.large": 0.0832,\n  "m5.large": 0.096\n}\n')
    with pytest.raises(CatalogError, match=r"prices\.json' line 2 has more cells"):
        load_prices(path)


def test_one_line_json_passed_as_price_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"t3.large": 0.0832}\n')
    with pytest.raises(CatalogError, match=r"prices\.json' is JSON, not CSV; write"):
        load_prices(path)


def test_price_table_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"is a directory; pass the path of a CSV"):
        load_prices(tmp_path)
