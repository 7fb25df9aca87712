"""Print the provider's direct dependencies pinned at their declared floors, as pip constraints.

`uv pip compile --resolution lowest-direct` alone may still pick a newer version of a direct
dependency when a transitive one asks for it; these constraints make every floor the version
that is installed and tested, or make the resolution fail, which means a floor must be raised.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def floors(dependencies: list[str]) -> list[str]:
    pinned = []
    for requirement in dependencies:
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+)\s*>=\s*([^,;\s]+)", requirement)
        if match is None:
            sys.exit(f"{PYPROJECT}: {requirement!r} declares no floor (name>=version)")
        name = re.sub(r"\[.*\]", "", match.group(1))
        pinned.append(f"{name}=={match.group(2)}")
    return pinned


if __name__ == "__main__":
    print("\n".join(floors(tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"])))
