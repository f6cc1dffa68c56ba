"""Laws of tiers (#21): the compiled kernel equals the exact reference on thousands of generated
elections per tier kind, the invariants hold, textbook cases and known peer defects come out
right, and five real elections come out seat for seat."""

from __future__ import annotations

import csv
import random
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.allocation import allocate_result, district_seats
from simulator.allocation.plan import allocate_law, stage_of
from simulator.allocation.tiers_reference import (
    allocate_law_reference, divisor_seats, entitlement, levelling_qualified, method_seats,
    quota_seats,
)
from simulator.config import ALLOCATE_SECTIONS, load_config
from simulator.laws import DIVISORS, QUOTAS, Bonus, Law, Levelling, Method, Remainder

from .conftest import ROOT

QUOTA_NAMES = [q for q in QUOTAS if q != "hare-niemeyer"]
KINDS = ("district", "levelling", "remainder", "bonus")


def _method(rng, divisor=None) -> Method:
    names = (list(DIVISORS) if divisor is True else QUOTA_NAMES if divisor is False
             else list(DIVISORS) + QUOTA_NAMES)
    name = rng.choice(names)
    if name in DIVISORS:
        first = DIVISORS[name][2] if rng.random() < 0.6 else Fraction(rng.choice([5, 6, 7, 8]), 5)
        return Method(name, first)
    rounding = "nearest" if name != "droop" and rng.random() < 0.4 else None
    return Method(name, None, rounding)


def _election(rng, kind):
    """A small random law of ``kind`` and an election under it: (law, house, seats, votes, rest).
    Vote counts are small whole numbers, so that ties at quotients, remainders and thresholds
    come often."""
    n = rng.randint(1, 6)
    D = 1 if kind == "bonus" else rng.randint(1, 5)
    dseats = [rng.randint(1, 8) for _ in range(D)]
    votes = [[rng.choice([0, 1, 2, 3, 5, 10, 20, rng.randint(0, 1000)]) for _ in range(n)]
             for _ in range(D)]
    rest = [rng.choice([0, 0, 5, 100]) for _ in range(D)]
    thresholds = tuple(float(rng.choice([0, 0, 3, 5, 10])) for _ in range(n))
    method = _method(rng)
    lev = rem = bonus = None
    regions, names, caps = (), (), ()
    house = sum(dseats)
    if kind == "levelling":
        seats = rng.randint(1, 5)
        assign = rng.choice(["quotient", "relative-quotient", "regions"])
        regions, names = tuple(rng.randint(0, 1) for _ in range(D)), ("a", "b")
        region_seats = ()
        if assign == "relative-quotient":
            seats = max(seats, D)
            c = [0] * D
            for k in range(seats):
                c[k % D] += 1
            caps = tuple(c)
        if assign == "regions":
            a = rng.randint(0, seats)
            region_seats = (a, seats - a)
        lev = Levelling("levelling", seats, _method(rng),
                        tuple(float(rng.choice([0, 4, 8])) for _ in range(n)),
                        rng.choice([None, 1, 2]), rng.choice([None, 1, 2]), assign,
                        _method(rng, True), region_seats, _method(rng, True))
        house += seats
    elif kind == "remainder":
        method = _method(rng, False)
        rem = Remainder("remainder", _method(rng, False), "largest-remainder")
    elif kind == "bonus":
        dseats = [rng.randint(5, 30)]
        house = dseats[0]
        bonus = Bonus("bonus", ((25.0, 2), (30.0, 3), (40.0, 4)))
    route = rng.choice([None, None, 12.0, 30.0]) if D > 1 else None
    law = Law(method, thresholds, route, "smallest-remainder-loses", lev, rem, bonus, regions,
              names, caps)
    return law, house, dseats, votes, rest


def _kernel(law, house, dseats, votes, rest):
    stage = stage_of(law, house, dseats, len(votes[0]))
    return allocate_law(np.array([votes], float), np.array([rest], float), stage)[0].tolist()


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_equals_the_reference_on_generated_elections(kind):
    rng = random.Random(f"tiers-{kind}")
    compared = overhang = 0
    for _ in range(1500):
        law, house, dseats, votes, rest = _election(rng, kind)
        try:
            exact = allocate_law_reference(law, house, dseats, votes, rest)
        except ValueError:  # levelling seats with no district left to take them (see below)
            continue
        assert _kernel(law, house, dseats, votes, rest) == exact, (law, house, dseats, votes, rest)
        compared += 1
        if kind == "levelling":
            V = [[Fraction(x) for x in row] for row in votes]
            nat = [sum(r[i] for r in V) for i in range(len(V[0]))]
            q = levelling_qualified(law, _district_tier(law, dseats, votes, rest), V,
                                    [Fraction(x) for x in rest], nat, sum(nat) + sum(rest))
            _, active = entitlement(law, house, _district_tier(law, dseats, votes, rest), nat, q)
            overhang += active != q
    assert compared > 1100
    if kind == "levelling":
        assert overhang > 50  # the generator reaches overhang, which the law recomputes


def _district_tier(law, dseats, votes, rest):
    """The seats of the district tier alone (the law without its levelling tier)."""
    bare = Law(law.method, law.thresholds, law.district_route, law.quota_excess)
    return allocate_law_reference(bare, sum(dseats), dseats, votes, rest)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_kernel_equals_the_reference_with_lists_exactly_at_thresholds(data):
    """Votes built so that lists sit exactly on a threshold (5 % of 200 = 10 votes), on an
    alliance threshold (8 %: 16 votes) and on equal quotients."""
    n = data.draw(st.integers(2, 5))
    kind = data.draw(st.sampled_from(KINDS))
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    law, house, dseats, votes, rest = _election(rng, kind)
    n = len(votes[0])
    at = data.draw(st.lists(st.sampled_from([0, 10, 16, 20, 40]), min_size=n, max_size=n))
    D = len(votes)
    votes = [[at[i] if d == 0 else votes[d][i] for i in range(n)] for d in range(D)]
    total = sum(map(sum, votes)) + sum(rest)
    if total < 200:
        rest = [rest[0] + 200 - total] + rest[1:]
    thresholds = tuple(data.draw(st.sampled_from([5.0, 8.0])) for _ in range(n))
    law = Law(law.method, thresholds, law.district_route, law.quota_excess, law.levelling,
              law.remainder, law.bonus, law.regions, law.region_names, law.caps)
    try:
        exact = allocate_law_reference(law, house, dseats, votes, rest)
    except ValueError:
        return
    assert _kernel(law, house, dseats, votes, rest) == exact


# --- invariants ------------------------------------------------------------------------------


def test_seats_add_up_to_the_house():
    rng = random.Random("house")
    checked = 0
    for kind in KINDS:
        for _ in range(400):
            law, house, dseats, votes, rest = _election(rng, kind)
            if not all(map(any, votes)):  # a district with no votes at all: nobody to seat
                continue
            try:
                seats = _kernel(law, house, dseats, votes, rest)
                allocate_law_reference(law, house, dseats, votes, rest)
            except ValueError:
                continue
            assert sum(map(sum, seats)) == house, (kind, law, house, dseats, votes, rest)
            checked += 1
    assert checked > 1200


def test_without_overhang_levelling_totals_are_the_national_allocation():
    """Where no list's district seats exceed its share, each qualified list ends with exactly its
    national proportional seats (the method on national votes over the seats left to them)."""
    rng = random.Random("levelling")
    checked = 0
    for _ in range(800):
        law, house, dseats, votes, rest = _election(rng, "levelling")
        D, n = len(votes), len(votes[0])
        nat = [Fraction(sum(votes[d][i] for d in range(D))) for i in range(n)]
        district = _district_tier(law, dseats, votes, rest)
        V = [[Fraction(x) for x in row] for row in votes]
        q = levelling_qualified(law, district, V, [Fraction(x) for x in rest], nat,
                                sum(nat) + sum(rest))
        _, active = entitlement(law, house, district, nat, q)
        if active != q:
            continue  # overhang: recomputed, tested against the reference above
        try:
            seats = _kernel(law, house, dseats, votes, rest)
            allocate_law_reference(law, house, dseats, votes, rest)
        except ValueError:
            continue
        won = [sum(district[d][i] for d in range(D)) for i in range(n)]
        avail = house - sum(won[i] for i in range(n) if not q[i])
        national = method_seats(law.levelling.method, nat, q, avail, law.quota_excess)
        totals = [sum(seats[d][i] for d in range(D)) for i in range(n)]
        for i in range(n):
            assert totals[i] == (national[i] if q[i] else won[i])
        checked += 1
    assert checked > 300


def test_a_bonus_follows_its_schedule_and_never_exceeds_it():
    rng = random.Random("bonus")
    schedule = ((25.0, 2), (30.0, 3), (40.0, 4))
    for _ in range(500):
        law, house, dseats, votes, rest = _election(rng, "bonus")
        nat = votes[0]
        base = sum(nat) + rest[0]
        if not sum(nat):
            continue
        first = max(range(len(nat)), key=lambda i: (nat[i], -i))
        due = max([s for share, s in schedule if nat[first] * 100 >= share * base], default=0)
        trace: dict = {}
        seats = allocate_law_reference(law, house, dseats, votes, rest, trace)
        assert trace["bonus"][first] == due <= schedule[-1][1]
        assert sum(trace["bonus"]) == due
        assert _kernel(law, house, dseats, votes, rest) == seats


# --- textbook cases and peer defects -------------------------------------------------------------


def test_largest_remainder_ties_go_to_the_earlier_list():
    """Hare, votes [1, 1, 3], 3 seats: quotas 0.6, 0.6, 1.8; the third list takes 1 + 1 and the
    tie between the first two goes to the first: [1, 0, 2]. (The `apportionment` package
    misorders this tie.)"""
    hare = Method("hare")
    got = quota_seats(hare, [Fraction(1), Fraction(1), Fraction(3)], [True] * 3, 3, "")
    assert got == [1, 0, 2]
    law = Law(hare, (0.0,) * 3, None, "smallest-remainder-loses")
    assert _kernel(law, 3, [3], [[1, 1, 3]], [0]) == [[1, 0, 2]]


def test_a_list_exactly_at_the_threshold_qualifies():
    """5 % of 2,000 valid votes is 100: a list with exactly 100 takes part (votelib drops it)."""
    law = Law(Method("dhondt", Fraction(1)), (5.0, 5.0), None, "smallest-remainder-loses")
    assert _kernel(law, 20, [20], [[1900, 100]], [0]) == [[19, 1]]
    assert _kernel(law, 20, [20], [[1901, 99]], [0]) == [[20, 0]]


@pytest.mark.parametrize("name, first, expected", [
    ("dhondt", 1, [4, 2, 1]),  # 53, 26.5, 24, 23, 17.7, 13.25, 12
    ("sainte-lague", 1, [3, 2, 2]),  # 53, 24, 23, 17.7, 10.6, 8, 7.67
    ("sainte-lague", Fraction(7, 5), [3, 2, 2]),  # 37.9, 17.7, 17.1, 16.4, 10.6, 8, 7.67
    ("imperiali", 2, [5, 1, 1]),  # 26.5, 17.7, 13.25, 12, 11.5, 10.6, 8.8
    ("danish", 1, [3, 2, 2]),  # 53, 24, 23, 13.25, 7.57, 6, 5.75
])
def test_divisor_methods_on_a_textbook_election(name, first, expected):
    """Votes 53,000, 24,000, 23,000 and 7 seats (in thousands, the winning quotients by hand)."""
    votes = [Fraction(53000), Fraction(24000), Fraction(23000)]
    method = Method(name, Fraction(first))
    assert divisor_seats(method, votes, [True] * 3, 7) == expected
    law = Law(method, (0.0,) * 3, None, "smallest-remainder-loses")
    assert _kernel(law, 7, [7], [[53000, 24000, 23000]], [0]) == [expected]


@pytest.mark.parametrize("name, expected", [
    ("hare", [5, 3, 2]),  # quota 100: 5, 3, 2 whole quotas
    ("droop", [5, 3, 2]),  # quota floor(1000 / 11) + 1 = 91: 5 r 45, 3 r 27, 2 r 18
    ("imperiali-quota", [5, 3, 2]),  # quota 83.3: 6 + 3 + 2 = 11, the first (remainder 0) loses one
])
def test_quota_methods_on_whole_quotas(name, expected):
    assert quota_seats(Method(name), [Fraction(500), Fraction(300), Fraction(200)], [True] * 3, 10,
                       "smallest-remainder-loses") == expected


def test_an_imperiali_excess_is_taken_from_the_smallest_remainder():
    """3 seats, votes 50, 30, 20: quota 100 / 5 = 20 gives 2 + 1 + 1 = 4 seats; the list with the
    smallest remainder loses one: remainders 10, 10 and 0, so the last."""
    got = quota_seats(Method("imperiali-quota"), [Fraction(50), Fraction(30), Fraction(20)],
                      [True] * 3, 3, "smallest-remainder-loses")
    assert got == [2, 1, 0]


# --- real elections ------------------------------------------------------------------------------

OFFICIAL = {  # national seat totals, from the sources named in each config
    "norway-2017": {"a": 49, "h": 45, "frp": 27, "sp": 19, "sv": 11, "v": 8, "krf": 8, "mdg": 1,
                    "r": 1},
    "sweden-2018": {"s": 100, "m": 70, "sd": 62, "c": 31, "v": 28, "kd": 22, "l": 20, "mp": 16},
    "denmark-2019": {"a": 48, "v": 43, "o": 16, "b": 16, "f": 14, "oe": 13, "c": 12, "aa": 5,
                     "d": 4, "i": 4, "k": 0, "p": 0, "e": 0},
    "greece-2023-06": {"nd": 158, "syriza": 47, "pasok": 32, "kke": 21, "spartiates": 12,
                       "el": 12, "niki": 10, "pe": 8},
    "czechia-2021": {"ano": 72, "spolu": 71, "pirstan": 37, "spd": 20, "prisaha": 0, "cssd": 0,
                     "kscm": 0},
}
LEVELLING = {  # official levelling / adjustment / compensatory / second-scrutiny seats
    "norway-2017": {"sv": 6, "krf": 5, "v": 4, "h": 3, "sp": 1},
    "sweden-2018": {"s": 6, "m": 4, "sd": 1, "v": 3, "kd": 6, "l": 8, "mp": 11},
    "czechia-2021": {"spolu": 1},
}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_real_elections_come_out_seat_for_seat(name):
    election = load_config(ROOT / "configs" / f"{name}.toml", ALLOCATE_SECTIONS)
    rows = {r.id: r for r in allocate_result(election)}
    for pid, seats in OFFICIAL[name].items():
        assert rows[pid].seats == seats, pid
    assert sum(r.seats for r in rows.values()) == election.rules.seats
    extra = {pid: k for pid, r in rows.items() for t, k in r.by_tier
             if t not in ("district", "proportional", "bonus") and k}
    if name in LEVELLING:
        assert extra == LEVELLING[name]
    if name == "greece-2023-06":
        assert dict(rows["nd"].by_tier)["bonus"] == 50
    path = ROOT / "configs" / f"{name}-seats.csv"
    if path.exists():  # per district: levelling seats where the law puts them
        official = Counter()
        for row in csv.DictReader(path.open(encoding="utf-8")):
            official[row["district"], row["party"]] += int(row["seats"]) + int(row.get("levelling") or 0)
        got = district_seats(election)
        for (d, p), k in official.items():
            if d != "national":
                assert got[d].get(p, 0) == k, (d, p)


# --- the config: every law that cannot work is a one-line error naming the key ------------------

LAW = """
[election]
seats = 10
method = "sainte-lague"
first_divisor = 1.4
threshold = 4.0
{election}

[[party]]
id = "a"
{party_a}

[[party]]
id = "b"

[[district]]
id = "n"
seats = 6
{district_n}

[[district]]
id = "s"
seats = {s_seats}
{district_s}

{tiers}
"""
LEVELLING_TIER = """
[[tier]]
kind = "levelling"
seats = 2
{extra}
"""


def _law_config(write_config, election="", party_a="", district_n="", district_s="", tiers=None):
    if tiers is None:
        tiers = LEVELLING_TIER.format(extra="")
    s_seats = 2 if 'kind = "levelling"' in tiers else 4  # the house: 10 seats either way
    return write_config(LAW.format(election=election, party_a=party_a, district_n=district_n,
                                   district_s=district_s, tiers=tiers, s_seats=s_seats))


def test_a_levelling_law_loads_into_a_typed_plan(write_config):
    e = load_config(_law_config(write_config, district_n='region = "x"', district_s='region = "x"',
                                tiers=LEVELLING_TIER.format(extra="qualify_district_seats = 1")))
    law = e.law
    assert law.tiers == ["district", "levelling"]
    assert law.method == Method("sainte-lague", Fraction(7, 5))
    assert law.levelling.seats == 2 and law.levelling.thresholds == (4.0, 4.0)
    assert law.levelling.qualify_district_seats == 1 and law.region_names == ("x",)


def test_alliance_thresholds_by_the_number_of_members(write_config):
    e = load_config(_law_config(write_config, election='alliance_threshold = { 2 = 8.0, 3 = 11.0 }',
                                party_a='members = ["X", "Y", "Z"]', tiers=""))
    assert e.law.thresholds == (11.0, 4.0)
    e = load_config(_law_config(write_config, election='alliance_threshold = { 2 = 8.0, 3 = 11.0 }',
                                party_a='members = ["X", "Y"]', tiers=""))
    assert e.law.thresholds == (8.0, 4.0)


@pytest.mark.parametrize("kwargs, key", [
    # adjustment seats whose districts cannot add up to the house
    (dict(tiers=LEVELLING_TIER.format(extra="").replace("seats = 2", "seats = 3")), "district"),
    # a regional route with no regions
    (dict(tiers=LEVELLING_TIER.format(extra="qualify_regions = 2")), "tier 1.qualify_regions"),
    # per-district levelling seats that do not sum to the tier's
    (dict(district_n="levelling = 1", tiers=LEVELLING_TIER.format(
        extra='assign = "relative-quotient"')), "district.levelling"),
    # assignment by regions without regions
    (dict(tiers=LEVELLING_TIER.format(extra='assign = "regions"')), "tier 1.assign"),
    # a bonus schedule that is not monotone
    (dict(tiers='[[tier]]\nkind = "bonus"\nschedule = [[30.0, 2], [25.0, 3]]'), "tier 1.schedule"),
    # a bonus schedule that takes the whole house
    (dict(tiers='[[tier]]\nkind = "bonus"\nschedule = [[30.0, 12]]'), "tier.schedule"),
    # an unknown tier kind, an unknown key in a tier
    (dict(tiers='[[tier]]\nkind = "overhang"'), "tier 1.kind"),
    (dict(tiers=LEVELLING_TIER.format(extra="sets = 3")), "tier 1.sets"),
    # a remainder tier after a divisor method
    (dict(tiers='[[tier]]\nkind = "remainder"'), "tier 1.kind"),
    # alliance thresholds with keys that are not numbers of members, members that are not two
    (dict(election='alliance_threshold = { one = 8.0 }', tiers=""), "election.alliance_threshold.one"),
    (dict(party_a='members = ["X"]', tiers=""), "party 1 (a).members"),
])
def test_a_law_that_cannot_work_is_an_error_naming_its_key(write_config, kwargs, key):
    from simulator.errors import ConfigError

    path = _law_config(write_config, **kwargs)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_a_first_divisor_needs_a_divisor_method(write_config):
    from simulator.errors import ConfigError

    text = LAW.replace('method = "sainte-lague"', 'method = "droop"').format(
        election="", party_a="", district_n="", district_s="", tiers="", s_seats=4)
    with pytest.raises(ConfigError, match="election.first_divisor"):
        load_config(write_config(text))


def test_the_cli_refuses_a_bad_law_with_exit_code_2_and_no_output(write_config, tmp_path):
    import subprocess
    import sys

    path = _law_config(write_config, tiers='[[tier]]\nkind = "bonus"\nschedule = [[30.0, 2], [25.0, 3]]')
    out = tmp_path / "o.json"
    run = subprocess.run([sys.executable, "-m", "simulator", "simulate", str(path), "--runs", "100",
                          "--json", str(out)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "tier 1.schedule" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


# --- the engine walks the same plan ----------------------------------------------------------------


def test_the_engine_allocates_every_simulated_election_by_the_law():
    """Greece: the seats the engine counted for each recorded run are the kernel's and the exact
    reference's for that run's shares."""
    from simulator.allocation.plan import law_stage
    from simulator.engine import Engine

    e = load_config(ROOT / "configs" / "greece-2023-06.toml")
    engine = Engine(e, chunk_size=500)
    _, votes, seats = engine.run_chunks(7, 0, np.array([500, 500]), record=True)
    n = len(e.parties)
    v = votes.reshape(-1, n)
    s = seats.reshape(-1, n)
    rest = np.maximum(1.0 - np.cumsum(v, axis=1)[:, -1], 0.0)  # summed in list order, as the engine
    expect = allocate_law(v[:, None, :], rest[:, None], law_stage(e))[:, 0, :]
    assert (s == expect).all()
    assert (s.sum(axis=1) == 300).all()
    assert (s[:, 0] >= 20).mean() > 0.5  # the first list's bonus shows
    for r in range(0, 1000, 50):
        exact = allocate_law_reference(e.law, 300, [300], [v[r].tolist()], [float(rest[r])])
        assert exact == [s[r].tolist()]


def test_a_district_law_simulates_the_same_on_one_thread_or_two():
    import numba as nb

    from simulator.engine import simulate

    e = load_config(ROOT / "configs" / "norway-2017.toml")
    one = simulate(e, runs=6_000, seed=3, threads=1).to_json()
    two = simulate(e, runs=6_000, seed=3, threads=2 if nb.config.NUMBA_NUM_THREADS >= 2 else 1).to_json()
    for doc in (one, two):
        doc["settings"].pop("threads")
    assert one == two
    mean = sum(p["mean_seats"] for p in one["parties"].values()) if isinstance(one["parties"], dict) \
        else sum(p["mean_seats"] for p in one["parties"])
    assert abs(mean - 169) < 1e-9


@pytest.mark.parametrize("name", ["czechia-2021", "norway-2017", "denmark-2019"])
def test_the_block_paths_equal_the_row_kernel(name):
    """The engine's block paths (the district tier on the one-tier district kernel; whole quotas
    by blocks) give the row kernel's seats on simulated district votes, run for run."""
    import numba as nb

    from simulator.allocation import district_rules
    from simulator.allocation.districts import district_work
    from simulator.allocation.kernels import BLOCK
    from simulator.allocation.plan import law_stage
    from simulator.allocation.tiers import allocate_law_block, law_scratch

    @nb.njit
    def blocks(dsrc, drest, p, ds, dw, out):
        sc = law_scratch(p, dsrc.shape[1])
        seats = np.zeros((dsrc.shape[0], dsrc.shape[1], BLOCK), np.float32)
        for s in range(0, dsrc.shape[2], BLOCK):
            nr = min(BLOCK, dsrc.shape[2] - s)
            allocate_law_block(np.ascontiguousarray(dsrc[:, :, s:s + nr]),
                               np.ascontiguousarray(drest[:, s:s + nr]), nr, p, sc, seats, ds, dw)
            out[:, :, s:s + nr] = seats[:, :, :nr]

    e = load_config(ROOT / "configs" / f"{name}.toml")
    stage = law_stage(e)
    assert stage.one_tier or stage.quota_block
    res = e.result
    rng = np.random.default_rng(11)
    E = 600
    votes = res.district_votes[None] * rng.lognormal(0.0, 0.3, (E,) + res.district_votes.shape)
    total = votes.sum(axis=(1, 2)) + res.district_rest.sum()
    votes /= total[:, None, None]  # national units, as the engine's district draws
    rest = np.repeat((res.district_rest / res.district_votes.sum())[None], E, 0)
    D, n = res.district_votes.shape
    out = np.zeros((D, n, E), np.float32)
    blocks(np.ascontiguousarray(votes.transpose(1, 2, 0)), np.ascontiguousarray(rest.T), stage,
           district_rules(e), district_work(D, n), out)
    row = allocate_law(votes * stage.scale, rest * stage.scale,
                       stage._replace(one_tier=False, quota_block=False))
    assert (out.transpose(2, 0, 1).astype(np.int32) == row).all()


def test_allocate_json_gives_the_seats_of_each_tier():
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "simulator", "allocate", "--json",
                          str(ROOT / "configs" / "norway-2017.toml")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["tiers"] == ["district", "levelling"]
    assert doc["law"] == ("150 seats in 19 districts by modified-sainte-lague, no threshold; 19 "
                          "levelling seats by modified-sainte-lague over 4 %, placed by "
                          "relative-quotient")
    assert doc["parties"]["sv"]["by_tier"] == {"district": 5, "levelling": 6}
    assert sum(doc["districts"]["oslo"].values()) == 19  # 18 county seats and its levelling seat


def test_bench_laws_compares_a_law_with_the_one_tier_kernel_on_the_same_draws():
    from simulator.bench import bench_laws, one_tier

    e = load_config(ROOT / "configs" / "greece-2023-06.toml")
    plain = one_tier(e)
    assert plain.law is None and plain.rules.seats == 300 and plain.rules.method == "dhondt"
    doc = bench_laws([e], runs=2_000, rounds=1)
    row = doc["elections"][e.name]
    assert row["tiers"] == ["bonus", "district"]
    assert row["runs_per_s"] > 0 and row["one_tier_runs_per_s"] > 0
    assert row["ratio_to_one_tier"] == pytest.approx(row["one_tier_runs_per_s"] / row["runs_per_s"],
                                                     rel=1e-9)


def test_sweeps_and_scenarios_of_a_law_are_refused_not_run_under_the_wrong_law(write_config):
    from simulator.errors import ConfigError, InputError
    from simulator.scenarios import sweep

    e = load_config(ROOT / "configs" / "greece-2023-06.toml")
    with pytest.raises(InputError, match="sweep: variants of a law"):
        sweep(e, runs=100, seed=1)
    text = LAW.format(election="", party_a="", district_n="", district_s="", s_seats=4,
                      tiers='[[scenario]]\nname = "x"\n[scenario.election]\nthreshold = 5.0')
    with pytest.raises(ConfigError, match="scenario"):
        load_config(write_config(text))
