"""Release 3: reads and writes users.full_name instead of users.name (ships with users-full-name).

From the expand on, the sync trigger copies each write of either column to the other, so this release
and release 2 (which still writes `name`) see the same value.
"""

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base


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

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False)
    total_cents = sa.Column(sa.Integer, nullable=False)
