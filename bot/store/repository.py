"""The `Store`: every read and write of leakbot's data, one interface for SQLite and PostgreSQL.

A thin facade: each method runs one module function of `bot.store.*` (incidents, approvals,
audit, outbox, tasks, events_jobs) in a transaction of its own (`Database.write`) or on a read
connection (`Database.read`). Store code elsewhere composes those functions on one connection
the same way: `await store.write(lambda conn: ...)`, `async with store.read() as conn: ...`.

Conventions
-----------
- Every method that changes state runs as ONE transaction; a failure anywhere leaves nothing.
- Times come from the caller (`now`, aware UTC); the store never reads the clock for data it writes.
- Transactions, SQLite's hooks, PostgreSQL's isolation and pool: see `bot.store.engine`.
- Changes lock the rows they depend on (`FOR NO KEY UPDATE` on the incident), use atomic upserts
  for counters and claims, and `FOR UPDATE SKIP LOCKED` for the outbox on PostgreSQL.
- Audit rows are appended last in a transaction, under a global lock, so the hash chain never
  forks (`bot.store.audit`).
"""

from __future__ import annotations

from .audit import audit_hash
from .common import canonical_json
from .facade_decisions import DecisionsFacade
from .facade_incidents import IncidentsFacade
from .facade_outbox import OutboxFacade
from .facade_tasks import TasksFacade
from .outbox import OutboxSpec
from .records import SYSTEM_ACTOR

__all__ = ["SYSTEM_ACTOR", "OutboxSpec", "Store", "audit_hash", "canonical_json"]


class Store(IncidentsFacade, DecisionsFacade, OutboxFacade, TasksFacade):
    """leakbot's storage. Create with `await Store.open(url)`; `await store.close()` at the end.

    One class per group of tables (bot/store/facade_*.py), each a thin layer over its module
    functions; together they are the one interface the application uses."""
