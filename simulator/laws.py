"""The electoral law as a composition of tiers: the config's ``[[tier]]`` tables and the law keys of
``[election]``, ``[[party]]`` and ``[[district]]``, checked once into a typed :class:`Law`.

A law is walked in a fixed order, each step optional but the first:

1. **bonus** (``kind = "bonus"``): the list with the most votes gets the seats of a schedule by its
   share of the valid votes (Greece); the rest of the house goes to step 2.
2. **the district tier** (``[election] method`` in each ``[[district]]``, or the whole country as one
   district): divisor or largest-remainder methods, among the lists that qualify nationally
   (``threshold``, ``alliance_threshold`` by the number of ``members`` of a list) or, in one
   district, by ``district_route`` (Sweden: 12 % of the constituency's votes);
3. **remainder** (``kind = "remainder"``): the district tier hands out whole quotas only and the
   seats it leaves go to a national second scrutiny of the remainders (Czechia), which are then
   assigned back to districts;
4. **levelling** (``kind = "levelling"``): adjustment seats that bring each qualified list's total
   to its national proportional entitlement over the house; lists whose district seats exceed it
   keep them and the entitlement is recomputed without them; the seats then go to districts by the
   law's rule (``assign``).

:mod:`simulator.allocation.plan` turns a Law into the record the compiled kernel walks; the plain
Python twin is :mod:`simulator.allocation.tiers_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import ConfigError

# Every method is a row of one table: divisor methods by their divisors d(0) = first,
# d(k) = a + b*k; largest-remainder methods by their quota (of V votes for S seats).
DIVISORS = {  # name: (a, b, default first divisor)
    "dhondt": (1, 1, Fraction(1)),  # 1, 2, 3, ...
    "sainte-lague": (1, 2, Fraction(1)),  # 1, 3, 5, ...
    "modified-sainte-lague": (1, 2, Fraction(7, 5)),  # 1.4, 3, 5, ...
    "imperiali": (2, 1, Fraction(2)),  # 2, 3, 4, ...
    "danish": (1, 3, Fraction(1)),  # 1, 4, 7, ...
}
QUOTAS = {  # name: (code, description)
    "hare": (1, "V / S"),
    "hare-niemeyer": (1, "V / S"),
    "droop": (2, "floor(V / (S + 1)) + 1"),
    "hagenbach-bischoff": (3, "V / (S + 1)"),
    "imperiali-quota": (4, "V / (S + 2)"),
}
LAW_METHODS = tuple(DIVISORS) + tuple(QUOTAS)
# What a quota method does when whole quotas hand out more seats than the district has: the list
# with the smallest remainder loses one, then the next smallest (Czech law, section 50(4)).
QUOTA_EXCESS = ("smallest-remainder-loses",)
LEVELLING_ASSIGN = ("quotient", "relative-quotient", "regions")
REMAINDER_ASSIGN = ("largest-remainder",)
TIER_KINDS = ("levelling", "remainder", "bonus")
TIER_KEYS = {
    "levelling": {"kind", "name", "seats", "method", "first_divisor", "threshold",
                  "qualify_district_seats", "qualify_regions", "assign", "assign_method",
                  "assign_first_divisor", "overhang", "quota_rounding", "region_seats",
                  "district_method", "district_first_divisor"},
    "remainder": {"kind", "name", "method", "assign", "quota_rounding"},
    "bonus": {"kind", "name", "schedule", "start", "start_seats", "step", "step_seats",
              "max_seats"},
}


@dataclass(frozen=True)
class Method:
    """A divisor method with its first divisor, or a largest-remainder method with its quota."""

    name: str
    first_divisor: Fraction | None = None  # divisor methods
    rounding: str | None = None  # quota methods: "nearest" whole number of votes (Czechia)

    @property
    def divisor(self) -> bool:
        return self.name in DIVISORS

    @property
    def quota(self) -> int:
        """The quota's code (0 for a divisor method)."""
        return 0 if self.divisor else QUOTAS[self.name][0]

    def divisor_at(self, k: int) -> Fraction:
        """d(k): the divisor of a list holding k seats."""
        a, b, _ = DIVISORS[self.name]
        return self.first_divisor if k == 0 else Fraction(a + b * k)


@dataclass(frozen=True)
class Levelling:
    name: str
    seats: int
    method: Method
    thresholds: tuple[float, ...]  # percent of the national valid votes, per list
    qualify_district_seats: int | None  # or: this many district seats won
    qualify_regions: int | None  # or: in this many regions, votes >= the region's votes per seat
    assign: str  # LEVELLING_ASSIGN
    assign_method: Method  # the divisors of the quotients that place the seats in districts
    # assign = "regions": each region's levelling seats (in region order), and the divisors that
    # place a list's seats of a region in its districts
    region_seats: tuple[int, ...] = ()
    district_method: Method | None = None


@dataclass(frozen=True)
class Remainder:
    name: str
    method: Method
    assign: str


@dataclass(frozen=True)
class Bonus:
    name: str
    schedule: tuple[tuple[float, int], ...]  # (share from which, seats), shares increasing


@dataclass(frozen=True)
class Law:
    """Everything the tier kernels need besides the votes; see the module docstring."""

    method: Method  # the district tier's
    thresholds: tuple[float, ...]  # the district tier's national thresholds, per list (percent)
    district_route: float | None  # percent of a district's votes that lets a list take part there
    quota_excess: str
    levelling: Levelling | None = None
    remainder: Remainder | None = None
    bonus: Bonus | None = None
    regions: tuple[int, ...] = ()  # per district: its region's index (qualify_regions)
    region_names: tuple[str, ...] = ()
    caps: tuple[int, ...] = ()  # per district: its levelling seats, with assign = "relative-quotient"
    source: dict | None = None  # the config's law keys and tables, as written (config_document)

    def describe(self, seats: int, districts: int) -> str:
        """One line for tables and reports: the tiers in the order the law walks them."""
        def method(m: Method) -> str:
            first = (f" (first divisor {float(m.first_divisor):g})" if m.divisor
                     and m.first_divisor != DIVISORS[m.name][2] else "")
            return m.name + first + (", quota rounded" if m.rounding else "")

        def threshold(ts) -> str:
            low = min(ts)
            text = "no threshold" if max(ts) == 0 else f"{low:g} %"
            return text + (" (more for alliances)" if max(ts) > low else "")

        parts = []
        if self.bonus:
            parts.append(f"a bonus of up to {self.bonus.schedule[-1][1]} seats from "
                         f"{self.bonus.schedule[0][0]:g} %")
        fixed = seats - (self.levelling.seats if self.levelling else 0)
        where = f"in {districts} districts" if districts else "nationally"
        count = f"the rest of the {fixed} seats" if self.bonus else f"{fixed} seats"
        parts.append(f"{count} {where} by {method(self.method)}, {threshold(self.thresholds)}"
                     + (f" or {self.district_route:g} % in a district" if self.district_route else ""))
        if self.remainder:
            parts.append(f"a second scrutiny of the remainders by {method(self.remainder.method)}")
        if self.levelling:
            lev = self.levelling
            routes = "".join([f", or {lev.qualify_district_seats} district seat(s)"
                              if lev.qualify_district_seats else "",
                              f", or {lev.qualify_regions} regions" if lev.qualify_regions else ""])
            parts.append(f"{lev.seats} {lev.name} seats by {method(lev.method)} over "
                         f"{threshold(lev.thresholds)}{routes}, placed by {lev.assign}")
        return "; ".join(parts)

    @property
    def tiers(self) -> list[str]:
        """The tier kinds in the order the law walks them."""
        return ([t for t in ("bonus",) if self.bonus] + ["district"]
                + [t for t, x in (("remainder", self.remainder), ("levelling", self.levelling)) if x])


def _fail(path, key: str, problem: str, value: Any = None) -> None:
    from .config import shown_value

    raise ConfigError(path, key, problem + shown_value(value))


QUOTA_ROUNDING = ("none", "nearest")


def parse_method(c, table: dict, key: str, default: str, first_key: str) -> Method:
    """A method name and its first divisor (``first_key``) or its quota's rounding
    (``quota_rounding`` beside it), checked."""
    name = c.choice(table, key, LAW_METHODS, default=default)
    rkey = key.rsplit(".", 1)[0] + ".quota_rounding" if "." in key else "quota_rounding"
    if key.endswith("assign_method"):
        rkey = None
    rounding = None
    if rkey is not None and "quota_rounding" in table:
        rounding = c.choice(table, rkey, QUOTA_ROUNDING, default="none")
        if name in DIVISORS or name == "droop":
            c.fail(rkey, f"a quota's rounding needs a quota method other than droop, not {name!r}",
                   rounding)
        rounding = None if rounding == "none" else rounding
    first = None
    if name in DIVISORS:
        first = DIVISORS[name][2]
        given = c.number(table, first_key, default=None, low_open=0.0, high=100.0)
        if given is not None:
            first = Fraction(repr(given)).limit_denominator(1000)
    elif first_key.rsplit(".", 1)[-1] in table:
        c.fail(first_key, f"a first divisor needs a divisor method, not {name!r}", table[
            first_key.rsplit(".", 1)[-1]])
    return Method(name, first, rounding)


def alliance_thresholds(c, el: dict, parties, threshold: float) -> tuple[float, ...]:
    """Each list's national threshold: its own, else ``alliance_threshold`` by its number of
    members (the largest entry not above it), else the election's."""
    table = c.table(el, "election.alliance_threshold", required=False) or {}
    steps = []
    for k, v in table.items():
        key = f"election.alliance_threshold.{k}"
        if not (isinstance(k, str) and k.isdigit() and int(k) >= 2):
            c.fail(key, "keys are numbers of member parties, 2 or more (e.g. \"2\" = 8.0)", k)
        steps.append((int(k), c.number(table, key, required=True, low=0.0, high_open=100.0)))
    steps.sort()
    out = []
    for p in parties:
        t = threshold if p.threshold is None else p.threshold
        if p.threshold is None and len(p.members) >= 2:
            for n, v in steps:
                if len(p.members) >= n:
                    t = v
        out.append(t)
    return tuple(out)


def _schedule(c, row: dict, key: str) -> tuple[tuple[float, int], ...]:
    """A bonus schedule, written as pairs or as a linear rule, checked to be monotone."""
    linear = {"start", "start_seats", "step", "step_seats", "max_seats"}
    if "schedule" in row:
        if linear & set(row):
            c.fail(f"{key}.schedule", "give schedule or start/start_seats/step/step_seats/max_seats, "
                   "not both", row["schedule"])
        raw = row["schedule"]
        if not isinstance(raw, list) or not raw or not all(
                isinstance(p, list) and len(p) == 2 for p in raw):
            c.fail(f"{key}.schedule", "must be an array of [share, seats] pairs", raw)
        pairs = []
        for j, (share, seats) in enumerate(raw):
            k = f"{key}.schedule[{j + 1}]"
            share = c.number({"s": share}, f"{k}.s", required=True, low=0.0, high=100.0)
            seats = c.integer({"n": seats}, f"{k}.n", required=True, low=0)
            pairs.append((share, seats))
    else:
        start = c.number(row, f"{key}.start", required=True, low=0.0, high=100.0)
        first = c.integer(row, f"{key}.start_seats", required=True, low=0)
        step = c.number(row, f"{key}.step", default=None, low_open=0.0, high=100.0)
        per = c.integer(row, f"{key}.step_seats", default=0, low=0)
        top = c.integer(row, f"{key}.max_seats", default=first, low=first)
        if (step is None) != ("step_seats" not in row):
            c.fail(f"{key}.step", "step and step_seats go together", step)
        pairs = [(start, first)]
        n = first
        j = 1
        while step is not None and per > 0 and n < top:
            n = min(top, n + per)
            share = start + j * step
            if share > 100.0:
                break
            pairs.append((round(share, 10), n))
            j += 1
    for (s0, n0), (s1, n1) in zip(pairs, pairs[1:]):
        if not (s1 > s0 and n1 >= n0):
            c.fail(f"{key}.schedule", "must be monotone: shares increasing, seats not decreasing",
                   [[s0, n0], [s1, n1]])
    return tuple(pairs)


def parse_law(c, data: dict, el: dict, rules, parties, districts, district_rows) -> Law | None:
    """The law of a config, or None when the one-tier kernels express it (no tier, a method and
    keys they know). ``district_rows`` are the raw ``[[district]]`` tables (for ``levelling`` and
    ``region``)."""
    from .config import METHODS

    tiers = c.array_of_tables(data, "tier", required=False) or []
    keys = {"first_divisor", "alliance_threshold", "district_route", "quota_excess", "quota_rounding"}
    dkeys = {"levelling", "region"}
    uses = (tiers or keys & set(el) or rules.method not in METHODS
            or any(k in r for r in district_rows for k in dkeys))
    if not uses:
        return None
    path = c.path
    if any(p.minority for p in parties) or rules.minority_coefficient != 1.0 or rules.minority_exempt:
        _fail(path, "election.minority_exempt", "minority rules are not supported with [[tier]] "
              "laws or these methods yet")
    if rules.threshold_base != "valid":
        _fail(path, "election.threshold_base", '"cast" is not supported with [[tier]] laws yet',
              rules.threshold_base)
    if rules.threshold_scope != "national":
        _fail(path, "election.threshold_scope", '"district" is not supported with [[tier]] laws '
              "yet (use election.district_route for a district route to qualify)",
              rules.threshold_scope)
    if rules.threshold_quota:
        _fail(path, "election.threshold", '"quota" is not supported with [[tier]] laws yet', "quota")
    method = parse_method(c, el, "election.method", "dhondt", "election.first_divisor")
    thresholds = alliance_thresholds(c, el, parties, rules.threshold)
    route = c.number(el, "election.district_route", default=None, low_open=0.0, high=100.0)
    if route is not None and not districts:
        _fail(path, "election.district_route", "a district route needs [[district]] tables", route)
    excess = c.choice(el, "election.quota_excess", QUOTA_EXCESS, default=QUOTA_EXCESS[0])
    # regions and levelling caps, from the [[district]] tables
    region_names: list[str] = []
    regions = []
    for i, r in enumerate(district_rows):
        name = r.get("region")
        if name is None:
            continue
        if not isinstance(name, str) or not name.strip():
            _fail(path, f"district {i + 1}.region", "must be a non-empty string", name)
        if name not in region_names:
            region_names.append(name)
        regions.append(region_names.index(name))
    if region_names and len(regions) != len(district_rows):
        _fail(path, "district.region", "give every [[district]] a region, or none", len(regions))
    caps = [c.integer(r, f"district {i + 1}.levelling", default=0, low=0, high=100_000)
            for i, r in enumerate(district_rows)]
    found: dict[str, Any] = {}
    for i, row in enumerate(tiers):
        key = f"tier {i + 1}"
        kind = c.choice(row, f"{key}.kind", TIER_KINDS, default=None)
        if kind is None:
            _fail(path, f"{key}.kind", "missing required key (one of " + ", ".join(TIER_KINDS) + ")")
        c.no_unknown(row, key, TIER_KEYS[kind])
        if kind in found:
            _fail(path, f"{key}.kind", f"a law has at most one {kind} tier", kind)
        name = c.string(row, f"{key}.name", default=kind)
        if kind == "bonus":
            found[kind] = Bonus(name, _schedule(c, row, key))
        elif kind == "remainder":
            m = parse_method(c, row, f"{key}.method", "hagenbach-bischoff", f"{key}.first_divisor")
            if method.divisor:
                _fail(path, f"{key}.kind", "a remainder tier takes the remainders of a quota method: "
                      "election.method must be one of " + ", ".join(QUOTAS), method.name)
            if m.divisor:
                _fail(path, f"{key}.method", "a remainder tier divides remainders by a quota: one of "
                      + ", ".join(QUOTAS), m.name)
            if not districts:
                _fail(path, f"{key}.kind", "a remainder tier needs [[district]] tables", kind)
            found[kind] = Remainder(name, m, c.choice(row, f"{key}.assign", REMAINDER_ASSIGN,
                                                       default=REMAINDER_ASSIGN[0]))
        else:
            seats = c.integer(row, f"{key}.seats", required=True, low=1, high=rules.seats)
            m = parse_method(c, row, f"{key}.method", method.name, f"{key}.first_divisor")
            if "method" not in row and "first_divisor" not in row:
                m = method
            t = c.number(row, f"{key}.threshold", default=rules.threshold, low=0.0, high_open=100.0)
            lthr = alliance_thresholds(c, el, parties, t)
            qseats = c.integer(row, f"{key}.qualify_district_seats", default=None, low=1)
            qreg = c.integer(row, f"{key}.qualify_regions", default=None, low=1)
            if qreg is not None and not region_names:
                _fail(path, f"{key}.qualify_regions", "a regional route needs a region in every "
                      "[[district]]", qreg)
            if qreg is not None and qreg > len(region_names):
                _fail(path, f"{key}.qualify_regions", f"more than the {len(region_names)} regions", qreg)
            assign = c.choice(row, f"{key}.assign", LEVELLING_ASSIGN, default="quotient")
            c.choice(row, f"{key}.overhang", ("exclude",), default="exclude")
            if not districts:
                _fail(path, f"{key}.kind", "levelling seats need [[district]] tables (the district "
                      "tier they level)", kind)
            if assign == "relative-quotient":
                if sum(caps) != seats:
                    _fail(path, "district.levelling", f'with assign = "relative-quotient" the '
                          f"districts' levelling seats must sum to {key}.seats = {seats}", sum(caps))
            default = m if m.divisor else method
            am = parse_method(c, row, f"{key}.assign_method", default.name, f"{key}.assign_first_divisor")
            if "assign_method" not in row and "assign_first_divisor" not in row:
                am = default
            if not am.divisor:
                _fail(path, f"{key}.assign_method", "seats go to districts by the quotients of a divisor "
                      "method: one of " + ", ".join(DIVISORS), am.name)
            rseats: tuple[int, ...] = ()
            dm = None
            if assign == "regions":
                if not region_names:
                    _fail(path, f"{key}.assign", 'assign = "regions" needs a region in every [[district]]',
                          assign)
                table = c.table(row, f"{key}.region_seats", required=True)
                for r in table:
                    if r not in region_names:
                        _fail(path, f"{key}.region_seats.{r}", "not a region of any [[district]]", r)
                rseats = tuple(c.integer(table, f"{key}.region_seats.{r}", required=True, low=0,
                                         high=seats) for r in region_names)
                if sum(rseats) != seats:
                    _fail(path, f"{key}.region_seats", f"the regions' levelling seats must sum to "
                          f"{key}.seats = {seats}", sum(rseats))
                dm = parse_method(c, row, f"{key}.district_method", am.name,
                                  f"{key}.district_first_divisor")
                if not dm.divisor:
                    _fail(path, f"{key}.district_method", "one of " + ", ".join(DIVISORS), dm.name)
            else:
                for k2 in ("region_seats", "district_method", "district_first_divisor"):
                    if k2 in row:
                        _fail(path, f"{key}.{k2}", 'needs assign = "regions"', row[k2])
            found[kind] = Levelling(name, seats, m, lthr, qseats, qreg, assign, am, rseats, dm)
    if "remainder" in found and "levelling" in found:
        _fail(path, "tier.kind", "a law with both a remainder tier and a levelling tier is not "
              "supported yet", "remainder")
    if any(caps) and not (found.get("levelling") and found["levelling"].assign == "relative-quotient"):
        _fail(path, "district.levelling", 'district levelling seats need a levelling tier with '
              'assign = "relative-quotient"', sum(caps))
    if districts:
        fixed = sum(d.seats for d in districts)
        lev = found["levelling"].seats if "levelling" in found else 0
        if fixed + lev != rules.seats:
            _fail(path, "district", f"the districts' seats ({fixed}) and the levelling seats ({lev}) "
                  f"sum to {fixed + lev}, not election.seats = {rules.seats}", fixed + lev)
    if "bonus" in found:
        top = found["bonus"].schedule[-1][1]
        if top >= rules.seats:
            _fail(path, "tier.schedule", f"a bonus of {top} seats leaves none of the "
                  f"{rules.seats} to allocate", top)
        if districts:
            _fail(path, "tier.kind", "a bonus tier with [[district]] tables is not supported yet",
                  "bonus")
    source = {"election": {k: el[k] for k in sorted(keys) if k in el}, "tier": tiers}
    return Law(method=method, thresholds=thresholds, district_route=route, quota_excess=excess,
               levelling=found.get("levelling"), remainder=found.get("remainder"),
               bonus=found.get("bonus"), regions=tuple(regions), region_names=tuple(region_names),
               caps=tuple(caps), source=source)

