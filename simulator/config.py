"""Election configs: read a TOML file, check every key, and return typed, immutable objects.

The keys documented in the README are a contract other tools rely on. Every mistake raises
:class:`~simulator.errors.ConfigError` naming the file, the key path (``poll[1].shares.bt``) and the
bad value, so the CLI can print one line and exit with code 2.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import ConfigError

METHODS = ("dhondt", "sainte-lague", "modified-sainte-lague", "hare-niemeyer")
THRESHOLD_BASES = ("valid", "cast")
POOLINGS = ("pooled", "mixture", "latest")
OTHERS_MODES = ("split", "whole")
OTHERS = "others"  # the reserved poll bucket for every list a poll does not name
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# Polls are rounded: shares within this many points of 100 are normalised, further off is an error.
SHARE_SUM_TOLERANCE = 0.5


@dataclass(frozen=True)
class Party:
    """One electoral list, identified everywhere by ``id``."""

    id: str
    name: str
    minority: bool = False
    threshold: float | None = None  # percent; None = the election's threshold
    color: str | None = None
    others_weight: float = 1.0  # relative weight in the split of a poll's "others" bucket


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

    @property
    def coefficient_fraction(self) -> Fraction:
        """The minority coefficient as the exact decimal the user wrote (1.35 -> 27/20)."""
        return Fraction(repr(self.minority_coefficient)).limit_denominator(10**6)


@dataclass(frozen=True)
class OfficialResult:
    """An actual result: list votes, and optionally all ballots cast (invalid ones included)."""

    votes: dict[str, float]
    votes_cast: float | None = None


@dataclass(frozen=True)
class Poll:
    firm: str
    date: dt.date | None
    sample_size: float
    shares: dict[str, float]  # percent, normalised to sum to 100; may include OTHERS


@dataclass(frozen=True)
class Model:
    prior: float = 0.5
    design_effect: float = 1.0
    pooling: str = "pooled"
    half_life_days: float = 0.0
    invalid_share: float = 0.0  # percent of ballots cast that are invalid (for threshold_base = "cast")
    others: str = "split"  # "split": unnamed lists share the bucket; "whole": it wins no seats
    others_concentration: float = 10.0  # Dirichlet concentration of the split; smaller = noisier


@dataclass(frozen=True)
class Simulation:
    runs: int = 1_000_000
    seed: int | None = None
    chunk_size: int = 16_384


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

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parties)

    def party(self, party_id: str) -> Party:
        for p in self.parties:
            if p.id == party_id:
                return p
        raise KeyError(party_id)


def load_config(path: str | Path) -> Election:
    """Read and check an election config file; raise ConfigError on the first mistake."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file") from None
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"malformed TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: str | Path = "<config>") -> Election:
    """Check an already-parsed TOML document (a dict) and build an Election."""
    c = _Checker(path)
    c.no_unknown(data, "", {"election", "party", "result", "poll", "model", "simulation", "coalition"})
    el = c.table(data, "election", required=True)
    c.no_unknown(
        el,
        "election",
        {
            "name", "date", "seats", "majority", "method", "threshold", "threshold_base",
            "minority_exempt", "minority_coefficient", "blocking_minority",
        },
    )
    seats = c.integer(el, "election.seats", required=True, low=1)
    majority = c.integer(el, "election.majority", default=seats // 2 + 1, low=1, high=seats)
    blocking = c.integer(el, "election.blocking_minority", default=None, low=1, high=seats)
    method = c.choice(el, "election.method", METHODS, default="dhondt")
    threshold = c.number(el, "election.threshold", default=0.0, low=0.0, high_open=100.0)
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
    )
    name = c.string(el, "election.name", default=Path(str(path)).stem)
    date = c.date(el, "election.date")

    parties = _parse_parties(c, data)
    ids = [p.id for p in parties]
    result = _parse_result(c, data, ids, rules)
    polls = _parse_polls(c, data, ids)
    model = _parse_model(c, data)
    simulation = _parse_simulation(c, data)
    coalitions = _parse_coalitions(c, data, ids)
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
    )


def _parse_parties(c: _Checker, data: dict) -> list[Party]:
    rows = c.array_of_tables(data, "party", required=True)
    if not rows:
        c.fail("party", "at least one [[party]] is needed", [])
    parties: list[Party] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        key = f"party[{i}]"
        c.no_unknown(row, key, {"id", "name", "minority", "threshold", "color", "others_weight"})
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
                others_weight=c.number(row, f"{key}.others_weight", default=1.0, low=0.0),
            )
        )
    return parties


def _parse_result(c: _Checker, data: dict, ids: list[str], rules: Rules) -> OfficialResult | None:
    res = c.table(data, "result", required=False)
    if res is None:
        return None
    c.no_unknown(res, "result", {"votes", "votes_cast"})
    votes_tbl = c.table(res, "result.votes", required=True)
    votes: dict[str, float] = {}
    for pid, value in votes_tbl.items():
        key = f"result.votes.{pid}"
        if pid not in ids:
            c.fail(key, "unknown party id (not in any [[party]])", pid)
        votes[pid] = c.number(votes_tbl, key, required=True, low=0.0)
    for pid in ids:  # a list with no entry got no votes
        votes.setdefault(pid, 0.0)
    total = sum(votes.values())
    if total <= 0:
        c.fail("result.votes", "all lists have zero votes", total)
    votes_cast = c.number(res, "result.votes_cast", default=None, low=0.0)
    if votes_cast is not None and votes_cast < total:
        c.fail("result.votes_cast", f"smaller than the sum of list votes ({_fmt(total)})", votes_cast)
    if rules.threshold_base == "cast" and votes_cast is None:
        c.fail(
            "result.votes_cast",
            'required when election.threshold_base = "cast" (the base includes invalid ballots)',
            None,
        )
    return OfficialResult(votes=votes, votes_cast=votes_cast)


def _parse_polls(c: _Checker, data: dict, ids: list[str]) -> list[Poll]:
    rows = c.array_of_tables(data, "poll", required=False) or []
    polls = []
    for i, row in enumerate(rows):
        key = f"poll[{i}]"
        c.no_unknown(row, key, {"firm", "date", "sample_size", "shares"})
        n = c.number(row, f"{key}.sample_size", required=True, low_open=0.0)
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
        shares = {k: v * 100.0 / total for k, v in shares.items()}
        polls.append(
            Poll(
                firm=c.string(row, f"{key}.firm", default=f"poll {i + 1}"),
                date=c.date(row, f"{key}.date"),
                sample_size=n,
                shares=shares,
            )
        )
    return polls


def _parse_model(c: _Checker, data: dict) -> Model:
    m = c.table(data, "model", required=False) or {}
    c.no_unknown(
        m,
        "model",
        {"prior", "design_effect", "pooling", "half_life_days", "invalid_share", "others",
         "others_concentration"},
    )
    return Model(
        prior=c.number(m, "model.prior", default=0.5, low_open=0.0),
        design_effect=c.number(m, "model.design_effect", default=1.0, low_open=0.0),
        pooling=c.choice(m, "model.pooling", POOLINGS, default="pooled"),
        half_life_days=c.number(m, "model.half_life_days", default=0.0, low=0.0),
        invalid_share=c.number(m, "model.invalid_share", default=0.0, low=0.0, high_open=100.0),
        others=c.choice(m, "model.others", OTHERS_MODES, default="split"),
        others_concentration=c.number(m, "model.others_concentration", default=10.0, low_open=0.0),
    )


def _parse_simulation(c: _Checker, data: dict) -> Simulation:
    s = c.table(data, "simulation", required=False) or {}
    c.no_unknown(s, "simulation", {"runs", "seed", "chunk_size"})
    return Simulation(
        runs=c.integer(s, "simulation.runs", default=1_000_000, low=1),
        seed=c.integer(s, "simulation.seed", default=None, low=0),
        chunk_size=c.integer(s, "simulation.chunk_size", default=16_384, low=1, high=10_000_000),
    )


def _parse_coalitions(c: _Checker, data: dict, ids: list[str]) -> list[Coalition]:
    rows = c.array_of_tables(data, "coalition", required=False) or []
    out = []
    names: set[str] = set()
    for i, row in enumerate(rows):
        key = f"coalition[{i}]"
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


class _Checker:
    """Typed getters that raise ConfigError with the file and key path."""

    def __init__(self, path: str | Path):
        self.path = path

    def fail(self, key: str, problem: str, value: Any) -> None:
        shown = "" if value is None else f" (got {value!r})"
        raise ConfigError(self.path, key, problem + shown)

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
               low_open=None, high_open=None) -> Any:
        found, value = self._get(table, key, required, default)
        if not found:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, "must be a number", value)
        value = float(value)
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
