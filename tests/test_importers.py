"""electsim polls import: real EOPAOD excerpts (tests/data, sources in its README) become [[poll]]
blocks a config loads; bad rows get one line naming the file and line."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import parse_config
from simulator.errors import InputError
from simulator.importers import column_id, polls_toml, read_eopaod, seat_sample_size

DATA = Path(__file__).parent / "data"
NL = DATA / "eopaod-nl-2021-excerpt.psv"
DK = DATA / "eopaod-dk-2019-excerpt.psv"
runner = CliRunner()


def test_dutch_excerpt_keeps_the_polls_in_percent_of_the_last_21_days():
    imp = read_eopaod(NL, dt.date(2021, 3, 17))
    # in the window 2021-02-24 .. 2021-03-16: 5 rows in percent, 8 rows in seats (Peil.nl,
    # Kantar, one Ipsos); the October and mid-February rows are outside it
    assert [(p.firm, p.date.isoformat()) for p in imp.polls] == [
        ("I&O Research", "2021-03-15"), ("Ipsos", "2021-03-08"), ("I&O Research", "2021-03-08"),
        ("I&O Research", "2021-03-02"), ("Ipsos", "2021-03-02")]
    assert imp.skipped["seats"] == 8
    first = imp.polls[0]
    assert first.sample_size == 2812 and not first.assumed_size
    assert first.shares["vvd"] == 21.0 and first.shares["pvv"] == 12.5 and first.shares["50"] == 1.0
    assert "pvdt" not in first.shares  # N/A: left out, so it is part of this poll's others
    assert abs(sum(first.shares.values()) - 100.0) < 1e-6


def test_imported_blocks_load_as_a_config():
    imp = read_eopaod(NL, dt.date(2021, 3, 17), parties={"vvd": "VVD", "left": "GL+PvdA+SP",
                                                          "fifty": "50+"})
    text = polls_toml(imp)
    doc = tomllib.loads(text)
    doc.update(election={"seats": 150, "date": dt.date(2021, 3, 17)},
               party=[{"id": "vvd"}, {"id": "left"}, {"id": "fifty"}])
    e = parse_config(doc)
    assert len(e.polls) == 5
    io = e.polls[0]
    assert io.firm == "I&O Research" and io.date == dt.date(2021, 3, 15)
    assert io.shares["left"] == pytest.approx(7.2 + 7.4 + 6.8)  # columns added up
    assert io.shares["fifty"] == pytest.approx(1.0)  # a column named "50+" taken whole
    assert io.shares["others"] == pytest.approx(100 - 21.0 - 21.4 - 1.0)  # unmapped columns
    assert "others includes PVV 12.5" in text


def test_assumed_sample_size_is_marked_and_figures_over_100_are_scaled():
    imp = read_eopaod(DK, dt.date(2019, 6, 5), days=60)
    assumed = [p for p in imp.polls if p.assumed_size]
    assert [(p.firm, p.sample_size) for p in assumed] == [("Greens Analyseinstitut", 1000)]
    text = polls_toml(imp)
    block = text[text.index("Greens Analyseinstitut", text.index("2019-05-07") - 200):]
    assert "# sample size assumed by EOPAOD, not published" in text
    assert "sample_size = 1000" in block
    for p in imp.polls:
        assert abs(sum(p.shares.values()) - 100.0) < 1e-3


@pytest.mark.parametrize("mangle, message", [
    (lambda ln: ln.rsplit("|", 1)[0], "fields, the header has"),
    (lambda ln: ln.replace("2019-06-04    |", "04.06.2019    |", 1), "is not a date"),
    (lambda ln: ln.replace("| 2414 ", "| lots ", 1), "Sample Size 'lots'"),
    (lambda ln: ln.replace("| 25.7 ", "| 2x.7 ", 1), "is not a number or N/A"),
    (lambda ln: ln.replace("| 25.7 ", "| nan ", 1), "'nan' is not a finite number"),
    (lambda ln: ln.replace("| 25.7 ", "| NaN ", 1), "'NaN' is not a finite number"),
    (lambda ln: ln.replace("| 25.7 ", "| inf ", 1), "'inf' is not a finite number"),
    (lambda ln: ln.replace("| 25.7 ", "| -Infinity ", 1), "is not a finite number"),
    (lambda ln: ln.replace("| 25.7 ", "| 1e400 ", 1), "'1e400' is not a finite number"),
    (lambda ln: ln.replace("| 25.7 ", "| -2.0 ", 1), "is negative"),
    (lambda ln: ln.replace("| 2414 ", "| nan ", 1), "Sample Size 'nan'"),
    (lambda ln: ln.replace("| 2414 ", "| inf ", 1), "Sample Size 'inf'"),
])
def test_bad_rows_are_one_line_errors_naming_the_line(tmp_path, mangle, message):
    lines = DK.read_text(encoding="utf-8").splitlines()
    lines[1] = mangle(lines[1])
    bad = tmp_path / "bad.psv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_eopaod(bad, dt.date(2019, 6, 5))
    assert f"{bad}:2:" in str(info.value) and message in str(info.value)


def test_unknown_column_and_bad_option_are_errors():
    with pytest.raises(InputError, match="no party column 'XYZ'"):
        read_eopaod(NL, dt.date(2021, 3, 17), parties={"x": "XYZ"})
    with pytest.raises(InputError, match="not an EOPAOD table"):
        read_eopaod(Path(__file__), dt.date(2021, 3, 17))


def test_column_ids_are_config_ids():
    assert column_id("Grüne") == "grune" and column_id("PP–PSOE") == "pp-psoe"
    assert column_id("Kotleba–ĽSNS") == "kotleba-lsns" and column_id("Ø") == "oe"


def test_cli_writes_blocks_and_rejects_a_bad_date(tmp_path):
    out = tmp_path / "polls.toml"
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--party", "vvd=VVD", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert tomllib.loads(out.read_text(encoding="utf-8"))["poll"][0]["shares"]["vvd"] == 21.0
    assert "8 seats" in r.stderr
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "17/03/2021"])
    assert r.exit_code == 2 and "--election-date" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("days", ["99999999", "3654", "0", "-5"])
def test_days_out_of_bounds_is_a_one_line_error(days):
    r = runner.invoke(app, ["polls", "import", str(DK), "--election-date", "2019-06-05",
                            "--days", days])
    assert r.exit_code == 2, r.output
    assert "--days must be from 1 to 3653" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_window_reaching_before_year_one_does_not_overflow():
    r = runner.invoke(app, ["polls", "import", str(DK), "--election-date", "0001-01-10",
                            "--days", "3653"])
    assert not isinstance(r.exception, OverflowError), r.output
    assert r.exit_code == 2 and "fieldwork ending 0001-01-01 .. 0001-01-09" in r.stderr


def test_duplicate_headers_are_an_error_naming_the_header(tmp_path):
    lines = DK.read_text(encoding="utf-8").splitlines()
    cols = [c.strip() for c in lines[0].split("|")]
    party = cols[cols.index("Precision") + 1]
    second = cols[cols.index("Precision") + 2]
    lines[0] = lines[0].replace(f"| {second} ", f"| {party} ", 1)
    assert [c.strip() for c in lines[0].split("|")].count(party) == 2
    bad = tmp_path / "twice.psv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{bad}:1: two columns are named '{party}'"):
        read_eopaod(bad, dt.date(2019, 6, 5))
    r = runner.invoke(app, ["polls", "import", str(bad), "--election-date", "2019-06-05"])
    assert r.exit_code == 2 and f"'{party}'" in r.stderr and not r.stdout


@pytest.mark.parametrize("keep, message", [
    (1, "no poll kept: the table has a header but no rows"),
    (None, "no poll kept of its 17 rows (fieldwork ending 2020-02-25 .. 2020-03-16; skipped: "
           "17 outside the window)"),
])
def test_an_import_that_keeps_no_poll_is_an_error_and_writes_nothing(tmp_path, keep, message):
    table = NL
    if keep:
        table = tmp_path / "header-only.psv"
        table.write_text(NL.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    out = tmp_path / "polls.toml"
    r = runner.invoke(app, ["polls", "import", str(table), "--election-date", "2020-03-17",
                            "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
    r = runner.invoke(app, ["polls", "import", str(table), "--election-date", "2020-03-17"])
    assert r.exit_code == 2 and not r.stdout


def test_party_mapped_to_others_is_added_to_others_and_shares_sum_to_100(tmp_path):
    imp = read_eopaod(NL, dt.date(2021, 3, 17), parties={"vvd": "VVD", "others": "PVV"})
    first = imp.polls[0]  # I&O Research 2021-03-15: VVD 21.0, PVV 12.5, the rest unmapped
    assert first.shares == {"vvd": 21.0, "others": pytest.approx(79.0)}
    for p in imp.polls:  # a poll's figures may sum to up to 100.5 (its rounding)
        assert 100.0 - 1e-6 <= sum(p.shares.values()) <= 100.5
    # only columns mapped to others: each poll is all others, still 100
    imp = read_eopaod(NL, dt.date(2021, 3, 17), parties={"others": "VVD"})
    assert all(set(p.shares) == {"others"} and 100.0 - 1e-6 <= p.shares["others"] <= 100.5
               for p in imp.polls)
    out = tmp_path / "polls.toml"
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--party", "vvd=VVD", "--party", "others=PVV+CDA", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for poll in tomllib.loads(out.read_text(encoding="utf-8"))["poll"]:
        assert set(poll["shares"]) <= {"vvd", "others"}
        assert 100.0 - 1e-6 <= sum(poll["shares"].values()) <= 100.5


def test_a_column_or_an_id_given_twice_is_an_error():
    with pytest.raises(InputError, match="column 'VVD' is already mapped to 'a'"):
        read_eopaod(NL, dt.date(2021, 3, 17), parties={"a": "VVD", "b": "VVD+PVV"})
    with pytest.raises(InputError, match="column 'VVD' is already mapped"):
        read_eopaod(NL, dt.date(2021, 3, 17), parties={"a": ("VVD", "VVD")})
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--party", "a=VVD", "--party", "a=PVV"])
    assert r.exit_code == 2 and "--party a is given twice" in r.stderr and not r.stdout


def test_firm_aliases_make_one_firm(tmp_path):
    imp = read_eopaod(NL, dt.date(2021, 3, 17))
    assert {p.firm for p in imp.polls} == {"I&O Research", "Ipsos"}
    imp = read_eopaod(NL, dt.date(2021, 3, 17), firms={"I&O Research": "Ipsos"})
    assert [p.firm for p in imp.polls] == ["Ipsos"] * 5
    assert "# Firms: I&O Research as Ipsos" in polls_toml(imp)
    out = tmp_path / "polls.toml"
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--firm", "I&O Research=Ipsos I&O", "--firm", "Ipsos=Ipsos I&O",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert {p["firm"] for p in tomllib.loads(out.read_text(encoding="utf-8"))["poll"]} == {"Ipsos I&O"}


@pytest.mark.parametrize("options, message", [
    (["--firm", "Ipsos"], "expected ALIAS=NAME"),
    (["--firm", "=Ipsos"], "expected ALIAS=NAME"),
    (["--firm", "Ipsso=Ipsos"], "no row has the polling firm 'Ipsso'"),
    (["--firm", "Ipsos=A", "--firm", "Ipsos=B"], "--firm Ipsos is given twice"),
    (["--firm", "I&O Research=Ipsos", "--firm", "Ipsos=Ipsos I&O"], "'Ipsos' is itself an alias"),
])
def test_bad_firm_options_are_one_line_errors(options, message):
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17", *options])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not r.stdout


def test_seat_sample_size_adds_the_rounding_variance():
    # 150 seats, 17 lists with seats: p = 1/17, rounding alone is a sample of 12 * 150^2 p (1 - p)
    rounding = 12 * 150**2 * (1 / 17) * (16 / 17)
    assert seat_sample_size(3000, 150, 17) == int(1 / (1 / 3000 + 1 / rounding))
    assert seat_sample_size(3000, 150, 17) < 3000
    assert seat_sample_size(1000, 15, 5) < seat_sample_size(1000, 150, 5) < 1000  # fewer seats, coarser
    assert seat_sample_size(10**9, 150, 1) >= 1  # one list: as for two, never 0


def test_polls_in_seats_are_converted_with_seats(tmp_path):
    imp = read_eopaod(NL, dt.date(2021, 3, 17), seats=150)
    assert imp.skipped["seats"] == 0 and imp.converted == 8 and len(imp.polls) == 13
    peil = [p for p in imp.polls if p.firm == "Peil.nl"]
    assert [p.date.isoformat() for p in peil] == ["2021-03-16", "2021-03-13", "2021-03-06", "2021-02-27"]
    first = peil[0]  # VVD 32, PVV 22 of 150 seats; sample (3000) assumed
    assert first.shares["vvd"] == pytest.approx(100 * 32 / 150, abs=1e-4)
    assert first.shares["pvv"] == pytest.approx(100 * 22 / 150, abs=1e-4)
    assert first.assumed_size and first.sample_size == seat_sample_size(3000, 150, 16)  # 16 lists with seats
    assert first.notes[0].startswith("in seats, converted: 150 seats as shares")
    for p in imp.polls:
        assert 100.0 - 1e-3 <= sum(p.shares.values()) <= 100.5
    io = [p for p in imp.polls if p.firm == "I&O Research"]  # percent rows are as before
    assert io[0].sample_size == 2812 and io[0].shares["vvd"] == 21.0
    text = polls_toml(imp)
    assert "13 polls kept (8 of them in seats of 150, converted)" in text
    doc = tomllib.loads(text)
    doc.update(election={"seats": 150, "date": dt.date(2021, 3, 17)},
               party=[{"id": pid} for pid in imp.mapping])
    assert len(parse_config(doc).polls) == 13
    out = tmp_path / "polls.toml"
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--seats", "150", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "converted 8 polls published in seats to shares of 150 seats" in r.stderr
    assert len(tomllib.loads(out.read_text(encoding="utf-8"))["poll"]) == 13


def test_seat_polls_without_seats_are_skipped_with_a_reason_and_odd_sums_are_skipped():
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17"])
    assert r.exit_code == 0
    assert "8 polls published in seats (precision S) were skipped: give --seats N" in r.stderr
    imp = read_eopaod(NL, dt.date(2021, 3, 17), seats=151)
    assert imp.converted == 0 and imp.skipped["seats not adding up to 151"] == 8
    r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                            "--seats", "151"])
    assert r.exit_code == 0 and "8 seats not adding up to 151" in r.stderr
    for bad in ("0", "100001"):
        r = runner.invoke(app, ["polls", "import", str(NL), "--election-date", "2021-03-17",
                                "--seats", bad])
        assert r.exit_code == 2 and "--seats must be from 1 to 100,000" in r.stderr


def test_a_fraction_of_a_seat_is_an_error_naming_the_line(tmp_path):
    lines = NL.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("| 32   |", "| 31.5 |", 1)  # Peil.nl 2021-03-16, VVD
    bad = tmp_path / "half.psv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{bad}:4: VVD = '31.5' is not a whole number of seats"):
        read_eopaod(bad, dt.date(2021, 3, 17), seats=150)
    assert read_eopaod(bad, dt.date(2021, 3, 17)).skipped["seats"] == 8  # skipped: not read


def test_out_never_writes_over_the_table(tmp_path):
    table = tmp_path / "nl.psv"
    table.write_text(NL.read_text(encoding="utf-8"), encoding="utf-8")
    r = runner.invoke(app, ["polls", "import", str(table), "--election-date", "2021-03-17",
                            "--out", str(table)])
    assert r.exit_code == 2 and "is an input of this command" in r.stderr
    assert table.read_text(encoding="utf-8") == NL.read_text(encoding="utf-8")
