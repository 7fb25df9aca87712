"""The decorator every Kimi task method wears: the SDK's errors, said with the task's connection and endpoint.

The translation itself is :mod:`airflow_provider_kimi.client.translate` (no Airflow); this module
puts it around operator and sensor methods.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.client import translate
from airflow_provider_kimi.client.settings import KimiClientSettings

P = ParamSpec("P")
R = TypeVar("R")


class _HasSettings(Protocol):
    @property
    def settings(self) -> KimiClientSettings: ...


class _UsesKimi(Protocol):
    kimi_conn_id: str

    @property
    def hook(self) -> _HasSettings: ...


S = TypeVar("S", bound=_UsesKimi)


def kimi_errors_explained(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Decorate a task method so that the SDK errors it raises name its connection and endpoint.

    The connection is read only when there is an error to explain: a task that never calls Kimi
    (a job's split, say) does not need one.
    """

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with translate.explained_errors(self.kimi_conn_id, lambda: self.hook.settings.base_url):
            return method(self, *args, **kwargs)

    return wrapper


__getattr__ = moved_from(__name__)
