"""What the provider knows about organizations and repository (channel) tokens.

Organizations are added by tests (:meth:`RepoState.add_organization`); each has at most one
current repo token, as at Anaconda: issuing a new one revokes the old one. Kept on
:class:`.state.ProviderState` as ``state.repo`` and cleared with it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import uuid
from dataclasses import dataclass, field

#: Product code of a business subscription (0.15 treats codes containing "starter" as not).
BUSINESS_PRODUCT = "commercial_subscription"


@dataclass
class Organization:
    name: str
    title: str = ""
    product_code: str = BUSINESS_PRODUCT
    #: Emails of the members; empty means every user belongs to it.
    members: list[str] = field(default_factory=list)
    #: ``organization_features`` of userinfo (e.g. ``["environments"]``).
    features: list[str] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or self.name.title()
        self.id = self.id or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.name}.org.test"))

    def has_member(self, email: str) -> bool:
        return not self.members or email.lower() in (m.lower() for m in self.members)


@dataclass
class IssuedToken:
    org_name: str
    token: str = field(repr=False)
    id: str
    expires_at: dt.datetime


class RepoState:
    """Organizations and issued repo tokens, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.organizations: dict[str, Organization] = {}
        self.current: dict[str, IssuedToken] = {}
        self.token_lifetime = dt.timedelta(days=365)

    def clear(self) -> None:
        with self.lock:
            self.organizations.clear()
            self.current.clear()
            self.token_lifetime = dt.timedelta(days=365)

    def add_organization(self, name: str, **fields_: object) -> Organization:
        org = Organization(name, **fields_)  # type: ignore[arg-type]
        with self.lock:
            self.organizations[name] = org
        return org

    def organizations_of(self, email: str) -> list[Organization]:
        with self.lock:
            return [o for o in self.organizations.values() if o.has_member(email)]

    def issue(self, org_name: str) -> IssuedToken:
        """A new current token for ``org_name``; the previous one stops working."""
        issued = IssuedToken(
            org_name=org_name,
            token=secrets.token_hex(16),
            id=str(uuid.uuid4()),
            expires_at=dt.datetime.now(dt.timezone.utc) + self.token_lifetime,
        )
        with self.lock:
            self.current[org_name] = issued
        return issued

    def add_token(self, org_name: str, token: str) -> IssuedToken:
        """Make ``token`` the current token of ``org_name`` (a token "received by email")."""
        issued = self.issue(org_name)
        issued.token = token
        return issued

    def find(self, token: str) -> IssuedToken | None:
        """The current, unexpired token whose value is ``token``."""
        now = dt.datetime.now(dt.timezone.utc)
        with self.lock:
            for issued in self.current.values():
                if secrets.compare_digest(issued.token, token) and issued.expires_at > now:
                    return issued
        return None
