"""Release 2: writes users.email_verified (ships with the change users-email-verified).

It runs beside release 1 after the expand, so it must cope with rows whose email_verified is still
NULL (the backfill fills them once every pod runs this release).
"""

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base


Base = declarative_base()  # SQLAlchemy 1.4 and 2.x alike


class User(Base):
    __tablename__ = "users"

    id = sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    email = sa.Column(sa.Text, nullable=False)
    name = sa.Column(sa.Text)
    created_at = sa.Column(sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
    email_verified = sa.Column(sa.Boolean, server_default=sa.false())


class Order(Base):
    __tablename__ = "orders"

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False)
    total_cents = sa.Column(sa.Integer, nullable=False)
