"""SQLite's memory statistics switched off for the process, as sqlite.org recommends.

Why: with the statistics on (the library's default, `SQLITE_DEFAULT_MEMSTATUS=1`), every
allocation and free inside SQLite takes one mutex shared by every connection of the process.
Debian's build (the one Python's `sqlite3` uses on this project's machines and in its image) also
omits the lookaside allocator, so a statement that builds text or JSON allocates at every row:
two connections stepping statements on two threads then wait for each other at every row. The
two read connections of `leakbot export` ran slower together than one alone (28,800–30,100 rows/s
against 49,200–49,800; CPU per row 43 µs against 20 µs); with the statistics off, 15.5 µs per
row on one thread and 105,500 rows/s on two (bench/README.md, "Issue 14, fifth pass"). sqlite.org
lists `SQLITE_DEFAULT_MEMSTATUS=0` among its recommended compile-time options for speed; Python's
`sqlite3` has no binding for `sqlite3_config`, so it is set here through ctypes, the way the C
API allows it at run time: `sqlite3_shutdown()`, `sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)`,
`sqlite3_initialize()`.

Where: `leakbot export` (bot/cli_export.py), before it opens the store. Not `leakbot run`: its
writes queue on one lock and its reads are short (no difference in `ack_latency.py` at 32
concurrent clicks), while ctypes would add ~0.6 MB to its memory.

What is lost: `sqlite3_memory_used()`, `sqlite3_status64()` and the soft and hard heap limits,
which neither Python's `sqlite3` nor leakbot uses.

Safety: `sqlite3_shutdown()` requires that no connection be open. This runs once per process,
before the first SQLite connection, and only when the library holds no memory at all
(`sqlite3_memory_used() == 0`, exact while the statistics are still on): any open connection
holds some. It is skipped (nothing changes) when the library `_sqlite3` uses cannot be found as
an already loaded shared library of the same version (a Python built with SQLite inside it,
Windows), or when anything fails.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any, Final

log = logging.getLogger(__name__)

SQLITE_OK: Final[int] = 0
SQLITE_CONFIG_MEMSTATUS: Final[int] = 9  # sqlite3.h
# The names under which the dynamic loader knows the library `_sqlite3` links against.
_LIBRARY_NAMES: Final[tuple[str, ...]] = (
    "libsqlite3.so.0",
    "libsqlite3.0.dylib",
    "libsqlite3.dylib",
)

_lock = threading.Lock()
_outcome: bool | None = None  # None: not tried yet in this process


def _loaded_library() -> Any | None:
    """The SQLite library already loaded for `_sqlite3` (never a second copy: RTLD_NOLOAD),
    provided it is the version `sqlite3` reports; None otherwise."""
    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:
        return None
    import ctypes  # only here, once: ~0.6 MB that `leakbot run` does without

    for name in _LIBRARY_NAMES:
        try:
            library = ctypes.CDLL(name, mode=no_load)
        except OSError:
            continue
        library.sqlite3_libversion_number.restype = ctypes.c_int
        major, minor, patch = sqlite3.sqlite_version_info
        if library.sqlite3_libversion_number() != major * 1_000_000 + minor * 1_000 + patch:
            return None
        library.sqlite3_memory_used.restype = ctypes.c_int64
        library.sqlite3_config.argtypes = [ctypes.c_int, ctypes.c_int]
        return library
    return None


def switch_off_memory_statistics() -> bool:
    """Turn SQLite's memory statistics off for this process (once; later calls return the first
    call's outcome). True when they are off."""
    global _outcome
    with _lock:
        if _outcome is None:
            _outcome = _switch_off()
        return _outcome


def _switch_off() -> bool:
    try:
        library = _loaded_library()
        if library is None:
            log.debug("SQLite's memory statistics left on: its library was not found")
            return False
        if library.sqlite3_memory_used() != 0:
            log.debug("SQLite's memory statistics left on: a connection is open")
            return False
        if library.sqlite3_shutdown() != SQLITE_OK:
            return False
        configured = library.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK
        initialized = library.sqlite3_initialize() == SQLITE_OK
        return bool(configured and initialized)
    except Exception:  # an unexpected library: leave it as it is
        log.debug("SQLite's memory statistics left on", exc_info=True)
        return False
