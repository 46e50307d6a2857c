"""The example application's history (the demo's data) runs through every phase and back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from expandcontract.db.connect import connect
from expandcontract.demo import Demo, copy_example
from expandcontract.phases.project import load_project


def test_example_ships_as_package_data_and_is_valid(tmp_path: Path) -> None:
    workdir = copy_example(tmp_path / "app")
    from expandcontract.config import load_config

    project = load_project(load_config(start=workdir))
    assert set(project.changes) == {"initial-schema", "users-email-verified", "users-full-name", "orders-id-bigint"}
    assert [r.id for r in project.lanes["contract"]] == [
        "ct02_users_email_verified",
        "ct03_users_full_name",
        "ct04_orders_id_bigint",
    ]


def test_example_story_on_a_real_database(tmp_path: Path, database_url: str) -> None:
    lines: list[str] = []
    demo = Demo(copy_example(tmp_path / "app"), database_url, lines.append)
    demo.story()
    with connect(database_url) as conn:
        cols = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'users'"
            )
        }
        assert "name" not in cols and cols["full_name"] == ("text", "YES")
        assert cols["email_verified"] == ("boolean", "NO")
        assert conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            "'orders'::regclass AND attname = 'id'"
        ).fetchone() == ("bigint",)
        assert conn.execute("SELECT count(*) FROM orders WHERE id IS NULL").fetchone() == (0,)
        # the sequence moved to the new key: new orders still get ids
        conn.execute("INSERT INTO orders (user_id, total_cents) VALUES (1, 5)")
        assert conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone() == (0,)
    text = "\n".join(lines)
    assert "users.name is back with its data: name='User 1'" in text
    assert "orders.id is now bigint" in text
    assert "9 pass, 1 skipped" in text and "skipped ct04_orders_id_bigint" in text  # verify
    assert "naive.sql:1:1: add-required-column" in text and "checked 10 revisions, 0 error(s)" in text
    assert "rehearse: ok: no errors, stalls or divergences (3 change(s) since" in text  # the history under traffic
    assert "app-error: users-full-name expand (expand), old release" in text and "UndefinedColumn" in text
    assert "rehearse: FAILED" in text  # the one-step rename, rehearsed
    assert "gate blocked (exit 3)" in text and "[INCOMPATIBLE_PODS]" in text  # 1 of 3 pods rolled out
    assert text.index("gate blocked") < text.index("applied ct03_users_full_name")  # allowed at 3 of 3


def test_demo_command_from_any_directory(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "expandcontract", "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "demo finished" in out.stdout
    assert list(tmp_path.iterdir()) == []  # it wrote nothing where it was started
    workdir = Path(out.stdout.split("example project in ", 1)[1].split()[0])
    assert not workdir.parent.exists()  # and removed its temporary directory, server data included
