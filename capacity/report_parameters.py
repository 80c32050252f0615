"""Notebook parameters: the typed ``parameters`` cell, and checking values against it.

Every notebook in ``notebooks/`` has one code cell tagged ``parameters`` holding one
typed, commented default per line::

    rps: float = 1157.0  # mean requests per second
    instance_types: list[str] = ["t3.large", "c5.large"]  # candidates to compare

This module reads that cell into :class:`NotebookParameter` records (the same names,
types, defaults and help that ``papermill --help-notebook`` shows) and checks the
values a caller passes (Python values, ``-p NAME VALUE`` text, or a YAML file) against
the declared types *before* a kernel starts.

Text values (the command line, YAML files) are interpreted by the declared type, never
guessed: ``-p account_id 012345678901`` stays the string ``"012345678901"`` when the
parameter is declared ``str``, and an unquoted YAML date or ``0730`` stays text. Where
text cannot be read as the declared type without losing information (an ``int`` with a
leading zero, which YAML 1.1 reads as octal), the value is refused with the reason.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from capacity.errors import ParameterError
from capacity.notebook_checks import NULLABLE_PARAMETERS
from capacity.params import yaml_problem

SCALAR_TYPES = ("int", "float", "str", "bool")
LIST_TYPES = ("list[int]", "list[float]", "list[str]")
SUPPORTED_TYPES = SCALAR_TYPES + LIST_TYPES

_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_LEADING_ZERO = re.compile(r"[+-]?0\d")


class NotebookParameter(NamedTuple):
    """One line of a notebook's ``parameters`` cell."""

    name: str
    """The variable name the notebook uses."""
    type_name: str
    """The declared annotation, one of :data:`SUPPORTED_TYPES`."""
    default: Any
    """The default value written in the cell."""
    help: str
    """The comment after the default: meaning and unit."""


def parameters_cell_source(path: Path) -> str:
    """The source of the cell tagged ``parameters`` in the notebook at ``path``.

    Raises
    ------
    ParameterError
        If the file is not a notebook, or has no such cell, or more than one.
    """
    import nbformat  # imported here, not at the top: report kernels never need it

    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as error:
        raise ParameterError(
            f"cannot read notebook '{path}' ({type(error).__name__}: {error}); "
            "give a valid .ipynb file"
        ) from error
    sources = [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    ]
    if len(sources) != 1:
        raise ParameterError(
            f"notebook '{path}' has {len(sources)} cells tagged 'parameters'; "
            "it needs exactly one: tag the code cell holding the typed defaults "
            "(JupyterLab: Property Inspector > Cell Tags > 'parameters')"
        )
    return sources[0]


def notebook_parameters(path: str | Path) -> list[NotebookParameter]:
    """The parameters a notebook declares, in the order of its ``parameters`` cell.

    Parameters
    ----------
    path : str or Path
        A notebook file.

    Returns
    -------
    list of NotebookParameter
        ``(name, type_name, default, help)`` per parameter, as ``papermill
        --help-notebook`` lists them.

    Raises
    ------
    ParameterError
        If the notebook has no ``parameters`` cell, or a line of it is not of the
        form ``name: type = literal  # help`` with a supported type.

    Notes
    -----
    Supported types: ``int``, ``float``, ``str``, ``bool``, ``list[int]``,
    ``list[float]`` and ``list[str]``. Defaults must be Python literals.
    """
    source = parameters_cell_source(Path(path))
    lines = source.splitlines()
    try:
        statements = ast.parse(source).body
    except SyntaxError as error:
        raise ParameterError(
            f"the parameters cell of '{path}' is not valid Python ({error.msg}, "
            f"line {error.lineno}); fix the cell"
        ) from error
    return [_declared_parameter(node, lines, Path(path)) for node in statements]


def _declared_parameter(
    node: ast.stmt, lines: list[str], path: Path
) -> NotebookParameter:
    """One ``name: type = literal  # help`` statement as a NotebookParameter."""
    rule = "each line must read 'name: type = literal  # help'"
    if not (
        isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    ):
        raise ParameterError(
            f"line {node.lineno} of the parameters cell of '{path}' is not a typed "
            f"default; {rule}"
        )
    name = node.target.id
    type_name = ast.unparse(node.annotation).replace(" ", "")
    if type_name not in SUPPORTED_TYPES:
        raise ParameterError(
            f"parameter '{name}' in '{path}' is declared '{type_name}'; "
            f"use one of {', '.join(SUPPORTED_TYPES)}"
        )

    default = ast.literal_eval(node.value)
    tail = lines[(node.end_lineno or node.lineno) - 1][node.end_col_offset or 0 :]
    help_text = tail.strip().removeprefix("#").strip()
    if not help_text:
        raise ParameterError(
            f"parameter '{name}' in '{path}' has no help comment; {rule}, the help "
            "stating meaning and unit"
        )
    checked = check_parameter(NotebookParameter(name, type_name, None, ""), default)
    return NotebookParameter(name, type_name, checked, help_text)


def check_parameters(
    declared: list[NotebookParameter], given: Mapping[str, Any], notebook: str
) -> dict[str, Any]:
    """Check given values against the declared parameters; return them typed.

    Parameters
    ----------
    declared : list of NotebookParameter
        What the notebook declares (:func:`notebook_parameters`).
    given : mapping of str to value
        Values to inject. Strings given for non-``str`` parameters are read as text
        (command line, YAML); other values must already have the declared type.
    notebook : str
        The notebook's name, for messages.

    Returns
    -------
    dict
        The given values converted to their declared types (defaults not added).

    Raises
    ------
    ParameterError
        For an unknown name (close matches named), a value that does not fit the
        declared type, or a null (None) for a parameter that has no "not set" value.

    Notes
    -----
    A null (YAML ``null``, ``~`` or an empty value; Python None) is accepted only for
    the parameters :data:`capacity.notebook_checks.NULLABLE_PARAMETERS` lists for the
    notebook, whose falsy default means "not set"; it becomes that default.
    """
    by_name = {parameter.name: parameter for parameter in declared}
    nullable = NULLABLE_PARAMETERS.get(notebook, ())
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name not in by_name:
            raise ParameterError(_unknown_name_message(name, list(by_name), notebook))
        if value is None:
            checked[name] = _null_as_default(by_name[name], nullable, notebook)
        else:
            checked[name] = check_parameter(by_name[name], value)
    return checked


def _null_as_default(
    parameter: NotebookParameter, nullable: tuple[str, ...], notebook: str
) -> Any:
    """The default for a null where the notebook's falsy default means "not set"."""
    if parameter.name in nullable:
        return parameter.default
    hint = (
        f"its 'not set' values are for {', '.join(nullable)} only; "
        if nullable
        else "it has no 'not set' value; "
    )
    raise ParameterError(
        f"parameter '{parameter.name}' of notebook '{notebook}' is null (YAML null, "
        f"~ or an empty value); {hint}give a value of type "
        f"{parameter.type_name}, or delete the line to keep the default "
        f"{parameter.default!r}"
    )


def _unknown_name_message(name: str, known: list[str], notebook: str) -> str:
    """The message for a parameter name the notebook does not declare."""
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"unknown parameter '{name}' for notebook '{notebook}'; {hint}"
        f"it declares: {', '.join(known)} (see 'capacity notebooks')"
    )


def check_parameter(parameter: NotebookParameter, value: Any) -> Any:
    """One value checked against one declared parameter, converted to its type.

    Raises
    ------
    ParameterError
        If the value does not fit the declared type; the message says why.
    """
    if parameter.type_name in LIST_TYPES:
        return _check_list(parameter, value)
    if isinstance(value, str) and parameter.type_name != "str":
        return _parse_text(parameter, value)
    return _check_scalar(parameter, value)


def _check_list(parameter: NotebookParameter, value: Any) -> list[Any]:
    """A list parameter: a list of items, or comma-separated text."""
    item_type = parameter.type_name.removeprefix("list[").removesuffix("]")
    item = NotebookParameter(parameter.name, item_type, None, "")
    if isinstance(value, str):
        text = value.strip().removeprefix("[").removesuffix("]")
        value = [_unquoted(part) for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ParameterError(
            f"parameter '{parameter.name}' must be of type {parameter.type_name}, got "
            f"{type(value).__name__} {value!r}; give a list or comma-separated text"
        )
    return [check_parameter(item, element) for element in value]


def _unquoted(item: str) -> str:
    """One item of a comma-separated list, without the quotes JSON or YAML put on it."""
    item = item.strip()
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        return item[1:-1]
    return item


def _parse_text(parameter: NotebookParameter, text: str) -> Any:
    """Text from the command line or a YAML file, read as the declared type."""
    name, type_name = parameter.name, parameter.type_name
    stripped = text.strip()
    if type_name in ("int", "float") and _LEADING_ZERO.match(stripped):
        if "." not in stripped:
            raise ParameterError(
                f"parameter '{name}' = '{text}' has a leading zero: YAML 1.1 reads "
                f"such a number as octal and type {type_name} cannot keep the zero; "
                f"write it without the leading zero, or declare '{name}' as str"
            )
    if type_name == "int" and _INTEGER_TEXT.fullmatch(stripped):
        return int(stripped)
    if type_name == "float":
        return _finite_float(parameter, _float_or_none(stripped), text)
    if type_name == "bool" and stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    raise ParameterError(
        f"parameter '{name}' must be of type {type_name}, got the text '{text}'; "
        f"write a value of type {type_name} (bool: true or false)"
    )


def _float_or_none(text: str) -> float | None:
    """``float(text)``, or None where the text is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def _finite_float(
    parameter: NotebookParameter, number: float | None, shown: Any
) -> float:
    """A finite float, or the error naming the parameter."""
    if number is None or not math.isfinite(number):
        raise ParameterError(
            f"parameter '{parameter.name}' must be a finite float, got {shown!r}; "
            "write a number such as 1157.0"
        )
    return number


def _check_scalar(parameter: NotebookParameter, value: Any) -> Any:
    """A Python value that must already have the declared scalar type."""
    name, type_name = parameter.name, parameter.type_name
    if (
        type_name == "float"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return _finite_float(parameter, float(value), value)
    if type_name == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if type_name == "bool" and isinstance(value, bool):
        return value
    if type_name == "str" and isinstance(value, str):
        return value
    raise ParameterError(
        f"parameter '{name}' must be of type {type_name}, got {type(value).__name__} "
        f"{value!r}{_conversion_hint(type_name, value)}"
    )


def _conversion_hint(type_name: str, value: Any) -> str:
    """Why a str parameter may have arrived as another type, and the fix."""
    if type_name != "str":
        return f"; give a value of type {type_name}"
    if isinstance(value, dt.date):
        return (
            "; YAML reads an unquoted date as a date object: quote it "
            f"('{value.isoformat()}')"
        )
    if isinstance(value, int | float):
        return (
            "; YAML and the command line read unquoted digits as a number, which "
            "drops leading zeros and reads 0730 as octal: quote the value"
        )
    return "; give text"


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping that names one key twice (YAML would keep the last silently)."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        super().__init__(f"{key!r} on lines {first_line} and {second_line}")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _TextLoader(yaml.SafeLoader):
    """A YAML loader that keeps every scalar but null as the text in the file.

    A key given twice in one mapping (a parameter or a whole section) is refused
    rather than silently replaced by the later one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in first_lines:
                raise _DuplicateKeyError(key, first_lines[key], line)
            first_lines[key] = line
        return super().construct_mapping(node, deep=deep)


_TextLoader.yaml_implicit_resolvers = {}
_TextLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null",
    re.compile(r"^(?:~|null|Null|NULL|)$"),
    ["~", "n", "N", ""],
)


def load_parameter_file(path: str | Path) -> dict[str, Any]:
    """A YAML mapping of parameter values, every scalar kept as its text.

    Parameters
    ----------
    path : str or Path
        A YAML file whose top level is a mapping.

    Returns
    -------
    dict
        Keys to text, lists, nested mappings or None (an unquoted ``null``, ``~`` or
        empty value); :func:`check_parameters` reads the text by each parameter's
        declared type, so ``0730``, ``012345678901`` and ``2014-04-10`` are never
        silently turned into numbers or dates.

    Raises
    ------
    ParameterError
        If the file is missing, is not YAML, is not a mapping, or gives one key
        twice in a mapping (a parameter or a whole section), naming the lines.
    """
    try:
        loaded = yaml.load(Path(path).read_text(encoding="utf-8"), _TextLoader)
    except _DuplicateKeyError as error:
        raise ParameterError(
            f"parameter file '{path}' sets {error.key!r} twice, on lines "
            f"{error.first_line} and {error.second_line}; YAML would silently keep "
            "the last: delete one of them"
        ) from error
    except OSError as error:
        raise ParameterError(
            f"cannot read parameter file '{path}' ({error.strerror}); check the path"
        ) from error
    except yaml.YAMLError as error:
        raise ParameterError(
            f"parameter file '{path}' is not valid YAML ({yaml_problem(error)}); "
            "fix the file"
        ) from error
    if not isinstance(loaded, dict):
        raise ParameterError(
            f"parameter file '{path}' must hold a mapping of NAME: VALUE, got "
            f"{type(loaded).__name__}; write one 'name: value' per line"
        )
    return loaded
