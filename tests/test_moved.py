"""Every public name that moved is still importable from its old module for one release, with a warning."""

from __future__ import annotations

import importlib

import pytest

from airflow_provider_kimi._moved import MOVED

PAIRS = [(old, name, new) for old, names in MOVED.items() for name, new in names.items()]


@pytest.mark.parametrize(("old", "name", "new"), PAIRS, ids=[f"{old}.{name}" for old, name, _ in PAIRS])
def test_a_moved_name_warns_and_is_the_new_one(old: str, name: str, new: str):
    module, _, attribute = new.partition(":")
    old_module = importlib.import_module(old)  # first: importing Airflow sets up its own warning capture
    with pytest.warns(DeprecationWarning, match=f"{name} moved to {module}.{attribute}"):
        value = getattr(old_module, name)
    assert value is getattr(importlib.import_module(module), attribute)


def test_a_name_that_never_existed_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        importlib.import_module("airflow_provider_kimi.hooks.kimi").nothing_here  # noqa: B018


def test_the_changelog_upgrade_notes_name_every_move():
    from pathlib import Path

    changelog = (Path(__file__).resolve().parents[1] / "CHANGELOG.md").read_text()
    notes = changelog[changelog.index("### Upgrade notes") :]
    missing = [
        f"{old}.{name}" for old, name, new in PAIRS if f"`{old}.{name}` -> `{new.replace(':', '.')}`" not in notes
    ]
    assert missing == []
