"""Importers: polls kept in public tables, turned into a config's ``[[poll]]`` blocks.

:func:`read_eopaod` reads a table of "European Opinion Polls as Open Data" (GitHub
``filipvanlaenen/eopaod``, ``data/polls/<country>.psv``): pipe-separated, one poll a row, columns
``Polling firm | Commissioners | Fieldwork Start | Fieldwork End | Scope | Sample Size |
Participation | Precision | <one column per party> | Other``. Its conventions:

* ``Precision`` ``S``: the figures are seats, not percent; such rows are skipped, or, given the
  parliament's seat count, converted to shares (:func:`seat_sample_size`);
* a sample size in brackets, ``(1000)``, is assumed by EOPAOD, not published; the row is kept and
  its ``sample_size`` says so in a comment; ``N/A``: the row is skipped;
* ``Scope`` ``E`` (and ``EN``): a European-Parliament question, skipped; ``N`` and ``NE`` (a national
  poll EOPAOD also uses for European projections) are national;
* ``N/A`` for a party: the poll did not report it; it is left out of that poll, so it counts as
  part of the poll's ``others``.

A poll's figures summing to less than 100 leave the rest to ``others``; summing to more than 100.5
(rounding), they are scaled to 100, with a comment. :func:`polls_toml` writes the blocks.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .config import MAX_POLL_AGE_DAYS, MAX_SEATS, OTHERS
from .errors import InputError

REQUIRED = ("Polling firm", "Fieldwork End", "Scope", "Sample Size", "Precision")
_MISSING = {"N/A", "NA", ""}
_FIXED = ("Polling firm", "Commissioners", "Fieldwork Start", "Fieldwork End", "Scope",
          "Sample Size", "Participation", "Precision")


@dataclass
class ImportedPoll:
    firm: str
    date: dt.date  # fieldwork end
    sample_size: int
    assumed_size: bool  # the table's sample size was in brackets
    shares: dict[str, float]  # party id (or OTHERS) -> percent, as they will be written
    line: int  # line of the table it came from
    notes: list[str] = field(default_factory=list)


@dataclass
class Import:
    """What :func:`read_eopaod` found: the polls kept, and how many rows it skipped and why."""

    path: str
    election_date: dt.date
    days: int
    mapping: dict[str, tuple[str, ...]]  # party id -> its columns
    polls: list[ImportedPoll]
    skipped: dict[str, int]
    seats: int | None = None  # --seats: the parliament's seats, for converting polls in seats
    converted: int = 0  # polls in seats converted to shares
    firms: dict[str, str] = field(default_factory=dict)  # --firm: a table's firm -> the one written


_LETTERS = str.maketrans({"ø": "oe", "Ø": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d",
                          "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D"})


def column_id(column: str) -> str:
    """A config id for a table column: ASCII letters without their accents, lower case, anything
    else as '-' ("Grüne" -> "grune", "PP–PSOE" -> "pp-psoe", "Ø" -> "oe")."""
    plain = "".join(ch if ch.isascii() else "-"
                    for ch in unicodedata.normalize("NFKD", column.translate(_LETTERS))
                    if not unicodedata.combining(ch))
    slug = re.sub(r"[^a-z0-9_.]+", "-", plain.lower()).strip("-")
    return slug or "party"


def parse_party_option(value: str) -> tuple[str, str]:
    """``ID=COLUMN[+COLUMN...]`` (the ``--party`` option) as ``(id, columns)``; the columns are
    split by :func:`read_eopaod`, which knows the header (a column may be named "50+")."""
    pid, sep, cols = value.partition("=")
    if not sep or not pid.strip() or not cols.strip():
        raise InputError(f"--party {value!r}: expected ID=COLUMN or ID=COLUMN+COLUMN")
    return pid.strip(), cols.strip()


def parse_firm_option(value: str) -> tuple[str, str]:
    """``ALIAS=NAME`` (the ``--firm`` option) as ``(alias, name)``: the table's polling firm
    ALIAS is written as NAME, so that a firm under several names is one firm."""
    alias, sep, name = value.partition("=")
    if not sep or not alias.strip() or not name.strip():
        raise InputError(f"--firm {value!r}: expected ALIAS=NAME (the table's firm ALIAS is "
                         "written as NAME)")
    return alias.strip(), name.strip()


def read_eopaod(path: str | Path, election_date: dt.date, days: int = 21,
                parties: dict[str, str | tuple[str, ...]] | None = None,
                firms: dict[str, str] | None = None, seats: int | None = None) -> Import:
    """The polls of an EOPAOD table whose fieldwork ended in the ``days`` days before
    ``election_date`` (election day excluded). ``parties`` maps config ids to the table's columns,
    a tuple or a string "A+B" (several columns add up; a column whose name has a "+" is taken
    whole); by default every party column is a party, with :func:`column_id` (a suffix where
    two columns give the same id: a, a-2). ``firms`` maps a polling firm's other names to the one
    written (``{"Ipsos I&O": "Ipsos"}``); an alias no row of the table has is an error.
    Rows in seats (precision ``S``) are skipped unless ``seats`` (the parliament's seat count) is
    given: then a row whose seats add up to it becomes shares ``100 s / seats`` with a sample size
    lowered for the rounding to whole seats (:func:`seat_sample_size`), and a row adding up to
    another number is skipped.
    With a mapping, figures of unmapped columns go to ``others``, and so do those of columns mapped
    to ``others`` itself (added to the table's Other); a column mapped twice is an error. A bad row is an
    :class:`~simulator.errors.InputError` naming the file and line; so is a table that leaves no
    poll (no rows, or none in the window)."""
    path = Path(path)
    if seats is not None and not 1 <= seats <= MAX_SEATS:
        raise InputError(f"--seats must be from 1 to {MAX_SEATS:,} (got {seats})")
    if not 1 <= days <= MAX_POLL_AGE_DAYS:
        raise InputError(f"--days must be from 1 to {MAX_POLL_AGE_DAYS} (ten years; a config's polls "
                         f"are at most that many days before the election), got {days}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise InputError(f"{path}: empty file")
    head_line, head = numbered[0]
    columns = [c.strip() for c in head.split("|")]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise InputError(f"{path}:{head_line}: two columns are named "
                         + ", ".join(repr(c) for c in twice) + "; each header must be unique")
    for name in REQUIRED:
        if name not in columns:
            raise InputError(f"{path}:{head_line}: not an EOPAOD table: no {name!r} column")
    party_cols = [c for c in columns[columns.index("Precision") + 1:] if c != "Other"]
    if parties is None:
        mapping = {}
        for col in party_cols:  # ids from the columns; a clash (A and Å) gets a suffix: a, a-2
            base = pid = column_id(col)
            k = 2
            while pid == OTHERS or pid in mapping:
                pid, k = f"{base}-{k}", k + 1
            mapping[pid] = (col,)
    else:
        mapping = {}
        for pid, cols in parties.items():
            if isinstance(cols, str):
                cols = (cols,) if cols in party_cols else tuple(
                    c.strip() for c in cols.split("+") if c.strip())
            mapping[pid] = tuple(cols)
        owner: dict[str, str] = {}
        for pid, cols in mapping.items():
            for col in cols:
                if col not in party_cols:
                    raise InputError(f"{path}: --party {pid}={'+'.join(cols)}: no party column "
                                     f"{col!r} (columns: {', '.join(party_cols)})")
                if col in owner:
                    raise InputError(f"{path}: --party {pid}={'+'.join(cols)}: column {col!r} is "
                                     f"already mapped to {owner[col]!r}; a column counts once")
                owner[col] = pid
    mapped = {c for cols in mapping.values() for c in cols}
    firms = dict(firms or {})
    for alias, name in firms.items():
        if name in firms and firms[name] != name:
            raise InputError(f"--firm {alias}={name}: {name!r} is itself an alias "
                             f"(--firm {name}={firms[name]}); map every alias to the final name")
    first = _window_start(election_date, days)
    skipped = {"seats": 0, "European scope": 0, "no sample size": 0, "outside the window": 0}
    polls = []
    seen_firms: set[str] = set()
    for lineno, text in numbered[1:]:
        cells = [c.strip() for c in text.split("|")]
        if len(cells) != len(columns):
            raise InputError(f"{path}:{lineno}: {len(cells)} fields, the header has {len(columns)}")
        row = dict(zip(columns, cells))
        seen_firms.add(row["Polling firm"])
        row["Polling firm"] = firms.get(row["Polling firm"], row["Polling firm"])
        try:
            end = dt.date.fromisoformat(row["Fieldwork End"])
        except ValueError:
            raise InputError(f"{path}:{lineno}: Fieldwork End {row['Fieldwork End']!r} is not a "
                             "date like 2021-09-23") from None
        if not first <= end < election_date:
            skipped["outside the window"] += 1
            continue
        in_seats = row["Precision"].upper() == "S"
        if in_seats and seats is None:
            skipped["seats"] += 1
            continue
        if row["Scope"].upper().startswith("E"):
            skipped["European scope"] += 1
            continue
        size = row["Sample Size"]
        if size in _MISSING:
            skipped["no sample size"] += 1
            continue
        assumed = size.startswith("(") and size.endswith(")")
        try:
            n = int(size.strip("()").replace(",", "").replace(" ", ""))
            if n <= 0:
                raise ValueError
        except ValueError:
            raise InputError(f"{path}:{lineno}: Sample Size {size!r} is not a positive whole "
                             "number") from None
        figures = {}
        for col in party_cols + (["Other"] if "Other" in row else []):
            value = row[col]
            if value in _MISSING:
                continue
            try:
                figures[col] = float(value)
            except ValueError:
                raise InputError(f"{path}:{lineno}: {col} = {value!r} is not a number or N/A") from None
            if not math.isfinite(figures[col]):
                raise InputError(f"{path}:{lineno}: {col} = {value!r} is not a finite number")
            if figures[col] < 0:
                raise InputError(f"{path}:{lineno}: {col} = {value} is negative")
            if in_seats and not figures[col].is_integer():
                raise InputError(f"{path}:{lineno}: {col} = {value!r} is not a whole number of "
                                 "seats (the row's Precision is S)")
        notes = []
        if in_seats:
            total = sum(figures.values())
            if total != seats:
                key = f"seats not adding up to {seats}"
                skipped[key] = skipped.get(key, 0) + 1
                continue
            n_seats = seat_sample_size(n, seats, sum(1 for v in figures.values() if v > 0))
            notes.append(f"in seats, converted: {seats} seats as shares, sample size {n} lowered "
                         f"to {n_seats} for the rounding to whole seats")
            figures = {c: v * 100.0 / seats for c, v in figures.items()}
            n = n_seats
        poll = _poll(row["Polling firm"], end, n, assumed, figures, mapping, mapped, lineno,
                     f"{path}:{lineno}")
        poll.notes[:0] = notes
        polls.append(poll)
    for alias, name in firms.items():
        if alias not in seen_firms:
            names = sorted(seen_firms)
            listed = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
            raise InputError(f"{path}: --firm {alias}={name}: no row has the polling firm "
                             f"{alias!r} (firms: {listed or 'none'})")
    if not polls:
        rows = len(numbered) - 1
        if not rows:
            raise InputError(f"{path}: no poll kept: the table has a header but no rows")
        why = ", ".join(f"{v} {k}" for k, v in skipped.items() if v)
        raise InputError(f"{path}: no poll kept of its {rows} rows (fieldwork ending {first} .. "
                         f"{election_date - dt.timedelta(days=1)}; skipped: {why}); "
                         "check --election-date and --days")
    return Import(path=str(path), election_date=election_date, days=days, mapping=mapping,
                  polls=polls, skipped=skipped, firms=firms, seats=seats,
                  converted=sum(1 for p in polls if p.notes and p.notes[0].startswith("in seats")))


def seat_sample_size(n: int, seats: int, parties: int) -> int:
    """The sample size of a poll of ``n`` published in whole seats of ``seats``, with ``parties``
    lists holding a seat: rounding a share to whole seats adds an error uniform on +-0.5 seat,
    variance ``1 / (12 seats^2)`` (as a fraction), to the sampling variance ``p (1 - p) / n``. For
    a typical share ``p = 1 / parties`` that is the variance of a sample of
    ``1 / (1 / n + 1 / (12 seats^2 p (1 - p)))``, rounded down (at least 1)."""
    p = 1.0 / max(parties, 2)
    rounding_n = 12.0 * seats * seats * p * (1.0 - p)
    return max(1, math.floor(1.0 / (1.0 / n + 1.0 / rounding_n)))


def _window_start(election_date: dt.date, days: int) -> dt.date:
    """The first day of the window (``days`` before the election), or the first date there is."""
    try:
        return election_date - dt.timedelta(days=days)
    except OverflowError:
        return dt.date.min


def _poll(firm, end, n, assumed, figures, mapping, mapped, lineno, where) -> ImportedPoll:
    shares: dict[str, float] = {}
    notes = []
    others = figures.get("Other", 0.0)
    for pid, cols in mapping.items():
        got = [figures[c] for c in cols if c in figures]
        if pid == OTHERS:  # --party others=A: A's figures are added to the table's Other
            others += sum(got)
        elif got:
            shares[pid] = sum(got)
    folded = [c for c in figures if c != "Other" and c not in mapped]
    for c in folded:
        others += figures[c]
    if folded:
        notes.append("others includes " + ", ".join(f"{c} {figures[c]:g}" for c in folded))
    total = sum(shares.values()) + others
    if total <= 0:
        raise InputError(f"{where}: no figures")
    if total < 100.0:
        others += 100.0 - total
    elif total > 100.5:
        notes.append(f"figures summed to {total:g}, scaled to 100")
        shares = {k: v * 100.0 / total for k, v in shares.items()}
        others *= 100.0 / total
    if others > 1e-9:
        shares[OTHERS] = others
    shares = {k: round(v, 4) for k, v in shares.items()}
    return ImportedPoll(firm=firm, date=end, sample_size=n, assumed_size=assumed, shares=shares,
                        line=lineno, notes=notes)


def polls_toml(imp: Import) -> str:
    """The ``[[poll]]`` blocks of an import, newest first, with comments naming the source."""
    first = _window_start(imp.election_date, imp.days)
    out = [f"# Polls imported by `electsim polls import` from {Path(imp.path).name} (EOPAOD table):",
           f"# fieldwork ending {first} .. {imp.election_date - dt.timedelta(days=1)}; "
           f"{len(imp.polls)} polls kept"
           + (f" ({imp.converted} of them in seats of {imp.seats}, converted)" if imp.converted else "")
           + "".join(f", {k} {v} skipped" for k, v in imp.skipped.items()
                     if v and k != "outside the window") + ".",
           "# Columns: " + ", ".join(f"{pid} = {' + '.join(cols)}" for pid, cols in imp.mapping.items())]
    if imp.firms:
        out.append("# Firms: " + ", ".join(f"{a} as {n}" for a, n in imp.firms.items()))
    out.append("")
    for p in sorted(imp.polls, key=lambda p: p.date, reverse=True):
        out.append(f"[[poll]]  # line {p.line}" + "".join(f"; {n}" for n in p.notes))
        out.append(f"firm = {_toml_string(p.firm)}")
        out.append(f"date = {p.date.isoformat()}  # fieldwork end")
        if p.assumed_size:
            out.append("# sample size assumed by EOPAOD, not published")
        out.append(f"sample_size = {p.sample_size}")
        out.append("[poll.shares]")
        for pid, v in p.shares.items():
            out.append(f"{_toml_key(pid)} = {v:g}")
        out.append("")
    return "\n".join(out)


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_string(k)
