"""Release 4: orders.id as a bigint (ships with the change orders-id-bigint).

The contract renames the bigint copy into place as `id` while this release runs. A statement that
psycopg has prepared on a pooled connection keeps its result types, and PostgreSQL refuses to run it
once `id` changes from integer to bigint ("cached plan must not change result type"). So this release
reads the key through `BigIntKey`, which selects `CAST(orders.id AS BIGINT)`: the result is bigint
before and after the swap, in SELECTs and in INSERT ... RETURNING alike. A later release can map it as
a plain BigInteger.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class BigIntKey(TypeDecorator[int]):
    """A bigint read as bigint whatever the column's type is today (integer until the contract)."""

    impl = sa.BigInteger
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.BigInteger)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(sa.Text)
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    email_verified: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("users.id"))
    total_cents: Mapped[int] = mapped_column(sa.Integer)
