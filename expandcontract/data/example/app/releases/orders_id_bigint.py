"""Release 4: orders.id as a bigint (ships with the change orders-id-bigint).

The contract renames the bigint copy into place as `id` while this release runs. A statement that
psycopg has prepared on a pooled connection keeps its result types, and PostgreSQL refuses to run it
once `id` changes from integer to bigint ("cached plan must not change result type"). So this release
reads the key through `BigIntKey`, which selects `CAST(orders.id AS BIGINT)`: the result is bigint
before and after the swap, in SELECTs and in INSERT ... RETURNING alike. A later release can map it as
a plain BigInteger.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator


class BigIntKey(TypeDecorator):  # type: ignore[type-arg]
    """A bigint read as bigint whatever the column's type is today (integer until the contract)."""

    impl = sa.BigInteger
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.BigInteger)


Base = declarative_base()  # SQLAlchemy 1.4 and 2.x alike


class User(Base):
    __tablename__ = "users"

    id = sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    email = sa.Column(sa.Text, nullable=False)
    full_name = sa.Column(sa.Text)
    created_at = sa.Column(sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
    email_verified = sa.Column(sa.Boolean, server_default=sa.false(), nullable=False)


class Order(Base):
    __tablename__ = "orders"

    id = sa.Column(BigIntKey, primary_key=True)
    user_id = sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False)
    total_cents = sa.Column(sa.Integer, nullable=False)
