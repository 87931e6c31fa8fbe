"""The 0.15 data models of ``anaconda_auth.repo`` parse what the repository API returns."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from anaconda_auth.repo import OrganizationData, TokenCreateResponse, TokenInfoResponse


def test_models_parse_api_replies() -> None:
    ident = uuid.uuid4()
    info = TokenInfoResponse.model_validate(
        {"id": str(ident), "expires_at": "2027-01-06T13:49:22Z"}
    )
    assert info.id == ident
    assert info.expires_at == datetime(2027, 1, 6, 13, 49, 22, tzinfo=timezone.utc)
    org = OrganizationData.model_validate({"id": str(ident), "name": "acme", "title": "Acme"})
    assert (org.name, org.title) == ("acme", "Acme")


def test_token_value_stays_out_of_repr() -> None:
    created = TokenCreateResponse(token="repo-secret-123", expires_at="2027-01-06T00:00:00Z")  # type: ignore[arg-type]
    assert created.token == "repo-secret-123"
    assert "repo-secret-123" not in repr(created)


def test_bad_reply_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        TokenInfoResponse.model_validate({"id": "not-a-uuid", "expires_at": "soon"})
