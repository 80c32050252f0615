"""The parameters-cell contract: parsing, papermill agreement, and value checks."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import nbformat
import papermill
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.errors import ParameterError
from capacity.notebook_checks import NOTEBOOK_CHECKS, check_notebook_values
from capacity.report import NOTEBOOKS_DIR
from capacity.report_parameters import (
    NotebookParameter,
    check_parameter,
    check_parameters,
    load_parameter_file,
    notebook_parameters,
)

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny.ipynb"


def _notebook_with_parameters(tmp_path: Path, source: str) -> Path:
    """A one-cell notebook whose cell, tagged ``parameters``, holds ``source``."""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "made.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def _declared(name: str, type_name: str) -> NotebookParameter:
    return NotebookParameter(name, type_name, None, "")


def test_parameters_read_from_the_cell_in_order() -> None:
    # Expected values copied from the parameters cell of tests/fixtures/tiny.ipynb.
    parameters = notebook_parameters(TINY)

    assert [p.name for p in parameters] == [
        "rps",
        "horizon_hours",
        "account_id",
        "start_hhmm",
        "unlimited",
        "instance_types",
    ]
    assert parameters[0] == ("rps", "float", 100.0, "mean requests per second")
    assert parameters[2].default == "000000000000"
    assert parameters[3].default == "0730"
    assert parameters[5] == (
        "instance_types",
        "list[str]",
        ["t3.large", "c5.large"],
        "candidates to compare",
    )


def test_parameters_agree_with_papermill_help_notebook() -> None:
    ours = notebook_parameters(TINY)
    theirs = papermill.inspect_notebook(str(TINY))

    assert [p.name for p in ours] == list(theirs)
    for parameter in ours:
        shown = theirs[parameter.name]
        assert shown["inferred_type_name"] == parameter.type_name
        assert shown["help"] == parameter.help
        assert ast.literal_eval(shown["default"]) == parameter.default


def test_notebook_without_parameters_cell_is_refused() -> None:
    with pytest.raises(ParameterError, match="has 0 cells tagged 'parameters'"):
        notebook_parameters(FIXTURES / "no_parameters.ipynb")


def test_corrupt_notebook_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")

    with pytest.raises(ParameterError, match="cannot read notebook .*broken.ipynb"):
        notebook_parameters(broken)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rps = 100.0  # untyped", "line 1 .* is not a typed default"),
        ("rps: float = 100.0", "'rps' .* has no help comment"),
        ("when: dt.date = None  # a day", "'when' .* is declared 'dt.date'"),
        ("rps: float = 'many'  # text", "'rps' must be a finite float"),
        ("rps: float = (1.0  # broken", "is not valid Python"),
    ],
)
def test_badly_written_parameters_cell_is_refused(
    tmp_path: Path, source: str, message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        notebook_parameters(_notebook_with_parameters(tmp_path, source))


def test_unknown_name_names_the_close_match() -> None:
    declared = notebook_parameters(TINY)

    with pytest.raises(ParameterError, match="unknown parameter 'rsp'.*'rps'"):
        check_parameters(declared, {"rsp": 5.0}, "tiny")


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("float", "1157", 1157.0),
        ("float", "1.5e3", 1500.0),
        ("float", 3, 3.0),
        ("int", "48", 48),
        ("int", "-2", -2),
        ("bool", "TRUE", True),
        ("bool", "false", False),
        # Text for a str parameter is kept verbatim: the zeros an int would drop stay.
        ("str", "012345678901", "012345678901"),
        ("str", "0730", "0730"),
        ("str", "2014-04-10", "2014-04-10"),
        ("list[str]", "t3.large, c5.large", ["t3.large", "c5.large"]),
        ("list[str]", "[t3.large,c5.large]", ["t3.large", "c5.large"]),
        # JSON or YAML flow syntax typed on the command line: the quotes go.
        ("list[str]", '["t3", "c5"]', ["t3", "c5"]),
        ("list[str]", "['t3', c5]", ["t3", "c5"]),
        ("list[float]", ["0.5", 2], [0.5, 2.0]),
    ],
)
def test_values_are_read_by_the_declared_type(
    type_name: str, value: object, expected: object
) -> None:
    assert check_parameter(_declared("x", type_name), value) == expected


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("int", "0730", "'x' = '0730' has a leading zero: YAML 1.1 reads .* octal"),
        ("float", "012", "'x' = '012' has a leading zero"),
        ("int", "4.5", "'x' must be of type int, got the text '4.5'"),
        ("int", True, "'x' must be of type int, got bool"),
        ("float", "nan", "'x' must be a finite float"),
        ("float", float("inf"), "'x' must be a finite float"),
        ("bool", "yes", "'x' must be of type bool, got the text 'yes'.*true or false"),
        ("str", 12345678901, "got int 12345678901.*drops leading zeros.*quote"),
        ("str", dt.date(2014, 4, 10), "unquoted date .* quote it \\('2014-04-10'\\)"),
        ("list[int]", 5, "'x' must be of type list\\[int\\], got int"),
    ],
)
def test_values_that_do_not_fit_are_refused(
    type_name: str, value: object, message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        check_parameter(_declared("x", type_name), value)


def test_yaml_file_keeps_every_scalar_as_written(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(
        "start_hhmm: 0730\naccount_id: 012345678901\nday: 2014-04-10\n"
        "unlimited: yes\ntypes: [t3.large, c5.large]\n",
        encoding="utf-8",
    )

    loaded = load_parameter_file(path)

    # PyYAML's default loader would give 472, 12345678901, a date and True here.
    assert loaded == {
        "start_hhmm": "0730",
        "account_id": "012345678901",
        "day": "2014-04-10",
        "unlimited": "yes",
        "types": ["t3.large", "c5.large"],
    }


def test_yaml_octal_looking_value_for_an_int_is_named() -> None:
    declared = [NotebookParameter("start_hhmm", "int", 730, "HHMM")]

    with pytest.raises(ParameterError, match="'start_hhmm' = '0730' has a leading"):
        check_parameters(declared, {"start_hhmm": "0730"}, "demo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must hold a mapping of NAME: VALUE, got list"),
        ("rps: [1, 2\n", "is not valid YAML"),
    ],
)
def test_bad_yaml_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ParameterError, match=message):
        load_parameter_file(path)


def test_missing_yaml_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot read parameter file .*nope"):
        load_parameter_file(tmp_path / "nope.yaml")


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_integer_text_round_trips(number: int) -> None:
    assert check_parameter(_declared("x", "int"), str(number)) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trips(number: float) -> None:
    # repr() of a float reads back to the same float (Python's shortest repr).
    text = repr(number)
    if text.lstrip("-").startswith("0") and not text.lstrip("-").startswith("0."):
        return
    assert check_parameter(_declared("x", "float"), text) == number


@given(st.text(max_size=30))
def test_str_parameters_keep_any_text(text: str) -> None:
    assert check_parameter(_declared("x", "str"), text) == text


def test_listing_is_json_serialisable() -> None:
    listing = [p._asdict() for p in notebook_parameters(TINY)]

    assert json.loads(json.dumps(listing))[1]["type_name"] == "int"


# Value checks per bundled notebook (capacity.notebook_checks): the runner applies
# them to the defaults overlaid with the given values, before any kernel starts.


def _full_set(notebook: str, given: dict[str, object]) -> dict[str, object]:
    declared = notebook_parameters(NOTEBOOKS_DIR / f"{notebook}.ipynb")
    defaults = {parameter.name: parameter.default for parameter in declared}
    return defaults | check_parameters(declared, given, notebook)


@pytest.mark.parametrize("notebook", sorted(NOTEBOOK_CHECKS))
def test_every_bundled_notebook_default_passes_its_check(notebook: str) -> None:
    check_notebook_values(notebook, _full_set(notebook, {}))


def test_every_bundled_notebook_has_a_registered_check() -> None:
    bundled = sorted(path.stem for path in NOTEBOOKS_DIR.glob("*.ipynb"))

    assert sorted(NOTEBOOK_CHECKS) == bundled


@pytest.mark.parametrize(
    ("notebook", "given", "message"),
    [
        # The rules each notebook's validation cell (or the library it calls) applies.
        ("sizing", {"headroom_frac": "2"}, r"headroom_frac=2.0 is outside \[0, 1\)"),
        ("sizing", {"requests_per_day": "-5"}, "requests_per_day=-5.0 must be greater"),
        ("sizing", {"modes": "Standard"}, "modes: unknown value 'Standard'; did you"),
        (
            "sizing",
            {"families": "t9"},
            r"families=\['t9'\], sizes=all: unknown instance",
        ),
        ("sizing", {"initial_credits": "Full"}, "initial_credits: unknown value 'Fu"),
        ("sizing", {"workload": "/nonexistent.csv"}, "'workload' = '/nonexistent.csv"),
        ("sizing", {"current_count": "3"}, "give both .* or neither"),
        ("cost_comparison", {"count": "0"}, r"'count' = 0 must be at least 1"),
        ("cost_comparison", {"burstable_type": "c5.large"}, "not a burstable T2/T3"),
        ("cost_comparison", {"fixed_types": "t3.large"}, "not a fixed-performance"),
        ("cost_comparison", {"fixed_types": "c5.lage"}, "'fixed_types': unknown inst"),
        ("cost_comparison", {"step_s": "7"}, "'step_s' = 7.0 does not divide one day"),
        ("cost_comparison", {"discount_pct": "100"}, r"outside \[0, 100\)"),
        ("credit_forecast", {"counts": "17"}, r"instance_types \(2 entries\) and cou"),
        ("credit_forecast", {"counts": "17, 0"}, r"'counts' = 0 must be at least 1"),
        ("credit_forecast", {"instance_types": "c5.large, t3.large"}, "not a burst"),
        ("credit_forecast", {"release_after_hours": "72"}, r"must lie in \[0, 72\)"),
        ("credit_forecast", {"peak_to_mean": "0.5"}, "'peak_to_mean' = 0.5 must be"),
        ("incident_replay", {"critical_frac": "1"}, r"strictly in\s+\(0, 1\)"),
        ("incident_replay", {"fixed_type": "t3.large"}, "not a fixed-performance"),
        ("incident_replay", {"count": "-2"}, "'count' = -2 must be at least 1"),
        ("incident_replay", {"rollout_hours": "0"}, "'rollout_hours' = 0.0 must be gr"),
    ],
)
def test_notebook_checks_refuse_bad_values(
    notebook: str, given: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        check_notebook_values(notebook, _full_set(notebook, given))


def test_sizing_workload_path_is_checked_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "export.csv").write_text("timestamp,RequestCount\n")
    monkeypatch.chdir(tmp_path)

    check_notebook_values("sizing", _full_set("sizing", {"workload": "export.csv"}))


def test_a_notebook_without_a_check_gets_type_checks_only() -> None:
    check_notebook_values("tiny", {"rps": -1.0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zones: 3\nzones: 4\n", "sets 'zones' twice, on lines 1 and 2; YAML would"),
        ("sizing:\n  zones: 3\n  zones: 4\n", "sets 'zones' twice, on lines 2 and 3"),
        ("sizing:\n  zones: 3\nshared: {}\nsizing:\n  zones: 4\n", "'sizing' twice"),
    ],
)
def test_duplicate_keys_and_sections_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ParameterError, match=message):
        load_parameter_file(path)


def test_unquoted_null_is_none_and_quoted_null_is_text(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("a: null\nb: ~\nc:\nd: 'null'\ne: nullable\n", encoding="utf-8")

    assert load_parameter_file(path) == {
        "a": None,
        "b": None,
        "c": None,
        "d": "null",
        "e": "nullable",
    }


@pytest.mark.parametrize(
    "name", ["metric", "requests_per_day", "current_count", "families", "sizes"]
)
def test_null_means_not_set_where_the_sizing_default_means_not_set(
    name: str,
) -> None:
    # The sizing notebook turns these falsy defaults into None ("not set"), as
    # SizingParams (and so 'capacity recommend') accepts null for them.
    declared = notebook_parameters(NOTEBOOKS_DIR / "sizing.ipynb")
    default = next(p.default for p in declared if p.name == name)

    checked = check_parameters(declared, {name: None}, "sizing")

    assert checked == {name: default}
    assert not default


@pytest.mark.parametrize(
    ("notebook", "name", "message"),
    [
        ("sizing", "zones", "'zones' of notebook 'sizing' is null .*not set' values"),
        ("sizing", "headroom_frac", "or delete the line to keep the default 0.25"),
        ("cost_comparison", "requests_per_day", "it has no 'not set' value"),
    ],
)
def test_null_is_refused_where_the_notebook_has_no_not_set_value(
    notebook: str, name: str, message: str
) -> None:
    declared = notebook_parameters(NOTEBOOKS_DIR / f"{notebook}.ipynb")

    with pytest.raises(ParameterError, match=message):
        check_parameters(declared, {name: None}, notebook)
