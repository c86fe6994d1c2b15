"""The ``transient`` command line in-process: the same main() the console script calls,
for help and usage errors, and its parsing helpers (the commands as processes against
the regtest node: tests/e2e/test_cli.py)."""

import io

import pytest

from transient import cli
from transient.cli.util import ProgressBar, parse_duration

# -- argument parsing (in-process: the same main() the console script calls) -----


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["payments"],
        ["payments", "create"],
        ["payments", "show"],
        ["payments", "list"],
        ["payments", "watch"],
        ["notify"],
        ["doctor"],
        ["rescan"],
        ["devnet"],
        ["devnet", "up"],
        ["devnet", "down"],
        ["devnet", "pay"],
        ["devnet", "mine"],
        ["devnet", "reorg"],
        ["devnet", "status"],
        ["migrate"],
        ["backends"],
        ["sync"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
    ],
)
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: transient")


def test_notify_help_shows_the_placeholder_the_node_needs(capsys):
    """The node's config needs %s; argparse's escaping must not leak as %%s."""
    with pytest.raises(SystemExit):
        cli.main(["notify", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "walletnotify=transient notify transaction DOGE %s" in out and "%%" not in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["payments", "create", "--amount", "1"], "required: --currency"),
        (["payments", "frobnicate"], "invalid choice"),
        (["notify", "mempool", "LTC", "00"], "invalid choice"),
        (["rescan", "LTC", "--from-height", "-5"], "--from-height"),
        (["devnet", "mine", "0"], "from 1 to 1000"),
        (["nosuch"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_durations():
    assert [parse_duration(t) for t in ("90", "90s", "15m", "2h", "1d", "1h30m", "1w")] == [
        90,
        90,
        900,
        7200,
        86400,
        5400,
        604800,
    ]
    for bad in ("", "5x", "m", "1.5h", "-1m", "1h 30m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_progress_bar_draws_on_a_terminal_only():
    out = io.StringIO()
    bar = ProgressBar(4, "LTC rescan", stream=out, width=8, tty=True)
    bar.update(1, "height 10")
    bar.update(4, "height 40")
    bar.close()
    assert out.getvalue() == (
        "\rLTC rescan [##------]  25% height 10\x1b[K\rLTC rescan [########] 100% height 40\x1b[K\n"
    )
    quiet = io.StringIO()
    ProgressBar(4, stream=quiet, tty=False).update(2)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    "argv, words",
    [(["keys", "create", "--greenfield", "--scope", "admin"], "not both"), (["keys", "create"], "--greenfield")],
)
def test_a_key_is_made_with_scopes_or_for_greenfield(argv, words, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
