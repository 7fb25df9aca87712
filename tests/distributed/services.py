"""The distributed stack's outside services, each a real server on a free loopback port.

PostgreSQL (a throwaway cluster in a temp dir, run as the ``postgres`` user when this runs as
root, since ``initdb`` refuses root), Redis as the Celery broker, and S3 served by ``moto`` in
server mode. Each is a :class:`Component`, so a test stops it the way it stops Airflow's.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
from airflow_processes import BIN, Component, free_port, wait_for

STARTUP_SECONDS = 60


def _postgres_bin() -> Path:
    """The newest PostgreSQL server binaries Debian's ``postgresql`` installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `apt-get install postgresql` (make test-distributed does)")
    return found[-1].parent


class Postgres:
    """A PostgreSQL cluster of its own: ``initdb`` into a temp dir, ``postgres`` on a free port."""

    def __init__(self, log_dir: Path) -> None:
        self.bin = _postgres_bin()
        # Not under pytest's tmp dir: the postgres user must be able to reach its data directory.
        self.root = Path(tempfile.mkdtemp(prefix="kimi-postgres-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "airflow"
        self.url = f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/airflow"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        argv = [
            *self.as_user,
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=400",
            # A throwaway cluster: durability costs time and buys nothing here.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        self.component = Component("postgres", argv, dict(os.environ), log_dir)

    def start(self) -> Postgres:
        initdb = [*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust"]
        done = subprocess.run(initdb, capture_output=True, text=True, check=False, cwd=self.root)
        assert done.returncode == 0, f"initdb failed:\n{done.stdout}\n{done.stderr}"
        self.component.start()
        wait_for("PostgreSQL to accept connections", self._create_database, STARTUP_SECONDS)
        return self

    def _create_database(self) -> bool:
        import psycopg2

        assert self.component.alive, f"postgres exited:\n{self.component.tail()}"
        try:
            db = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        except psycopg2.OperationalError:
            return False
        try:
            db.autocommit = True
            with db.cursor() as cursor:
                cursor.execute("CREATE DATABASE airflow")
        finally:
            db.close()
        return True

    def stop(self) -> None:
        self.component.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """``redis-server`` on a free loopback port, nothing persisted: the Celery broker."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="kimi-redis-"))
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.dir)]
        self.component = Component("redis", argv, dict(os.environ), log_dir)

    def start(self) -> Redis:
        import redis

        self.component.start()

        def pong() -> bool:
            assert self.component.alive, f"redis-server exited:\n{self.component.tail()}"
            with contextlib.suppress(redis.RedisError):
                return bool(redis.Redis(port=self.port, socket_timeout=5).ping())
            return False

        wait_for("Redis to answer", pong, STARTUP_SECONDS)
        return self

    def stop(self) -> None:
        self.component.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class S3:
    """``moto`` in server mode: an S3 endpoint every process reaches through the standard AWS settings."""

    def __init__(self, log_dir: Path, bucket: str) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        argv = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        self.component = Component("moto-s3", argv, {**os.environ, **self.env}, log_dir)

    @property
    def env(self) -> dict[str, str]:
        """What boto3, s3fs and the Amazon provider need to use this endpoint (no connection needed)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def start(self) -> S3:
        self.component.start()

        def answers() -> bool:
            assert self.component.alive, f"moto_server exited:\n{self.component.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.endpoint}/", timeout=5).status_code < 500
            return False

        wait_for("moto's S3 to answer", answers, STARTUP_SECONDS)
        self.client().create_bucket(Bucket=self.bucket)  # type: ignore[attr-defined]
        return self

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)  # type: ignore[attr-defined]
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.component.kill()
