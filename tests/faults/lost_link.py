"""Run inside a network namespace of its own (`unshare -n`): a connection over TCP on that namespace's
loopback, through tests/faults/proxy.py to the server's Unix socket; then the loopback goes down, so
every packet of the connection is lost (unroutable) while the server stays up. Prints one JSON line:
the error and how long the statement took to fail.

    unshare -n python -m tests.faults.lost_link SOCKET_DIR PORT DBNAME USER MODE TCP_USER_TIMEOUT_MS

MODE `send`: the statement is sent after the link died (its data is never acknowledged: tcp_user_timeout).
MODE `wait`: the link dies while a long statement runs (the client only waits: keepalives).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from expandcontract.config import ConnectionConfig
from expandcontract.db import connect as db
from tests.faults.proxy import Proxy


def main() -> None:
    socket_dir, port, dbname, user, mode, user_timeout_ms = sys.argv[1:7]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    db.tune(
        ConnectionConfig(
            keepalives_idle_s=2,
            keepalives_interval_s=1,
            keepalives_count=2,
            tcp_user_timeout_ms=int(user_timeout_ms),
            stall_check_s=0,  # only the TCP-level bounds
        )
    )
    with Proxy(socket_dir, int(port)) as proxy:
        conn = db.connect(f"postgresql://{user}@127.0.0.1:{proxy.port}/{dbname}", autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        if mode == "wait":
            threading.Timer(1.0, lambda: subprocess.run(["ip", "link", "set", "lo", "down"], check=True)).start()
            sql = "SELECT pg_sleep(600)"
        else:
            subprocess.run(["ip", "link", "set", "lo", "down"], check=True)
            sql = "SELECT 1"
        started = time.monotonic()
        try:
            conn.execute(sql)
            error = None
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        print(json.dumps({"error": error, "seconds": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main()
