"""Every exception the provider raises on purpose derives from KimiError, whatever layer raises it."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
from pathlib import Path

import pytest

import airflow_provider_kimi
from airflow_provider_kimi.exceptions import KimiError

PACKAGE = Path(airflow_provider_kimi.__file__).parent
# The local server answers HTTP errors of its own and may import nothing of the client (KimiError
# included); a module __getattr__ must raise AttributeError; argparse wants its own error type; a
# skip is Airflow's control flow, not an error.
OUTSIDE = ("emulator",)
PROTOCOL = {
    "AttributeError",
    "NotImplementedError",
    "AssertionError",
    "KeyboardInterrupt",
    "ArgumentTypeError",
    "AirflowSkipException",
}


def raised_names(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, name)`` of each ``raise Name(...)`` / ``raise Name`` (a bare re-raise has none)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                found.append((node.lineno, target.id))
            elif isinstance(target, ast.Attribute):
                found.append((node.lineno, target.attr))
    return found


def modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] not in OUTSIDE]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_raise_is_a_kimi_error(path: Path):
    name = ".".join(("airflow_provider_kimi", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    module = importlib.import_module(name)
    wrong = []
    for line, raised in raised_names(ast.parse(path.read_text())):
        if raised in PROTOCOL:
            continue
        value = getattr(module, raised, None) or getattr(builtins, raised, None)
        if inspect.isclass(value) and issubclass(value, BaseException) and not issubclass(value, KimiError):
            wrong.append(f"{path.name}:{line} raises {raised}")
        # A name that is not a class (a variable holding an exception) is checked where it is made.
    assert not wrong, "not a KimiError: " + ", ".join(wrong)


def test_the_errors_airflow_must_not_retry_are_kimi_errors_too():
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_kimi import exceptions
    from airflow_provider_kimi.client import errors as client_errors

    for name in ("KimiBatchEndedError", "KimiResultsPolicyError", "KimiJobError", "KimiFileQuotaError"):
        cls = getattr(exceptions, name)
        assert issubclass(cls, KimiError)
        assert issubclass(cls, AirflowFailException)
    assert issubclass(exceptions.KimiFileQuotaError, client_errors.KimiFileQuotaError)
    assert issubclass(exceptions.KimiValueError, ValueError)
