"""`electsim report`: every format parses back to the numbers of the Result it came from."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import load_config
from simulator.report import format_estimate, format_probability, make_report, render_report, write_report

from .conftest import BELGRADE

runner = CliRunner()


@pytest.fixture(scope="module")
def belgrade_report():
    return make_report(load_config(BELGRADE), runs=40_000, seed=5)


@pytest.fixture(scope="module")
def files(belgrade_report):
    return render_report(belgrade_report)


def test_format_probability_never_claims_certainty():
    assert format_probability(0.99996) == "99.996 %"
    assert format_probability(1.0) == "> 99.9 %"
    assert format_probability(0.0) == "< 0.1 %"
    assert format_probability(0.5) == "50.0 %"
    assert format_probability(0.00033) == "0.033 %"


def test_an_event_in_no_run_shows_the_rule_of_three_bound_without_a_standard_error():
    assert format_probability(0.0, 1_000_000) == "< 0.0003 %"
    assert format_probability(1.0, 1_000_000) == "> 99.9997 %"
    assert format_estimate(0.0, 0.0, 1_000_000) == "< 0.0003 %"
    assert format_estimate(0.5, 0.0005, 1_000_000) == "50.0 % ± 0.05"


def test_json_equals_result(belgrade_report, files):
    doc = json.loads(files["report.json"])
    r = belgrade_report.result
    assert doc["runs"] == r.runs == 40_000 and doc["seed"] == 5
    for pid, p in r.parties.items():
        assert doc["parties"][pid]["p_majority"] == p.p_majority
        assert doc["parties"][pid]["seat_probabilities"] == list(p.seat_probabilities)
    assert set(doc["coalitions"]) == set(belgrade_report.coalitions)
    assert "Opposition" in doc["coalitions"]
    assert doc["summary"].startswith("Belgrade Tomorrow wins a majority in")


def test_csv_tables_equal_result(belgrade_report, files):
    r = belgrade_report.result
    rows = list(csv.DictReader(files["parties.csv"].splitlines()))
    assert [row["id"] for row in rows] == list(r.parties)
    for row in rows:
        p = r.parties[row["id"]]
        assert float(row["p_majority"]) == p.p_majority
        assert float(row["mean_seats"]) == p.mean_seats
        assert int(row["seats_p95"]) == p.seats_p95
    dist = list(csv.DictReader(files["seat_distribution.csv"].splitlines()))
    bt = [d for d in dist if d["id"] == "bt"]
    assert len(bt) == 111
    assert float(bt[56]["p_at_least"]) == pytest.approx(r.parties["bt"].p_majority)
    coal = list(csv.DictReader(files["coalitions.csv"].splitlines()))
    assert {c["name"] for c in coal} == set(belgrade_report.coalitions)


def test_backtest_against_official_result(belgrade_report, files):
    bt = belgrade_report.backtest
    assert bt is not None
    actual = {s.id: s.actual_seats for s in bt.parties}
    assert actual["bt"] == 64 and actual["ru"] == 1 and sum(actual.values()) == 110
    rows = list(csv.DictReader(files["backtest.csv"].splitlines()))
    assert {r["id"]: int(r["actual_seats"]) for r in rows} == actual
    s = next(s for s in bt.parties if s.id == "bt")
    p = belgrade_report.result.parties["bt"]
    assert s.brier == pytest.approx((p.p_majority - 1.0) ** 2)
    assert 0.0 <= s.percentile <= 100.0
    assert "Backtest" in files["report.md"]


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables = 0
        self.images = []
        self.cells = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data)


def test_html_is_self_contained_with_tables_and_images(files):
    parser = _Collect()
    parser.feed(files["report.html"])
    assert parser.tables >= 3  # parties, coalitions, backtest
    # three charts, and the scenarios' (the Belgrade config has [[scenario]] tables)
    assert len(parser.images) == 4 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert "Belgrade Tomorrow" in parser.cells
    assert "http://" not in files["report.html"] and "https://" not in files["report.html"]


def test_charts_are_real_png_and_svg(files):
    import struct

    for name in ("seat_distributions", "seat_projection", "coalitions"):
        png = files[f"{name}.png"]
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert width > 300 and height > 150
        svg = files[f"{name}.svg"]
        assert b"<svg" in svg[:1000] and svg.rstrip().endswith(b"</svg>")


def test_same_report_renders_to_the_same_bytes(belgrade_report, files):
    """Regenerating a report from the same result changes no file (the SVGs' ids included), so
    a committed report shows a diff only when its numbers move."""
    again = render_report(belgrade_report)
    assert set(again) == set(files)
    for name, content in files.items():
        assert again[name] == content, name


def test_report_command_writes_every_file(tmp_path):
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(BELGRADE), "--runs", "20000", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.json", "report.html", "parties.csv", "coalitions.csv",
            "seat_distribution.csv", "backtest.csv", "seat_projection.png", "seat_projection.svg"} <= names
    assert not [n for n in names if n.startswith(".")]  # no temp files left


def test_unknown_format_is_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(BELGRADE), "--runs", "1000", "--format", "md,pdf", "--out", str(out)])
    assert result.exit_code == 2 and "pdf" in result.stderr
    assert not out.exists()


def test_unwritable_out_dir_is_exit_2_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["report", str(BELGRADE), "--runs", "1000", "--out", str(blocker)])
    assert result.exit_code == 2 and "not a directory" in result.stderr


def test_failed_write_removes_partial_files(tmp_path, belgrade_report):
    out = tmp_path / "rep"

    class Boom(dict):
        def items(self):
            yield "a.md", "ok"
            raise OSError(28, "No space left on device")

    with pytest.raises(Exception):
        write_report(out, Boom())
    assert not out.exists()


def test_coalition_with_unknown_party_is_exit_2(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BELGRADE.read_text().replace('members = ["kp", "wcb"]', 'members = ["kp", "zz"]'))
    result = runner.invoke(app, ["report", str(cfg), "--runs", "1000", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "zz" in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_html_renders_in_headless_chromium(tmp_path, files):
    page = tmp_path / "report.html"
    page.write_text(files["report.html"], encoding="utf-8")
    shot = tmp_path / "shot.png"
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<table") >= 3 and dom.stdout.count("<img") == 4  # three charts and the scenarios'
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}", "--window-size=1200,2400",
         page.as_uri()],
        capture_output=True, timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000


GOVERNMENT = """
[election]
seats = 100
threshold = 5.0
[[party]]
id = "big"
[[party]]
id = "ally"
[[party]]
id = "opp"
[[party]]
id = "tiny"
[[party]]
id = "nowhere"
[[poll]]
firm = "Alpha"
date = 2024-05-01
sample_size = 2000
[poll.shares]
big = 44
ally = 12
opp = 40
tiny = 3.8
nowhere = 0.2
[model]
polling_error = 0
[[coalition]]
name = "Government"
members = ["big", "ally"]
"""


def test_headline_is_the_most_likely_majority_a_coalition_when_it_leads(write_config):
    from simulator.config import load_config

    rep = make_report(load_config(write_config(GOVERNMENT)), runs=20_000, seed=2)
    assert rep.result.parties["big"].p_majority < 0.2
    assert rep.result.coalitions["Government"].p_majority > 0.9
    assert render_report(rep, ("md",))["report.md"].splitlines()[2].startswith(
        "**Government (big + ally) wins a majority in")


def test_report_lists_the_polls_used_and_what_the_coalition_search_left_out(write_config):
    from simulator.config import load_config

    rep = make_report(load_config(write_config(GOVERNMENT)), runs=5_000, seed=2)
    md = render_report(rep, ("md",))["report.md"]
    assert "## Polls used" in md and "| Alpha | 2024-05-01 | 2,000 | 1 | 2,000 |" in md
    assert "won a seat in at least one of 20,000 pilot runs" in md
    assert "left out, as they won no seat in any pilot run: nowhere" in md
    assert "Error model: sampling error only" in md


def test_identical_lists_get_the_same_seat_interval():
    """Two lists of equal share with P(0 seats) on the 95 % level: the quantile allows for Monte
    Carlo error, so noise cannot give one 0-0 and the other 0-3."""
    from simulator.results import quantile

    runs = 1_000_000
    for p0 in (0.9496, 0.9500, 0.9504):  # three simulations' estimates of the same 95 %
        probs = np.array([p0, 0.0, 0.0, 1 - p0])
        assert quantile(probs, 0.95, runs) == 0
    assert quantile(np.array([0.94, 0.0, 0.0, 0.06]), 0.95, runs) == 3  # a real difference shows


def test_coalition_labels_do_not_repeat_their_members():
    from simulator.results import CoalitionResult

    def c(name):
        return CoalitionResult(name=name, members=("a", "b"), p_majority=0.5, p_majority_se=0.01,
                               mean_seats=5.0, seats_p05=4, seats_p50=5, seats_p95=6,
                               seat_probabilities=(0.0,))

    assert c("a + b").label == "a + b" and c("Government").label == "Government (a + b)"
