"""The instance catalog: EC2 shapes, CPU-credit rules, on-demand prices, surplus rates.

The data live in ``data/`` at the repository root, beside ``data/MANIFEST.json``, which
names each file's sources, dates and sha256:

- ``instance_types.csv``: one row per type; the credit columns are empty for
  fixed-performance types. Values from AWS's credit table and hardware tables.
- ``prices_us-east-1_linux.csv``: on-demand USD per hour. A price table is a CSV with
  the columns ``instance_type, price_usd_per_h, region, os, source, retrieved``; the
  last four hold one value for the whole file, so a loaded table always carries its
  region, operating system, source and ISO retrieval date. Users load their own table
  in the same shape with :func:`load_prices`.
- ``surplus_rates.csv``: the unlimited-mode surplus price per vCPU-hour by family and
  operating system.

The catalog files are read once, on first use, with the standard ``csv`` module.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import functools
import math
import types
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from capacity.errors import CapacityWarning, CatalogError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
INSTANCE_TYPES_CSV = DATA_DIR / "instance_types.csv"
PRICES_CSV = DATA_DIR / "prices_us-east-1_linux.csv"
SURPLUS_RATES_CSV = DATA_DIR / "surplus_rates.csv"

PRICE_COLUMNS = (
    "instance_type",
    "price_usd_per_h",
    "region",
    "os",
    "source",
    "retrieved",
)
PRICE_TABLE_COLUMNS = ("region", "os", "source", "retrieved")
SURPLUS_OS = ("linux", "windows")


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type: its shape and, for burstable types, its credit rules."""

    name: str
    """API name, e.g. ``"t3.large"``."""
    family: str
    """Family, the part before the dot, e.g. ``"t3"``."""
    size: str
    """Size, the part after the dot, e.g. ``"large"``."""
    vcpu: int
    """Number of vCPUs [vCPU]."""
    memory_gib: float
    """Memory [GiB]."""
    arch: str
    """Processor architecture: ``"x86_64"`` or ``"arm64"``."""
    baseline_frac: float | None
    """Baseline utilisation per vCPU [0..1]; None for fixed-performance types."""
    credits_per_h: float | None
    """CPU credits earned per hour [credits/h]; None for fixed-performance types."""
    max_credits: float | None
    """Accrual cap on earned credits, 24 h of earnings [credits]; None for fixed."""
    launch_credits: float | None
    """Launch credits in standard mode [credits]: T2 30 per vCPU, T3/T3a/T4g 0."""
    default_mode: str | None
    """Credit mode at launch: ``"standard"`` (T2) or ``"unlimited"``; None for fixed."""

    @property
    def burstable(self) -> bool:
        """True for T2/T3/T3a/T4g types, which earn and spend CPU credits."""
        return self.credits_per_h is not None


@dataclass(frozen=True)
class PriceTable:
    """On-demand prices for one region and operating system, with their provenance."""

    region: str
    """AWS Region, e.g. ``"us-east-1"``."""
    os: str
    """Operating system the prices are for, e.g. ``"linux"``."""
    source: str
    """Where the prices come from (a URL)."""
    retrieved: str
    """ISO date (YYYY-MM-DD) on which the prices were read from the source."""
    prices_usd_per_h: Mapping[str, float]
    """On-demand price per instance-hour by instance type [USD/h]."""

    def price_usd_per_h(self, name: str) -> float:
        """The on-demand price of one instance type [USD/h].

        Raises
        ------
        CatalogError
            If the table has no price for ``name``.
        """
        if name not in self.prices_usd_per_h:
            raise CatalogError(
                f"no price for instance type {name!r} in the {self.region} "
                f"{self.os} price table ({self.source});"
                f"{_suggest(name, self.prices_usd_per_h)} add a row for it to the "
                f"price CSV"
            )
        return self.prices_usd_per_h[name]


def get_instance(name: str) -> InstanceType:
    """Look up one instance type in the catalog.

    Parameters
    ----------
    name : str
        API name such as ``"t3.large"`` (case and surrounding blanks are ignored).

    Returns
    -------
    InstanceType

    Raises
    ------
    CatalogError
        If the type is not in the catalog; the message names the closest matches.

    References
    ----------
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html

    Examples
    --------
    >>> get_instance("t3.nano").credits_per_h
    6.0
    """
    catalog = _catalog()
    key = str(name).strip().lower()
    if key not in catalog:
        raise CatalogError(
            f"unknown instance type {name!r};{_suggest(key, catalog)} "
            f"`capacity catalog` lists every type"
        )
    return catalog[key]


def instance_types(families: Iterable[str] | None = None) -> list[InstanceType]:
    """The catalog's instance types, in catalog order, optionally of some families.

    Parameters
    ----------
    families : iterable of str, optional
        Families to keep, e.g. ``["t3", "c5"]`` or one name ``"t3"``; None keeps
        every type.

    Raises
    ------
    CatalogError
        If a family is not in the catalog.

    Examples
    --------
    >>> [t.name for t in instance_types(["c7g"])][:2]
    ['c7g.medium', 'c7g.large']
    """
    types_all = list(_catalog().values())
    if families is None:
        return types_all

    if isinstance(families, str):
        families = [families]
    wanted = [str(family).strip().lower() for family in families]
    known = {t.family for t in types_all}
    for family in wanted:
        if family not in known:
            raise CatalogError(
                f"unknown instance family {family!r};{_suggest(family, known)} "
                f"known families: {', '.join(sorted(known))}"
            )
    return [t for t in types_all if t.family in wanted]


def credit_rules(name: str) -> InstanceType:
    """Look up a burstable instance type, refusing fixed-performance types.

    Raises
    ------
    CatalogError
        If the type is unknown or is a fixed-performance type.

    Examples
    --------
    >>> credit_rules("t2.micro").launch_credits
    30.0
    """
    instance = get_instance(name)
    if not instance.burstable:
        raise CatalogError(
            f"{instance.name} is a fixed-performance type and has no CPU credits; "
            f"choose a burstable type (t2, t3, t3a or t4g)"
        )
    return instance


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Load an on-demand price table from a CSV file.

    Parameters
    ----------
    path : str or Path, optional
        CSV with columns ``instance_type, price_usd_per_h, region, os, source,
        retrieved`` (the last four hold one value for the whole file; ``retrieved``
        is an ISO date). None loads the bundled us-east-1 Linux table.

    Returns
    -------
    PriceTable

    Raises
    ------
    CatalogError
        If the file is missing, lacks a column, has a non-numeric, non-finite or
        non-positive price, lists a type twice, has no rows, or mixes regions,
        operating systems, sources or dates.

    Warns
    -----
    CapacityWarning
        For rows naming types not in the catalog; those rows are ignored (a full
        AWS price list names many more types than the catalog holds).

    Notes
    -----
    The bundled prices are AWS Pricing API values for us-east-1, Linux, shared
    tenancy, as generated into Karpenter's price table; see ``data/MANIFEST.json``.

    References
    ----------
    https://aws.amazon.com/ec2/pricing/on-demand/

    Examples
    --------
    >>> load_prices().price_usd_per_h("m5.large")
    0.096
    """
    csv_path = PRICES_CSV if path is None else Path(path)
    rows = _read_csv(csv_path, PRICE_COLUMNS, "price table")

    table_fields = {
        column: _single_value(rows, column, csv_path) for column in PRICE_TABLE_COLUMNS
    }
    _check_iso_date(table_fields["retrieved"], csv_path)

    prices_usd_per_h = _parse_prices(rows, csv_path)

    return PriceTable(
        region=table_fields["region"],
        os=table_fields["os"],
        source=table_fields["source"],
        retrieved=table_fields["retrieved"],
        prices_usd_per_h=types.MappingProxyType(prices_usd_per_h),
    )


def surplus_usd_per_vcpu_h(family: str, os: str = "linux") -> float:
    """The unlimited-mode price of surplus credits per vCPU-hour (60 credits).

    Parameters
    ----------
    family : str
        Burstable family: ``"t2"``, ``"t3"``, ``"t3a"`` or ``"t4g"``.
    os : str
        ``"linux"`` (also RHEL and SLES) or ``"windows"``.

    Returns
    -------
    float
        Price [USD per vCPU-hour]; divide by 60 for USD per surplus credit.

    Raises
    ------
    CatalogError
        For an unknown family or OS, and for T4g on Windows (AWS lists no such rate).

    Notes
    -----
    AWS's page names only "T2 and T3" and "T4g"; the T3a rate is taken to be T3's
    (see ``data/MANIFEST.json``). Same rate in every Region and for every size.

    References
    ----------
    https://aws.amazon.com/ec2/pricing/on-demand/#T2.2FT3.2FT4g_Unlimited_Mode_Pricing

    Examples
    --------
    >>> surplus_usd_per_vcpu_h("t3", "windows")
    0.096
    """
    rates = _surplus_rates()
    key_family = str(family).strip().lower()
    key_os = str(os).strip().lower()
    families = {f for f, _ in rates}
    if key_family not in families:
        raise CatalogError(
            f"no surplus-credit rate for family {family!r}; surplus credits exist "
            f"only for burstable families {', '.join(sorted(families))} "
            f"(pass the family, e.g. 't3', not a type name)"
        )
    if key_os not in SURPLUS_OS:
        raise CatalogError(
            f"unknown os {os!r} for the surplus-credit rate; use one of "
            f"{', '.join(SURPLUS_OS)} (RHEL and SLES pay the linux rate)"
        )
    if (key_family, key_os) not in rates:
        raise CatalogError(
            f"AWS lists no {key_os} surplus-credit rate for {key_family} "
            f"({key_family} runs no {key_os}); use os='linux'"
        )
    return rates[(key_family, key_os)]


@functools.cache
def _catalog() -> dict[str, InstanceType]:
    """The bundled instance types by name, read once."""
    columns = (
        "instance_type",
        "family",
        "size",
        "vcpu",
        "memory_gib",
        "arch",
        "baseline_frac",
        "credits_per_h",
        "max_credits",
        "launch_credits",
        "default_mode",
    )
    rows = _read_csv(INSTANCE_TYPES_CSV, columns, "instance catalog")
    return {row["instance_type"]: _instance_from_row(row) for row in rows}


def _instance_from_row(row: dict[str, str]) -> InstanceType:
    """One catalog row as an InstanceType (empty credit cells become None)."""
    return InstanceType(
        name=row["instance_type"],
        family=row["family"],
        size=row["size"],
        vcpu=int(row["vcpu"]),
        memory_gib=float(row["memory_gib"]),
        arch=row["arch"],
        baseline_frac=_optional_float(row["baseline_frac"]),
        credits_per_h=_optional_float(row["credits_per_h"]),
        max_credits=_optional_float(row["max_credits"]),
        launch_credits=_optional_float(row["launch_credits"]),
        default_mode=row["default_mode"] or None,
    )


@functools.cache
def _surplus_rates() -> dict[tuple[str, str], float]:
    """The bundled surplus rates by (family, os), read once."""
    rows = _read_csv(SURPLUS_RATES_CSV, ("family", "os", "usd_per_vcpu_h"), "rates")
    return {(row["family"], row["os"]): float(row["usd_per_vcpu_h"]) for row in rows}


def _optional_float(cell: str) -> float | None:
    """A number from a CSV cell, or None for an empty cell."""
    return float(cell) if cell.strip() else None


def _read_csv(path: Path, columns: Iterable[str], what: str) -> list[dict[str, str]]:
    """The rows of a UTF-8 CSV file (a byte-order mark is allowed), refusing a
    missing file, a file that is not UTF-8 text, rows with more cells than the
    header (a decimal comma, or not a CSV file) and missing columns."""
    _check_is_file(path, what)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, restkey=_EXTRA_CELLS)
            header = reader.fieldnames or []
            rows = [_row_cells(row, reader.line_num, path, what) for row in reader]
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise CatalogError(
            f"{what} '{path}' line {line}: byte {error.object[error.start]:#04x} is "
            f"not UTF-8 text (the file looks Latin-1/cp1252, as Excel writes); save "
            f"it as 'CSV UTF-8'"
        ) from None
    except csv.Error as error:
        raise CatalogError(
            f"{what} '{path}' is not a readable CSV file ({error}); pass a CSV file "
            f"with the header {', '.join(columns)}"
        ) from None

    missing = [column for column in columns if column not in header]
    if missing and header and header[0].lstrip()[:1] in ("{", "["):
        raise CatalogError(
            f"{what} '{path}' is JSON, not CSV; write a CSV file whose header is "
            f"{','.join(columns)}"
        )
    if missing:
        raise CatalogError(
            f"{what} '{path}' lacks column(s) {', '.join(missing)}; its header must "
            f"contain {', '.join(columns)}"
        )
    if not rows:
        raise CatalogError(f"{what} '{path}' has no rows; add at least one row")
    return rows


_EXTRA_CELLS = "\x00extra"


def _check_is_file(path: Path, what: str) -> None:
    """Refuse a path that names a directory or nothing."""
    if path.is_dir():
        raise CatalogError(
            f"{what} '{path}' is a directory; pass the path of a CSV file in it"
        )
    if not path.is_file():
        raise CatalogError(
            f"{what} file '{path}' not found; pass the path of an existing CSV file"
        )


def _row_cells(row: dict[str, str], line: int, path: Path, what: str) -> dict[str, str]:
    """One CSV row with stripped cells, refusing more cells than the header has."""
    if _EXTRA_CELLS in row:
        raise CatalogError(
            f"{what} '{path}' line {line} has more cells than the header; a decimal "
            f"comma (0,0832) or a file that is not CSV? write numbers with a decimal "
            f"point (0.0832) and save the file as CSV"
        )
    return {k: (v or "").strip() for k, v in row.items()}


def _single_value(rows: list[dict[str, str]], column: str, path: Path) -> str:
    """The one value a table-wide column holds in every row."""
    values = sorted({row[column] for row in rows})
    if len(values) != 1 or not values[0]:
        raise CatalogError(
            f"price table '{path}' column {column!r} must hold one non-empty value "
            f"for the whole file, found {values}; split the file per {column}"
        )
    return values[0]


def _check_iso_date(value: str, path: Path) -> None:
    """Refuse a retrieval date that is not an ISO calendar date."""
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise CatalogError(
            f"price table '{path}' column 'retrieved' is {value!r}, not an ISO date; "
            f"write the date the prices were read as YYYY-MM-DD"
        ) from None


def _parse_prices(rows: list[dict[str, str]], path: Path) -> dict[str, float]:
    """Prices by instance type: numeric, finite, positive, unique, in the catalog."""
    catalog = _catalog()
    prices_usd_per_h: dict[str, float] = {}
    unknown: list[str] = []
    for line, row in enumerate(rows, start=2):
        name = row["instance_type"].lower()
        price_usd_per_h = _parse_price(row["price_usd_per_h"], name, line, path)
        if name in prices_usd_per_h:
            raise CatalogError(
                f"price table '{path}' line {line}: duplicate instance type "
                f"{name!r}; keep one row per type"
            )
        prices_usd_per_h[name] = price_usd_per_h
        if name not in catalog:
            unknown.append(name)

    if unknown:
        warnings.warn(
            f"price table '{path}' names types not in the catalog, ignored: "
            f"{', '.join(unknown)}",
            CapacityWarning,
            stacklevel=3,
        )
    return {n: p for n, p in prices_usd_per_h.items() if n in catalog}


def _parse_price(cell: str, name: str, line: int, path: Path) -> float:
    """One price cell as a finite positive number of USD per hour."""
    try:
        price_usd_per_h = float(cell)
    except ValueError:
        raise CatalogError(
            f"price table '{path}' line {line}: price_usd_per_h {cell!r} for "
            f"{name!r} is not a number; write USD per hour such as 0.0832"
        ) from None
    if not math.isfinite(price_usd_per_h) or price_usd_per_h <= 0:
        raise CatalogError(
            f"price table '{path}' line {line}: price_usd_per_h {cell!r} for "
            f"{name!r} must be a positive number of USD per hour"
        )
    return price_usd_per_h


def _suggest(name: str, choices: Iterable[str]) -> str:
    """A " did you mean ...?" clause naming the closest choices, or nothing."""
    matches = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not matches:
        return ""
    return f" did you mean {' or '.join(repr(m) for m in matches)}?"
