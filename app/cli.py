"""The ``planpulse`` command line; it calls the same services as the HTTP API."""

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from app import migrate
from app.bench.run import bench
from app.coverage.cli import check
from app.db import get_engine, unit_of_work
from app.errors import InvalidInput, PlanpulseError
from app.models import Role
from app.reports.formats import Part, ReportFormat
from app.schemas.fields import PERIOD_PATTERN
from app.schemas.plan_file import parse_plan_text
from app.schemas.records_file import parse_records_text
from app.services.access import audit, scopes, tokens
from app.services.access.scopes import EVERYWHERE
from app.services.plan.exporter import dump_yaml, export_plan, to_json_ready
from app.services.plan.importer import ImportReport, import_plan
from app.services.records import sheet
from app.services.records.exporter import records_data
from app.services.records.importer import RecordsReport, import_records, import_sheet
from app.settings import Settings, get_settings

app = typer.Typer(help="planpulse: action-plan KPI tracking.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
records_app = typer.Typer(help="Records: members, their engagement, activities.",
                          no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(records_app, name="records")
app.command("check")(check)
app.command("bench")(bench)

EXIT_UNUSABLE_INPUT = 2
CLI_ACTOR = "cli"


class ExportFormat(StrEnum):
    yaml = "yaml"
    json = "json"


class RecordsFormat(StrEnum):
    yaml = "yaml"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


SHEET_SUFFIXES = (".csv", ".xlsx")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _database() -> Engine:
    """The engine of the database that holds the plans, once its schema is found at head.

    Every command that reads or writes plans or tokens goes through here. None of them
    creates or migrates a database (``serve`` and ``db upgrade`` do): where the database,
    or its schema, is not what this version expects, the command says which database it
    opened and how to point it elsewhere, and exits 2 having written nothing."""
    url = get_settings().database_url
    try:
        state = migrate.schema_state(url)
    except DBAPIError as error:
        raise _fail(f"planpulse: cannot open the database {migrate.database_name(url)}: "
                    f"{str(error.orig).strip().splitlines()[0]}\n{_WHERE}",
                    EXIT_UNUSABLE_INPUT) from None
    if state.at_head:
        return get_engine()
    if not state.found:
        problem = f"there is no database at {state.database}; none was created"
    elif state.revision is None:
        problem = f"the database {state.database} has no planpulse schema"
    elif migrate.is_known_revision(state.revision):
        problem = (f"the database {state.database} has the schema of revision "
                   f"{state.revision}, older than this version's {migrate.head_revision()}")
    else:
        problem = (f"the database {state.database} has the schema of revision "
                   f"{state.revision}, which this version does not know (a newer planpulse "
                   "migrated it)")
    if url == Settings.model_fields["database_url"].default:
        problem += f" (the default, {url}, is relative to the current directory)"
    raise _fail(f"planpulse: {problem}.\n{_WHERE}", EXIT_UNUSABLE_INPUT)


_WHERE = ("Set PLANPULSE_DATABASE_URL to the database to use, or run 'planpulse db upgrade' "
          "to create or upgrade the schema there.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    empty: Annotated[bool, typer.Option("--empty", help="Do not load the bundled plan.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Migrate the database to head, load the bundled plan into an empty one, and serve."""
    from app import serving
    from app.services.plan.bundled import load_bundled_plan_if_empty
    from app.services.records.bundled import load_bundled_records_if_empty

    engine = get_engine()
    # Replicas starting together take turns: one migrates and loads, the others find it done.
    with migrate.startup_lock(engine):
        migrate.upgrade()
        if not empty:
            with unit_of_work(engine) as session:
                report = load_bundled_plan_if_empty(session)
            if report is not None:
                typer.echo(f"Loaded the bundled plan {report.mandate} "
                           f"({report.deliverables.created} deliverables).", err=True)
            with unit_of_work(engine) as session:
                records = load_bundled_records_if_empty(session)
            if records is not None:
                typer.echo(f"Loaded the bundled records ({records.members.created} members, "
                           f"{records.activities.created} activities).", err=True)
    engine.dispose()  # the server opens its own connections
    serving.run(host=host, port=port, workers=workers, log_level=get_settings().log_level)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the database schema (to head by default)."""
    migrate.upgrade(revision=revision)
    typer.echo(f"database at revision {migrate.current_revision(get_engine())}")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. base or -1.")]
                 ) -> None:
    """Downgrade the database schema to REVISION."""
    migrate.downgrade(revision)
    typer.echo(f"database at revision {migrate.current_revision(get_engine()) or 'base'}")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A plan file, YAML or JSON; - for stdin.")],
    prune: Annotated[bool, typer.Option(help="Delete what the file no longer lists.")] = False,
) -> None:
    """Validate a plan file whole, then upsert it by code, all or nothing."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {file}: {error}", EXIT_UNUSABLE_INPUT) from None
    try:
        plan = parse_plan_text(text, fmt="json" if file.suffix == ".json" else None)
    except InvalidInput as error:
        lines = "\n".join(f"  {line}" for line in error.lines())
        raise _fail(f"{file}: {error.detail}; nothing was written:\n{lines}",
                    EXIT_UNUSABLE_INPUT) from None
    with unit_of_work(_database()) as session:
        report = import_plan(session, plan=plan, prune=prune)
        if report.changed:
            audit.record(session, actor=CLI_ACTOR, action="plan.import", target=report.mandate,
                         detail={"file": file.name, "pruned": prune,
                                 "status_changes": report.status_changes,
                                 "policy_change": report.policy_change})
    typer.echo(_summary(report))


def _summary(report: ImportReport) -> str:
    lines = [f"mandate {report.mandate}: "
             + ("created" if report.mandate_created else "updated" if report.changed
                else "unchanged")]
    for name in ("action_lines", "measures", "deliverables", "indicators"):
        kind = getattr(report, name)
        line = (f"  {name.replace('_', ' ')}: {kind.created} created, {kind.updated} updated, "
                f"{kind.unchanged} unchanged")
        if kind.absent:
            verb = "deleted" if report.pruned else "not in the file (kept; --prune deletes)"
            line += f"; {len(kind.absent)} {verb}: {', '.join(kind.absent)}"
        lines.append(line)
    if report.policy_change is not None:
        lines.append(f"  rollup policy changed: {report.policy_change['from']} -> "
                     f"{report.policy_change['to']}")
    lines.append(f"  status changes recorded: {report.status_changes}")
    lines.append(f"  indicator values recorded: {report.indicator_values}")
    return "\n".join(lines)


@app.command("export")
def export_command(
    mandate: Annotated[str, typer.Argument(help="The mandate's code, e.g. 2018-2020.")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.yaml,
) -> None:
    """Write a mandate's plan file to stdout."""
    try:
        with unit_of_work(_database()) as session:
            plan = export_plan(session, mandate_code=mandate)
    except PlanpulseError as error:
        raise _fail(error.detail) from None
    if format == ExportFormat.json:
        typer.echo(json.dumps(to_json_ready(plan), indent=2, ensure_ascii=False))
    else:
        typer.echo(dump_yaml(plan), nl=False)


@records_app.command("import")
def records_import(
    file: Annotated[Path, typer.Argument(help="A records file (YAML, JSON) or an engagement "
                                         "sheet (CSV, XLSX); - for a YAML file on stdin.")],
    period: Annotated[str | None, typer.Option(help="The period a sheet is for, e.g. 2020.")
                      ] = None,
) -> None:
    """Validate records whole, then upsert them, all or nothing (docs/records.md)."""
    suffix = file.suffix.lower()
    if suffix in SHEET_SUFFIXES and (period is None or not PERIOD_PATTERN.match(period)):
        raise _fail(f"{file}: a sheet needs --period, a year such as 2020",
                    EXIT_UNUSABLE_INPUT)
    try:
        content = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as error:
        raise _fail(f"cannot read {file}: {error}", EXIT_UNUSABLE_INPUT) from None
    try:
        with unit_of_work(_database()) as session:
            if suffix in SHEET_SUFFIXES:
                report = import_sheet(session, content=content, period=period or "",
                                      actor=CLI_ACTOR, filename=file.name)
            else:
                records = parse_records_text(content, fmt="json" if suffix == ".json" else None)
                report = import_records(session, records=records, actor=CLI_ACTOR)
            if report.changed:
                audit.record(session, actor=CLI_ACTOR, action="records.import",
                             target=period, detail={"file": file.name, **report.as_dict()})
    except InvalidInput as error:
        lines = "\n".join(f"  {line}" for line in error.lines())
        raise _fail(f"{file}: {error.detail}; nothing was written:\n{lines}",
                    EXIT_UNUSABLE_INPUT) from None
    typer.echo(_records_summary(report))


def _records_summary(report: RecordsReport) -> str:
    lines = [f"  {name}: {tally.created} created, {tally.updated} updated, "
             f"{tally.unchanged} unchanged"
             for name, tally in (("engagement kinds", report.kinds),
                                 ("members", report.members),
                                 ("activities", report.activities))]
    lines.append(f"  roll: {report.engagement.added_to_roll} added; engagement values: "
                 f"{report.engagement.values_changed} recorded, "
                 f"{report.engagement.values_unchanged} unchanged")
    if report.members_added:
        lines.append(f"  new members: {', '.join(report.members_added)}")
    return "records: " + ("changed" if report.changed else "unchanged") + "\n" + \
        "\n".join(lines)


@records_app.command("export")
def records_export(
    period: Annotated[str | None, typer.Option(help="One period (required for a sheet).")
                      ] = None,
    format: Annotated[RecordsFormat, typer.Option("--format", "-f")] = RecordsFormat.yaml,
    sheet_name: Annotated[str | None, typer.Option(
        "--sheet", help="The sheet to write (csv: engagement by default).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of stdout (an XLSX goes to a file).")
                      ] = None,
) -> None:
    """Write the records: a records file, or the engagement sheet of one period."""
    if format in (RecordsFormat.csv, RecordsFormat.xlsx) and period is None:
        raise _fail("a sheet is for one period: give --period", EXIT_UNUSABLE_INPUT)
    with unit_of_work(_database()) as session:
        if format == RecordsFormat.xlsx:
            content: bytes | str = sheet.write_xlsx(
                sheet.sheet_tables(session, period=period or "", sheet=sheet_name))
        elif format == RecordsFormat.csv:
            tables = sheet.sheet_tables(session, period=period or "",
                                        sheet=sheet_name or "engagement")
            content = sheet.write_csv(tables[0]) if tables else "MEMBER\n"
        else:
            data = records_data(session, period=period)
            content = (json.dumps(to_json_ready(data), indent=2, ensure_ascii=False) + "\n"
                       if format == RecordsFormat.json else dump_yaml(data))
    if output is not None:
        if isinstance(content, bytes):
            output.write_bytes(content)
        else:
            output.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        sys.stdout.buffer.write(content)
    else:
        typer.echo(content, nl=False)


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="viewer, editor or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses it; shown in history.")],
    expires_in: Annotated[int | None, typer.Option("--expires-in", min=1,
                                                   help="Days until it expires.")] = None,
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="MANDATE, MANDATE:LINE or MANDATE:MEASURE; repeat for several. "
        "None: every mandate.")] = None,
    person: Annotated[str | None, typer.Option(
        help="The person the token speaks for, as plans name owners.")] = None,
) -> None:
    """Create a token and print it, alone, on stdout. It is not shown again."""
    try:
        with unit_of_work(_database()) as session:
            reach = scopes.granted(session, scope or [], by=EVERYWHERE, field="--scope",
                                   public_read=True)
            token, secret = tokens.create_token(session, name=name, role=role,
                                                expires_in_days=expires_in, reach=reach,
                                                person=person)
            audit.record(session, actor=CLI_ACTOR, action="token.create", target=name,
                         detail={"role": role.value, "expires_at": token.expires_at,
                                 "scopes": reach.texts(), "person": person})
    except InvalidInput as error:
        raise _fail("; ".join(error.lines()), EXIT_UNUSABLE_INPUT) from None
    except PlanpulseError as error:
        raise _fail(error.detail) from None
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    with unit_of_work(_database()) as session:
        for token in tokens.list_tokens(session):
            state = ("revoked" if token.revoked_at else
                     f"expires {token.expires_at:%Y-%m-%d}" if token.expires_at else "active")
            reach = " ".join(token.scopes) if token.scopes else "everything"
            typer.echo(f"{token.name}\t{token.role}\t{state}\tcreated "
                       f"{token.created_at:%Y-%m-%d}\t{reach}")


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument()]) -> None:
    """Revoke a token by name; requests with it get 401 from then on."""
    try:
        with unit_of_work(_database()) as session:
            tokens.revoke_token(session, name=name)
            audit.record(session, actor=CLI_ACTOR, action="token.revoke", target=name)
    except PlanpulseError as error:
        raise _fail(error.detail) from None
    typer.echo(f"revoked {name}")


@app.command("report")
def report_command(
    mandate: Annotated[str, typer.Argument(help="The mandate's code, e.g. 2018-2020.")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.md,
    part: Annotated[Part | None, typer.Option(
        help="Only this part (default: all; CSV: implementation).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="A date or ISO 8601 time: the statuses as they stood then.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Write a mandate's report: the annual report's implementation table with its status
    symbols, the progress per action line and the indicators, as md, csv, xlsx or html."""
    from app.reports.build import build_report
    from app.reports.render import render
    from app.services.lookup import get_mandate
    from app.services.periods import parse_instant

    if format == ReportFormat.xlsx and output is None and sys.stdout.isatty():
        raise _fail("an xlsx workbook is binary: send it to a file with --output FILE.xlsx",
                    EXIT_UNUSABLE_INPUT)
    settings = get_settings()
    try:
        moment = parse_instant(as_of, field="as_of") if as_of else None
    except InvalidInput as error:
        raise _fail("; ".join(error.lines()), EXIT_UNUSABLE_INPUT) from None
    try:
        with unit_of_work(_database()) as session:
            report = build_report(
                session, mandate=get_mandate(session, code=mandate), as_of=moment,
                thresholds=settings.thresholds)
    except PlanpulseError as error:
        raise _fail(error.detail) from None
    document = render(report, format, part)
    if output is not None:
        output.write_bytes(document)
        typer.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
