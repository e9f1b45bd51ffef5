"""Every command answers --help with an example; --version prints the package version."""

from importlib.metadata import version

from typer.testing import CliRunner

from hmip_cli.cli.app import app

runner = CliRunner()


def test_version_matches_package_metadata():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hmip {version('hmip')}"


def test_every_command_has_help_with_an_example():
    from hmip_cli.cli.app import COMMANDS

    names = [e.name for e in COMMANDS if e.attribute != "app"]
    assert len(names) >= 14
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.stdout, f"`hmip {name} --help` has no example"


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_start_up_imports_no_heavy_libraries():
    # `hmip --help` and `hmip --version` load every command module: the numeric and plotting
    # libraries must wait until a command needs them.
    import subprocess
    import sys

    code = (
        "import sys, hmip_cli.cli.app; "
        "print(' '.join(m for m in ('numpy', 'scipy', 'matplotlib', 'statsmodels', 'pyreadstat', "
        "'fastexcel', 'xlsxwriter') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
