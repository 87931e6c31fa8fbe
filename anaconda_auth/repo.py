"""Repository (conda channel) tokens: the data models of anaconda-auth 0.15's ``repo`` module.

The models the Anaconda repository API returns, importable where 0.15 had them. The
``anaconda token`` commands and the client that uses them belong to the conda integration
and are not here yet (see the README's "Compatibility with 0.15").
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

__all__ = ["OrganizationData", "TokenCreateResponse", "TokenInfoResponse"]


class TokenInfoResponse(BaseModel):
    """An issued repository token, without its value."""

    id: UUID
    expires_at: datetime


class TokenCreateResponse(BaseModel):
    """A newly issued repository token; the value never shows in ``repr``."""

    token: str = Field(repr=False)
    expires_at: datetime


class OrganizationData(BaseModel):
    """An organization the user belongs to."""

    id: UUID
    name: str
    title: str
