"""The run, notebooks and lab commands, through their own parsers and the CLI."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from capacity import report
from capacity.cli import main
from capacity.commands import lab, notebooks, run
from capacity.errors import ParameterError
from capacity.report_parameters import load_parameter_file

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


def _parse(module: object, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="capacity")
    module.add_parser(parser.add_subparsers())  # type: ignore[attr-defined]
    return parser.parse_args(argv)


def _run(module: object, argv: list[str]) -> tuple[int, str]:
    args = _parse(module, argv)
    out = io.StringIO()
    status = args.run(args, out)
    return status, out.getvalue()


@pytest.mark.slow
def test_run_prints_the_folder_and_headline_numbers(tmp_path: Path) -> None:
    argv = ["run", str(FIXTURES / "tiny.ipynb"), "--output-dir", str(tmp_path)]
    argv += ["-p", "rps", "12.5", "-p", "account_id", "012345678901"]

    status, text = _run(run, argv)

    run_dir = report.latest_run(tmp_path, "tiny")
    assert status == 0
    assert text.splitlines()[0] == f"tiny: {run_dir}"
    assert "  mean_requests_per_s = 12.5" in text
    assert '  account_id = "012345678901"' in text


@pytest.mark.slow
def test_run_reads_a_yaml_file_without_losing_zeros(tmp_path: Path) -> None:
    parameters = tmp_path / "params.yaml"
    parameters.write_text("account_id: 012345678901\nstart_hhmm: 0730\nrps: 3\n")
    argv = ["run", str(FIXTURES / "tiny.ipynb"), "-f", str(parameters)]

    status, text = _run(run, [*argv, "--output-dir", str(tmp_path / "reports")])

    assert status == 0
    assert '  account_id = "012345678901"' in text
    assert '  start_hhmm = "0730"' in text


@pytest.mark.slow
def test_run_through_the_cli_exits_1_on_a_failing_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(FIXTURES / "raises.ipynb"), "--output-dir", str(tmp_path)]

    status = main(argv)

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(error_lines) == 1
    assert error_lines[0].startswith("capacity run: failed: notebook 'raises' failed")


def test_run_through_the_cli_exits_2_on_an_octal_looking_int(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(FIXTURES / "tiny.ipynb"), "-p", "horizon_hours", "0730"]

    status = main([*argv, "--output-dir", str(tmp_path)])

    assert status == 2
    assert "'horizon_hours' = '0730' has a leading zero" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("headroom_frac", "2", r"headroom_frac=2.0 is outside \[0, 1\)"),
        ("requests_per_day", "-5", "requests_per_day=-5.0 must be greater than zero"),
        ("modes", "Standard", "modes: unknown value 'Standard'; did you mean"),
        ("families", "t9", "unknown instance family 't9'"),
        ("initial_credits", "Full", "initial_credits: unknown value 'Full'"),
        ("workload", "/nonexistent.csv", "'workload' = '/nonexistent.csv' is neither"),
    ],
)
def test_run_refuses_bad_values_before_any_kernel_or_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    parameter: str,
    value: str,
    message: str,
) -> None:
    argv = ["run", "sizing", "-p", parameter, value, "--output-dir", str(tmp_path)]

    status = main(argv)

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(error_lines) == 1
    assert re.search(message, error_lines[0])
    assert error_lines[0].startswith("capacity run: error: ")
    # The run folder is made before the kernel starts: none means no kernel.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("timeout", ["inf", "nan", "0", "-5", "soon"])
def test_run_refuses_a_timeout_that_is_not_finite_and_positive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    argv = ["run", "sizing", "--timeout", timeout, "--output-dir", str(tmp_path)]

    with pytest.raises(SystemExit) as stopped:
        main(argv)

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert len(error_lines) == 1
    assert (
        "argument --timeout: must be a finite number of seconds above zero"
        in (error_lines[0])
    )
    assert list(tmp_path.iterdir()) == []


def test_run_reports_an_unusable_output_dir_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("not a folder\n")
    argv = ["run", "sizing", "--output-dir", str(tmp_path / "file" / "sub")]

    status = main(argv)

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(error_lines) == 1
    assert error_lines[0].startswith("capacity run: error: output_dir (--output-dir)")


def _notebook_that_publishes_then_sleeps(folder: Path) -> Path:
    """A notebook that publishes ``started``, then sleeps 600 s in its third cell.

    The sleeping cell first creates ``sleeping.flag`` in ``folder``, so a test knows
    the kernel is inside that cell, not still finishing the one before.
    """
    parameters = nbformat.v4.new_code_cell("sleep_s: float = 600.0  # sleep [s]")
    parameters.metadata["tags"] = ["parameters"]
    flag = folder / "sleeping.flag"
    cells = [
        parameters,
        nbformat.v4.new_code_cell(
            "from capacity import publish\npublish.publish_result('started', True)"
        ),
        nbformat.v4.new_code_cell(
            f"# Wait\nimport pathlib, time\npathlib.Path({str(flag)!r}).touch()\n"
            "time.sleep(sleep_s)"
        ),
    ]
    path = folder / "sleepy.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop", "status", "said"),
    [
        (signal.SIGINT, 130, "stopped by SIGINT"),  # Ctrl-C
        (signal.SIGTERM, 143, "stopped by SIGTERM"),  # schedulers, systemd
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_keeps_the_failed_notebook_and_exits_128_plus_it(
    stop: signal.Signals, status: int, said: str, tmp_path: Path
) -> None:
    notebook = _notebook_that_publishes_then_sleeps(tmp_path)
    output_dir = tmp_path / "reports"
    command = [sys.executable, "-m", "capacity", "run", str(notebook)]
    process = subprocess.Popen(
        [*command, "--output-dir", str(output_dir)],
        stderr=subprocess.PIPE,
        text=True,
    )
    sleeping = tmp_path / "sleeping.flag"
    deadline_s = time.monotonic() + 60
    while not sleeping.exists() and time.monotonic() < deadline_s:
        time.sleep(0.2)

    process.send_signal(stop)
    _, error_text = process.communicate(timeout=60)

    (run_dir,) = output_dir.iterdir()
    assert sleeping.exists()
    assert process.returncode == status
    assert error_text.strip().splitlines() == ["capacity run: interrupted"]
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "FAILED-sleepy.ipynb",
        "FAILED.txt",
    ]
    failed_text = (run_dir / "FAILED.txt").read_text()
    assert "failed in cell 2 ('# Wait')" in failed_text
    assert f"interrupted: {said}" in failed_text
    assert report.latest_run(output_dir, "sleepy") is None
    # The executed notebook holds what ran: the cell before the sleep finished.
    executed = nbformat.read(run_dir / "FAILED-sleepy.ipynb", as_version=4)
    assert executed.cells[1].execution_count is not None


@pytest.mark.slow
def test_a_timeout_is_one_line_naming_the_limit_and_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(FIXTURES / "sleeps.ipynb"), "-p", "sleep_s", "600"]

    status = main([*argv, "--timeout", "5", "--output-dir", str(tmp_path)])

    # Papermill's own "Timeout waiting for execute reply" line is not printed.
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(error_lines) == 1
    assert error_lines[0].startswith(
        "capacity run: failed: notebook 'sleeps' timed out after 5 s in cell 1 "
        "('import time'); the failed notebook is kept at "
    )


def test_run_needs_a_notebook_or_all() -> None:
    with pytest.raises(ParameterError, match="needs a NOTEBOOK"):
        _run(run, ["run"])


def test_run_all_refuses_p_and_a_missing_file() -> None:
    with pytest.raises(ParameterError, match="--all takes no NOTEBOOK and no -p"):
        _run(run, ["run", "--all", "-p", "rps", "1"])


def test_nightly_example_names_real_notebooks_and_parameters(root_dir: Path) -> None:
    document = load_parameter_file(root_dir / "examples" / "nightly.yaml")

    plan = run.nightly_plan(document, report.NOTEBOOKS_DIR)

    by_name = {path.stem: parameters for path, parameters in plan}
    assert sorted(by_name) == [
        "cost_comparison",
        "credit_forecast",
        "incident_replay",
        "sizing",
    ]
    # The shared volume reaches the notebooks that declare requests_per_day only.
    assert by_name["sizing"]["requests_per_day"] == 1e8
    assert "requests_per_day" not in by_name["incident_replay"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sizng:\n  zones: 2\n", r"sections \['sizng'\] name no notebook"),
        ("shared:\n  zonez: 2\n", r"shared keys \['zonez'\] are declared by no"),
        ("sizing: 3\n", "section 'sizing' of the parameters file must be a mapping"),
        ("sizing:\n  zones: 03\n", "'zones' = '03' has a leading zero"),
        ("sizing:\n  zones: 0\n", "zones=0 must be greater than zero"),
        ("incident_replay:\n  count: 0\n", "'count' = 0 must be at least 1"),
    ],
)
def test_nightly_plan_refuses_bad_files_before_running(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "nightly.yaml"
    path.write_text(text)

    with pytest.raises(ParameterError, match=message):
        run.nightly_plan(load_parameter_file(path), report.NOTEBOOKS_DIR)


@pytest.mark.slow
def test_run_all_runs_the_rest_after_a_failure(tmp_path: Path) -> None:
    notebooks_dir = tmp_path / "notebooks"
    notebooks_dir.mkdir()
    for name in ("raises", "tiny"):
        (notebooks_dir / f"{name}.ipynb").write_bytes(
            (FIXTURES / f"{name}.ipynb").read_bytes()
        )
    document = {"shared": {"rps": "20"}, "tiny": {"horizon_hours": "4"}}
    plan = run.nightly_plan(document, notebooks_dir)
    out = io.StringIO()

    status = run.run_plan(plan, output_dir=tmp_path / "r", timeout_s=120, out=out)

    # raises.ipynb fails on any rps (it refuses half of it); tiny still runs.
    lines = out.getvalue().splitlines()
    assert status == 1
    assert lines[0].startswith("raises: FAILED: notebook 'raises' failed in cell 2")
    assert lines[1] == f"tiny: {report.latest_run(tmp_path / 'r', 'tiny')}"
    assert "  mean_requests_per_s = 20.0" in lines
    assert lines[-1] == "1 of 2 notebooks succeeded"


@pytest.mark.slow
def test_run_all_reports_an_unusable_pointer_and_runs_the_rest(
    tmp_path: Path,
) -> None:
    notebooks_dir = tmp_path / "notebooks"
    notebooks_dir.mkdir()
    for name in ("blocked", "tiny"):
        (notebooks_dir / f"{name}.ipynb").write_bytes(
            (FIXTURES / "tiny.ipynb").read_bytes()
        )
    output_dir = tmp_path / "r"
    (output_dir / "blocked-latest").mkdir(parents=True)
    plan = run.nightly_plan({}, notebooks_dir)
    out = io.StringIO()

    status = run.run_plan(plan, output_dir=output_dir, timeout_s=120, out=out)

    lines = out.getvalue().splitlines()
    assert status == 1
    assert lines[0].startswith("blocked: FAILED: '")
    assert "blocked-latest' is a folder" in lines[0]
    assert lines[1] == f"tiny: {report.latest_run(output_dir, 'tiny')}"
    assert lines[-1] == "1 of 2 notebooks succeeded"


@pytest.mark.slow
def test_run_all_with_small_parameters(tmp_path: Path) -> None:
    nightly = tmp_path / "nightly.yaml"
    nightly.write_text(
        "sizing:\n  families: [t3, c5]\n  sizes: [large]\n"
        "cost_comparison:\n  days: 1\n  step_s: 3600\n"
        "credit_forecast:\n  days: 2\n  step_s: 900\n"
        "incident_replay:\n  rollout_hours: 0.25\n"
    )
    argv = ["run", "--all", "-f", str(nightly), "--output-dir", str(tmp_path / "r")]

    status, text = _run(run, argv)

    assert status == 0
    assert text.splitlines()[-1] == "4 of 4 notebooks succeeded"
    for name in ("sizing", "cost_comparison", "credit_forecast", "incident_replay"):
        assert report.latest_run(tmp_path / "r", name) is not None


def test_notebooks_lists_each_parameter_as_written() -> None:
    status, text = _run(notebooks, ["notebooks"])

    lines = text.splitlines()
    assert status == 0
    assert "sizing" in lines
    # Copied from the parameters cell of notebooks/sizing.ipynb.
    assert "  p99_slo_ms: float = 250.0  # p99 response time objective [ms]" in lines


def test_notebooks_json_is_parseable() -> None:
    status, text = _run(notebooks, ["notebooks", "--json"])

    document = json.loads(text)
    assert status == 0
    assert sorted(document) == [
        "cost_comparison",
        "credit_forecast",
        "incident_replay",
        "sizing",
    ]
    assert document["sizing"][0]["name"] == "workload"


def test_lab_refuses_a_bad_port() -> None:
    with pytest.raises(ParameterError, match="--port must be within 1..65535, got 0"):
        lab.lab_command(0, open_browser=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_lab_serves_the_notebooks_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    token = secrets.token_hex(16)
    environment = {**os.environ, "JUPYTER_TOKEN": token, "HOME": str(tmp_path)}
    environment["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    code = (
        "import sys; from capacity.commands import lab; "
        f"args = lab.argparse.Namespace(port={port}, no_browser=True); "
        "sys.exit(lab.run(args, sys.stdout))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        status = _wait_for_status(port, token, deadline_s=time.monotonic() + 90)
        contents = _get_json(f"http://127.0.0.1:{port}/api/contents", token)
        kernelspecs = _get_json(f"http://127.0.0.1:{port}/api/kernelspecs", token)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert "started" in status
    assert {"sizing.ipynb", "incident_replay.ipynb"} <= {
        item["name"] for item in contents["content"]
    }
    assert kernelspecs["default"] == "python3"


def _get_json(url: str, token: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return dict(json.load(response))


def _wait_for_status(port: int, token: str, deadline_s: float) -> dict[str, object]:
    while True:
        try:
            return _get_json(f"http://127.0.0.1:{port}/api/status", token)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline_s:
                raise
            time.sleep(0.5)
