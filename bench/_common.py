"""Shared helpers for the benchmarks (not a test module, not product code).

- `ROOT`, `PYTHON`, `LEAKBOT`: the project, its venv's interpreter and console script;
- `tests/e2e` on `sys.path` so that `import slackemu` works (the e2e emulator package);
- percentiles and plain-text tables;
- fresh databases (SQLite file in a temp dir, PostgreSQL database created and dropped);
- child processes: the emulator host, the bare Bolt app, `leakbot run`, and their clean-up;
- /healthz polling, RSS and CPU seconds from /proc;
- for the scale benches: their data-set options, each size and database's data set with a
  scratch copy to write on (`scratch_datasets`), a fixed clock and the follow-through on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
LEAKBOT = str(ROOT / ".venv" / "bin" / "leakbot")
E2E = ROOT / "tests" / "e2e"

for _p in (str(ROOT), str(E2E)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# A port for a child server: the e2e tests' (outside the ephemeral range, held until exit), so
# nothing that binds port 0 (the emulator host, another job) can take it before the child does.
from leakbot_process import free_port as free_port  # noqa: E402

PG_ADMIN_URL = os.environ.get("LEAKBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

SECRET = "bench-signing-secret-0123456789abcdef"
TOKEN = "xoxb-bench-token"
CHANNEL = "CESCALATE1"
SUMMARY_CHANNEL = "CSUMMARY01"
APPROVER = "UAPPROVER1"
GROUP = "SAPPROVERS"
GROUP_MEMBERS = ("UAPPROVER2", "UAPPROVER3")
REPORTERS = tuple(f"UREPORT{i:03d}" for i in range(20))
DATABASES = ("sqlite", "postgresql")
# The answers of a case whose recommendation needs ONE approval (not suspend_and_legal), so a
# click by an approver decides the incident: the heaviest ordinary path behind an ack.
MILD = {
    "partner": "Globex",
    "source": "partner_notice",
    "relationship": "entrusted",
    "data_kinds": ["internal_minor"],
    "encrypted": "no",
    "cause": "negligence",
    "damage": "none",
    "partner_response": "cooperative",
    "dependency": "high",
    "contract": ["prevention_plan_required"],
}


# ----------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return float("nan")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (markdown-compatible pipes), columns right-aligned except the first."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def write_json(path: str | None, data: Any) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        print(f"(raw figures written to {path})")


# ----------------------------------------------------------------------------- databases


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    import asyncpg

    try:
        conn = await asyncpg.connect(_libpq(PG_ADMIN_URL), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def usable_dbs(dbs: str | list[str]) -> list[str]:
    """The database kinds asked for (a comma-separated `--dbs` or a list), without PostgreSQL
    (and a line saying why) when it does not answer."""
    kinds = [d for d in dbs.split(",") if d] if isinstance(dbs, str) else list(dbs)
    if "postgresql" in kinds and (reason := await pg_available()):
        print(f"PostgreSQL unavailable, skipped: {reason}")
        kinds = [d for d in kinds if d != "postgresql"]
    return kinds


async def pg_create(prefix: str = "leakbot_bench") -> str:
    """Create an empty database; returns its DATABASE_URL (postgresql://...)."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_libpq(PG_ADMIN_URL), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return pg_url(name)


async def pg_drop(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(_libpq(PG_ADMIN_URL), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def remove_sqlite(path: Path) -> None:
    """A SQLite database file and the files SQLite keeps beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


@contextlib.asynccontextmanager
async def fresh_database(kind: str, workdir: Path):  # type: ignore[no-untyped-def]
    """Yield a DATABASE_URL for an empty database of `kind`; dropped/removed afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            remove_sqlite(path)
        return
    url = await pg_create()
    try:
        yield url
    finally:
        await pg_drop(url)


# ----------------------------------------------------------------------------- processes


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (leakbot stops cleanly on it), then SIGKILL if it does not exit in time."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Children:
    """Every child process started by a benchmark; all stopped on exit (also on errors)."""

    def __init__(self) -> None:
        self.items: list[Child] = []

    def add(self, child: Child) -> Child:
        self.items.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.items):
            with contextlib.suppress(Exception):
                child.stop()
        self.items.clear()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def start_child(
    name: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log_path: Path | None = None,
    stdout_pipe: bool = False,
    nice: int = 0,
) -> Child:
    out: Any
    if stdout_pipe:
        out = subprocess.PIPE
    elif log_path is not None:
        out = open(log_path, "ab")  # noqa: SIM115 - owned by the child's lifetime
    else:
        out = subprocess.DEVNULL
    err = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        cwd=str(cwd) if cwd else None,
        stdout=out,
        stderr=err,
        stdin=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
    return Child(name, proc, log_path)


def start_emulator(
    children: Children, workdir: Path, *, latency: float = 0.0, nice: int = 0
) -> str:
    """The Slack emulator in its own process; returns its base URL (http://127.0.0.1:PORT).

    `nice` > 0 lowers its CPU priority: Slack's own work (Block Kit validation of every view
    and message, storing them) is not on the app's machine in production, so on a small box
    it should not take the app's CPU away while acks are timed.
    """
    child = children.add(
        start_child(
            "emulator",
            [PYTHON, str(BENCH / "_emuhost.py"), "--latency", str(latency)],
            log_path=workdir / "emulator.log",
            stdout_pipe=True,
            nice=nice,
        )
    )
    assert child.proc.stdout is not None
    line = child.proc.stdout.readline().decode().strip()
    if not line.startswith("http://"):
        raise RuntimeError(f"emulator did not start: {line!r}\n{child.log_tail()}")
    return line


def leakbot_env(api_url: str, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "LEAKBOT_ESCALATION_CHANNEL": CHANNEL,
        "LEAKBOT_SUMMARY_CHANNEL": SUMMARY_CHANNEL,
        "LEAKBOT_APPROVERS": f"{APPROVER},{GROUP}",
        "LEAKBOT_LANGUAGE": "ja",
        "LEAKBOT_TIMEZONE": "Asia/Tokyo",
        "LEAKBOT_LOG_LEVEL": "INFO",
        "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    env.update(extra)
    return env


def start_leakbot(
    children: Children, workdir: Path, api_url: str, database_url: str, port: int, tag: str
) -> Child:
    """`leakbot run --http` exactly as deployed (cwd: an empty temp dir, so no `.env` is read)."""
    run_dir = workdir / f"run-{tag}"
    run_dir.mkdir(exist_ok=True)
    env = leakbot_env(api_url, database_url, port)
    # A stray SLACK_APP_TOKEN in the environment would switch to Socket Mode.
    env_all = {k: v for k, v in os.environ.items() if k != "SLACK_APP_TOKEN"}
    env_all.update(env)
    # LEAKBOT_BENCH_WRAP: a command to run leakbot under, e.g. "py-spy record --format raw -o
    # /tmp/leakbot.txt --" (how the approve path and the GC stalls were found).
    wrap = shlex.split(os.environ.get("LEAKBOT_BENCH_WRAP", ""))
    proc = subprocess.Popen(
        [*wrap, LEAKBOT, "run", "--http"],
        env=env_all,
        cwd=str(run_dir),
        stdout=open(workdir / f"leakbot-{tag}.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return children.add(Child(f"leakbot-{tag}", proc, workdir / f"leakbot-{tag}.log"))


def start_bare(children: Children, workdir: Path, api_url: str, port: int) -> Child:
    return children.add(
        start_child(
            "bare",
            [PYTHON, str(BENCH / "_bare_app.py"), "--port", str(port), "--api-url", api_url],
            log_path=workdir / "bare.log",
        )
    )


async def wait_healthy(
    base_url: str, child: Child | None = None, timeout: float = 60.0, path: str = "/healthz"
) -> dict[str, Any]:
    """Poll GET {base_url}{path} until 200; returns its JSON body."""
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            if child is not None and not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
            try:
                async with session.get(base_url + path) as response:
                    if response.status == 200:
                        try:
                            return dict(await response.json(content_type=None))
                        except ValueError:
                            return {}
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            if time.monotonic() > deadline:
                tail = child.log_tail() if child else ""
                raise TimeoutError(f"{base_url}{path} not healthy after {timeout}s\n{tail}")
            await asyncio.sleep(0.005)


async def wait_outbox_empty(base_url: str, timeout: float = 300.0) -> float:
    """Wait until leakbot's /healthz reports outbox_depth 0; returns the seconds waited."""
    import aiohttp

    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            async with session.get(base_url + "/healthz") as response:
                body = await response.json(content_type=None)
            if body.get("outbox_depth") == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"outbox not drained after {timeout}s: {body}")
            await asyncio.sleep(0.1)


# ----------------------------------------------------------------------------- memory


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB (MiB)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): field 14 is index 11."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process (all its threads) and by the child
    processes it waited for (`leakbot run`'s first start migrates in one)."""
    return sum(int(f) for f in _stat_fields(pid)[11:15]) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of the process itself so far (e.g. a PostgreSQL backend's);
    None once it has ended (or is not ours to read)."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    """The 1-minute load average and the number of cores: other work on the machine."""
    return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


# ----------------------------------------------------------------------------- emulator control


class EmuControl:
    """Talks to bench/_emuhost.py's `bench.*` methods (control calls, never timed)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/"
        self._session: Any = None

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        async with self._session.post(
            self.api_url + method,
            json=args,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            body = await response.json(content_type=None)
        if not body.get("ok"):
            raise RuntimeError(f"{method}: {body}")
        return dict(body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if os.environ.get("LEAKBOT_BENCH_KEEP"):
            print(f"(kept work dir {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- data sets


class FixedClock:
    """The bot's clock, standing still at `moment` (a bench moves it by hand)."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


async def open_follow_through(url: str, clock: FixedClock, **env: str) -> tuple[Any, Any]:
    """(Store, FollowThrough) on the database at `url`, built as `leakbot run` builds them with
    the bench's settings (and `env`), on `clock`; Slack's URL leads nowhere. Close the store."""
    from bot.config import load_settings
    from bot.domain.playbook import load_playbook
    from bot.followthrough import FollowThrough
    from bot.service import IncidentService, ServiceConfig
    from bot.slack.app import follow_config
    from bot.store import Store

    settings = load_settings(
        _env_file=None, **leakbot_env("http://127.0.0.1:9/api/", url, 3000, **env)
    )
    store = await Store.open(url)
    service = IncidentService(
        store,
        load_playbook(settings.LEAKBOT_PLAYBOOK),
        ServiceConfig(tz=settings.tz, channel_lang="ja", escalation_channel=CHANNEL),
        clock,
    )
    return store, FollowThrough(store, service, follow_config(settings), clock)


def add_scale_arguments(parser: argparse.ArgumentParser, *, sizes: str) -> None:
    """The data set's options shared by the scale benches (and _dataset's --cache, --rebuild)."""
    import _dataset

    parser.add_argument("--sizes", default=sizes, help="comma-separated incident counts")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--partners", type=int, default=5000, help="partner pool (max n/5)")
    parser.add_argument(
        "--checklist-items",
        type=int,
        default=None,
        help="cap on checklist tasks per decided incident (default: the playbook's 3-5)",
    )
    parser.add_argument("--seed", type=int, default=_dataset.DEFAULT_SEED)
    parser.add_argument("--json", help="write raw figures to this file")
    _dataset.add_arguments(parser)


@contextlib.asynccontextmanager
async def scratch_copy(db: str, url: str, work: Path) -> AsyncIterator[str]:
    """A throw-away copy of the (cached, read-only) data set at `url`, for a bench that writes."""
    import _dataset

    if db == "sqlite":
        target = work / "scratch.db"
        await asyncio.to_thread(shutil.copyfile, _dataset.sqlite_path(url), target)
        try:
            yield f"sqlite:///{target}"
        finally:
            remove_sqlite(target)
        return
    source = url.rsplit("/", 1)[1]
    target_name = f"leakbot_scratch_{os.getpid()}"
    await _dataset._pg_admin(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
    await _dataset._pg_copy(source, target_name)
    try:
        yield pg_url(target_name)
    finally:
        await _dataset._pg_admin(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')


async def scratch_datasets(
    args: argparse.Namespace, work: Path
) -> AsyncIterator[tuple[str, Any, str]]:
    """For each of `--sizes` and each usable database of `--dbs` (add_scale_arguments): the
    shared data set (built, or taken from `--cache`) and a scratch copy of it, dropped after
    the loop's body; yields (db, the _dataset.DataSet, the copy's URL)."""
    import _dataset

    sizes = [int(s) for s in args.sizes.split(",") if s]
    dbs = await usable_dbs(args.dbs)
    cache = _dataset.cache_dir(args.cache)
    for n in sizes:
        rows = _dataset.Rows(_dataset.Spec.of(n, args.seed, args.partners, args.checklist_items))
        for db in dbs:
            async with (
                _dataset.dataset(db, rows, cache=cache, rebuild=args.rebuild, work=work) as ds,
                scratch_copy(db, ds.url, work) as url,
            ):
                yield db, ds, url
        rows.release()
