"""The request record and fault injection of the local identity provider.

Fault injection (``idp.faults``, thread-safe, cleared by ``IdentityProvider.reset``);
endpoints are named by their view names (see :mod:`.app`):

- ``faults.status["token"] = 500``: answer with that status and an error body before doing
  anything; a 2xx status instead runs the endpoint and replaces its status (e.g.
  ``faults.api_key_status = 200``). Shortcuts: ``discovery_status``, ``token_status``,
  ``device_authorization_status``, ``account_status``, ``api_key_status`` (both API-key
  paths);
- ``faults.invalid_json.add("discovery")``: a 200 whose body is not JSON;
- ``faults.delay["token"] = 5.0``: sleep before answering (for client timeouts);
- ``faults.authorize_error = "access_denied"``: the authorization endpoint redirects back at
  once with that error (and the right ``state``);
- ``faults.wrong_state = True``: the authorization redirect carries a different ``state``;
- ``faults.response_headers["Min-Api-Version"] = "2099.01.01"``: added to every response.

The containers are plain dicts and sets read once per request: single assignments from the
test thread are atomic under the GIL, so no lock is needed.

Every request is recorded (method, path, query, headers, form, JSON), secrets included, for
assertions.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from flask import Flask, Response
    from flask.typing import ResponseReturnValue

#: Views that answer in Anaconda's error format rather than OAuth's.
API_VIEWS = frozenset({"api_keys", "iam_api_keys", "account", "echo", "status"})
#: ``app.config`` key of the event set when the provider stops (ends injected delays).
STOPPING_KEY = "IDP_STOPPING"


@dataclass
class RecordedRequest:
    """One request the provider received (secrets included: this is test-only)."""

    method: str
    path: str
    endpoint: str | None
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    time: float


@dataclass
class Faults:
    """Failures to inject; see the module docstring. Plain containers: set them from tests."""

    status: dict[str, int] = field(default_factory=dict)
    invalid_json: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    authorize_error: str | None = None
    wrong_state: bool = False
    response_headers: dict[str, str] = field(default_factory=dict)

    def clear(self) -> None:
        self.status.clear()
        self.invalid_json.clear()
        self.delay.clear()
        self.response_headers.clear()
        self.authorize_error = None
        self.wrong_state = False

    def _set(self, names: tuple[str, ...], value: int | None) -> None:
        for name in names:
            if value is None:
                self.status.pop(name, None)
            else:
                self.status[name] = value

    @property
    def discovery_status(self) -> int | None:
        return self.status.get("discovery")

    @discovery_status.setter
    def discovery_status(self, value: int | None) -> None:
        self._set(("discovery",), value)

    @property
    def token_status(self) -> int | None:
        return self.status.get("token")

    @token_status.setter
    def token_status(self, value: int | None) -> None:
        self._set(("token",), value)

    @property
    def device_authorization_status(self) -> int | None:
        return self.status.get("device_authorization")

    @device_authorization_status.setter
    def device_authorization_status(self, value: int | None) -> None:
        self._set(("device_authorization",), value)

    @property
    def account_status(self) -> int | None:
        return self.status.get("account")

    @account_status.setter
    def account_status(self, value: int | None) -> None:
        self._set(("account",), value)

    @property
    def api_key_status(self) -> int | None:
        return self.status.get("api_keys")

    @api_key_status.setter
    def api_key_status(self, value: int | None) -> None:
        self._set(("api_keys", "iam_api_keys"), value)


def error_body(endpoint: str | None, status: int, message: str) -> dict[str, Any]:
    """An injected error in the format the endpoint's clients parse."""
    if endpoint in API_VIEWS:
        return {"error": {"code": "injected_fault", "message": message}}
    error = "server_error" if status >= 500 else "invalid_request"
    return {"error": error, "error_description": message}


def _tamper_state(location: str) -> str:
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "tampered-" + secrets.token_urlsafe(8)
    return parts._replace(query=urlencode(query)).geturl()


def install(app: Flask, faults: Faults, record: deque[RecordedRequest]) -> None:
    """Record every request of ``app`` and apply ``faults`` around its views."""
    from flask import Response, jsonify, request

    def wait(seconds: float) -> None:
        stopping = app.config.get(STOPPING_KEY)
        if isinstance(stopping, threading.Event):
            stopping.wait(seconds)
        else:  # pragma: no cover
            time.sleep(seconds)

    @app.before_request
    def record_and_fail_early() -> ResponseReturnValue | None:
        endpoint = request.endpoint
        record.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                endpoint=endpoint,
                query=request.args.to_dict(),
                headers=dict(request.headers.items()),
                form=request.form.to_dict(),
                json=request.get_json(silent=True) if request.is_json else None,
                time=time.time(),
            )
        )
        if endpoint is None:
            return None
        delay = faults.delay.get(endpoint)
        if delay:
            wait(delay)
        status = faults.status.get(endpoint)
        if status is not None and status >= 300:
            return jsonify(error_body(endpoint, status, f"injected HTTP {status}")), status
        if endpoint in faults.invalid_json:
            return Response("<html>this is not JSON{", 200, mimetype="application/json")
        return None

    @app.after_request
    def alter_response(response: Response) -> Response:
        endpoint = request.endpoint
        status = faults.status.get(endpoint) if endpoint else None
        if status is not None and status < 300:
            response.status_code = status
        if endpoint == "authorize" and faults.wrong_state and "Location" in response.headers:
            response.headers["Location"] = _tamper_state(response.headers["Location"])
        for name, value in faults.response_headers.items():
            response.headers[name] = value
        return response
