"""What-if scenarios on common random numbers (the library of ``electsim sweep``).

A scenario changes only the rules: the method, thresholds and their base, minority rules, a list's
own threshold or minority flag, the seats and the majority, and merges of lists (their votes
summed into one list before allocation). Every variant is allocated on the **same** simulated
votes as the baseline, run by run, so the difference between a variant and the baseline is
measured with a *paired* standard error (the sd of the run-by-run differences over sqrt(runs)),
usually far smaller than that of two independent simulations.

A merged list takes the place ("slot") of its first member; the other members' slots stay
empty in that variant, so every variant has the baseline's lists' shape and one compiled pass
serves all. A variant's difference for a list compares its seats with the baseline seats of
the lists it gathers (itself, or a merge's members); a coalition's, with the distinct slots of
its members.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections import namedtuple
from dataclasses import dataclass

import numba as nb
import numpy as np

from .allocation import district_rules, kernel_rules
from .allocation.districts import DistrictStage, allocate_districts_block
from .allocation.kernels import BLOCK, SeatStage, allocate_stage, block_work
from .config import (
    VOTE_MODEL_KEYS, Election, Scenario, config_document, dates_back, parse_config,
)
from .districts import district_scratch, district_shares, district_votes_record, sum_districts
from .engine import (
    Engine, Ticker, check_finite, check_memory, check_options, run_settings, threshold_base, wave_plan,
)
from .errors import ConfigError, InputError
from .results import Result, result_from_tally
from .streams import chunk_states, fresh_seed, stream_state
from .tally import Tally, TallySpec, chunk_tally, tally_block, tally_districts, tally_seats_block
from .votes.draws import draw_shares, vote_scratch

SWEEP_COMPILE_NOTE = "compiling the sweep kernels (first sweep only, about 25 s on 2 cores)"
ELECTION_KEYS = {"method", "threshold", "threshold_base", "minority_exempt", "minority_coefficient",
                 "seats", "majority", "blocking_minority"}
PARTY_KEYS = {"threshold", "minority"}


@dataclass
class Variant:
    name: str
    election: Election  # its rules, and its lists (merges applied)
    slot: np.ndarray  # (baseline lists,) the slot each baseline list's votes go to
    owner: list[int]  # the slot of each of the variant's lists, in its list order


def variant_of(base: Election, scenario: Scenario) -> Variant:
    """The baseline with a scenario's overrides: a checked election (every mistake a one-line
    :class:`ConfigError` naming the scenario and key) and its slots. The variant's ``[result]``
    and ``[baseline]`` are dropped: its votes are the baseline's draws."""
    doc = config_document(base)
    for key in ("scenario", "result", "baseline"):
        doc.pop(key, None)
    where = f"scenario {scenario.name!r}"
    ov = scenario.overrides

    def fail(key, problem):
        raise ConfigError(base.path, f"{where}.{key}", problem)

    for key, value in (ov.get("election") or {}).items():
        if key not in ELECTION_KEYS:
            fail(f"election.{key}", "not a rule a scenario can change; one of "
                 + ", ".join(sorted(ELECTION_KEYS)))
        doc["election"][key] = value
    seats = (ov.get("election") or {}).get("seats")
    if seats is not None and "majority" not in ov["election"] and type(seats) is int and seats >= 1:
        doc["election"]["majority"] = seats // 2 + 1  # (a bad value is parse_config's to name)
    rows = {p["id"]: p for p in doc["party"]}
    for pid, table in (ov.get("party") or {}).items():
        if pid not in rows or not isinstance(table, dict):
            fail(f"party.{pid}", "unknown party id, or not a table")
        for key, value in table.items():
            if key not in PARTY_KEYS:
                fail(f"party.{pid}.{key}", "not a rule a scenario can change; one of "
                     + ", ".join(sorted(PARTY_KEYS)))
            rows[pid][key] = value
    districts = {d["id"]: d for d in doc.get("district", [])}
    for did, table in (ov.get("district") or {}).items():
        if did not in districts or not isinstance(table, dict):
            fail(f"district.{did}", "unknown district id, or not a table")
        for key, value in table.items():
            if key not in ("seats", "threshold"):
                fail(f"district.{did}.{key}", "a scenario can change a district's seats or threshold")
            districts[did][key] = value
    if districts and "district" in ov and "seats" not in (ov.get("election") or {}):
        # magnitudes moved: the election's seats follow, and its majority unless set
        doc["election"]["seats"] = sum(int(d["seats"]) if isinstance(d["seats"], int) else 0
                                       for d in districts.values())
        if "majority" not in (ov.get("election") or {}):
            doc["election"]["majority"] = doc["election"]["seats"] // 2 + 1
    slot = np.arange(len(base.parties))
    for new, members in (ov.get("merge") or {}).items():
        ids = [p["id"] for p in doc["party"]]
        if (not isinstance(members, list) or len(members) < 2 or len(set(members)) != len(members)
                or not all(isinstance(m, str) and m in ids for m in members)):
            fail(f"merge.{new}", "a merge is a list of two or more distinct party ids of the config "
                 "(not merged already)")
        if new != members[0] and new in ids:
            fail(f"merge.{new}", "the merged list's id is taken by another list")
        if new in ("others", "blank"):
            fail(f"merge.{new}", "a reserved id")
        _merge(doc, new, members)
        # slots: every baseline list whose votes went to a member now goes to the first member's
        targets = {int(slot[base.party_ids.index(m)]) for m in members if m in base.party_ids}
        first = min(targets) if targets else None
        for i in range(len(slot)):
            if int(slot[i]) in targets:
                slot[i] = first
    try:
        election = parse_config(dates_back(doc, base.path), base.path)
    except ConfigError as exc:
        raise ConfigError(base.path, where, f"{exc.key}: {exc.problem}") from None
    owner = sorted(set(slot.tolist()))
    if len(owner) != len(election.parties):  # pragma: no cover (merges keep the two in step)
        raise InputError(f"{where}: the merged lists do not match their slots")
    return Variant(name=scenario.name, election=election, slot=slot, owner=owner)


def _merge(doc: dict, new: str, members: list[str]) -> None:
    """Merge lists in a config document: the first member's row becomes the merged list (no own
    threshold, not a minority list unless set), the others go; the polls' and past results'
    shares and the coalitions follow."""
    rows = doc["party"]
    first = next(p for p in rows if p["id"] == members[0])
    first.update(id=new, name=new if new != members[0] else first.get("name", new), minority=False)
    first.pop("threshold", None)
    doc["party"] = [p for p in rows if p["id"] not in members[1:]]
    for poll in doc.get("poll", []) + doc.get("past_result", []):
        shares = poll["shares"]
        named = [m for m in members if m in shares]
        if named:
            shares[new] = sum(shares.pop(m) for m in named)
    for c in doc.get("coalition", []):
        c["members"] = list(dict.fromkeys(new if m in members else m for m in c["members"]))


def grid_scenarios(settings: list[str]) -> list[Scenario]:
    """Scenarios from ``--set KEY=V1,V2,...`` options: every combination of their values (keys as
    in a ``[[scenario]]`` table: ``election.threshold``, ``party.kp.threshold``,
    ``district.<id>.seats``). A scenario's name is its settings, e.g. "election.threshold=5.0"."""
    if not settings:
        return []
    axes = []
    for text in settings:
        key, sep, values = text.partition("=")
        parts = key.strip().split(".")
        if parts[0].strip() in VOTE_MODEL_KEYS:
            raise InputError(f"--set {text!r}: a scenario changes the rules only, on the same "
                             f"draws; [{parts[0].strip()}] is part of the vote model or the polls, "
                             "and changing it is a separate forecast (run simulate on a config "
                             "with the change)")
        if (not sep or not values.strip() or parts[0] not in ("election", "party", "district")
                or len(parts) != (2 if parts[0] == "election" else 3) or not all(parts)):
            raise InputError(f"--set {text!r}: expected KEY=V1,V2,... with KEY like election.threshold, "
                             "party.<id>.threshold or district.<id>.seats")
        axes.append([(parts, _value(v.strip())) for v in values.split(",") if v.strip()])
    out = []
    for combo in itertools.product(*axes):
        overrides: dict = {}
        for parts, value in combo:
            table = overrides
            for p in parts[:-1]:
                table = table.setdefault(p, {})
            table[parts[-1]] = value
        name = ", ".join(f"{'.'.join(parts)}={value}" for parts, value in combo)
        out.append(Scenario(name=name, overrides=overrides))
    return out


def _value(text: str):
    """A --set value: a TOML literal (5.0, true, "x"), or a bare word as a string (sainte-lague)."""
    try:
        return tomllib.loads(f"x = {text}")["x"]
    except tomllib.TOMLDecodeError:
        return text


def _same_rules(a: Variant, b: Variant) -> bool:
    ea, eb = a.election, b.election
    return (ea.rules == eb.rules and ea.parties == eb.parties and ea.districts == eb.districts
            and np.array_equal(a.slot, b.slot))


def new_scenarios(base: Election, extra: list[Scenario]) -> tuple[list[Scenario], list[str]]:
    """The scenarios of ``extra`` (a ``--set`` grid) that differ from the baseline's rules and
    from every scenario before them (the config's first), each checked; and a line for each one
    dropped, saying why (a grid over a key repeats the baseline's own value, say)."""
    seen = [("the baseline's rules", Variant("baseline", base, np.arange(len(base.parties)), []))]
    seen += [(f"scenario {s.name!r} of the config", variant_of(base, s)) for s in base.scenarios]
    keep, dropped = [], []
    for scenario in extra:
        variant = variant_of(base, scenario)
        same = next((label for label, v in seen if _same_rules(v, variant)), None)
        if same is not None:
            dropped.append(f"scenario {scenario.name!r} left out: the same rules as {same}")
            continue
        seen.append((f"scenario {scenario.name!r}", variant))
        keep.append(scenario)
    return keep, dropped


def variants_of(base: Election, extra: list[Scenario] = ()) -> list[Variant]:
    """The baseline (first, as itself) and every scenario of the config and of ``extra``."""
    scenarios = list(base.scenarios) + list(extra)
    names = [s.name for s in scenarios]
    for name in names:
        if names.count(name) > 1 or name == "baseline":
            raise InputError(f"two scenarios are named {name!r} (or one is named 'baseline')")
    out = [Variant("baseline", base, np.arange(len(base.parties)), list(range(len(base.parties))))]
    return out + [variant_of(base, s) for s in scenarios]


def paired_difference(s1: float, s2: float, runs: int) -> tuple[float, float]:
    """Mean and standard error of run-by-run differences from their sum and sum of squares."""
    mean = s1 / runs
    var = max(s2 / runs - mean * mean, 0.0)
    return mean, math.sqrt(var / (runs - 1)) if runs > 1 else float("nan")


# --- the sweep: every variant on the same draws, in one compiled pass --------------------------------

Variants = namedtuple("Variants", (
    "base", "seats", "method", "thresholds", "minority", "exempt", "cnum", "cden", "fex",
    "blocked",  # the seat stage's fields, one row (or entry) per variant, lists in slots
    "slot",  # (variants x lists) where each baseline list's votes go
    "majority",  # (variants,)
    "members",  # (variants x coalitions x lists) coalition members, as slots
    "base_members",  # (coalitions x lists) the baseline's coalitions
    "dseats",  # (variants x districts) with districts: each district's seats
    "dthresholds",  # (variants x 1 or districts x lists) the district stage's thresholds, in slots
    "dfex",  # (variants x lists) the district stage's below-threshold factors, in slots
    "dblocked",  # (variants,) the district stage's block kernel applies
    "national",  # lists qualify on national totals (as the config; a scenario cannot change it)
))


def _in_slots(values, owner, n, dtype=np.float64):
    out = np.zeros(values.shape[:-1] + (n,), dtype)
    out[..., owner] = values
    return out


def variants_record(variants: list[Variant], base_election: Election) -> Variants:
    """The compiled sweep's record of every variant's rules, lists in their slots."""
    n = len(base_election.parties)
    n_c = len(base_election.coalitions)
    stages, dstages, thresholds, minority, fex, dthr, dfex, members = [], [], [], [], [], [], [], []
    for v in variants:
        e = v.election
        kr = kernel_rules(e.rules, e.parties)
        stage = kr.stage(threshold_base(e))
        ds = district_rules(e)
        stages.append(stage)
        dstages.append(ds)
        thresholds.append(_in_slots(kr.thresholds, v.owner, n))
        minority.append(_in_slots(kr.minority, v.owner, n, np.bool_))
        fex.append(_in_slots(stage.fex, v.owner, n))
        dthr.append(_in_slots(ds.thresholds, v.owner, n))
        dfex.append(_in_slots(ds.fex, v.owner, n))
        m = np.zeros((n_c, n), np.bool_)
        for c, coalition in enumerate(e.coalitions):
            for pid in coalition.members:
                m[c, v.owner[e.party_ids.index(pid)]] = True
        members.append(m)
    base_members = np.zeros((n_c, n), np.bool_)
    for c, coalition in enumerate(base_election.coalitions):
        for pid in coalition.members:
            base_members[c, base_election.party_ids.index(pid)] = True
    return Variants(
        base=np.array([s.base for s in stages]), seats=np.array([s.seats for s in stages], np.int64),
        method=np.array([s.method for s in stages], np.int64),
        thresholds=np.array(thresholds), minority=np.array(minority),
        exempt=np.array([s.exempt for s in stages]), cnum=np.array([s.cnum for s in stages]),
        cden=np.array([s.cden for s in stages]), fex=np.array(fex),
        blocked=np.array([s.blocked for s in stages]),
        slot=np.array([v.slot for v in variants], np.int64),
        majority=np.array([v.election.rules.majority for v in variants], np.int64),
        members=np.array(members).reshape(len(variants), n_c, n), base_members=base_members,
        dseats=np.array([d.seats for d in dstages], np.int64).reshape(len(variants), -1),
        dthresholds=np.array(dthr), dfex=np.array(dfex),
        dblocked=np.array([d.blocked for d in dstages]),
        national=bool(dstages[0].national),
    )


@nb.njit(cache=True, parallel=True, nogil=True)
def _sweep_wave(states, chunk_runs, votes, dv, var, slots, diffs, ticks):
    """Chunks in parallel; variant v's tally is slot ``thread * variants + v`` of ``slots``, its
    differences ``diffs[thread, v]``: integer sums, the same whichever thread ran which chunk.
    ``ticks[c]``: runs of chunk c done so far (for the progress bar; see engine.Ticker)."""
    n_v = var.seats.shape[0]
    for c in nb.prange(states.shape[0]):
        s = nb.get_thread_id()
        _sweep_chunk(states[c], chunk_runs[c], votes, dv, var, slots, s * n_v, diffs[s],
                     ticks[c:c + 1])


@nb.njit(cache=True, error_model="numpy")
def _gather_slots(x, slot, nr, out):
    """A variant's votes from the baseline's (lists x runs, first nr runs): list i's into row
    ``slot[i]`` of ``out`` (merged lists add up in their first member's row; other rows 0)."""
    for i in range(out.shape[0]):
        for r in range(nr):
            out[i, r] = 0.0
    for i in range(x.shape[0]):
        k = slot[i]
        for r in range(nr):
            out[k, r] += x[i, r]


@nb.njit(cache=True, error_model="numpy")
def _sweep_chunk(words, runs, votes, dv, var, slots, first, diffs, tick):
    """One chunk: draw each block of runs once (the engine's votes stage, and with districts the
    district shares), then for every variant gather the votes into its slots, allocate, tally,
    and add its run-by-run differences from the baseline (variant 0) to ``diffs``."""
    n = var.slot.shape[1]
    n_v = var.seats.shape[0]
    n_c = var.base_members.shape[0]
    st = stream_state(words)
    work = block_work(n)
    src = work[0][0]
    scratch = vote_scratch(votes)
    dsrc, drest, dseats, dshares, dw = district_scratch(dv, n)
    vdsrc = np.zeros_like(dsrc)
    n_d = dsrc.shape[0]
    vsrc = np.zeros((n, BLOCK))
    seats0 = np.zeros((n, BLOCK), np.float32)
    group = np.zeros(BLOCK, np.float32)
    coal = np.zeros(BLOCK, np.float32)
    cs = np.empty(BLOCK)
    bins = np.empty((n, BLOCK), np.int32)
    tallies = [chunk_tally(slots, first + v, cs, bins) for v in range(n_v)]
    identity = np.ones(n_v, np.bool_)  # the variant's lists are the baseline's: no gathering
    for v in range(n_v):
        for i in range(n):
            if var.slot[v, i] != i:
                identity[v] = False
    for start in range(0, runs, BLOCK):
        nr = min(BLOCK, runs - start)
        st = draw_shares(st, votes, scratch, nr, src)
        if dv.active:  # the national shares become the districts' sums, as in the engine
            st = district_shares(st, src, nr, dv, dsrc, drest, dshares)
            sum_districts(dsrc, nr, src)
        for v in range(n_v):
            t = tallies[v]
            vs = src
            if not identity[v]:
                vs = vsrc
                _gather_slots(src, var.slot[v], nr, vsrc)  # the variant's votes: each list's into its slot
            if dv.active:
                for d in range(n_d):
                    _gather_slots(dsrc[d], var.slot[v], nr, vdsrc[d])
                ds = DistrictStage(var.dseats[v], var.dthresholds[v], var.national, var.method[v],
                                   var.minority[v], var.exempt[v], var.cnum[v], var.cden[v],
                                   var.dfex[v], var.dblocked[v])
                allocate_districts_block(vdsrc, drest, nr, ds, dw, dseats)
                sb = work[0][2]
                sum_districts(dseats, nr, sb)
                tally_districts(dseats, nr, t)
            else:
                ss = SeatStage(var.base[v], var.seats[v], var.method[v], var.thresholds[v],
                               var.minority[v], var.exempt[v], var.cnum[v], var.cden[v], var.fex[v],
                               var.blocked[v])
                work[1][0][:] = var.base[v]
                allocate_stage(vs, nr, ss, work)
                sb = work[0][2]
            spec = TallySpec(var.thresholds[v], var.base[v], var.members[v])
            if v == 0 or not identity[v]:
                tally_block(vs, sb, nr, spec, t)
            else:  # the baseline's votes: its share tallies serve (copied in sweep())
                tally_seats_block(vs, sb, nr, spec, t)
            if v == 0:
                for i in range(n):
                    for r in range(nr):
                        seats0[i, r] = sb[i, r]
                continue
            for k in range(n):  # lists: the variant's seats against its members' at baseline
                if identity[v]:
                    _add_difference(sb[k], seats0[k], nr, var.majority[v], var.majority[0], diffs[v, k])
                    continue
                owned = False
                for r in range(nr):
                    group[r] = 0.0
                for i in range(n):
                    if var.slot[v, i] == k:
                        owned = True
                        for r in range(nr):
                            group[r] += seats0[i, r]
                if owned:
                    _add_difference(sb[k], group, nr, var.majority[v], var.majority[0], diffs[v, k])
            for c in range(n_c):  # coalitions: the slots of their members
                for r in range(nr):
                    group[r] = 0.0
                    coal[r] = 0.0
                for i in range(n):
                    if var.base_members[c, i]:
                        for r in range(nr):
                            group[r] += seats0[i, r]
                    if var.members[v, c, i]:
                        for r in range(nr):
                            coal[r] += sb[i, r]
                _add_difference(coal, group, nr, var.majority[v], var.majority[0], diffs[v, n + c])
        tick[0] = start + nr


@nb.njit(cache=True, error_model="numpy")
def _add_difference(seats, base_seats, nr, majority, base_majority, acc):
    """Sums of the run-by-run differences of seats and of majority indicators, and of their
    squares, into acc[0:4]: integers, exact in any grouping (the seats are whole numbers in
    float32)."""
    s1 = np.int32(0)
    s2 = np.int64(0)  # seats up to 2^31 / BLOCK would fit 32 bits: not assumed
    m1 = np.int32(0)
    m2 = np.int32(0)
    fm = np.float32(majority)
    fb = np.float32(base_majority)
    for r in range(nr):
        x = np.float32(seats[r])
        y = np.float32(base_seats[r])
        d = np.int32(x - y)
        m = np.int32(x >= fm) - np.int32(y >= fb)
        s1 += d
        s2 += np.int64(d) * d
        m1 += m
        m2 += m * m
    acc[0] += s1
    acc[1] += s2
    acc[2] += m1
    acc[3] += m2


@dataclass
class SweepResult:
    """The baseline and every scenario, with each scenario's paired differences."""

    baseline: Result
    scenarios: dict  # name -> Result
    differences: dict  # name -> {"parties": {id: {...}}, "coalitions": {name: {...}}}
    overrides: dict  # name -> the scenario's overrides

    def to_json(self) -> dict:
        return {
            "baseline": self.baseline.to_json(),
            "scenarios": {
                name: {**{k: v for k, v in r.to_json().items() if k in ("parties", "coalitions", "districts")},
                       "seats": r.seats, "majority": r.majority,
                       "rules": self.overrides[name], "difference": self.differences[name]}
                for name, r in self.scenarios.items()
            },
        }

    def rows(self) -> list[dict]:
        """One row per scenario and list or coalition: the scenario's mean seats and P(majority),
        the baseline's for the same lists (a merge's: its members' together), and the paired
        differences with their standard errors. Tidy, for CSV and tables."""
        out = []
        for name, r in self.scenarios.items():
            diff = self.differences[name]
            items = [("party", pid, p.name, p.mean_seats, p.p_majority, diff["parties"][pid])
                     for pid, p in r.parties.items()]
            items += [("coalition", c.name, c.label, c.mean_seats, c.p_majority, diff["coalitions"][c.name])
                      for c in r.coalitions.values()]
            for kind, key, label, seats, p_maj, d in items:
                out.append({
                    "scenario": name, "kind": kind, "id": key, "name": label,
                    "mean_seats_baseline": seats - d["mean_seats"], "mean_seats": seats,
                    "mean_seats_difference": d["mean_seats"], "mean_seats_se": d["mean_seats_se"],
                    "p_majority_baseline": p_maj - d["p_majority"], "p_majority": p_maj,
                    "p_majority_difference": d["p_majority"], "p_majority_se": d["p_majority_se"],
                })
        return out


@dataclass
class SweepPlan:
    """What a wave of a sweep needs (a cluster's workers get it with each wave)."""

    engine: Engine
    dv: object  # DistrictVotes
    var: Variants
    lists: int
    coalitions: int
    districts: int
    max_seats: int
    magnitude: int


def sweep_wave(plan: SweepPlan, seed: int, first: int, chunk_runs: np.ndarray,
               ticks: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """One wave of a sweep: every variant's tally arrays (variant first) and the sums of the
    run-by-run differences (variants x lists + coalitions x 4), all integers."""
    threads = nb.config.NUMBA_NUM_THREADS
    n_v = plan.var.seats.shape[0]
    slots = Tally.empty(plan.lists, plan.max_seats, plan.coalitions, slots=threads * n_v,
                        districts=plan.districts, magnitude=plan.magnitude)
    diffs = np.zeros((threads, n_v, plan.lists + plan.coalitions, 4), np.int64)
    _sweep_wave(chunk_states(seed, first, len(chunk_runs)), np.asarray(chunk_runs, np.int64),
                plan.engine.votes, plan.dv, plan.var, slots.chunk_tally(), diffs,
                np.zeros(len(chunk_runs), np.int64) if ticks is None else ticks)
    wave = {f: getattr(slots, f).reshape((threads, n_v) + getattr(slots, f).shape[1:]).sum(0)
            for f in slots._arrays()}
    return wave, diffs.sum(axis=0)


def sweep(election: Election, extra: list[Scenario] = (), runs: int | None = None,
          seed: int | None = None, threads: int | None = None, chunk_size: int | None = None,
          progress=None, cluster=None) -> SweepResult:
    """Simulate the election once and allocate every variant (the baseline, the config's
    scenarios, ``extra``) on each run's votes. The baseline is :func:`simulator.engine.simulate`'s
    result bit for bit (same seed and runs); memory is one wave's tallies per variant. With
    ``cluster`` (:class:`simulator.cluster.Cluster`) the waves run on its workers, to the same
    result."""
    runs = election.simulation.runs if runs is None else runs
    seed = election.simulation.seed if seed is None else seed
    check_options(runs, seed, threads)
    if election.law is not None:
        raise InputError(f"{election.path}: sweep: variants of a law of [[tier]] tables (or of its "
                         "methods) are not supported yet; simulate each law as its own config")
    seed = fresh_seed() if seed is None else seed
    variants = variants_of(election, list(extra))
    var = variants_record(variants, election)
    engine = Engine(election, chunk_size)
    n = len(election.parties)
    n_c = len(election.coalitions)
    n_d = len(election.districts)
    plan = SweepPlan(engine=engine, dv=district_votes_record(election), var=var, lists=n,
                     coalitions=n_c, districts=n_d, max_seats=int(var.seats.max()),
                     magnitude=int(var.dseats.max()) if n_d else 0)
    check_finite(election.path, var)
    check_memory(election, nb.get_num_threads(), variants=len(variants), seats=plan.max_seats)
    waves_plan = wave_plan(runs, engine.chunk_size)
    items = [(seed, first, chunk_runs) for first, chunk_runs in waves_plan]
    done = 0

    def finished(i):
        nonlocal done
        done += int(waves_plan[i][1].sum())
        if progress is not None:
            progress(done, runs)

    def here():
        ticker = Ticker(progress, runs)
        for i, item in enumerate(items):
            wave = ticker.during(lambda ticks, item=item: sweep_wave(plan, *item, ticks), item[2])
            finished(i)
            yield wave

    if cluster is None:
        waves = here()
    else:
        waves = cluster.ordered(sweep_wave, plan, items, on_done=finished)
    totals, diffs = None, np.zeros((len(variants), n + n_c, 4), np.int64)
    for wave, wave_diffs in waves:
        totals = wave if totals is None else {f: totals[f] + wave[f] for f in wave}
        diffs += wave_diffs
    for k, v in enumerate(variants):  # a variant on the baseline's lists has its vote tallies
        if k and np.array_equal(v.slot, variants[0].slot):
            for f in ("share_units", "share_hist"):
                totals[f][k] = totals[f][0]
    settings = {"runs": runs, "chunk_size": engine.chunk_size}
    baseline = run_settings(engine, runs, seed, None)
    if cluster is not None:  # where it ran: the cluster's threads, not this machine's
        baseline.update(cluster.settings())
    results = [result_from_tally(v.election, _variant_tally(v, totals, k, runs), seed,
                                 baseline if k == 0 else settings,
                                 engine.vote_model) for k, v in enumerate(variants)]
    differences = {}
    for k, variant in enumerate(variants[1:], start=1):
        e = variant.election
        differences[variant.name] = {
            "parties": {e.party_ids[j]: _difference(diffs[k, slot], runs)
                        for j, slot in enumerate(variant.owner)},
            "coalitions": {c.name: _difference(diffs[k, n + i], runs) for i, c in enumerate(e.coalitions)},
        }
    scenarios = list(election.scenarios) + list(extra)
    return SweepResult(baseline=results[0],
                       scenarios={v.name: r for v, r in zip(variants[1:], results[1:])},
                       differences=differences,
                       overrides={s.name: _jsonable(s.overrides) for s in scenarios})


def _variant_tally(variant: Variant, totals: dict, k: int, runs: int) -> Tally:
    """Variant k's tally from the sweep's totals: its lists' slots, its seats."""
    e = variant.election
    owned = np.array(variant.owner, np.int64)
    seats = e.rules.seats
    t = Tally.empty(len(e.parties), seats, len(e.coalitions), districts=len(e.districts),
                    magnitude=max((d.seats for d in e.districts), default=0))
    t.runs = runs
    t.seat_counts = totals["seat_counts"][k][owned, : seats + 1]
    t.threshold = totals["threshold"][k][owned]
    t.share_units = totals["share_units"][k][owned]
    t.share_hist = totals["share_hist"][k][owned]
    t.coalition_seat_counts = totals["coalition_seat_counts"][k][:, : seats + 1]
    t.majority = t.seat_counts[:, e.rules.majority:].sum(axis=1)
    t.coalition_majority = t.coalition_seat_counts[:, e.rules.majority:].sum(axis=1)
    if e.districts:
        t.district_seats = totals["district_seats"][k][:, owned]
        t.district_any = totals["district_any"][k][:, owned]
        t.district_hist = totals["district_hist"][k][:, owned, : t.district_hist.shape[2]]
    return t


def _difference(acc, runs: int) -> dict:
    seats, seats_se = paired_difference(float(acc[0]), float(acc[1]), runs)
    maj, maj_se = paired_difference(float(acc[2]), float(acc[3]), runs)
    return {"p_majority": maj, "p_majority_se": maj_se, "mean_seats": seats, "mean_seats_se": seats_se}


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x.isoformat() if hasattr(x, "isoformat") else x
