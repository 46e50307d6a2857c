"""Release 3: reads and writes users.full_name instead of users.name (ships with users-full-name).

From the expand on, the sync trigger copies each write of either column to the other, so this release
and release 2 (which still writes `name`) see the same value.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("users.id"))
    total_cents: Mapped[int] = mapped_column(sa.Integer)
