"""The papermill runner on the fixture notebooks: outputs, failures and the pointer."""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from capacity import report
from capacity.errors import CapacityWarning, NotebookRunError, ParameterError

FIXTURES = Path(__file__).parent / "fixtures"
RUN_FOLDER = re.compile(r"tiny-\d{8}T\d{6}Z(-\d+)?")


def _folder_state(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show nothing changed."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> report.RunResult:
    output_dir = tmp_path_factory.mktemp("reports")
    parameters = {"rps": "250", "horizon_hours": 3, "account_id": "012345678901"}
    return report.run_notebook(
        FIXTURES / "tiny.ipynb", parameters, output_dir=output_dir, timeout_s=120
    )


@pytest.mark.slow
def test_run_writes_notebook_html_tables_and_results(
    tiny_run: report.RunResult,
) -> None:
    run_dir = tiny_run.run_dir

    assert RUN_FOLDER.fullmatch(run_dir.name)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "results.json",
        "tables",
        "tiny.html",
        "tiny.ipynb",
    ]
    assert tiny_run.tables == {"demand": run_dir / "tables" / "demand.csv"}


@pytest.mark.slow
def test_results_json_holds_published_numbers_and_parameters(
    tiny_run: report.RunResult,
) -> None:
    document = json.loads((tiny_run.run_dir / "results.json").read_text())

    # The fixture publishes the mean of a constant series of rps, so rps itself;
    # the account id is published as text and keeps its leading zero.
    assert document["results"] == {
        "mean_requests_per_s": 250.0,
        "account_id": "012345678901",
        "start_hhmm": "0730",
        "candidate_count": 2,
    }
    assert document["parameters"] == {
        "rps": 250.0,
        "horizon_hours": 3,
        "account_id": "012345678901",
    }
    assert document["notebook"] == "tiny"


@pytest.mark.slow
def test_published_table_is_the_notebook_table(tiny_run: report.RunResult) -> None:
    with tiny_run.tables["demand"].open(newline="") as stream:
        rows = list(csv.DictReader(stream))

    # horizon_hours=3 hourly rows from 2026-01-01 00:00 UTC, each at rps=250.
    assert [row["requests_per_s"] for row in rows] == ["250.0"] * 3
    assert pd.Timestamp(rows[2]["timestamp"]) == pd.Timestamp("2026-01-01 02:00Z")


@pytest.mark.slow
def test_html_has_no_code_and_no_remote_scripts(tiny_run: report.RunResult) -> None:
    html = tiny_run.html_path.read_text(encoding="utf-8")

    assert "publish_table" not in html
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"https?:", html)
    assert len(re.findall(r'<svg[^>]*class="marks"', html)) == 1
    assert len(html.encode()) < report.HTML_BUDGET_BYTES


@pytest.mark.slow
def test_latest_points_at_the_run(tiny_run: report.RunResult) -> None:
    output_dir = tiny_run.run_dir.parent

    assert report.latest_run(output_dir, "tiny") == tiny_run.run_dir


@pytest.mark.slow
def test_a_second_run_gets_a_new_folder_and_leaves_the_first(tmp_path: Path) -> None:
    first = report.run_notebook(
        FIXTURES / "tiny.ipynb", {}, output_dir=tmp_path, timeout_s=120
    )
    before = _folder_state(first.run_dir)

    second = report.run_notebook(
        FIXTURES / "tiny.ipynb", {"rps": 7.0}, output_dir=tmp_path, timeout_s=120
    )

    assert second.run_dir != first.run_dir
    assert _folder_state(first.run_dir) == before
    assert report.latest_run(tmp_path, "tiny") == second.run_dir


@pytest.mark.slow
def test_failing_cell_is_named_and_earlier_report_untouched(tmp_path: Path) -> None:
    good = report.run_notebook(
        FIXTURES / "tiny.ipynb", {}, output_dir=tmp_path, timeout_s=120
    )
    before = _folder_state(good.run_dir)

    # The fixture's cell 2 (counting from 0, markdown included) refuses rps <= 0;
    # it has no comment, so the heading above it (cell 0's title) names it.
    message = (
        r"notebook 'tiny' failed in cell 2 \(under 'Tiny fixture report'\): "
        r"ValueError: "
        r"rps must be positive, got -1.0; the failed notebook is kept at .*"
        r"FAILED-tiny.ipynb"
    )
    with pytest.raises(NotebookRunError, match=message):
        report.run_notebook(
            FIXTURES / "tiny.ipynb", {"rps": -1.0}, output_dir=tmp_path, timeout_s=120
        )

    failed_dir = next(p for p in tmp_path.iterdir() if (p / "FAILED.txt").exists())
    assert sorted(p.name for p in failed_dir.iterdir()) == [
        "FAILED-tiny.ipynb",
        "FAILED.txt",
    ]
    assert report.latest_run(tmp_path, "tiny") == good.run_dir
    assert _folder_state(good.run_dir) == before


@pytest.mark.slow
def test_raising_cell_drops_what_was_published_before_it(tmp_path: Path) -> None:
    message = (
        r"failed in cell 2 \('capacity_per_s = rps / 2'\): ValueError: "
        r"demand 100.0 exceeds capacity 50.0"
    )
    with pytest.raises(NotebookRunError, match=message):
        report.run_notebook(
            FIXTURES / "raises.ipynb", {"rps": 100.0}, output_dir=tmp_path
        )

    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert not (run_dir / "results.json").exists()
    assert not (run_dir / ".publish").exists()
    assert report.latest_run(tmp_path, "raises") is None


@pytest.mark.slow
def test_dead_kernel_fails_quickly(tmp_path: Path) -> None:
    started_s = time.monotonic()

    with pytest.raises(NotebookRunError, match=r"cell 1 \('import os'\): DeadKernel"):
        report.run_notebook(FIXTURES / "dies.ipynb", {}, output_dir=tmp_path)

    assert time.monotonic() - started_s < 60


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="Unix sockets are POSIX only")
def test_the_kernel_listens_on_unix_sockets_not_tcp_ports(tmp_path: Path) -> None:
    # TCP ports are picked free, released, then bound by the kernel: another
    # process can take one in between ("Address already in use"). Unix sockets
    # in the run's own folder cannot collide, so that start-up failure is gone.
    parameters = nbformat.v4.new_code_cell("unused: int = 0  # no parameter needed")
    parameters.metadata["tags"] = ["parameters"]
    probe = nbformat.v4.new_code_cell(
        "from ipykernel.connect import get_connection_info\n"
        "from capacity import publish\n"
        "info = get_connection_info(unpack=True)\n"
        "publish.publish_result('transport', info['transport'])\n"
        "publish.publish_result('ip', info['ip'])"
    )
    notebook = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[parameters, probe]), notebook)

    result = report.run_notebook(notebook, {}, output_dir=tmp_path / "r")

    assert result.results["transport"] == "ipc"
    socket_folder = Path(result.results["ip"]).parent
    assert socket_folder.name.startswith("capacity-kernel-")
    assert not socket_folder.exists()


@pytest.mark.slow
def test_timeout_stops_a_hanging_cell_within_the_limit(tmp_path: Path) -> None:
    started_s = time.monotonic()

    message = r"'sleeps' timed out after 8 s in cell 1 \('import time'\); the failed"
    with pytest.raises(NotebookRunError, match=message):
        report.run_notebook(
            FIXTURES / "sleeps.ipynb",
            {"sleep_s": 600},
            output_dir=tmp_path,
            timeout_s=8,
        )

    # The limit is 8 s; allow the kernel's interrupt and shutdown on a busy machine.
    assert time.monotonic() - started_s < 40


@pytest.mark.parametrize(
    ("notebook", "parameters", "message"),
    [
        ("no_parameters.ipynb", {}, "has 0 cells tagged 'parameters'"),
        ("tiny.ipynb", {"rsp": 1.0}, "unknown parameter 'rsp' .* did you mean 'rps'"),
        ("tiny.ipynb", {"horizon_hours": "024"}, "'horizon_hours' = '024' has a lead"),
        ("tiny.ipynb", {"unlimited": "maybe"}, "'unlimited' must be of type bool"),
    ],
)
def test_bad_input_fails_before_any_kernel_or_folder(
    tmp_path: Path, notebook: str, parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        report.run_notebook(FIXTURES / notebook, parameters, output_dir=tmp_path)

    assert list(tmp_path.iterdir()) == []


def _cells(*sources: str) -> list[object]:
    """Markdown for sources starting with 'md:', code for the others."""
    return [
        nbformat.v4.new_markdown_cell(text.removeprefix("md:"))
        if text.startswith("md:")
        else nbformat.v4.new_code_cell(text)
        for text in sources
    ]


@pytest.mark.parametrize(
    ("sources", "label"),
    [
        # The cell's first comment wins over a heading above it.
        (
            ("md:## Costs", "import pandas as pd\n# Monthly totals\nx = 1"),
            "'# Monthly totals'",
        ),
        # No comment: the nearest heading above, the last one of that markdown cell.
        (
            ("md:# Report\n\n## Workload\ntext", "import pandas as pd"),
            "under 'Workload'",
        ),
        (
            ("md:# Report", "md:plain text", "x = 1", "import pandas as pd"),
            "under 'Report'",
        ),
        # Neither: the first line, as before.
        (("rps: float = 1.0  # help", "import pandas as pd"), "'import pandas as pd'"),
        (("md:#", "#\n# \nimport os"), "'import os'"),
    ],
)
def test_a_failed_cell_is_named_by_comment_heading_or_first_line(
    sources: tuple[str, ...], label: str
) -> None:
    assert report._cell_label(_cells(*sources), len(sources) - 1) == label


def test_unknown_notebook_name_lists_the_known_ones() -> None:
    with pytest.raises(ParameterError, match="unknown notebook 'sizng'; choose one"):
        report.resolve_notebook("sizng")


def test_missing_notebook_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="notebook file .* does not exist"):
        report.resolve_notebook(tmp_path / "gone.ipynb")


@pytest.mark.parametrize("timeout_s", [0, -1.0, float("inf"), float("nan")])
def test_non_positive_or_infinite_timeout_is_refused(
    tmp_path: Path, timeout_s: float
) -> None:
    with pytest.raises(ParameterError, match="timeout_s must be positive and finite"):
        report.run_notebook(
            FIXTURES / "tiny.ipynb", {}, output_dir=tmp_path, timeout_s=timeout_s
        )

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make_output_dir", "message"),
    [
        (lambda tmp: tmp / "file", "'.*file' cannot be created .FileExistsError"),
        (lambda tmp: tmp / "file" / "sub", "'.*sub' cannot be created .NotADir"),
    ],
)
def test_an_output_dir_that_cannot_be_a_folder_is_refused(
    tmp_path: Path, make_output_dir: Callable[[Path], Path], message: str
) -> None:
    (tmp_path / "file").write_text("not a folder\n")

    with pytest.raises(
        ParameterError, match=f"output_dir \\(--output-dir\\) {message}"
    ):
        report.run_notebook(
            FIXTURES / "tiny.ipynb", {}, output_dir=make_output_dir(tmp_path)
        )

    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_an_output_dir_in_sysfs_is_refused() -> None:
    # sysfs refuses mkdir even to root, so this holds in any container.
    with pytest.raises(ParameterError, match="'/sys/kernel/capacity-x' cannot be"):
        report.run_notebook(
            FIXTURES / "tiny.ipynb", {}, output_dir="/sys/kernel/capacity-x"
        )


def test_a_folder_named_like_the_latest_pointer_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny-latest").mkdir()

    with pytest.raises(ParameterError, match="tiny-latest' is a folder, not the poi"):
        report.run_notebook(FIXTURES / "tiny.ipynb", {}, output_dir=tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == ["tiny-latest"]


def test_a_pointer_that_cannot_move_leaves_no_stray_link(tmp_path: Path) -> None:
    # The folder appears while the notebook runs: the pointer fails after the report.
    run_dir = tmp_path / "tiny-20260101T000000Z"
    run_dir.mkdir()
    (tmp_path / "tiny-latest").mkdir()
    (tmp_path / "tiny-latest" / "keep.txt").write_text("a user's file\n")

    with pytest.raises(ParameterError, match="report is written to .* cannot point"):
        report._point_latest(tmp_path, "tiny", run_dir)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tiny-20260101T000000Z",
        "tiny-latest",
    ]


def test_latest_falls_back_to_a_file(tmp_path: Path) -> None:
    (tmp_path / "sizing-20260101T000000Z").mkdir()
    (tmp_path / "sizing-latest").write_text("sizing-20260101T000000Z\n")

    assert report.latest_run(tmp_path, "sizing") == tmp_path / "sizing-20260101T000000Z"
    assert report.latest_run(tmp_path, "other") is None
    assert os.path.isdir(tmp_path / "sizing-20260101T000000Z")


@pytest.mark.slow
def test_a_report_over_the_html_budget_is_kept_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(CapacityWarning, match=r"over the 3,000,000-byte budget"):
        result = report.run_notebook(
            FIXTURES / "large_output.ipynb", {}, output_dir=tmp_path, timeout_s=120
        )

    # The fixture prints 4,000,000 characters, more than the 3 MB budget.
    assert result.html_path.stat().st_size > report.HTML_BUDGET_BYTES


@pytest.mark.slow
def test_a_chart_that_fails_to_display_fails_the_run(tmp_path: Path) -> None:
    # IPython shows a display error as output and runs on; the run must still fail
    # and name the cell that drew the chart, not the last cell run.
    message = r"failed in cell 2 \('for n in \(10, rows\):'\): MaxRowsError"
    with pytest.raises(NotebookRunError, match=message):
        report.run_notebook(
            FIXTURES / "chart_error.ipynb", {}, output_dir=tmp_path, timeout_s=120
        )

    assert report.latest_run(tmp_path, "chart_error") is None
