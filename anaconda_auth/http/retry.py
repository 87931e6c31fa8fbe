"""Which requests of :class:`~anaconda_auth.client.BaseClient` are tried again, and when.

urllib3's ``Retry``, mounted on the client's adapters: idempotent methods only (never POST or
PATCH unless the caller asks), on connection errors and on 429/502/503/504, with exponential
backoff and jitter, honouring ``Retry-After`` up to :data:`MAX_RETRY_AFTER` seconds. A read
timeout is not retried: a server that stalls would make every request wait ``max_retries + 1``
times ``http_timeout``. See docs/dev/decisions/0042-retries-and-timeouts.md.
"""

from __future__ import annotations

from collections.abc import Collection
from types import TracebackType
from typing import Any

from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

#: Methods retried by default: those RFC 9110 calls idempotent.
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Statuses that mean "try again shortly".
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Longest ``Retry-After`` honoured (seconds); a longer one is cut to this.
MAX_RETRY_AFTER = 10.0
#: Backoff: 0.5 s, 1 s, 2 s, ... (at most 8 s), each plus up to 0.5 s of jitter.
BACKOFF_FACTOR = 0.5
BACKOFF_MAX = 8.0
BACKOFF_JITTER = 0.5


class ClientRetry(Retry):
    """``Retry`` that never retries a method it was not given, nor a read timeout."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> ClientRetry:
        if isinstance(error, ReadTimeoutError):
            # as urllib3 does for a read error it will not retry: the error itself
            raise error.with_traceback(_stacktrace)
        if error is not None and not self._is_method_retryable(method or ""):
            # urllib3 retries connection errors whatever the method: not here. An exhausted
            # copy raises MaxRetryError, which requests turns into its ConnectionError.
            return super(ClientRetry, self.new(total=0)).increment(
                method, url, response, error, _pool, _stacktrace
            )
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def client_retry(total: int, methods: Collection[str] = RETRY_METHODS) -> Retry:
    """The ``Retry`` of a client allowed ``total`` retries of ``methods``; one object per
    setting, shared (urllib3 never changes a ``Retry``: each retry makes a new one)."""
    key = (total, frozenset(m.upper() for m in methods))
    retry = _retries.get(key)
    if retry is None:
        if len(_retries) >= 16:
            _retries.clear()
        retry = _retries[key] = _new_retry(*key)
    return retry


_retries: dict[tuple[int, frozenset[str]], Retry] = {}


def _new_retry(total: int, methods: frozenset[str]) -> Retry:
    return ClientRetry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        redirect=False,
        allowed_methods=methods,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_FACTOR,
        backoff_max=BACKOFF_MAX,
        backoff_jitter=BACKOFF_JITTER,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
