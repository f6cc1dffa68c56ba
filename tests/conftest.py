"""Shared test helpers: the repo's configs and small configs written on the fly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BELGRADE = ROOT / "configs" / "belgrade-2024.toml"


@pytest.fixture
def write_config(tmp_path):
    """Write a TOML config (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "election.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
