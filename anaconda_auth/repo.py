"""Repository (conda channel) tokens: 0.15's ``repo`` module.

``RepoAPIClient`` asks the Anaconda API for the user's organizations and issues repo tokens;
the ``anaconda token`` commands (:mod:`anaconda_auth.plugins.cli.token`, also importable here
as ``app``) store them in the site's :attr:`TokenInfo.repo_tokens`, where the conda auth
handler finds them.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from anaconda_auth.client import BaseClient

__all__ = [
    "OrganizationData",
    "RepoAPIClient",
    "SubscriptionData",
    "TokenCreateResponse",
    "TokenInfoResponse",
]

#: The commands' module; ``app`` is re-exported from it on first use (0.15 had it here). It is
#: named, not imported: the command line sits above this module in the layers.
_COMMANDS = "anaconda_auth.plugins.cli.token"


def __getattr__(name: str) -> Any:
    if name == "app":
        return importlib.import_module(_COMMANDS).app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


class SubscriptionData(BaseModel):
    """A subscription of the account (``/api/account``)."""

    org_id: UUID | None = None
    product_code: str


class RepoAPIClient(BaseClient):
    """The Anaconda API's organizations and repository tokens."""

    def _get_repo_token_info(self, org_name: str) -> TokenInfoResponse | None:
        """The current token's id and expiry, or None when the organization has none."""
        response = self.get(f"/api/organizations/{org_name}/ce/current-token")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return TokenInfoResponse(**response.json())

    def _create_repo_token(self, org_name: str) -> TokenCreateResponse:
        """Issue a new token (the server revokes the previous one)."""
        response = self.put(
            f"/api/organizations/{org_name}/ce/current-token", json={"confirm": "yes"}
        )
        response.raise_for_status()
        return TokenCreateResponse(**response.json())

    def issue_new_token(self, org_name: str, yes: bool = False) -> str:
        """Issue a new repository token, asking first when one exists (unless ``yes``)."""
        import typer
        from anaconda_cli_base import console
        from rich.prompt import Confirm

        existing = self._get_repo_token_info(org_name=org_name)
        if existing is not None and not yes:
            console.print(
                f"An existing token already exists for the organization [cyan]{org_name}[/cyan]."
            )
            console.print(
                "Reissuing a new token will revoke and deactivate any existing token access. "
                "This action can't be undone."
            )
            if not Confirm.ask("Proceed?", default=False):
                raise typer.Abort()
        response = self._create_repo_token(org_name=org_name)
        console.print(
            f"Your conda token has been installed and expires [cyan]{response.expires_at}[/cyan]."
            " To view your token(s), you can use [cyan]anaconda token list[/cyan]"
        )
        return response.token

    def get_organizations_for_user(self) -> list[OrganizationData]:
        """Every organization the user belongs to."""
        response = self.get("/api/organizations/my")
        response.raise_for_status()
        return [OrganizationData(**item) for item in response.json()]

    def get_business_organizations_for_user(self) -> list[OrganizationData]:
        """The user's organizations that have a business (not "starter") subscription."""
        organizations = self.get_organizations_for_user()
        subscriptions = [SubscriptionData(**s) for s in self.account.get("subscriptions", [])]
        business = {s.org_id for s in subscriptions if "starter" not in s.product_code}
        return [org for org in organizations if org.id in business]
