"""The models of the release in this working tree (the latest: releases/orders_id_bigint.py)."""

from app.releases.orders_id_bigint import Base, BigIntKey, Order, User

__all__ = ["Base", "BigIntKey", "Order", "User"]
