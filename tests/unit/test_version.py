"""``--version`` of both programs says the installed distribution's version, which pyproject.toml
reads from ``transient.__version__`` (the one place it is written). The built wheel's own
metadata against an installed ``transient --version``: scripts/check-install."""

from importlib import metadata

import pytest

import transient
import transientd
from transient.cli import commands


@pytest.mark.parametrize("program, main", [("transient", commands.main), ("transientd", transientd.main)])
def test_version_is_the_distributions(capsys, program, main):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == "%s %s\n" % (program, metadata.version("transient"))


def test_the_distribution_takes_its_version_from_the_package():
    assert metadata.version("transient") == transient.__version__ == transient.installed_version()
