"""Election configs: read a TOML file, check every key, and return typed, immutable objects.

The keys documented in the README are a contract other tools rely on. Every mistake raises
:class:`~simulator.errors.ConfigError` naming the file, the key path (``poll[1].shares.bt``) and the
bad value, so the CLI can print one line and exit with code 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .laws import LAW_METHODS, Law, parse_law

METHODS = ("dhondt", "sainte-lague", "modified-sainte-lague", "hare-niemeyer")
THRESHOLD_BASES = ("valid", "cast")
THRESHOLD_SCOPES = ("national", "district")
SWINGS = ("proportional", "uniform")
POOLINGS = ("pooled", "mixture", "latest")
OTHERS_MODES = ("split", "whole")
OTHERS = "others"  # the reserved poll bucket for every list a poll does not name
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# Polls are rounded: shares within this many points of 100 are normalised, further off is an error.
SHARE_SUM_TOLERANCE = 0.5
MAX_RUNS = 2**39  # the tallies' integer share sums have room for this many runs (tally.py)
# Sizes that set memory or time have bounds (README, "Limits"): every tally keeps a seat
# distribution per list (seats + 1 counters), so seats are bounded; vote counts are people, and
# below 1e12 every sum of them is exact in a float64; polls and past results more than these many
# days before the election say nothing a forecast can use (and the house-effect fit's time axis
# must stay short).
MAX_SEATS = 100_000
MAX_VOTES = 1e12
MAX_POLL_AGE_DAYS = 3653  # 10 years
MAX_PAST_RESULT_AGE_DAYS = 10958  # 30 years
# A sample size above this is more respondents than any poll has had: warned as a likely typo.
PLAUSIBLE_SAMPLE_SIZE = 1_000_000
QUOTA = "quota"  # a threshold of one seat's worth of votes (the Hare quota), as the Dutch law has it
# What each command needs of a config; the rest is checked too, but its mistakes are warnings.
ALLOCATE_SECTIONS = frozenset({"election", "party", "district", "result"})


@dataclass(frozen=True)
class Party:
    """One electoral list, identified everywhere by ``id``."""

    id: str
    name: str
    minority: bool = False
    threshold: float | None = None  # percent; None = the election's threshold
    color: str | None = None
    others_weight: float = 1.0  # relative weight in the split of a poll's "others" bucket
    members: tuple[str, ...] = ()  # an alliance's member parties (names): alliance_threshold


@dataclass(frozen=True)
class Rules:
    """How seats are allocated: everything the kernels need besides the votes."""

    seats: int
    majority: int
    method: str = "dhondt"
    threshold: float = 0.0  # percent
    threshold_base: str = "valid"
    minority_exempt: bool = False
    minority_coefficient: float = 1.0
    blocking_minority: int | None = None  # seats that block a qualified-majority vote, if any
    threshold_scope: str = "national"  # with districts: lists qualify on national or district votes
    threshold_quota: bool = False  # threshold = "quota": one seat's worth (of a district's, by scope)

    @property
    def coefficient_fraction(self) -> Fraction:
        """The minority coefficient as the exact decimal the user wrote (1.35 -> 27/20)."""
        return Fraction(repr(self.minority_coefficient)).limit_denominator(10**6)


@dataclass(frozen=True)
class OfficialResult:
    """An actual result: list votes, and optionally all ballots cast (invalid ones included).

    ``other_votes`` are the valid votes of lists the config does not name (``[result.votes]
    others``): they count in the base of a threshold on valid votes and never win seats.
    """

    votes: dict[str, float]
    votes_cast: float | None = None
    other_votes: float = 0.0
    # with districts: votes (districts x lists, config order) and each district's others + blank
    district_votes: np.ndarray | None = field(default=None, compare=False)
    district_rest: np.ndarray | None = field(default=None, compare=False)
    district_file: str | None = None  # the CSV, as the config names it

    @property
    def valid_votes(self) -> float:
        """All valid votes: the config's lists and the others."""
        return sum(self.votes.values()) + self.other_votes


@dataclass(frozen=True)
class District:
    id: str
    name: str
    seats: int
    threshold: float | None = None  # percent, with threshold_scope = "district"; None: the election's
    threshold_quota: bool = False  # its threshold was written "quota"


@dataclass(frozen=True)
class Baseline:
    """A previous election's district votes, which district shares swing from."""

    file: str  # the CSV, as the config names it
    parties: tuple[str, ...]  # its list ids
    votes: np.ndarray = field(compare=False)  # districts x parties
    rest: np.ndarray = field(compare=False)  # per district: others + blank
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list of today -> its sources


@dataclass(frozen=True)
class Poll:
    firm: str
    date: dt.date | None
    sample_size: float
    shares: dict[str, float]  # percent, normalised to sum to 100; may include OTHERS
    given: dict[str, float] = field(default_factory=dict, compare=False)  # as written, for round trips


@dataclass(frozen=True)
class PastResult:
    """A past election's result (percent shares) that anchors the polls' house effects."""

    date: dt.date
    shares: dict[str, float]  # percent, normalised to sum to 100; may include OTHERS
    given: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Model:
    """The vote model, every value effective (defaults resolved; see the README's config table).

    ``polling_error`` is "calibrated" (the shipped fit of ``electsim calibrate --fit``) or the
    scale the user gave; ``error_*`` are the shared polling error's effective parameters, and
    ``house_effects``, ``window_days`` and ``design_effect`` default to the calibration's choices,
    or to today's pure sampling model (off, every poll, 1) when ``polling_error = 0``.
    """

    prior: float = 0.5
    design_effect: float | str = 1.0  # a number, or "estimate"
    pooling: str = "pooled"
    half_life_days: float = 0.0
    invalid_share: float = 0.0  # percent of ballots cast that are invalid (for threshold_base = "cast")
    others: str = "split"  # "split": unnamed lists share the bucket; "whole": it wins no seats
    others_concentration: float = 10.0  # Dirichlet concentration of the split; smaller = noisier
    unnamed_share: float = 1.0  # percent: expected share of a list no poll names (x others_weight)
    swing: str = "proportional"  # with districts: how national draws move the baseline's shares
    district_noise: float = 0.1  # with districts: relative sd of each district share's own noise
    polling_error: str | float = 0.0  # "calibrated" or a scale; 0 = sampling error only
    error_scale: float = 0.0  # sd of the shock on the log scale for a list at 10 %, on election day
    error_df: float = math.inf  # Student-t degrees of freedom of the shock (inf = normal)
    error_size_exponent: float = 1.0  # the shock's sd in points grows as share ** this
    error_drift: float = 0.0  # shock variance grows by this fraction per 30 days before the election
    house_effects: bool = False
    window_days: float = 0.0  # polls ending more than this before the newest poll: house effects only

    @property
    def sampling_only(self) -> bool:
        """True when no layer beyond sampling error is on (today's pure sampling model)."""
        return self.error_scale == 0.0 and not self.house_effects and self.design_effect == 1.0

    def settings(self) -> dict:
        """Every effective value, JSON-ready (inf as "normal"), for reports and round trips."""
        out = dataclasses.asdict(self)
        if math.isinf(out["error_df"]):
            out["error_df"] = "normal"
        return out


@dataclass(frozen=True)
class Simulation:
    runs: int = 1_000_000
    seed: int | None = None
    chunk_size: int = 16_384


@dataclass(frozen=True)
class Scenario:
    """A variant of the rules, evaluated on the same draws (``[[scenario]]``; see
    :mod:`simulator.scenarios`): overrides of ``election``, ``party.<id>``, ``district.<id>``
    keys, and ``merge`` (a new list id -> the lists whose votes it sums)."""

    name: str
    overrides: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Coalition:
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Election:
    """A whole config file, checked."""

    path: str
    name: str
    date: dt.date | None
    rules: Rules
    parties: tuple[Party, ...]
    result: OfficialResult | None = None
    polls: tuple[Poll, ...] = ()
    model: Model = field(default_factory=Model)
    simulation: Simulation = field(default_factory=Simulation)
    coalitions: tuple[Coalition, ...] = ()
    past_results: tuple[PastResult, ...] = ()
    warnings: tuple[str, ...] = ()  # likely mistakes, for the CLI to print (see _likely_mistakes)
    districts: tuple[District, ...] = ()  # none: one national district
    baseline: Baseline | None = None
    scenarios: tuple[Scenario, ...] = ()
    law: "Law | None" = None  # a law of tiers or methods the one-tier kernels do not know

    @property
    def district_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.districts)
    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parties)

    def input_files(self) -> list[Path]:
        """Every file this election was read from: the config and the CSVs it names (outputs
        must not overwrite them)."""
        here = Path(self.path).parent
        named = [self.result.district_file if self.result else None,
                 self.baseline.file if self.baseline else None]
        return [Path(self.path)] + [here / f for f in named if f]

    def party(self, party_id: str) -> Party:
        for p in self.parties:
            if p.id == party_id:
                return p
        raise KeyError(party_id)


def load_config(path: str | Path, sections: frozenset[str] | None = None) -> Election:
    """Read and check an election config file; raise ConfigError on the first mistake. With
    ``sections`` (e.g. :data:`ALLOCATE_SECTIONS`), only mistakes in those top-level tables are
    errors; the others' become warnings (a command that does not use the polls does not fail
    over one)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        # a byte-order mark (some Windows editors write one) is not part of the TOML
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file") from None
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    if path.suffix.lower() == ".json":  # a report.json: re-run the config recorded in its settings
        return parse_config(_config_from_report(path, text), path, sections)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"malformed TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(path, None, "malformed TOML: arrays or tables nested too deeply") from None
    return parse_config(data, path, sections)


def _config_from_report(path: Path, text: str) -> dict:
    """The config document in a ``report.json`` or ``simulate --json`` file (``settings.config``),
    with its ISO dates turned back into dates."""
    try:
        doc = json.loads(text)
        data = doc["settings"]["config"]
    except RecursionError:
        raise ConfigError(path, None, "malformed JSON: nested too deeply") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(path, "settings.config", "a JSON config must be a report.json or "
                          "simulate --json file with its settings") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "settings.config", "must be a table (a JSON object) of the config's "
                          "sections" + shown_value(data))
    return dates_back(data, path)


def dates_back(data: dict, path) -> dict:
    """A config document's ISO date strings (:func:`config_document`) turned back into dates;
    anything of the wrong shape is left for :func:`parse_config` to name."""

    def to_date(table, key: str, where: str) -> None:
        if isinstance(table, dict) and isinstance(table.get(key), str):
            try:
                table[key] = dt.date.fromisoformat(table[key])
            except ValueError:
                raise ConfigError(path, f"settings.config.{where}", "not an ISO date"
                                  + shown_value(table[key])) from None

    to_date(data.get("election"), "date", "election.date")
    for section in ("poll", "past_result"):
        rows = data.get(section)
        for i, row in enumerate(rows if isinstance(rows, list) else []):
            to_date(row, "date", f"{section}[{i}].date")
    return data


def config_document(election: Election) -> dict:
    """The election as a config document (the TOML schema as a dict, dates as ISO strings, every
    model value effective), such that ``parse_config`` of it gives the same simulation."""
    r = election.rules
    el = {"name": election.name, "seats": r.seats, "majority": r.majority, "method": r.method,
          "threshold": QUOTA if r.threshold_quota else r.threshold, "threshold_base": r.threshold_base,
          "minority_exempt": r.minority_exempt, "minority_coefficient": r.minority_coefficient,
          "threshold_scope": r.threshold_scope}
    if election.date:
        el["date"] = election.date.isoformat()
    if election.law is not None:
        el.update(election.law.source["election"])
    if r.blocking_minority:
        el["blocking_minority"] = r.blocking_minority
    parties = []
    for p in election.parties:
        row = {"id": p.id, "name": p.name, "minority": p.minority, "others_weight": p.others_weight}
        row.update({k: v for k, v in (("threshold", p.threshold), ("color", p.color)) if v is not None})
        if p.members:
            row["members"] = list(p.members)
        parties.append(row)
    polls = []
    for p in election.polls:
        row = {"firm": p.firm, "sample_size": p.sample_size, "shares": dict(p.given or p.shares)}
        if p.date:
            row["date"] = p.date.isoformat()
        polls.append(row)
    model = election.model.settings()
    model["polling_error"] = model.pop("error_scale")  # the numbers, not the shipped file's name
    doc = {"election": el, "party": parties, "poll": polls, "model": model,
           "simulation": dataclasses.asdict(election.simulation),
           "coalition": [{"name": c.name, "members": list(c.members)} for c in election.coalitions]}
    if doc["simulation"]["seed"] is None:
        del doc["simulation"]["seed"]
    if election.past_results:
        doc["past_result"] = [{"date": p.date.isoformat(), "shares": dict(p.given or p.shares)}
                              for p in election.past_results]
    if election.scenarios:
        doc["scenario"] = [{"name": sc.name, **sc.overrides} for sc in election.scenarios]
    here = Path(election.path).parent  # files named as the config names them, made absolute
    if election.districts:
        doc["district"] = [{"id": d.id, "name": d.name, "seats": d.seats,
                            **({"threshold": QUOTA if d.threshold_quota else d.threshold}
                               if d.threshold is not None else {})}
                           for d in election.districts]
        if election.law is not None:
            law = election.law
            for k, row in enumerate(doc["district"]):
                if law.caps and law.caps[k]:
                    row["levelling"] = law.caps[k]
                if law.regions:
                    row["region"] = law.region_names[law.regions[k]]
    if election.law is not None and election.law.source["tier"]:
        doc["tier"] = election.law.source["tier"]
    if election.baseline is not None:
        doc["baseline"] = {"district_votes": str((here / election.baseline.file).resolve()),
                           "map": {k: list(v) for k, v in election.baseline.mapping.items()}}
    if election.result is not None:
        res = election.result
        if res.district_file is not None:
            doc["result"] = {"district_votes": str((here / res.district_file).resolve())}
            return doc
        votes = dict(res.votes)
        if res.other_votes:
            votes[OTHERS] = res.other_votes
        doc["result"] = {"votes": votes}
        if res.votes_cast is not None:
            doc["result"]["votes_cast"] = res.votes_cast
    return doc


def parse_config(data: dict[str, Any], path: str | Path = "<config>",
                 sections: frozenset[str] | None = None) -> Election:
    """Check an already-parsed TOML document (a dict) and build an Election. With ``sections``,
    a mistake in a top-level table not among them is a warning and the table is left out (see
    :func:`load_config`)."""
    c = _Checker(path)
    ignored: list[str] = []

    def section(name: str, parse, default):
        if sections is None or name in sections:
            return parse()
        try:
            return parse()
        except ConfigError as exc:
            ignored.append(f"{exc} (this command does not use [{name}]: ignored)")
            return default

    c.no_unknown(data, "", {"election", "party", "result", "poll", "past_result", "model", "simulation",
                            "coalition", "district", "baseline", "scenario", "tier"})
    el = c.table(data, "election", required=True)
    c.no_unknown(
        el,
        "election",
        {
            "name", "date", "seats", "majority", "method", "threshold", "threshold_base",
            "minority_exempt", "minority_coefficient", "blocking_minority", "threshold_scope",
            "first_divisor", "alliance_threshold", "district_route", "quota_excess", "quota_rounding",
        },
    )
    seats = c.integer(el, "election.seats", required=True, low=1, high=MAX_SEATS)
    majority = c.integer(el, "election.majority", default=seats // 2 + 1, low=1, high=seats)
    blocking = c.integer(el, "election.blocking_minority", default=None, low=1, high=seats)
    method = c.choice(el, "election.method", METHODS + tuple(m for m in LAW_METHODS if m not in METHODS),
                      default="dhondt")
    quota = el.get("threshold") == QUOTA
    threshold = (quota_threshold(seats) if quota else
                 c.number(el, "election.threshold", default=0.0, low=0.0, high_open=100.0,
                          what=f'a number or "{QUOTA}"'))
    base = c.choice(el, "election.threshold_base", THRESHOLD_BASES, default="valid")
    rules = Rules(
        seats=seats,
        majority=majority,
        method=method,
        threshold=threshold,
        threshold_base=base,
        minority_exempt=c.boolean(el, "election.minority_exempt", default=False),
        minority_coefficient=c.number(
            el, "election.minority_coefficient", default=1.0, low_open=0.0, high=100.0
        ),
        blocking_minority=blocking,
        threshold_scope=c.choice(el, "election.threshold_scope", THRESHOLD_SCOPES, default="national"),
        threshold_quota=quota,
    )
    name = c.string(el, "election.name", default=Path(str(path)).stem)
    date = c.date(el, "election.date")

    parties = _parse_parties(c, data)
    ids = [p.id for p in parties]
    districts = _parse_districts(c, data, rules)
    law = parse_law(c, data, el, rules, parties, districts,
                    c.array_of_tables(data, "district", required=False) or [])
    result = _parse_result(c, data, ids, rules, districts)
    baseline = section("baseline", lambda: _parse_baseline(c, data, ids, districts), None)
    polls = section("poll", lambda: _parse_polls(c, data, ids, date), [])
    past_results = section("past_result", lambda: _parse_past_results(c, data, ids, date), [])
    model = section("model", lambda: _parse_model(c, data), Model())
    simulation = section("simulation", lambda: _parse_simulation(c, data), Simulation())
    coalitions = section("coalition", lambda: _parse_coalitions(c, data, ids), [])
    warnings = _likely_mistakes(path, rules, parties, model, data, polls) + ignored
    scenarios = section("scenario", lambda: _parse_scenarios(c, data), [])
    if scenarios and law is not None:
        c.fail("scenario", "[[scenario]] variants of a law of [[tier]] tables (or of its methods) "
               "are not supported yet", len(scenarios))
    return Election(
        path=str(path),
        name=name,
        date=date,
        rules=rules,
        parties=tuple(parties),
        result=result,
        polls=tuple(polls),
        model=model,
        simulation=simulation,
        coalitions=tuple(coalitions),
        past_results=tuple(past_results),
        warnings=tuple(warnings),
        districts=tuple(districts),
        baseline=baseline,
        scenarios=tuple(scenarios),
        law=law,
    )


def _likely_mistakes(path, rules: Rules, parties: list[Party], model: Model, data: dict,
                     polls: list[Poll]) -> list[str]:
    """Values that are allowed but probably not meant: one sentence each, naming file and key."""
    out = []
    where = str(path)
    for i, poll in enumerate(polls):
        if poll.sample_size > PLAUSIBLE_SAMPLE_SIZE:
            out.append(f"{where}: {_poll_label(i, {'firm': poll.firm, 'date': poll.date})}.sample_size "
                       f"= {poll.sample_size:g} is more respondents than any poll has had (a typo?); "
                       "it makes this poll outweigh every other")
    for key, value in ([] if rules.threshold_quota else [("election.threshold", rules.threshold)]) + [
            (f"party {p.id!r}.threshold", p.threshold) for p in parties if p.threshold is not None]:
        if 0.0 < value < 1.0:
            out.append(f"{where}: {key} = {value:g} is in percent: {value:g} % is a tiny threshold; "
                       f"for {100 * value:g} % write {100 * value:g}")
    given = data.get("model") if isinstance(data.get("model"), dict) else {}
    if given.get("design_effect") == "estimate" and len(polls) < 3:
        out.append(f'{where}: model.design_effect = "estimate" needs at least 3 polls (got '
                   f"{len(polls)}); the design effect is 1")
    if rules.threshold_base == "cast" and "invalid_share" not in given:
        out.append(f'{where}: election.threshold_base = "cast" but model.invalid_share is not set, so '
                   "simulated elections have no invalid ballots and ballots cast = valid votes")
    return out


def _parse_parties(c: _Checker, data: dict) -> list[Party]:
    rows = c.array_of_tables(data, "party", required=True)
    if not rows:
        c.fail("party", "at least one [[party]] is needed", [])
    parties: list[Party] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        key = f"party {i + 1}" + (f" ({row['id']})" if isinstance(row.get("id"), str) else "")
        c.no_unknown(row, key, {"id", "name", "minority", "threshold", "color", "others_weight",
                                "members"})
        pid = c.string(row, f"{key}.id", required=True)
        if not _ID_RE.match(pid):
            c.fail(f"{key}.id", "ids use letters, digits, '_', '-' and '.'", pid)
        if pid == OTHERS:
            c.fail(f"{key}.id", f"'{OTHERS}' is reserved for the polls' bucket of unnamed lists", pid)
        if pid in seen:
            c.fail(f"{key}.id", "duplicate party id", pid)
        seen.add(pid)
        color = c.string(row, f"{key}.color", default=None)
        if color is not None and not _COLOR_RE.match(color):
            c.fail(f"{key}.color", "colours are '#rgb' or '#rrggbb'", color)
        parties.append(
            Party(
                id=pid,
                name=c.string(row, f"{key}.name", default=pid),
                minority=c.boolean(row, f"{key}.minority", default=False),
                threshold=c.number(row, f"{key}.threshold", default=None, low=0.0, high_open=100.0),
                color=color,
                others_weight=c.number(row, f"{key}.others_weight", default=1.0, low=0.0, high=1e6),
                members=_members(c, row, f"{key}.members"),
            )
        )
    return parties


def _members(c: _Checker, row: dict, key: str) -> tuple[str, ...]:
    """An alliance's member parties: two or more distinct names."""
    value = row.get("members")
    if value is None:
        return ()
    if (not isinstance(value, list) or len(value) < 2
            or not all(isinstance(v, str) and v.strip() for v in value)):
        c.fail(key, "must be an array of two or more member party names", value)
    if len(set(value)) != len(value):
        c.fail(key, "names a member party twice", value)
    return tuple(value)


SCENARIO_KEYS = {"name", "election", "party", "district", "merge"}
VOTE_MODEL_KEYS = {"model", "poll", "past_result", "result", "baseline", "simulation", "coalition"}


def _parse_scenarios(c: _Checker, data: dict) -> list[Scenario]:
    """The ``[[scenario]]`` tables, checked for form; their overrides are checked when the
    scenario is built (:func:`simulator.scenarios.scenario_election`)."""
    rows = c.array_of_tables(data, "scenario", required=False) or []
    out = []
    names = set()
    for i, row in enumerate(rows):
        key = f"scenario {i + 1}" + (f" ({row['name']})" if isinstance(row.get("name"), str) else "")
        for k in row:
            if k in VOTE_MODEL_KEYS:
                c.fail(f"{key}.{k}", "a scenario changes the rules only, on the same draws; a "
                       "change of the vote model or the polls is a separate forecast", None)
        c.no_unknown(row, key, SCENARIO_KEYS)
        name = c.string(row, f"{key}.name", required=True)
        if name in names or name == "baseline":
            c.fail(f"{key}.name", "duplicate scenario name (or the reserved 'baseline')", name)
        names.add(name)
        for k in ("election", "party", "district", "merge"):
            if k in row and not isinstance(row[k], dict):
                c.fail(f"{key}.{k}", "must be a table", row[k])
        out.append(Scenario(name=name, overrides={k: v for k, v in row.items() if k != "name"}))
    return out


def _parse_districts(c: _Checker, data: dict, rules: Rules) -> list[District]:
    rows = c.array_of_tables(data, "district", required=False) or []
    out = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        key = f"district {i + 1}" + (f" ({row['id']})" if isinstance(row.get("id"), str) else "")
        c.no_unknown(row, key, {"id", "name", "seats", "threshold", "levelling", "region"})
        did = c.string(row, f"{key}.id", required=True)
        if not _ID_RE.match(did):
            c.fail(f"{key}.id", "ids use letters, digits, '_', '-' and '.'", did)
        if did in seen:
            c.fail(f"{key}.id", "duplicate district id", did)
        seen.add(did)
        seats = c.integer(row, f"{key}.seats", required=True, low=1, high=MAX_SEATS)
        quota = row.get("threshold") == QUOTA
        threshold = (quota_threshold(seats) if quota else
                     c.number(row, f"{key}.threshold", default=None, low=0.0, high_open=100.0,
                              what=f'a number or "{QUOTA}"'))
        if threshold is not None and rules.threshold_scope != "district":
            c.fail(f"{key}.threshold", 'a district threshold needs election.threshold_scope = "district"',
                   row["threshold"])
        out.append(District(id=did, name=c.string(row, f"{key}.name", default=did), seats=seats,
                            threshold=threshold, threshold_quota=quota))
    if out:
        total = sum(d.seats for d in out)
        levelling = any(isinstance(t, dict) and t.get("kind") == "levelling"
                        for t in (data.get("tier") if isinstance(data.get("tier"), list) else []))
        if total != rules.seats and not levelling:  # with levelling seats: checked by parse_law
            c.fail("district", f"the districts' seats sum to {total}, not election.seats = {rules.seats}",
                   total)
        if rules.threshold_base == "cast":
            c.fail("election.threshold_base", '"cast" is not supported with districts yet: put blank or '
                   "invalid ballots that count in the base as the 'blank' pseudo-party", "cast")
    return out


def _district_file(c: _Checker, table: dict, key: str) -> Path:
    name = c.string(table, key, required=True)
    return Path(str(c.path)).parent / name


def _parse_result(c: _Checker, data: dict, ids: list[str], rules: Rules,
                  districts: list[District]) -> OfficialResult | None:
    from .districts import read_district_votes

    res = c.table(data, "result", required=False)
    if res is None:
        return None
    c.no_unknown(res, "result", {"votes", "votes_cast", "district_votes"})
    if "district_votes" in res:
        if not districts:
            c.fail("result.district_votes", "needs [[district]] tables", res["district_votes"])
        if "votes" in res:
            c.fail("result.votes", "give district_votes or votes, not both (the national votes are "
                   "the districts' sums)", None)
        path = _district_file(c, res, "result.district_votes")
        dv, rest, _ = read_district_votes(path, "result.district_votes", [d.id for d in districts], ids,
                                          c.path)
        votes = {pid: float(dv[:, i].sum()) for i, pid in enumerate(ids)}
        if sum(votes.values()) <= 0:
            c.fail("result.district_votes", "all lists have zero votes", 0)
        return OfficialResult(votes=votes, other_votes=float(rest.sum()), district_votes=dv,
                              district_rest=rest, district_file=res["district_votes"])
    votes_tbl = c.table(res, "result.votes", required=True)
    votes: dict[str, float] = {}
    other_votes = 0.0
    for pid in votes_tbl:
        key = f"result.votes.{pid}"
        if pid == OTHERS:  # lists the config does not name: in the base, never seated
            other_votes = c.number(votes_tbl, key, required=True, low=0.0, high=MAX_VOTES)
            continue
        if pid not in ids:
            c.fail(key, f"unknown party id (not in any [[party]], nor '{OTHERS}')", pid)
        votes[pid] = c.number(votes_tbl, key, required=True, low=0.0, high=MAX_VOTES)
    for pid in ids:  # a list with no entry got no votes
        votes.setdefault(pid, 0.0)
    if sum(votes.values()) <= 0:
        c.fail("result.votes", "all lists have zero votes", sum(votes.values()))
    if districts:
        c.fail("result.votes", "with [[district]] tables, give result.district_votes", None)
    total = sum(votes.values()) + other_votes
    votes_cast = c.number(res, "result.votes_cast", default=None, low=0.0, high=MAX_VOTES)
    if votes_cast is not None and votes_cast < total:
        c.fail("result.votes_cast", f"smaller than the sum of list votes ({_fmt(total)})", votes_cast)
    if rules.threshold_base == "cast" and votes_cast is None:
        c.fail(
            "result.votes_cast",
            'required when election.threshold_base = "cast" (the base includes invalid ballots)',
            None,
        )
    return OfficialResult(votes=votes, votes_cast=votes_cast, other_votes=other_votes)


def _parse_baseline(c: _Checker, data: dict, ids: list[str], districts: list[District]) -> Baseline | None:
    from .districts import read_district_votes

    base = c.table(data, "baseline", required=False)
    if base is None:
        return None
    if not districts:
        c.fail("baseline", "needs [[district]] tables", None)
    c.no_unknown(base, "baseline", {"district_votes", "map"})
    path = _district_file(c, base, "baseline.district_votes")
    votes, rest, parties = read_district_votes(path, "baseline.district_votes",
                                               [d.id for d in districts], None, c.path)
    mapping_tbl = c.table(base, "baseline.map", required=False) or {}
    mapping: dict[str, tuple[str, ...]] = {}
    used: dict[str, str] = {}
    for pid, sources in mapping_tbl.items():
        key = f"baseline.map.{pid}"
        if pid not in ids:
            c.fail(key, "unknown party id (not in any [[party]])", pid)
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
            c.fail(key, "must be a list of the baseline's party ids", sources)
        for src in sources:
            if src not in parties:
                c.fail(key, f"{src!r} has no votes in {path.name}", src)
            if src in used:
                c.fail(key, f"{src!r} is continued by {used[src]!r} already", src)
            used[src] = pid
        mapping[pid] = tuple(sources)
    for pid in ids:  # a list not in the map continues the baseline list of its own id
        if pid not in mapping and pid in parties and pid not in used:
            mapping[pid] = (pid,)
            used[pid] = pid
    from .districts import baseline_shares

    shares, _ = baseline_shares(votes, rest, parties, mapping, ids)
    if (shares[:, :-1].sum(axis=0) > 0).all() and (shares[:, :-1].sum(axis=1) <= 0).any():
        # no list is new to the baseline (a new list gets its national share everywhere), and a
        # district has no votes for any of them: its seats could never be filled by a swing
        empty = [d.id for d, row in zip(districts, shares) if row[:-1].sum() <= 0]
        c.fail("baseline.district_votes", f"district {empty[0]!r} has no votes for any list of the "
               "config (only for lists none of them continues, others or blank): a swing from it "
               "gives its seats to nobody", None)
    return Baseline(file=base["district_votes"], parties=tuple(parties), votes=votes, rest=rest,
                    mapping=mapping)


def _poll_label(i: int, row: dict) -> str:
    """How an error names a poll: its place counted from 1, with its firm and date when given."""
    parts = [str(row[k]) for k in ("firm", "date") if isinstance(row.get(k), (str, dt.date))]
    return f"poll {i + 1}" + (f" ({', '.join(parts)})" if parts else "")


def _parse_shares(c: _Checker, row: dict, key: str, ids: list[str]) -> tuple[dict, dict]:
    """A shares table in percent (party ids and ``others``), checked to sum to 100: ``(normalised,
    as given)``."""
    shares_tbl = c.table(row, f"{key}.shares", required=True)
    shares: dict[str, float] = {}
    for pid in shares_tbl:
        if pid not in ids and pid != OTHERS:
            c.fail(f"{key}.shares.{pid}", "unknown party id (not in any [[party]])", pid)
        shares[pid] = c.number(shares_tbl, f"{key}.shares.{pid}", required=True, low=0.0)
    if not shares:
        c.fail(f"{key}.shares", "a poll needs at least one share", {})
    total = sum(shares.values())
    if abs(total - 100.0) > SHARE_SUM_TOLERANCE:
        c.fail(
            f"{key}.shares",
            f"shares sum to {_fmt(total)}, not 100 (within {SHARE_SUM_TOLERANCE})",
            total,
        )
    return {k: v * 100.0 / total for k, v in shares.items()}, shares


def _parse_polls(c: _Checker, data: dict, ids: list[str], election_date: dt.date | None) -> list[Poll]:
    rows = c.array_of_tables(data, "poll", required=False) or []
    polls = []
    for i, row in enumerate(rows):
        key = _poll_label(i, row)
        c.no_unknown(row, key, {"firm", "date", "sample_size", "shares"})
        n = c.number(row, f"{key}.sample_size", required=True, low_open=0.0, high=MAX_VOTES)
        shares, given = _parse_shares(c, row, key, ids)
        date = c.date(row, f"{key}.date")
        if date is not None and election_date is not None and date > election_date:
            c.fail(f"{key}.date", f"is after the election ({election_date})", date)
        if date is not None and election_date is not None and (
                (election_date - date).days > MAX_POLL_AGE_DAYS):
            c.fail(f"{key}.date", f"is more than {MAX_POLL_AGE_DAYS} days (10 years) before the "
                   f"election ({election_date})", date)
        polls.append(
            Poll(
                firm=c.string(row, f"{key}.firm", default=f"poll {i + 1}"),
                date=date,
                sample_size=n,
                shares=shares,
                given=given,
            )
        )
    dated = [(p.date, i) for i, p in enumerate(polls) if p.date is not None]
    if election_date is None and dated and (max(dated)[0] - min(dated)[0]).days > MAX_POLL_AGE_DAYS:
        i = min(dated)[1]
        c.fail(f"{_poll_label(i, rows[i])}.date", f"is more than {MAX_POLL_AGE_DAYS} days (10 years) "
               f"before the newest poll ({max(dated)[0]})", polls[i].date)
    return polls


def _parse_past_results(c: _Checker, data: dict, ids: list[str],
                        election_date: dt.date | None) -> list[PastResult]:
    rows = c.array_of_tables(data, "past_result", required=False) or []
    out = []
    for i, row in enumerate(rows):
        key = f"past_result {i + 1}"
        c.no_unknown(row, key, {"date", "shares"})
        date = c.date(row, f"{key}.date")
        if date is None:
            c.fail(f"{key}.date", "missing required key", None)
        if election_date is not None and date >= election_date:
            c.fail(f"{key}.date", f"must be before the election ({election_date})", date)
        if election_date is not None and (election_date - date).days > MAX_PAST_RESULT_AGE_DAYS:
            c.fail(f"{key}.date", f"is more than {MAX_PAST_RESULT_AGE_DAYS} days (30 years) before "
                   f"the election ({election_date})", date)
        shares, given = _parse_shares(c, row, key, ids)
        out.append(PastResult(date=date, shares=shares, given=given))
    return out


def calibrated_error() -> dict:
    """The polling-error parameters shipped with the package (``electsim calibrate --fit``)."""
    text = resources.files("simulator").joinpath("data/polling_error.json").read_text("utf-8")
    return json.loads(text)


FIT_KEYS = ("scale", "df", "size_exponent", "drift", "house_effects", "window_days",
            "design_effect")


def error_fit(c: "_Checker", value: str) -> dict:
    """The polling-error parameters in a fit file written by ``electsim calibrate --fit``
    (``model.polling_error = "fit.json"``, a path relative to the config's folder), checked as
    strictly as the config's own keys."""
    key = "model.polling_error"
    path = Path(value)
    if not path.is_absolute():
        path = Path(str(c.path)).parent / path
    try:
        doc = json.loads(path.read_text("utf-8-sig"))
    except FileNotFoundError:
        c.fail(key, f'must be "calibrated", a number or a fit file (.json); no such file {path}',
               value)
    except (OSError, UnicodeDecodeError) as exc:
        c.fail(key, f"cannot read the fit file {path} ({exc.__class__.__name__})", value)
    except ValueError:
        c.fail(key, f"the fit file {path} is not JSON", value)
    if not isinstance(doc, dict) or any(k not in doc for k in FIT_KEYS):
        c.fail(key, f"the fit file {path} must hold " + ", ".join(FIT_KEYS), value)
    where = f"{key} ({path.name})"
    fit = {"scale": c.number(doc, f"{where}.scale", required=True, low=0.0, high=5.0),
           "size_exponent": c.number(doc, f"{where}.size_exponent", required=True, low=0.0,
                                     high=2.0),
           "drift": c.number(doc, f"{where}.drift", required=True, low=0.0, high=100.0),
           "house_effects": c.boolean(doc, f"{where}.house_effects", default=True),
           "window_days": c.number(doc, f"{where}.window_days", required=True, low=0.0,
                                   high=3653.0)}
    if doc["df"] == "normal":
        fit["df"] = "normal"
    else:
        fit["df"] = c.number(doc, f"{where}.df", required=True, low=1.0, high=1000.0)
    deff = doc["design_effect"]
    if deff != "estimate":
        deff = c.number(doc, f"{where}.design_effect", required=True, low_open=0.0, high=1e6)
    fit["design_effect"] = deff
    return fit


def _parse_model(c: _Checker, data: dict) -> Model:
    m = c.table(data, "model", required=False) or {}
    c.no_unknown(
        m,
        "model",
        {"prior", "design_effect", "pooling", "half_life_days", "invalid_share", "others",
         "others_concentration", "unnamed_share", "polling_error", "error_df",
         "error_size_exponent", "error_drift", "house_effects", "window_days", "swing",
         "district_noise"},
    )
    # The shared polling error: "calibrated" (the default) takes every parameter from the shipped
    # fit; a number is the scale, with the fit's tails, size dependence and drift; 0 switches the
    # layers off, so the defaults of the others become today's pure sampling model.
    pe = m.get("polling_error", "calibrated")
    if isinstance(pe, str) and pe == "calibrated":
        fit = calibrated_error()
        scale = float(fit["scale"])
    elif isinstance(pe, str) and pe.lower().endswith(".json"):  # a fit of calibrate --fit
        fit = error_fit(c, pe)
        scale = float(fit["scale"])
        pe = scale
        if scale == 0:
            fit = None
    else:
        scale = c.number(m, "model.polling_error", required=True, low=0.0, high=5.0)
        pe = scale
        fit = calibrated_error() if scale > 0 else None
    if fit is None:
        layer_defaults = {"house_effects": False, "window_days": 0.0, "design_effect": 1.0}
        df, exponent, drift = math.inf, 1.0, 0.0
    else:
        layer_defaults = {k: fit[k] for k in ("house_effects", "window_days", "design_effect")}
        df = math.inf if fit["df"] == "normal" else float(fit["df"])
        exponent, drift = float(fit["size_exponent"]), float(fit["drift"])
    if m.get("error_df") == "normal":
        df = math.inf
    elif "error_df" in m:
        df = c.number(m, "model.error_df", required=True, low=1.0, high=1000.0)
    deff = m.get("design_effect", layer_defaults["design_effect"])
    if deff != "estimate":
        if isinstance(deff, str):
            c.fail("model.design_effect", 'must be a number or "estimate"', deff)
        deff = c.number({"design_effect": deff}, "model.design_effect", required=True,
                        low_open=0.0)
    return Model(
        prior=c.number(m, "model.prior", default=0.5, low_open=0.0, high=1e6),
        design_effect=deff,
        pooling=c.choice(m, "model.pooling", POOLINGS, default="pooled"),
        half_life_days=c.number(m, "model.half_life_days", default=0.0, low=0.0),
        invalid_share=c.number(m, "model.invalid_share", default=0.0, low=0.0, high_open=100.0),
        others=c.choice(m, "model.others", OTHERS_MODES, default="split"),
        others_concentration=c.number(m, "model.others_concentration", default=10.0, low_open=0.0,
                                      high=1e9),
        unnamed_share=c.number(m, "model.unnamed_share", default=1.0, low=0.0, high=100.0),
        swing=c.choice(m, "model.swing", SWINGS, default="proportional"),
        district_noise=c.number(m, "model.district_noise", default=0.1, low=0.0, high=0.4),
        polling_error=pe,
        error_scale=scale,
        error_df=df,
        error_size_exponent=c.number(m, "model.error_size_exponent", default=exponent, low=0.0,
                                     high=2.0),
        error_drift=c.number(m, "model.error_drift", default=drift, low=0.0, high=100.0),
        house_effects=c.boolean(m, "model.house_effects", default=bool(layer_defaults["house_effects"])),
        window_days=c.number(m, "model.window_days", default=float(layer_defaults["window_days"]),
                             low=0.0),
    )


def _parse_simulation(c: _Checker, data: dict) -> Simulation:
    s = c.table(data, "simulation", required=False) or {}
    c.no_unknown(s, "simulation", {"runs", "seed", "chunk_size"})
    return Simulation(
        runs=c.integer(s, "simulation.runs", default=1_000_000, low=1, high=MAX_RUNS),
        seed=c.integer(s, "simulation.seed", default=None, low=0, high=2**128 - 1),
        chunk_size=c.integer(s, "simulation.chunk_size", default=16_384, low=1, high=10_000_000),
    )


def _parse_coalitions(c: _Checker, data: dict, ids: list[str]) -> list[Coalition]:
    rows = c.array_of_tables(data, "coalition", required=False) or []
    out = []
    names: set[str] = set()
    for i, row in enumerate(rows):
        key = f"coalition {i + 1}" + (f" ({row['name']})" if isinstance(row.get("name"), str) else "")
        c.no_unknown(row, key, {"name", "members"})
        name = c.string(row, f"{key}.name", required=True)
        if name in names:
            c.fail(f"{key}.name", "duplicate coalition name", name)
        names.add(name)
        members = row.get("members")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            c.fail(f"{key}.members", "must be a non-empty list of party ids", members)
        for m in members:
            if m not in ids:
                c.fail(f"{key}.members", "unknown party id (not in any [[party]])", m)
        if len(set(members)) != len(members):
            c.fail(f"{key}.members", "a party is named twice", members)
        out.append(Coalition(name=name, members=tuple(members)))
    return out


def _fmt(x: float) -> str:
    return f"{x:g}"


def shown_value(value: Any, limit: int = 60) -> str:
    """`` (got <value>)`` for an error message, cut to ``limit`` characters: a message stays one
    short line whatever was written (an integer of 400 digits, an array of a thousand)."""
    if value is None:
        return ""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f" (got {text})"


def quota_threshold(seats: int) -> float:
    """One seat's worth of votes as a threshold in percent: 100 / seats, as the largest float not
    above it, so that a list with exactly a quota of votes qualifies and one vote less does not
    (``votes x 100 >= threshold x base`` decides as ``votes x seats >= base`` does for whole
    vote counts below 2**52 / 100: the float is within 2**-52 of 100 / seats)."""
    x = 100.0 / seats
    return math.nextafter(x, 0.0) if Fraction(x) > Fraction(100, seats) else x


class _Checker:
    """Typed getters that raise ConfigError with the file and key path."""

    def __init__(self, path: str | Path):
        self.path = path

    def fail(self, key: str, problem: str, value: Any) -> None:
        raise ConfigError(self.path, key, problem + shown_value(value))

    def no_unknown(self, table: dict, key: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                self.fail(where, "unknown key; expected one of " + ", ".join(sorted(allowed)), None)

    def _get(self, table: dict, key: str, required: bool, default: Any) -> tuple[bool, Any]:
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in table:
            if required:
                self.fail(key, "missing required key", None)
            return False, default
        return True, table[leaf]

    def table(self, table: dict, key: str, required: bool) -> dict | None:
        found, value = self._get(table, key, required, None)
        if found and not isinstance(value, dict):
            self.fail(key, "must be a table", value)
        return value

    def array_of_tables(self, table: dict, key: str, required: bool) -> list[dict] | None:
        found, value = self._get(table, key, required, None)
        if found and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            self.fail(key, f"must be an array of tables ([[{key}]])", value)
        return value

    def string(self, table: dict, key: str, required: bool = False, default: Any = None) -> Any:
        found, value = self._get(table, key, required, default)
        if found and (not isinstance(value, str) or not value.strip()):
            self.fail(key, "must be a non-empty string", value)
        return value

    def boolean(self, table: dict, key: str, default: bool) -> bool:
        found, value = self._get(table, key, False, default)
        if found and not isinstance(value, bool):
            self.fail(key, "must be true or false", value)
        return value

    def date(self, table: dict, key: str) -> dt.date | None:
        found, value = self._get(table, key, False, None)
        if found:
            if isinstance(value, dt.datetime):
                return value.date()
            if not isinstance(value, dt.date):
                self.fail(key, "must be a TOML date like 2024-06-02", value)
        return value

    def choice(self, table: dict, key: str, options: tuple[str, ...], default: str) -> str:
        found, value = self._get(table, key, False, default)
        if found and value not in options:
            self.fail(key, "must be one of " + ", ".join(f'"{o}"' for o in options), value)
        return value

    def integer(self, table, key, required=False, default=None, low=None, high=None) -> Any:
        found, value = self._get(table, key, required, default)
        if not found:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be a whole number", value)
        self._bounds(key, value, low, high, None, None)
        return value

    def number(self, table, key, required=False, default=None, low=None, high=None,
               low_open=None, high_open=None, what="a number") -> Any:
        found, value = self._get(table, key, required, default)
        if not found:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be {what}", value)
        try:
            value = float(value)
        except OverflowError:  # an integer of hundreds of digits
            self.fail(key, "must be a finite number (this one is too large for a float)", value)
        if not math.isfinite(value):
            self.fail(key, "must be a finite number", value)
        self._bounds(key, value, low, high, low_open, high_open)
        return value

    def _bounds(self, key, value, low, high, low_open, high_open) -> None:
        if low is not None and value < low:
            self.fail(key, f"must be at least {_fmt(low)}", value)
        if low_open is not None and value <= low_open:
            self.fail(key, f"must be greater than {_fmt(low_open)}", value)
        if high is not None and value > high:
            self.fail(key, f"must be at most {_fmt(high)}", value)
        if high_open is not None and value >= high_open:
            self.fail(key, f"must be less than {_fmt(high_open)}", value)
