"""What people read about coalitions and lists (#26): list names, never ids, in Markdown, charts,
the headline and console tables (ids stay in the data files); a sorted, capped coalition table
and chart; and the lists the seat charts leave out, named."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import struct
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from simulator.config import load_config
from simulator.report import (MAX_COALITIONS_SHOWN, format_probability, make_report, render_report,
                              result_markdown, result_table)

AUSTRIA = """
[election]
name = "Named lists"
seats = 100
threshold = 4.0
[[party]]
id = "fpo"
name = "FPÖ"
[[party]]
id = "ovp"
name = "ÖVP"
[[party]]
id = "spo"
name = "SPÖ"
[[party]]
id = "neos"
name = "NEOS"
[[party]]
id = "gru"
name = "Grüne"
[[party]]
id = "tiny"
name = "Tiny List"
[[poll]]
firm = "Alpha"
date = 2024-05-01
sample_size = 2000
[poll.shares]
fpo = 31
ovp = 27
spo = 22
neos = 10.8
gru = 9
tiny = 0.2
[model]
polling_error = 0
[[coalition]]
name = "ÖVP + SPÖ + NEOS"
members = ["ovp", "spo", "neos"]
[[scenario]]
name = "Five per cent"
election.threshold = 5.0
"""

IDS = re.compile(r"\b(fpo|ovp|spo|neos|gru|tiny)\b")


def svg_texts(svg: bytes) -> list[str]:
    """The texts of a Matplotlib SVG (each text element carries its string as a comment)."""
    return re.findall(r"<!-- (.*?) -->", svg.decode("utf-8"))


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    path = tmp_path_factory.mktemp("named") / "election.toml"
    path.write_text(textwrap.dedent(AUSTRIA), encoding="utf-8")
    rep = make_report(load_config(path), runs=4_000, seed=3)
    return rep, render_report(rep, ("md", "csv", "json", "svg"))


def test_discovered_coalitions_are_named_by_their_lists_in_every_text(named):
    rep, files = named
    assert "fpo + ovp" in rep.discovered  # the data keeps ids ...
    md = files["report.md"]
    assert IDS.findall(md) == []  # ... the report names lists
    assert "| FPÖ + ÖVP | FPÖ, ÖVP |" in md
    assert "| ÖVP + SPÖ + NEOS | ÖVP, SPÖ, NEOS |" in md
    assert "left out, as they won no seat in any pilot run: Tiny List" in md
    shown = dataclasses.replace(rep.result, coalitions={n: rep.result.coalitions[n] for n in rep.coalitions})
    assert IDS.findall(result_markdown(shown)) == []
    console = Console(record=True, width=250)
    console.print(result_table(shown))
    text = console.export_text()
    assert "FPÖ + ÖVP" in text and IDS.findall(text) == []
    chart = svg_texts(files["coalitions.svg"])
    assert "FPÖ + ÖVP" in chart and "ÖVP + SPÖ + NEOS" in chart
    assert not any(IDS.search(t) for t in chart)


def test_headline_names_a_configured_coalition_once(named):
    rep, files = named
    c = rep.result.coalitions["ÖVP + SPÖ + NEOS"]
    assert c.label == "ÖVP + SPÖ + NEOS" and c.member_names == ("ÖVP", "SPÖ", "NEOS")
    assert rep.result.coalitions["fpo + ovp"].label == "FPÖ + ÖVP"
    headline = files["report.md"].splitlines()[2]
    assert "(" not in headline and IDS.findall(headline) == []


def test_data_files_keep_the_ids(named):
    rep, files = named
    doc = json.loads(files["report.json"])
    assert doc["coalitions"]["fpo + ovp"]["members"] == ["fpo", "ovp"]
    assert "fpo + ovp" in doc["minimal_winning_coalitions"]
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(files["coalitions.csv"]))}
    assert rows["fpo + ovp"]["members"] == "fpo ovp"
    assert rows["ÖVP + SPÖ + NEOS"]["members"] == "ovp spo neos"


def test_scenario_rows_and_rules_name_the_lists(named):
    from simulator.report import _rules_text, sweep_markdown

    rep, _ = named
    rows = [r for r in rep.sweep.rows() if r["kind"] == "coalition"]
    assert {r["name"] for r in rows} == {"ÖVP + SPÖ + NEOS"}
    assert {r["id"] for r in rows} == {"ÖVP + SPÖ + NEOS"}
    assert IDS.findall("\n".join(sweep_markdown(rep.sweep))) == []
    assert _rules_text({"merge": {"right": ["fpo", "ovp"]}}, names={"fpo": "FPÖ", "ovp": "ÖVP"}) \
        == "FPÖ + ÖVP run as one list (right)"


LISTS_16 = Path(__file__).parents[1] / "benchmarks" / "configs" / "lists-16.toml"


@pytest.fixture(scope="module")
def sixteen():
    rep = make_report(load_config(LISTS_16), runs=2_000, seed=1)
    return rep, render_report(rep, ("md", "csv", "json", "png", "svg"))


def test_many_minimal_winning_coalitions_are_sorted_and_capped(sixteen):
    rep, files = sixteen
    found = rep.discovered
    assert len(found) > MAX_COALITIONS_SHOWN
    c = rep.result.coalitions
    assert found == sorted(found, key=lambda n: (-c[n].p_majority, c[n].display_name, n))
    md = files["report.md"]
    rows = [r.split(" | ")[0].lstrip("| ") for r in md.splitlines() if r.endswith("| minimal winning |")]
    assert rows == [c[n].display_name for n in found[:MAX_COALITIONS_SHOWN]]
    left = len(found) - MAX_COALITIONS_SHOWN
    top = format_probability(max(c[n].p_majority for n in found[MAX_COALITIONS_SHOWN:]), rep.result.runs)
    assert (f"… and {left} more minimal winning coalitions, each with P(majority) of at most {top}; "
            "all are in coalitions.csv and report.json.") in md.splitlines()
    # the chart shows what the table shows, and says what it leaves out
    texts = svg_texts(files["coalitions.svg"])
    assert sum(t in texts for t in (c[n].display_name for n in found)) == MAX_COALITIONS_SHOWN
    assert any(f"{left} more minimal winning coalitions" in t for t in texts)
    width, height = struct.unpack(">II", files["coalitions.png"][16:24])
    assert height < 2_000
    # the data files keep every one of them
    doc = json.loads(files["report.json"])
    assert doc["minimal_winning_coalitions"] == found and set(found) <= set(doc["coalitions"])
    names = [r["name"] for r in csv.DictReader(io.StringIO(files["coalitions.csv"]))]
    assert names == list(rep.coalitions) and len(names) == len(found) + len(rep.election.coalitions)
    only_md = render_report(rep, ("md",))["report.md"]
    assert "a report with --format csv or json has them all." in only_md


def test_minimal_winning_ties_go_by_name():
    from simulator.coalitions import minimal_winning
    from simulator.results import CoalitionResult, Result

    def coalition(members, names, p):
        return CoalitionResult(name=" + ".join(members), members=members, member_names=names,
                               p_majority=p, p_majority_se=0.0, mean_seats=0.0, seats_p05=0,
                               seats_p50=0, seats_p95=0, seat_probabilities=(1.0,))

    cs = [coalition(("z", "b"), ("Alpha", "Beta"), 0.2), coalition(("a", "c"), ("Gamma", "Delta"), 0.2),
          coalition(("a", "d"), ("Gamma", "Epsilon"), 0.3), coalition(("b", "c"), ("Beta", "Delta"), 0.01)]
    result = Result(election="x", runs=100, seed=0, seats=10, majority=6, parties={},
                    coalitions={c.name: c for c in cs})
    assert minimal_winning(result, 0.05, set()) == ["a + d", "z + b", "a + c"]


def test_seat_charts_name_the_lists_they_leave_out(named):
    from simulator.charts import left_out_parties, relevant_parties

    rep, files = named
    assert left_out_parties(rep.result) == ["tiny"]
    assert relevant_parties(rep.result) + ["tiny"] == list(rep.result.parties)
    for chart in ("seat_projection.svg", "seat_distributions.svg"):
        texts = svg_texts(files[chart])
        assert "Not shown, with fewer than 0.5 seats on average: Tiny List (0.0)." in texts, chart
    assert ("The seat charts (seat projection, seat distributions) show the lists with at least "
            "0.5 seats on average; left out (mean seats): Tiny List (0.0).") in files["report.md"]


def test_seat_charts_say_nothing_when_they_show_every_list(named):
    import dataclasses as dc

    from simulator import charts

    rep, _ = named
    everyone = dc.replace(rep.result, parties={k: v for k, v in rep.result.parties.items() if k != "tiny"})
    assert charts.left_out_note(everyone) == ""
    assert not any(t.startswith("Not shown") for t in
                   svg_texts(charts.seat_projection(rep.election, everyone, "svg")))
