"""The `seqcast` command: its subcommands and their --help, one clear line on bad input,
a result on stdout and log messages on stderr, and a subcommand added by one function."""

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqcast import cli, stage

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["check", "gate", "reproduce", "ui", "check-lock", "plot-page", "forecast"]


def _seqcast(capsys, *args: str) -> tuple[int, str, str]:
    """`seqcast ARGS` in this process: exit code, stdout, stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def _script() -> str:
    """The console script that installing the package puts next to this Python."""
    script = shutil.which("seqcast", path=str(Path(sys.executable).parent))
    assert script, "no `seqcast` next to sys.executable: reinstall the package (`make`)"
    return script


def test_the_installed_command_lists_every_subcommand_with_its_summary():
    result = subprocess.run([_script(), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("    ")]
    listed = {row[0]: row[1] for row in rows if len(row) == 2}
    for name in SUBCOMMANDS:
        assert listed[name].startswith(cli.COMMANDS[name].summary[:30]), name


def test_the_installed_command_fails_on_bad_params_with_one_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("train:\n  max_epochs: -1\n")
    result = subprocess.run([_script(), "check", str(bad)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"seqcast check: error: {bad}: train.max_epochs = -1: Input should be greater than 0\n"
    )


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "seqcast", "check", "params.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "params.yaml: valid\n", "")


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_a_help_that_describes_it(capsys, name):
    code, out, err = _seqcast(capsys, name, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: seqcast {name} [-h] [-v]")
    description = " ".join(cli.COMMANDS[name].run.__doc__.split())
    assert description[:40] in " ".join(out.split())
    assert "--verbose" in out


def test_check_help_is_help_not_a_file_name(capsys):
    code, out, err = _seqcast(capsys, "check", "--help")
    assert (code, err) == (0, "")
    assert "params.yaml" in out and "not found" not in out


def test_check_names_the_key_the_value_and_what_was_expected(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  enabled: [naive, transformer]\n")
    code, out, err = _seqcast(capsys, "check", str(bad))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"seqcast check: error: {bad}: models.enabled contains 'transformer'")


def test_check_refuses_an_empty_experiment_name(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tracking:\n  experiment: ''\n")
    code, out, err = _seqcast(capsys, "check", str(bad))
    assert (code, out) == (2, "")
    assert err.startswith(f"seqcast check: error: {bad}: tracking.experiment = ''"), err


def test_check_of_a_missing_file_says_so(capsys, tmp_path):
    code, out, err = _seqcast(capsys, "check", str(tmp_path / "none.yaml"))
    assert (code, out) == (2, "")
    missing = tmp_path / "none.yaml"
    assert err == f"seqcast check: error: {missing}: not found; run from the repository root\n"


def test_check_of_the_repository_params_prints_valid(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert _seqcast(capsys, "check") == (0, "params.yaml: valid\n", "")


def test_an_unknown_subcommand_or_none_is_a_usage_error(capsys):
    code, out, err = _seqcast(capsys, "train")
    assert (code, out) == (2, "")
    assert "seqcast: error: argument COMMAND: invalid choice: 'train'" in err
    code, _, err = _seqcast(capsys)
    assert code == 2 and "the following arguments are required: COMMAND" in err


def test_bad_input_to_other_subcommands_is_one_line_and_exit_2(capsys, monkeypatch, tmp_path):
    assert _seqcast(capsys, "ui", "--port", "0") == (
        2,
        "",
        "seqcast ui: error: --port 0: choose a port from 1 to 65535\n",
    )
    monkeypatch.chdir(tmp_path)
    assert _seqcast(capsys, "check-lock") == (
        2,
        "",
        "seqcast check-lock: error: dvc.lock: not found; run from the repository root\n",
    )


@pytest.fixture
def toy(monkeypatch):
    """A subcommand added as the module docstring says: one function under @command."""
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))

    @cli.command("toy", "count to N", cli.argument("n", type=int, help="how far"))
    def toy(args: argparse.Namespace) -> int:
        """Count to N, logging as it goes."""
        log = logging.getLogger("seqcast.toy")
        log.debug("starting at 1")
        for i in range(1, args.n + 1):
            log.info("counted %d", i)
        if args.n > 2:
            log.warning("that was a lot")
        print(args.n)
        return 3 if args.n < 0 else 0

    return toy


def test_a_subcommand_is_one_function_and_its_registration(capsys, toy):
    code, out, _ = _seqcast(capsys, "--help")
    assert code == 0 and "count to N" in out
    code, out, _ = _seqcast(capsys, "toy", "--help")
    assert code == 0 and "Count to N, logging as it goes." in out
    assert _seqcast(capsys, "toy", "-1") == (3, "-1\n", "")
    with pytest.raises(ValueError, match="seqcast toy: registered twice"):
        cli.command("toy", "again")(toy)


def test_the_result_goes_to_stdout_and_log_messages_to_stderr(capsys, monkeypatch, toy):
    monkeypatch.delenv(stage.LEVEL_VARIABLE, raising=False)
    assert _seqcast(capsys, "toy", "3") == (
        0,
        "3\n",
        "counted 1\ncounted 2\ncounted 3\nthat was a lot\n",
    )
    _, _, err = _seqcast(capsys, "toy", "1", "-v")  # after the subcommand, or before it
    assert err == "starting at 1\ncounted 1\n"
    assert _seqcast(capsys, "-v", "toy", "1")[2] == err


def test_the_log_level_comes_from_the_environment(capsys, monkeypatch, toy):
    monkeypatch.setenv(stage.LEVEL_VARIABLE, "warning")
    assert _seqcast(capsys, "toy", "3") == (0, "3\n", "that was a lot\n")
    monkeypatch.setenv(stage.LEVEL_VARIABLE, "loud")
    assert _seqcast(capsys, "toy", "3") == (
        2,
        "",
        "seqcast toy: error: SEQCAST_LOG_LEVEL = 'loud': choose one of DEBUG, INFO, WARNING, "
        "ERROR\n",
    )


def test_a_stage_logs_progress_to_stdout_and_leaves_logging_as_it_was(capsys):
    package = logging.getLogger("seqcast")
    before = (package.handlers[:], package.level, package.propagate)
    # MLflow's PyTorch module does this on import; the lines must not be printed twice.
    logging.getLogger().addHandler(root := logging.StreamHandler(sys.stderr))
    try:
        with stage.logging_to("stdout"):
            logging.getLogger("seqcast.data.features").info("featurize: 3 columns")
            logging.getLogger("seqcast.data.features").warning("a gap")
            logging.getLogger("seqcast.data.features").debug("not shown at INFO")
    finally:
        logging.getLogger().removeHandler(root)
    assert capsys.readouterr() == ("featurize: 3 columns\n", "a gap\n")
    assert (package.handlers, package.level, package.propagate) == before
