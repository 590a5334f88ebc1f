"""The rules: one function each, registered with its id, family and default severity.

Ids are ``family.name`` and stable: configuration, JUnit test names and CI scripts use
them. Each rule reports at most one finding per item (a deliverable, an indicator...), and
counts the items it judged, which the coverage summary shows. docs/ci.md lists them all.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from app.coverage.model import Config, ItemKind, PlanInput, Severity, ThresholdsWhen
from app.models.enums import GENDER_CATEGORIES, Status
from app.schemas.derived import ActivitiesOf, DerivedSpec, EngagementOf, MembersOf, WomenShareOf
from app.schemas.figures import agrees_with_printed
from app.schemas.plan_file import (
    ActionLineSpec,
    DeliverableSpec,
    IndicatorSpec,
    MandateSpec,
    MeasureSpec,
)
from app.schemas.records_file import ActivitySpec, EngagementSpec, RecordsFile
from app.services.plan.quantities import actual_of, latest_values, short_of_target
from app.services.rollups.rules import Policy, Totals, totals_of

FAMILIES = ("structure", "measure", "deliverable", "indicator", "theme", "figures", "records")
OPEN = frozenset({Status.in_progress, Status.not_started, Status.not_achieved})
"""Statuses still expected to move: every one but completed and cancelled."""
MANDATE_PERIOD = "mandate"

THRESHOLD_FIGURES = {
    "mandate-progress": ("mandate", "progress"),
    "mandate-completion-rate": ("mandate", "completion_rate"),
    "action-line-progress": ("action_line", "progress"),
    "action-line-completion-rate": ("action_line", "completion_rate"),
}
"""The figures a threshold can be set on: the configuration key → (scope, figure)."""


@dataclass(frozen=True)
class Hit:
    """A finding before the engine stamps it with its rule and severity."""

    kind: ItemKind
    item: str
    path: str | None
    message: str


@dataclass
class Outcome:
    hits: list[Hit] = field(default_factory=list)
    counts: list[tuple[str, int, int]] = field(default_factory=list)
    """Coverage summary lines: (label, items passing, items judged)."""
    skipped: str | None = None


@dataclass(frozen=True)
class Context:
    """A plan input with the configuration and the date it is judged at."""

    input: PlanInput
    config: Config
    as_of: date

    @property
    def mandate(self) -> MandateSpec:
        return self.input.plan.mandate

    @cached_property
    def lines(self) -> list[tuple[str, ActionLineSpec]]:
        return [(f"action_lines[{i}]", line)
                for i, line in enumerate(self.input.plan.action_lines)]

    @cached_property
    def measures(self) -> list[tuple[str, ActionLineSpec, MeasureSpec]]:
        return [(f"{path}.measures[{j}]", line, measure)
                for path, line in self.lines for j, measure in enumerate(line.measures)]

    @cached_property
    def deliverables(self) -> list[tuple[str, MeasureSpec, DeliverableSpec]]:
        return [(f"{path}.deliverables[{k}]", measure, deliverable)
                for path, _line, measure in self.measures
                for k, deliverable in enumerate(measure.deliverables)]

    @cached_property
    def indicators(self) -> list[tuple[str, IndicatorSpec]]:
        return [(f"indicators[{i}]", indicator)
                for i, indicator in enumerate(self.input.plan.indicators)]

    @cached_property
    def years(self) -> list[int]:
        """The calendar years the mandate's dates touch."""
        return list(range(self.mandate.start_date.year, self.mandate.end_date.year + 1))

    @cached_property
    def ended_years(self) -> list[int]:
        """The mandate's years whose last day is before ``as_of``."""
        return [year for year in self.years if date(year, 12, 31) < self.as_of]

    @cached_property
    def policy(self) -> Policy:
        policy = self.input.plan.rollup_policy
        return Policy(in_progress_credit=policy.in_progress_credit,
                      not_achieved_counts=policy.not_achieved_counts)


@dataclass(frozen=True)
class Rule:
    id: str
    default: Severity
    checks: str
    """What the rule checks, for the docs and ``--list-rules``."""
    fix: str
    run: Callable[[Context], Outcome]

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


RULES: dict[str, Rule] = {}
"""Every rule by id, in the order reports list them."""


def rule(rule_id: str, default: Severity, checks: str, fix: str
         ) -> Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]:
    def register(run: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        assert rule_id.split(".", 1)[0] in FAMILIES and rule_id not in RULES, rule_id
        RULES[rule_id] = Rule(rule_id, default, checks, fix, run)
        return run
    return register


def tally(label: str, judged: int, hits: list[Hit]) -> Outcome:
    return Outcome(hits=hits, counts=[(label, judged - len(hits), judged)])


def _years(years: Iterable[int]) -> str:
    return ", ".join(f"{year:04d}" for year in years)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# Structure ------------------------------------------------------------------------------

@rule("structure.action-line-without-measures", Severity.error,
      "An action line has no measure.",
      "Add the measures that carry the line out, or remove the line.")
def action_line_without_measures(ctx: Context) -> Outcome:
    hits = [Hit("action_line", line.code, path,
                f"action line {line.code} has no measures: add the measures that carry it "
                "out, or remove the line")
            for path, line in ctx.lines if not line.measures]
    return tally("action lines with measures", len(ctx.lines), hits)


@rule("structure.measure-without-deliverables", Severity.error,
      "A measure has no deliverable.",
      "Add the deliverables that show the measure is done, or remove the measure.")
def measure_without_deliverables(ctx: Context) -> Outcome:
    hits = [Hit("measure", measure.code, path,
                f"measure {measure.code} (action line {line.code}) has no deliverables: add "
                "the deliverables that show it is done, or remove the measure")
            for path, line, measure in ctx.measures if not measure.deliverables]
    return tally("measures with deliverables", len(ctx.measures), hits)


@rule("structure.duplicate-code", Severity.error,
      "The same code is used by two items of the plan's tree (action lines, measures, "
      "deliverables), of one kind or of two. Two of one kind can only be in a plan file: "
      "import refuses it, `planpulse check` reports it. Indicators are not compared.",
      "Give each action line, measure and deliverable a code of its own.")
def duplicate_code(ctx: Context) -> Outcome:
    used: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path, line in ctx.lines:
        used[line.code].append(("action line", path))
    for path, _line, measure in ctx.measures:
        used[measure.code].append(("measure", path))
    for path, _measure, deliverable in ctx.deliverables:
        used[deliverable.code].append(("deliverable", path))
    hits = []
    for code, places in used.items():
        if len(places) > 1:
            where = "; ".join(f"{kind} {path}" for kind, path in places)
            hits.append(Hit("code", code, places[1][1],
                            f"code {code} is used {len(places)} times ({where}): give each "
                            "item a code of its own"))
    return tally("codes used once", len(used), hits)


def under_prefix(code: str, parent: str) -> bool:
    """Whether ``code`` extends its parent's code: L1M2 under L1, SO1.1 under SO1; not
    L10M1 under L1 (a digit that continues the parent's number)."""
    if len(code) <= len(parent) or not code.startswith(parent):
        return False
    return not (parent[-1].isdigit() and code[len(parent)].isdigit())


@rule("structure.code-prefix", Severity.warning,
      "In a plan that prefixes codes, a code that does not begin with its parent's code. "
      "Measures and deliverables are judged level by level: a level prefixes codes when at "
      "least half of its codes begin with their parent's (L1 → L1M1 → L1M1D1; SO1 → SO1.1); "
      "a level that does not is not judged.",
      "Rename the item to begin with its parent's code, or move it under the parent it "
      "belongs to.")
def code_prefix(ctx: Context) -> Outcome:
    levels: list[tuple[ItemKind, str, list[tuple[str, str, str]]]] = [
        ("measure", "action line",
         [(path, measure.code, line.code) for path, line, measure in ctx.measures]),
        ("deliverable", "measure",
         [(path, d.code, measure.code) for path, measure, d in ctx.deliverables]),
    ]
    hits: list[Hit] = []
    judged = 0
    for kind, parent_kind, items in levels:
        prefixed = sum(under_prefix(code, parent) for _path, code, parent in items)
        if not items or 2 * prefixed < len(items):
            continue
        judged += len(items)
        hits += [Hit(kind, code, path,
                     f"{kind} {code} does not begin with the code of its {parent_kind} "
                     f"{parent}, as most {kind} codes in this plan do: rename it to begin "
                     f"with {parent}, or move it under the {parent_kind} it belongs to")
                 for path, code, parent in items if not under_prefix(code, parent)]
    if not judged:
        return Outcome()
    return tally("measures and deliverables under their parent's code", judged, hits)


# Measures -------------------------------------------------------------------------------

# Off by default: plans written before measures had owners (the bundled one among them)
# name none, and a new rule must not fail the CI that checks them.
@rule("measure.owner-missing", Severity.off,
      "A measure has no owner (the person or team responsible for it as a whole). Opt-in.",
      "Set the measure's `owner` to the person or team responsible.")
def measure_owner_missing(ctx: Context) -> Outcome:
    hits = [Hit("measure", m.code, path,
                f"measure {m.code} has no owner: set owner to the person or team "
                "responsible")
            for path, _line, m in ctx.measures if m.owner is None]
    return tally("measures with an owner", len(ctx.measures), hits)


# Deliverables ---------------------------------------------------------------------------

def _not_cancelled(ctx: Context) -> list[tuple[str, MeasureSpec, DeliverableSpec]]:
    return [entry for entry in ctx.deliverables if entry[2].status != Status.cancelled]


@rule("deliverable.owner-missing", Severity.error,
      "A deliverable that is not cancelled has no owner.",
      "Set `owner` to the person or team responsible.")
def owner_missing(ctx: Context) -> Outcome:
    judged = _not_cancelled(ctx)
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} has no owner: set owner to the person or team "
                "responsible")
            for path, _measure, d in judged if d.owner is None]
    return tally("deliverables with an owner", len(judged), hits)


@rule("deliverable.due-date-missing", Severity.error,
      "A deliverable that is not cancelled has no due date.",
      "Set `due_date` (YYYY-MM-DD).")
def due_date_missing(ctx: Context) -> Outcome:
    judged = _not_cancelled(ctx)
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} has no due date: set due_date (YYYY-MM-DD)")
            for path, _measure, d in judged if d.due_date is None]
    return tally("deliverables with a due date", len(judged), hits)


@rule("deliverable.overdue", Severity.error,
      "A deliverable that is not completed or cancelled has a due date before the check's "
      "date (`--as-of`, default today). Due on that date is not overdue.",
      "Complete it and record the status, or agree a new `due_date`.")
def overdue(ctx: Context) -> Outcome:
    judged = [(path, d) for path, _measure, d in ctx.deliverables
              if d.status in OPEN and d.due_date is not None]
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} was due on {d.due_date}, "
                f"{(ctx.as_of - d.due_date).days} day(s) before {ctx.as_of}, and is "
                f"{d.status}: complete it and record the status, or agree a new due_date")
            for path, d in judged if d.due_date is not None and d.due_date < ctx.as_of]
    return tally("open deliverables with a due date not passed", len(judged), hits)


@rule("deliverable.in-progress-without-percent", Severity.warning,
      "A deliverable in_progress has no percent_complete (progress then counts it at the "
      "rollup policy's credit, 50% by default).",
      "Set `percent_complete` (0-100).")
def in_progress_without_percent(ctx: Context) -> Outcome:
    judged = [(path, d) for path, _measure, d in ctx.deliverables
              if d.status == Status.in_progress]
    credit = f"{ctx.policy.in_progress_credit * 100:g}%"
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} is in_progress without percent_complete (progress "
                f"counts it as {credit} done): set percent_complete (0-100)")
            for path, d in judged if d.percent_complete is None]
    return tally("deliverables in progress with percent_complete", len(judged), hits)


@rule("deliverable.completed-short-of-target", Severity.warning,
      "A deliverable marked completed states a quantity (`quantity.target`) that its actual "
      "falls short of: the actual typed in `quantity.actual`, or the latest value of the "
      "indicator named in `quantity.indicator` (a derived indicator is read from the records "
      "when the check reads the service; from a plan file it is not judged).",
      "Record the missing actual, correct the target, or set the status the deliverable "
      "really has.")
def completed_short_of_target(ctx: Context) -> Outcome:
    latest = _latest_indicator_values(ctx)
    judged, hits = 0, []
    for path, _measure, d in ctx.deliverables:
        if d.status != Status.completed or d.quantity is None:
            continue
        quantity = d.quantity.model_dump()
        actual = actual_of(quantity, latest)
        if actual is None:
            continue
        judged += 1
        if short_of_target(quantity, actual):
            unit = f" {d.quantity.unit}" if d.quantity.unit else ""
            source = (f" (indicator {d.quantity.indicator})" if d.quantity.indicator else "")
            hits.append(Hit("deliverable", d.code, f"{path}.quantity",
                            f"deliverable {d.code} is completed but states "
                            f"{d.quantity.target:g}{unit} and has {actual:g}{source}: "
                            "record the missing actual, correct the target, or set the "
                            "status it really has"))
    return tally("completed deliverables with their stated quantity", judged, hits)


def _latest_indicator_values(ctx: Context) -> dict[str, float]:
    """Each indicator's latest value: as read from the service when given (derived ones
    included), else the typed values of the plan file."""
    if ctx.input.indicator_values is not None:
        return latest_values((code, by_period.items())
                             for code, by_period in ctx.input.indicator_values.items())
    return latest_values((indicator.code, [(v.period, v.value) for v in indicator.values])
                         for _path, indicator in ctx.indicators)


@rule("deliverable.stale", Severity.warning,
      "A deliverable that is not completed or cancelled has had no status change for "
      "`stale-after-days` days (default 90) or more at the check's date. The last change is "
      "the latest status-history entry's date on the service; for a plan file, its `as_of` "
      "(without `as_of` the rule is skipped).",
      "Record where it stands: a new status or percent_complete (an unchanged status is not "
      "recorded as a change); one that will not be done can be cancelled.")
def stale(ctx: Context) -> Outcome:
    last_change = ctx.input.last_change
    if last_change is None:
        return Outcome(skipped="the date of each deliverable's last status change is "
                       "unknown: the plan file has no as_of")
    limit = ctx.config.stale_after_days
    judged = [(path, d, last_change[d.code]) for path, _measure, d in ctx.deliverables
              if d.status in OPEN and d.code in last_change]
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} ({d.status}) has had no status change for "
                f"{(ctx.as_of - last).days} days, since {last} (limit {limit}): record where "
                "it stands (a new status or percent_complete), or cancel it if it will not "
                "be done")
            for path, d, last in judged if (ctx.as_of - last).days >= limit]
    return tally(f"open deliverables with a status change in the last {limit} days",
                 len(judged), hits)


@rule("deliverable.evidence-missing", Severity.off,
      "A completed deliverable whose current status entry has no evidence_url. Opt-in. "
      "Judged on the service only: a plan file records no evidence (skipped).",
      "Record the completed status with an `evidence_url` "
      "(POST /api/v1/mandates/{mandate}/deliverables/{code}/status).")
def evidence_missing(ctx: Context) -> Outcome:
    evidence = ctx.input.has_evidence
    if evidence is None:
        return Outcome(skipped="evidence is not recorded in a plan file; check the service "
                       "with --url")
    judged = [(path, d) for path, _measure, d in ctx.deliverables
              if d.status == Status.completed and d.code in evidence]
    hits = [Hit("deliverable", d.code, path,
                f"deliverable {d.code} is completed without evidence: record its status "
                "with an evidence_url")
            for path, d in judged if not evidence[d.code]]
    return tally("completed deliverables with evidence", len(judged), hits)


# Indicators -----------------------------------------------------------------------------

def covers_year(periods: Iterable[str], year: int) -> bool:
    """A year is covered by a period of that year (the year, a quarter or a month in it)
    or by one for the whole mandate."""
    label = f"{year:04d}"
    return any(period == MANDATE_PERIOD or period[:4] == label for period in periods)


def period_dates(period: str, mandate: MandateSpec) -> tuple[date, date] | None:
    """The first and last day of a period; None for a year that no calendar has (0000)."""
    if period == MANDATE_PERIOD:
        return mandate.start_date, mandate.end_date
    year = int(period[:4])
    if year < 1:
        return None
    if len(period) == 4:
        first, last = 1, 12
    elif "-Q" in period:
        quarter = int(period[-1])
        first, last = 3 * quarter - 2, 3 * quarter
    else:
        first = last = int(period[5:7])
    end = date(year, 12, 31) if last == 12 else date(year, last + 1, 1) - timedelta(days=1)
    return date(year, first, 1), end


@rule("indicator.target-missing", Severity.error,
      "An indicator has no target for a year of the mandate (each calendar year its dates "
      "touch). A target for the year, for a quarter or month of it, or for the whole "
      "mandate (`period: mandate`) covers the year.",
      "Add `targets` for the years listed, or one for `period: mandate`.")
def target_missing(ctx: Context) -> Outcome:
    hits = []
    for path, indicator in ctx.indicators:
        periods = [target.period for target in indicator.targets]
        missing = [year for year in ctx.years if not covers_year(periods, year)]
        if missing:
            hits.append(Hit("indicator", indicator.code, path,
                            f"indicator {indicator.code} has no target for {_years(missing)}: "
                            "add targets for these years, or one for period: mandate"))
    return tally("indicators with a target for every year of the mandate",
                 len(ctx.indicators), hits)


@rule("indicator.baseline-missing", Severity.warning,
      "An indicator has no baseline.",
      "Add `baseline: {period, value}`: the starting point the targets are measured from.")
def baseline_missing(ctx: Context) -> Outcome:
    hits = [Hit("indicator", indicator.code, path,
                f"indicator {indicator.code} has no baseline: add baseline: {{period, value}}, "
                "the starting point")
            for path, indicator in ctx.indicators if indicator.baseline is None]
    return tally("indicators with a baseline", len(ctx.indicators), hits)


@rule("indicator.value-missing", Severity.error,
      "An indicator has no value for a year of the mandate that has ended (its 31 December "
      "is before the check's date). A value for the year, a quarter or month of it, or the "
      "whole mandate covers the year.",
      "Record the value measured for each year listed.")
def value_missing(ctx: Context) -> Outcome:
    # A derived indicator's values come from the records: records.derived-without-records.
    judged = [(path, indicator) for path, indicator in ctx.indicators
              if indicator.derived is None]
    hits = []
    for path, indicator in judged:
        periods = [value.period for value in indicator.values]
        missing = [year for year in ctx.ended_years if not covers_year(periods, year)]
        if missing:
            hits.append(Hit("indicator", indicator.code, path,
                            f"indicator {indicator.code} has no value for {_years(missing)}, "
                            f"which ended before {ctx.as_of}: record the values measured"))
    return tally("indicators with a value for every ended year", len(judged), hits)


@rule("indicator.split-missing", Severity.error,
      "An indicator declares a split (e.g. `split: gender`) and one of its values has no "
      "`parts` (counts) nor `shares` (percent as printed).",
      "Break each value listed down by the split's categories (gender: women, men, other, "
      "unknown) in `parts`, or give the printed percentages in `shares`.")
def split_missing(ctx: Context) -> Outcome:
    judged = [(path, indicator) for path, indicator in ctx.indicators if indicator.split]
    hits = []
    for path, indicator in judged:
        missing = sorted(value.period for value in indicator.values
                         if value.parts is None and value.shares is None)
        if missing:
            hits.append(Hit("indicator", indicator.code, path,
                            f"indicator {indicator.code} is split by {indicator.split} but its "
                            f"value for {', '.join(missing)} has no parts: break it down by "
                            f"{', '.join(GENDER_CATEGORIES)}"))
    return tally("split indicators with every value broken down", len(judged), hits)


@rule("indicator.period-outside-mandate", Severity.error,
      "An indicator has a target or a value for a period that does not overlap the "
      "mandate's start_date..end_date (baselines are not judged: they often precede it).",
      "Correct the period, or remove the target or value.")
def period_outside_mandate(ctx: Context) -> Outcome:
    mandate = ctx.mandate
    hits = []
    for path, indicator in ctx.indicators:
        # Sorted: a stored plan lists periods in order, a file in any order.
        outside = [f"{kind} {period}"
                   for kind, entries in (("target", indicator.targets),
                                         ("value", indicator.values))
                   for period in sorted(entry.period for entry in entries)
                   if not _inside(period, mandate)]
        if outside:
            hits.append(Hit("indicator", indicator.code, path,
                            f"indicator {indicator.code} has {_and(outside)} outside the "
                            f"mandate ({mandate.start_date} to {mandate.end_date}): correct "
                            "the period, or remove it"))
    return tally("indicators with every period inside the mandate", len(ctx.indicators), hits)


def _inside(period: str, mandate: MandateSpec) -> bool:
    dates = period_dates(period, mandate)
    return dates is not None and dates[0] <= mandate.end_date and dates[1] >= mandate.start_date


# Themes ---------------------------------------------------------------------------------

@rule("theme.coverage", Severity.error,
      "For each theme configured (`[themes]`, tag = minimum share), the share of action "
      "lines with at least one deliverable, not cancelled, tagged with it is below the "
      "minimum. Checks nothing until a theme is configured.",
      "Tag the relevant deliverables of the action lines listed, or add deliverables for "
      "the theme.")
def theme_coverage(ctx: Context) -> Outcome:
    outcome = Outcome()
    total = len(ctx.lines)
    for tag, minimum in sorted(ctx.config.themes.items()):
        covered = [line.code for _path, line in ctx.lines
                   if any(tag in d.tags and d.status != Status.cancelled
                          for measure in line.measures for d in measure.deliverables)]
        outcome.counts.append((f"action lines with a deliverable tagged {tag}",
                               len(covered), total))
        share = round(len(covered) / total, 4) if total else None
        if share is not None and share < minimum:
            lacking = [line.code for _path, line in ctx.lines if line.code not in covered]
            outcome.hits.append(Hit(
                "theme", tag, None,
                f"theme {tag}: {len(covered)} of {total} action lines ({share:.1%}) have a "
                f"deliverable tagged {tag}, below the minimum {minimum:.1%}: tag the "
                f"relevant deliverables of {', '.join(lacking)}"))
    return outcome


# Figures --------------------------------------------------------------------------------

def _figures(ctx: Context, scope: str, items: list[tuple[ItemKind, str, str | None, Totals]],
             what: str) -> Outcome:
    wanted = {key: minimum for key, minimum in sorted(ctx.config.thresholds.items())
              if THRESHOLD_FIGURES[key][0] == scope}
    if not wanted:
        return Outcome()
    if (ctx.config.thresholds_when == ThresholdsWhen.closed
            and ctx.mandate.end_date >= ctx.as_of):
        return Outcome(skipped=f"thresholds apply once the mandate has ended (when = closed); "
                       f"it ends on {ctx.mandate.end_date}")
    hits, judged = [], 0
    for kind, code, path, totals in items:
        figures = {key: getattr(totals, THRESHOLD_FIGURES[key][1]) for key in wanted}
        if all(value is None for value in figures.values()):
            continue  # nothing counted: no figure to judge
        judged += 1
        below = [f"{THRESHOLD_FIGURES[key][1]} {value:g} is below the minimum {wanted[key]:g}"
                 for key, value in figures.items() if value is not None and value < wanted[key]]
        if below:
            hits.append(Hit(kind, code, path,
                            f"{what} {code}: {_and(below)}: complete deliverables and record "
                            "their statuses, or revisit the threshold"))
    return tally(f"{what}s at or above the thresholds", judged, hits)


@rule("figures.mandate-below-threshold", Severity.error,
      "The mandate's progress or completion_rate (the formulas of "
      "docs/rollups.md, with the plan's rollup policy) is below the minimum set by "
      "`mandate-progress` or "
      "`mandate-completion-rate` under `[thresholds]`; with `when = \"closed\"`, only once "
      "the mandate's end_date is before the check's date. Checks nothing until set.",
      "Complete deliverables and record their statuses (or revisit the threshold).")
def mandate_below_threshold(ctx: Context) -> Outcome:
    totals = totals_of(((d.status, d.percent_complete, d.weight)
                        for _path, _measure, d in ctx.deliverables), ctx.policy)
    return _figures(ctx, "mandate", [("mandate", ctx.mandate.code, "mandate", totals)],
                    "mandate")


@rule("figures.action-line-below-threshold", Severity.error,
      "An action line's progress or completion_rate is below the minimum set by "
      "`action-line-progress` or `action-line-completion-rate` under `[thresholds]` (same "
      "`when`). Lines with nothing counted are not judged. Checks nothing until set.",
      "Complete the line's deliverables and record their statuses (or revisit the "
      "threshold).")
def action_line_below_threshold(ctx: Context) -> Outcome:
    items: list[tuple[ItemKind, str, str | None, Totals]] = [
        ("action_line", line.code, path,
         totals_of(((d.status, d.percent_complete, d.weight)
                    for measure in line.measures for d in measure.deliverables), ctx.policy))
        for path, line in ctx.lines]
    return _figures(ctx, "action_line", items, "action line")


# Records --------------------------------------------------------------------------------

NO_RECORDS = "no records given: pass a records file with --records"


def _roll_periods(records: RecordsFile) -> list[str]:
    """The periods that have a roll (a member with an engagement entry for it), in order."""
    return sorted({entry.period for entry in records.engagement})


def _year_of(period: str) -> int | None:
    """The calendar year of a period of the records; None for ``mandate``."""
    return None if period == MANDATE_PERIOD else int(period[:4])


@rule("records.kind-unfilled", Severity.warning,
      "An engagement kind that no member has a value of for a period that has a roll (a "
      "member with an engagement entry for it): one finding per kind and period. Skipped "
      "without records.",
      "Fill the kind's column for the period, or remove the kind if it is no longer "
      "recorded.")
def kind_unfilled(ctx: Context) -> Outcome:
    records = ctx.input.records
    if records is None:
        return Outcome(skipped=NO_RECORDS)
    filled = {(kind, entry.period) for entry in records.engagement for kind in entry.values}
    periods = _roll_periods(records)
    hits = [Hit("engagement_kind", kind.code, None,
                f"engagement kind {kind.code} has no value for any member on the {period} "
                f"roll: fill its column for {period}, or remove the kind if it is no longer "
                "recorded")
            for kind in records.engagement_kinds for period in periods
            if (kind.code, period) not in filled]
    return tally("engagement kinds filled for each period with a roll",
                 len(records.engagement_kinds) * len(periods), hits)


def _activity_outside(activity: ActivitySpec, mandate: MandateSpec) -> bool:
    if activity.start_date is not None:
        return not mandate.start_date <= activity.start_date <= mandate.end_date
    return activity.period is not None and not _inside(activity.period, mandate)


@rule("records.activity-outside-mandate", Severity.error,
      "An activity linked to the plan's mandate (`links[].mandate`) whose start_date, or "
      "without one its period, falls outside the mandate's start_date..end_date. Skipped "
      "without records.",
      "Correct the activity's date or period, or link it to the mandate it belongs to.")
def activity_outside_mandate(ctx: Context) -> Outcome:
    records = ctx.input.records
    if records is None:
        return Outcome(skipped=NO_RECORDS)
    mandate = ctx.mandate
    judged = [activity for activity in records.activities
              if any(link.mandate == mandate.code for link in activity.links)]
    hits = [Hit("activity", activity.code, None,
                f"activity {activity.code} ({activity.title}) is linked to mandate "
                f"{mandate.code} but is dated "
                f"{activity.start_date or 'in ' + activity.counted_in}, outside the mandate "
                f"({mandate.start_date} to {mandate.end_date}): correct its date, or link it "
                "to the mandate it belongs to")
            for activity in judged if _activity_outside(activity, mandate)]
    return tally(f"activities linked to {mandate.code} inside the mandate", len(judged), hits)


@rule("records.member-not-on-roll", Severity.error,
      "A member named in an activity's `members` that has no engagement entry (is not on the "
      "roll) for the period the activity counts in, or that is not a member at all. One "
      "finding per activity and member. Skipped without records.",
      "Add the member's engagement entry for the period (or the member), or correct the "
      "activity's members.")
def member_not_on_roll(ctx: Context) -> Outcome:
    records = ctx.input.records
    if records is None:
        return Outcome(skipped=NO_RECORDS)
    known = {member.code for member in records.members}
    roll = {(entry.member, entry.period) for entry in records.engagement}
    hits, judged = [], 0
    for activity in records.activities:
        period = activity.counted_in
        for taking_part in activity.members:
            code = taking_part.member
            judged += 1
            if code not in known:
                hits.append(Hit("member", code, None,
                                f"member {code}, {taking_part.role} of activity "
                                f"{activity.code}, is not in members: add the member, or "
                                "correct the activity's members"))
            elif (code, period) not in roll:
                hits.append(Hit("member", code, None,
                                f"member {code}, {taking_part.role} of activity "
                                f"{activity.code} ({period}), is not on the {period} roll: add "
                                f"its engagement entry for {period}, or correct the "
                                "activity's members"))
    return tally("members of activities on the activity's roll", judged, hits)


def _title_key(title: str) -> str:
    return " ".join(title.split()).casefold()


@rule("records.duplicate-activity", Severity.error,
      "Two activities with the same title (ignoring case and spacing) and the same "
      "start_date: one is likely entered twice, and counted twice. Activities without a "
      "start_date are not compared. Skipped without records.",
      "Remove the copy, or tell the two apart in their titles.")
def duplicate_activity(ctx: Context) -> Outcome:
    records = ctx.input.records
    if records is None:
        return Outcome(skipped=NO_RECORDS)
    same: dict[tuple[str, date], list[ActivitySpec]] = defaultdict(list)
    for activity in records.activities:
        if activity.start_date is not None:
            same[(_title_key(activity.title), activity.start_date)].append(activity)
    hits = []
    for (_title, start_date), activities in same.items():
        if len(activities) > 1:
            codes = _and([activity.code for activity in activities])
            hits.append(Hit("activity", activities[1].code, None,
                            f"activities {codes} have the same title "
                            f"({activities[0].title!r}) and start_date {start_date}: remove "
                            "the copy, or tell them apart in their titles"))
    return tally("activities without a twin", len(same), hits)


def _supports(derived: DerivedSpec, year: int, entries: list[EngagementSpec],
              activities: list[ActivitySpec]) -> bool:
    """Whether the records of a year hold anything a derived indicator is computed from."""
    of = derived.of
    if isinstance(of, MembersOf | EngagementOf):
        kind = of.engagement
        return any(kind is None or kind in entry.values for entry in entries)
    if isinstance(of, ActivitiesOf):
        return any((of.kind is None or a.kind == of.kind)
                   and (of.mode is None or a.mode == of.mode) for a in activities)
    assert isinstance(of, WomenShareOf)
    return any((of.kind is None or a.kind == of.kind) and getattr(a, of.of) is not None
               for a in activities)


@rule("records.derived-without-records", Severity.warning,
      "A derived indicator (`derived:`) has nothing to be computed from in a year of the "
      "mandate for which the records hold a roll or an activity: no roll entry (with a "
      "value of its engagement kind, if it names one) for member counts and sums, no "
      "activity of its kind and mode for activity counts, none with its split counted for "
      "women_share. Skipped without records.",
      "Record the year's engagement or activities, or check the indicator's kind and "
      "mode.")
def derived_without_records(ctx: Context) -> Outcome:
    records = ctx.input.records
    if records is None:
        return Outcome(skipped=NO_RECORDS)
    entries: dict[int | None, list[EngagementSpec]] = defaultdict(list)
    for entry in records.engagement:
        entries[_year_of(entry.period)].append(entry)
    activities: dict[int | None, list[ActivitySpec]] = defaultdict(list)
    for activity in records.activities:
        activities[_year_of(activity.counted_in)].append(activity)
    recorded = [year for year in ctx.years if entries[year] or activities[year]]
    judged = [(path, indicator) for path, indicator in ctx.indicators if indicator.derived]
    hits = []
    for path, indicator in judged:
        assert indicator.derived is not None
        derived = indicator.derived
        missing = [year for year in recorded
                   if not _supports(derived, year, entries[year], activities[year])]
        if missing:
            given = derived.of.model_dump(mode="json", exclude_defaults=True)
            what = " ".join([derived.form, *(f"{key}={value}" for key, value in given.items())])
            hits.append(Hit("indicator", indicator.code, path,
                            f"indicator {indicator.code} is derived ({what}) but the records "
                            f"hold nothing it is computed from for {_years(missing)}: record "
                            "the engagement or activities of these years, or check its kind "
                            "and mode"))
    return tally("derived indicators with records for every year recorded", len(judged), hits)


@rule("records.typed-and-derived", Severity.warning,
      "A derived indicator also has typed values in force (recorded before it became "
      "derived): for their periods two figures exist, and only the derived one counts. A "
      "plan file can't hold both; the stored plan is judged.",
      "Compare the typed figure with what the records count; correct the records if the "
      "typed one was right.")
def typed_and_derived(ctx: Context) -> Outcome:
    typed = ctx.input.typed_values_of_derived
    if typed is None:
        return Outcome(skipped="the typed values stored for derived indicators are unknown")
    judged = [(path, indicator) for path, indicator in ctx.indicators if indicator.derived]
    hits = [Hit("indicator", indicator.code, path,
                f"indicator {indicator.code} is derived from the records but also has typed "
                f"values for {', '.join(typed[indicator.code])}: only the derived ones count; "
                "check them against the typed figure")
            for path, indicator in judged if typed.get(indicator.code)]
    return tally("derived indicators without typed values", len(judged), hits)


@rule("records.derived-differs-from-reported", Severity.warning,
      "A derived indicator's value for a period is not the figure a report printed for it "
      "(`reported`), as printed: to its decimals (rounded or truncated), or as its "
      "qualifier says (at_least, more_than, almost; about within 5%). Judged when the "
      "check reads the service, which computes the derived values; skipped for a file "
      "that has reported figures.",
      "Find what the records miss or hold in excess (docs/metropolis-records.md shows how "
      "the bundled differences were traced), or correct the reported figure.")
def derived_differs_from_reported(ctx: Context) -> Outcome:
    computed = ctx.input.indicator_values
    judged = [(path, indicator) for path, indicator in ctx.indicators
              if indicator.derived is not None and indicator.reported]
    label = "derived indicators agreeing with their reported figures"
    if computed is None:
        if not judged:
            return tally(label, 0, [])
        return Outcome(skipped="the derived values are computed only when the check reads "
                               "the service")
    hits = []
    for path, indicator in judged:
        values = computed.get(indicator.code, {})
        differing = [(figure, values[figure.period]) for figure in indicator.reported
                     if figure.period in values and not agrees_with_printed(
                         values[figure.period], figure.value, figure.qualifier)]
        if differing:
            said = "; ".join(f"{value:g} for {figure.period}, printed {figure.value:g}"
                             + (f" ({figure.source})" if figure.source else "")
                             for figure, value in differing)
            hits.append(Hit("indicator", indicator.code, f"{path}.reported",
                            f"indicator {indicator.code}: the records give {said}: find "
                            "what the records miss, or correct the reported figure"))
    return tally(label, len(judged), hits)
