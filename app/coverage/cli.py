"""``planpulse check``: plan coverage checks for CI, on a plan file or a running service.

Exit status: 0 no finding of severity error, 1 at least one, 2 the input cannot be used
(unreadable file, invalid plan or records, unreachable service, bad configuration), the
reason on stderr.
"""

import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, TextIO

import typer

from app.coverage.client import ServiceError, fetch_report
from app.coverage.config import (
    ConfigError,
    Layer,
    describe,
    find_config_file,
    layer_from_options,
    merge,
    read_config_file,
    to_query,
)
from app.coverage.engine import run
from app.coverage.model import Config, Report, ThresholdsWhen, from_plan_file
from app.coverage.output import Format, Location, render
from app.coverage.rules import RULES
from app.coverage.source import line_numbers, read_plan_text
from app.errors import InvalidInput
from app.schemas.records_file import RecordsFile, parse_records_text

EXIT_PASSED, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def _unusable(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(EXIT_UNUSABLE)


def check(
    plan_file: Annotated[Path | None, typer.Argument(
        help="A plan file, YAML or JSON; - for stdin. Leave out with --url.",
        show_default=False)] = None,
    records: Annotated[Path | None, typer.Option(
        "--records", help="With a plan file: a records file (YAML or JSON) for the records "
        "rules; without it they are skipped.", show_default=False)] = None,
    url: Annotated[str | None, typer.Option(
        help="Check a running service instead, e.g. https://plans.example.org.")] = None,
    mandate: Annotated[str | None, typer.Option(
        help="With --url: the mandate's code, e.g. 2018-2020.")] = None,
    token: Annotated[str | None, typer.Option(
        envvar="PLANPULSE_TOKEN", show_envvar=True,
        help="With --url: a viewer token, when the service does not allow public reads."
    )] = None,
    fmt: Annotated[Format, typer.Option(
        "--format", "-f", help="text, json, junit (JUnit XML) or github (annotations).")
    ] = Format.text,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Judge overdue, staleness and ended periods at this date "
        "(YYYY-MM-DD). Default: today.", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Read the settings from this file (a planpulse.toml, or a "
        "pyproject.toml) instead of looking for one.", show_default=False)] = None,
    isolated: Annotated[bool, typer.Option(
        "--isolated", help="Read no configuration file: defaults and options only.")] = False,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", help="ID=SEVERITY or FAMILY=SEVERITY (error, warning, off). Repeatable.",
        show_default=False)] = None,
    stale_after_days: Annotated[int | None, typer.Option(
        "--stale-after-days", help="Days without a status change after which an open "
        "deliverable is stale (default 90).", show_default=False)] = None,
    theme: Annotated[list[str] | None, typer.Option(
        "--theme", help="TAG=SHARE: the minimum share (0..1) of action lines with a "
        "deliverable tagged TAG. Repeatable.", show_default=False)] = None,
    threshold: Annotated[list[str] | None, typer.Option(
        "--threshold", help="NAME=MINIMUM (0..1), NAME one of mandate-progress, "
        "mandate-completion-rate, action-line-progress, action-line-completion-rate. "
        "Repeatable.", show_default=False)] = None,
    thresholds_when: Annotated[ThresholdsWhen | None, typer.Option(
        "--thresholds-when", help="always, or closed: only once the mandate has ended.",
        show_default=False)] = None,
    list_rules: Annotated[bool, typer.Option(
        "--list-rules", help="List the rules with their severity, and exit.")] = False,
) -> None:
    """Check a plan's coverage (owners, due dates, targets, ...) for CI: exit 0 when no
    error is found, 1 when one is, 2 when the input cannot be used."""
    try:
        layers = _config_file_layers(config, isolated, plan_file)
        layers.append(layer_from_options(
            "command line", rules=rule or [], themes=theme or [], thresholds=threshold or [],
            stale_after_days=stale_after_days,
            thresholds_when=thresholds_when.value if thresholds_when else None))
    except ConfigError as error:
        raise _unusable("bad configuration:\n" + "\n".join(
            f"  {line}" for line in error.lines())) from None
    settings = merge(layers)
    if list_rules:
        typer.echo(_rule_list(settings), nl=False)
        raise typer.Exit(EXIT_PASSED)
    try:
        day = date.fromisoformat(as_of) if as_of is not None else date.today()
    except ValueError:
        raise _unusable(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None

    if url is None:
        if plan_file is None:
            raise _unusable("give a plan file, or --url and --mandate to check a service")
        if mandate is not None:
            raise _unusable("--mandate goes with --url; a plan file names its mandate")
        report, location = _check_file(plan_file, records, settings, day)
    else:
        if plan_file is not None:
            raise _unusable("give a plan file or --url, not both")
        if records is not None:
            raise _unusable("--records goes with a plan file; a service checks the records "
                            "it holds")
        if mandate is None:
            raise _unusable("--url needs --mandate, the code of the mandate to check")
        report, location = _check_service(url, mandate, token, settings, day)

    color = wants_color(fmt, sys.stdout, os.environ)
    typer.echo(render(report, fmt, location=location, color=color), nl=False)
    raise typer.Exit(EXIT_PASSED if report.passed else EXIT_FAILED)


def wants_color(fmt: Format, stream: TextIO, environ: Mapping[str, str]) -> bool:
    """ANSI colours for text on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return fmt == Format.text and stream.isatty() and "NO_COLOR" not in environ


def _config_file_layers(path: Path | None, isolated: bool, plan_file: Path | None
                        ) -> list[Layer]:
    """The file given, else the first found from the plan file's directory up, then from
    the current directory up (the repository's configuration, wherever the job runs)."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(str(path), [("", "no such file")])
        return [read_config_file(path)]
    if isolated:
        return []
    starts = [Path.cwd()]
    if plan_file is not None and str(plan_file) != "-":
        starts.insert(0, plan_file.resolve().parent)
    for start in dict.fromkeys(starts):
        found = find_config_file(start)
        if found is not None:
            return [read_config_file(found)]
    return []


def _check_file(path: Path, records_path: Path | None, settings: Config, day: date
                ) -> tuple[Report, Location]:
    stdin = str(path) == "-"
    try:
        text = sys.stdin.read() if stdin else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _unusable(f"cannot read {path}: {error}") from None
    try:
        plan = read_plan_text(text, fmt="json" if path.suffix == ".json" else None)
    except InvalidInput as error:
        lines = "\n".join(f"  {line}" for line in error.lines())
        raise _unusable(f"{path}: {error.detail}; it cannot be checked:\n{lines}") from None
    records = None if records_path is None else _read_records(records_path)
    report = run(from_plan_file(plan, records), settings, day)
    name = "<stdin>" if stdin else str(path)
    return report, Location(name=name, file=None if stdin else str(path),
                            lines=line_numbers(text))


def _read_records(path: Path) -> RecordsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _unusable(f"cannot read {path}: {error}") from None
    try:
        return parse_records_text(text, fmt="json" if path.suffix == ".json" else None)
    except InvalidInput as error:
        lines = "\n".join(f"  {line}" for line in error.lines())
        raise _unusable(f"{path}: {error.detail}; the records cannot be checked:\n{lines}"
                        ) from None


def _check_service(url: str, mandate: str, token: str | None, settings: Config, day: date
                   ) -> tuple[Report, Location]:
    query = [("as_of", day.isoformat()), *to_query(settings)]
    try:
        report = fetch_report(url, mandate=mandate, query=query, token=token)
    except ServiceError as error:
        raise _unusable(str(error)) from None
    if report.config != describe(settings):
        typer.echo("note: the service ran the checks with another configuration than this "
                   "one (another planpulse version?); see the report's config", err=True)
    return report, Location(name=f"{url.rstrip('/')} (mandate {mandate})")


def _rule_list(settings: Config) -> str:
    width = max(len(rule_id) for rule_id in RULES)
    lines = [f"{rule_id:<{width}}  {settings.severities[rule_id].value:<7}  {rule.checks}"
             for rule_id, rule in RULES.items()]
    return "\n".join(lines) + "\n"
