"""`demo`: the example change walked through its whole life on an embedded PostgreSQL."""

from __future__ import annotations

import click

from expandcontract.cli._common import command


@command()
@click.option("--keep", is_flag=True, help="Keep the temporary directory (for a look afterwards).")
def demo(keep: bool) -> None:
    """Walk the example history through expand, migrate, contract and a rollback."""
    from expandcontract.demo import run_demo

    run_demo(keep=keep)
