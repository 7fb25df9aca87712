"""``KimiEmulator``: the emulator as an object a test (or the CLI) starts, uses and stops."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from airflow_provider_kimi.emulator.app import create_app
from airflow_provider_kimi.emulator.engine import BatchEngine
from airflow_provider_kimi.emulator.ratelimit import KeyLimiter
from airflow_provider_kimi.emulator.settings import FIXED_WHILE_SERVING, EmulatorSettings
from airflow_provider_kimi.emulator.stats import EmulatorStats
from airflow_provider_kimi.emulator.store import Store

# The key handed to clients when the server accepts any non-empty key.
ANY_KEY = "sk-kimi-emulator"
SETTING_NAMES = frozenset(field.name for field in dataclasses.fields(EmulatorSettings))
LIMIT_SETTINGS = frozenset({"tier", "rpm", "concurrency", "rate_window_seconds"})
FAULT_SETTINGS = frozenset({"faults", "seed"})
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


class ListenError(OSError):
    """The address cannot be listened on: a port in use, a host that does not resolve."""


class KimiEmulator:
    """A local Kimi Batch API server.

    ``with KimiEmulator(EmulatorSettings(time_scale=0)) as emu:`` serves on a free port of
    127.0.0.1 from a background thread; point a client at ``emu.base_url`` with ``emu.api_key``.
    ``run_forever()`` serves from the calling thread instead, until SIGINT or SIGTERM.
    """

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = self.started_with = settings or EmulatorSettings()
        self.store = Store(self.settings.state_dir)
        try:
            self.engine = BatchEngine(self.settings, self.store)
        except BaseException:
            self.store.close()
            raise
        self._clock = self.engine.clock
        self._stats = EmulatorStats()
        self._limiter = KeyLimiter(*self.settings.account_limits, self.settings.rate_window_seconds)
        self._limiter_clock = self._limiter.clock
        self._injector = create_app(self.settings, self.store, self.engine, self._stats, self._limiter, self.reset)
        self.app = self._injector
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- addresses --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the emulator is not started")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The server root, where the ``/_emulator`` admin routes live."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client uses as its base URL (Kimi's ``.../v1``)."""
        return f"{self.url}/v1"

    @property
    def api_key(self) -> str:
        """The key clients should send."""
        return self.settings.api_key or ANY_KEY

    # -- lifecycle --------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        """Listen on the configured address; on failure, drop the temporary folder and say why."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.settings.host, self.settings.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            self.store.close()
            where = f"{self.settings.host}:{self.settings.port}"
            raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        self._socket = sock
        return sock

    def _uvicorn(self, *, own_logging: bool) -> uvicorn.Server:
        config_args: dict[str, Any] = {} if own_logging else {"log_config": None}
        config = uvicorn.Config(
            self.app,
            lifespan="on",
            log_level=self.settings.log_level,
            access_log=self.settings.access_log,
            proxy_headers=False,
            timeout_graceful_shutdown=2,
            **config_args,
        )
        return uvicorn.Server(config)

    def start(self) -> KimiEmulator:
        """Serve from a background thread; returns once the server accepts connections."""
        sock = self._bind()
        self._server = self._uvicorn(own_logging=False)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="kimi-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop serving, and drop the temporary folder unless state lives in ``state_dir``.

        ``wait=False`` only asks the server to stop and returns at once (it keeps shutting down
        in its thread); a later ``stop()`` waits for it and cleans up.
        """
        if self._server is not None:
            self._server.should_exit = True
        if not wait:
            return
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
        self.store.close()

    def run_forever(self, announce: Callable[[KimiEmulator], None] | None = None) -> None:
        """Serve from the calling thread until SIGINT or SIGTERM, with uvicorn's own logging.

        ``announce`` is called once the port is bound (so a port of 0 shows its real number).
        """
        sock = self._bind()
        try:
            if announce is not None:
                announce(self)
            self._server = self._uvicorn(own_logging=True)
            self._server.run(sockets=[sock])
        finally:
            sock.close()
            self._server = None
            self.store.close()

    def __enter__(self) -> KimiEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- inspection and forcing outcomes ----------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters: uploads, batches created, calls per route, injected faults."""
        return self._stats.snapshot()

    def expire(self, batch_id: str) -> dict[str, Any]:
        """Let the batch's window pass now; returns the Batch object."""
        return self.engine.expire(batch_id)

    def hold(self, batch_id: str, after_requests: int | None = None) -> dict[str, Any]:
        """Freeze the batch now, or once ``after_requests`` requests are done."""
        return self.engine.hold(batch_id, after_requests)

    def release(self, batch_id: str) -> dict[str, Any]:
        """Let a held batch carry on."""
        return self.engine.release(batch_id)

    def rush(self, batch_id: str) -> dict[str, Any]:
        """Skip every remaining delay of the batch."""
        return self.engine.rush(batch_id)

    def set_faults(self, faults: dict[str, float], seed: int | None = None) -> None:
        """Replace the fault schedule while serving (``{}`` ends the outage)."""
        self._injector.set_faults(faults, seed)

    # -- changing a running server ----------------------------------------------------------
    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change settings while serving (``tier=0``, ``time_scale=1.0``, ``faults={...}``...); the
        new settings. Changing the limits forgets the calls counted so far; ``reset()`` undoes it all.
        Address, key, state folder, upload cap and logging are fixed once started (``ValueError``).
        """
        unknown = sorted(changes.keys() - SETTING_NAMES)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; see EmulatorSettings")
        fixed = sorted(changes.keys() & FIXED_WHILE_SERVING)
        if fixed:
            raise ValueError(f"{fixed} cannot change while the server runs; start a server with them instead")
        settings = dataclasses.replace(self.settings, **changes)
        self._apply(settings, set(changes))
        return settings

    def reset(self) -> None:
        """Back to a server just started: its start-up settings (limits, faults, time scale, clocks),
        no files, batches, holds, counted calls or per-custom_id answer counts."""
        self.engine.reset(self.started_with)
        self.engine.clock = self._clock
        self._limiter.clock = self._limiter_clock
        self._apply(self.started_with, set(SETTING_NAMES))
        self._stats.reset()

    def _apply(self, settings: EmulatorSettings, changed: set[str]) -> None:
        self.engine.apply(settings)
        self.settings = settings
        self._injector.settings = settings
        if changed & FAULT_SETTINGS:
            self._injector.set_faults(settings.faults, settings.seed)
        if changed & LIMIT_SETTINGS:
            self._limiter.configure(*settings.account_limits, settings.rate_window_seconds)
        if "hold_new_batches_after" in changed:
            self.engine.hold_new_batches_after = settings.hold_new_batches_after

    def hold_new_batches(self, after_requests: int | None) -> None:
        """Make batches created from now on hold after that many requests (``None`` to stop)."""
        self.engine.hold_new_batches_after = after_requests
