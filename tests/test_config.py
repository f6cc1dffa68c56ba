"""Config loading: the documented keys load, and every mistake is one ConfigError naming key and value."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.config import load_config
from simulator.errors import ConfigError

from .conftest import BELGRADE

MINIMAL = """
[election]
seats = 10
[[party]]
id = "a"
[[party]]
id = "b"
"""


def test_belgrade_config_loads_with_serbian_rules():
    e = load_config(BELGRADE)
    assert e.rules.seats == 110 and e.rules.majority == 56
    assert e.rules.method == "dhondt" and e.rules.threshold == 3.0
    assert e.rules.threshold_base == "cast" and e.rules.minority_exempt
    assert e.rules.coefficient_fraction.numerator == 27 and e.rules.coefficient_fraction.denominator == 20
    assert len(e.parties) == 14
    assert [p.id for p in e.parties if p.minority] == ["ru", "urs"]
    assert e.result.votes_cast == 734050 and e.result.votes["bt"] == 387326
    assert e.date == dt.date(2024, 6, 2)


def test_defaults_fill_in_majority_method_and_base(write_config):
    e = load_config(write_config(MINIMAL))
    assert e.rules.majority == 6
    assert e.rules.method == "dhondt"
    assert e.rules.threshold == 0.0 and e.rules.threshold_base == "valid"
    assert e.rules.minority_coefficient == 1.0
    assert e.parties[0].name == "a"


def _error(write_config, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(text))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "patch, key, value",
    [
        ("seats = 10", "election.seats", "0"),
        ("seats = 10", "election.seats", "-3"),
        ("seats = 10", "election.seats", "'ten'"),
        ("seats = 10", "election.seats", "10.5"),
    ],
)
def test_bad_seats_name_key_and_value(write_config, patch, key, value):
    msg = _error(write_config, MINIMAL.replace(patch, f"seats = {value}"))
    assert key in msg and value.strip("'") in msg


@pytest.mark.parametrize("majority", ["0", "11"])
def test_majority_outside_one_to_seats_is_an_error(write_config, majority):
    msg = _error(write_config, MINIMAL.replace("seats = 10", f"seats = 10\nmajority = {majority}"))
    assert "election.majority" in msg and majority in msg


@pytest.mark.parametrize("threshold", ["-1", "100", "250.0", "nan", "inf"])
def test_impossible_threshold_is_an_error(write_config, threshold):
    msg = _error(write_config, MINIMAL.replace("seats = 10", f"seats = 10\nthreshold = {threshold}"))
    assert "election.threshold" in msg


def test_unknown_method_is_an_error(write_config):
    msg = _error(write_config, MINIMAL.replace("seats = 10", 'seats = 10\nmethod = "webster"'))
    assert "election.method" in msg and "webster" in msg and "dhondt" in msg


def test_unknown_key_is_an_error(write_config):
    msg = _error(write_config, MINIMAL.replace("seats = 10", "seats = 10\nseat = 3"))
    assert "election.seat" in msg


def test_duplicate_party_id(write_config):
    msg = _error(write_config, MINIMAL.replace('id = "b"', 'id = "a"'))
    assert "party 2 (a).id" in msg and "duplicate" in msg and "'a'" in msg


def test_missing_election_table(write_config):
    msg = _error(write_config, '[[party]]\nid = "a"\n')
    assert "election" in msg and "missing" in msg


def test_malformed_toml_names_the_file(write_config):
    path = write_config("[election\nseats = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "malformed TOML" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_unknown_party_in_result(write_config):
    msg = _error(write_config, MINIMAL + "[result.votes]\na = 10\nzz = 5\n")
    assert "result.votes.zz" in msg and "unknown party" in msg


@pytest.mark.parametrize("value", ["-5", "nan", "'many'", "true"])
def test_bad_votes(write_config, value):
    msg = _error(write_config, MINIMAL + f"[result.votes]\na = 10\nb = {value}\n")
    assert "result.votes.b" in msg


def test_votes_cast_below_list_votes(write_config):
    msg = _error(write_config, MINIMAL + "[result]\nvotes_cast = 12\n[result.votes]\na = 10\nb = 5\n")
    assert "result.votes_cast" in msg and "15" in msg and "12" in msg


def test_cast_base_needs_votes_cast(write_config):
    text = MINIMAL.replace("seats = 10", 'seats = 10\nthreshold_base = "cast"')
    msg = _error(write_config, text + "[result.votes]\na = 10\nb = 5\n")
    assert "result.votes_cast" in msg and "required" in msg


def test_all_zero_votes_is_an_error(write_config):
    msg = _error(write_config, MINIMAL + "[result.votes]\na = 0\nb = 0\n")
    assert "result.votes" in msg


def test_reserved_others_id(write_config):
    msg = _error(write_config, MINIMAL.replace('id = "b"', 'id = "others"'))
    assert "reserved" in msg


def test_coalition_with_unknown_party(write_config):
    msg = _error(write_config, MINIMAL + '[[coalition]]\nname = "X"\nmembers = ["a", "q"]\n')
    assert "coalition 1 (X).members" in msg and "'q'" in msg


POLLED = MINIMAL.replace('[election]\nseats = 10', '[election]\nseats = 10\ndate = 2024-06-02') + """
[[poll]]
firm = "Ipsos"
date = 2024-05-30
sample_size = 1000
[poll.shares]
a = 60
b = 40
"""


@pytest.mark.parametrize("line, key", [
    ('polling_error = "big"', "model.polling_error"),
    ("polling_error = -0.1", "model.polling_error"),
    ("polling_error = true", "model.polling_error"),
    ("error_df = 0.5", "model.error_df"),
    ('error_df = "fat"', "model.error_df"),
    ("error_size_exponent = 3", "model.error_size_exponent"),
    ("error_drift = -1", "model.error_drift"),
    ('design_effect = "guess"', "model.design_effect"),
    ("design_effect = 0", "model.design_effect"),
    ('house_effects = "yes"', "model.house_effects"),
    ("window_days = -3", "model.window_days"),
    ("unnamed_share = 120", "model.unnamed_share"),
    ("unnamed_share = -1", "model.unnamed_share"),
    ("error_scale = 0.2", "model.error_scale"),  # not a key: the scale is polling_error's number
])
def test_bad_error_model_keys_are_config_errors_naming_the_key(write_config, line, key):
    msg = _error(write_config, POLLED + f"[model]\n{line}\n")
    assert key in msg


def test_error_model_defaults_are_the_calibrated_fit_and_zero_turns_the_layers_off(write_config):
    from simulator.config import calibrated_error

    fit = calibrated_error()
    e = load_config(write_config(POLLED))
    assert e.model.polling_error == "calibrated" and e.model.error_scale == fit["scale"]
    assert e.model.house_effects and e.model.window_days == fit["window_days"]
    off = load_config(write_config(POLLED + "[model]\npolling_error = 0\n", "off.toml"))
    assert off.model.error_scale == 0 and not off.model.house_effects and off.model.design_effect == 1.0
    assert off.model.window_days == 0 and off.model.sampling_only
    number = load_config(write_config(POLLED + '[model]\npolling_error = 0.3\nerror_df = "normal"\n', "n.toml"))
    assert number.model.error_scale == 0.3 and number.model.error_df == float("inf")


def test_poll_after_the_election_is_refused_naming_the_poll(write_config):
    msg = _error(write_config, POLLED.replace("date = 2024-05-30", "date = 2024-06-09"))
    assert "poll 1 (Ipsos, 2024-06-09).date" in msg and "after the election" in msg


def test_past_result_needs_a_date_before_the_election(write_config):
    past = '[[past_result]]\ndate = 2024-07-01\n[past_result.shares]\na = 50\nb = 50\n'
    assert "past_result 1.date" in _error(write_config, POLLED + past)
    assert "past_result 1.date" in _error(write_config, POLLED + past.replace("date = 2024-07-01\n", ""))


def test_likely_mistakes_are_warnings(write_config):
    e = load_config(write_config(POLLED.replace("seats = 10", "seats = 10\nthreshold = 0.03")))
    assert any("election.threshold = 0.03" in w and "write 3" in w for w in e.warnings)
    e = load_config(write_config(POLLED.replace("seats = 10", 'seats = 10\nthreshold_base = "cast"'), "c.toml"))
    assert any("invalid_share" in w for w in e.warnings)
    e = load_config(write_config(POLLED + '[model]\ndesign_effect = "estimate"\n', "d.toml"))
    assert any("at least 3 polls" in w for w in e.warnings)
    assert load_config(write_config(POLLED, "fine.toml")).warnings == ()


def test_result_others_count_in_the_base_but_win_nothing(write_config):
    from simulator.allocation import allocate_result

    text = MINIMAL.replace("seats = 10", "seats = 10\nthreshold = 5.0") + (
        "[result.votes]\na = 100\nb = 6\nothers = 94\n")
    rows = {r.id: r for r in allocate_result(load_config(write_config(text)))}
    assert rows["b"].share == pytest.approx(3.0) and not rows["b"].qualified and rows["a"].seats == 10
