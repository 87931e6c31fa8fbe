"""The TLS policy: how ``ssl_verify``, ``client_cert`` and ``client_cert_key`` become settings.

One rule for every HTTP client of the package: ``requests`` sessions (the login's and
``BaseClient``) through :func:`configure_session`, and clients that take an
:class:`ssl.SSLContext` (Panel's Tornado client) through :func:`ssl_context`.

``ssl_verify`` is ``True`` (the default trust store), ``False`` (no verification), a CA bundle
file or directory, or ``"truststore"`` (the operating system's verifier, from the optional
``truststore`` package).
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from typing import TYPE_CHECKING, Any, cast

from requests.adapters import HTTPAdapter

from anaconda_auth.exceptions import ConfigError

if TYPE_CHECKING:
    import requests

    from anaconda_auth.config import AnacondaAuthSite

log = logging.getLogger(__name__)


def truststore_context() -> ssl.SSLContext:
    """An ``SSLContext`` that verifies with the operating system's trust store."""
    try:
        import truststore
    except ImportError:
        raise ConfigError(
            'ssl_verify = "truststore" needs the truststore package: '
            "pip install 'anaconda-auth[truststore]' (or conda install truststore)."
        ) from None
    return cast("ssl.SSLContext", truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


class SSLContextAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections (direct and through proxies) use ``ssl_context``.

    With ``verify=True`` the context's own trust store is used alone (requests would otherwise
    add certifi's bundle to it); a per-request CA-bundle path is added to it. Without a
    context (``None``, 0.15's ``HTTPAdapter(ssl_context=None)``) it is a plain ``HTTPAdapter``.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    @property
    def _ssl_context(self) -> ssl.SSLContext | None:
        """0.15's name of :attr:`ssl_context`."""
        return self.ssl_context

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        if self.ssl_context is not None:
            pool_kwargs.setdefault("ssl_context", self.ssl_context)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if self.ssl_context is not None:
            proxy_kwargs.setdefault("ssl_context", self.ssl_context)
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if verify is True and self.ssl_context is not None:
            conn.ca_certs = None
            conn.ca_cert_dir = None


def _missing_bundle(verify: str) -> ConfigError:
    return ConfigError(
        f"ssl_verify = {verify!r}: no CA bundle file or directory exists at that path. Set it "
        'to the path of a CA bundle (PEM), to "truststore", or to true/false.'
    )


def configure_session(session: requests.Session, config: AnacondaAuthSite) -> bool:
    """Apply the TLS settings of ``config`` to ``session``.

    Returns whether ``verify`` is *pinned*: an ``ssl_verify`` other than ``true`` (a CA path,
    ``false``, ``"truststore"``) must win over ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``,
    which plain ``requests`` lets replace a session's ``verify``.
    """
    cert, key = config.client_cert, config.client_cert_key
    if key and not cert:
        raise ConfigError("client_cert_key is set but client_cert is not; set both.")
    if cert:
        session.cert = (cert, key) if key else cert
    verify = config.ssl_verify
    if verify == "truststore":
        adapter = SSLContextAdapter(truststore_context())
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = True
        return True
    if isinstance(verify, str):
        path = os.path.expanduser(verify)
        if not os.path.exists(path):
            raise _missing_bundle(verify)
        session.verify = path
        return True
    session.verify = bool(verify)
    if not verify:
        log.debug("TLS certificate verification is disabled (ssl_verify = false)")
    return not verify


_contexts: dict[tuple[str, str | None, str | None], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def tls_key(config: AnacondaAuthSite) -> tuple[str, str | None, str | None]:
    """What an :func:`ssl_context` depends on."""
    return (repr(config.ssl_verify), config.client_cert, config.client_cert_key)


def ssl_context(config: AnacondaAuthSite) -> ssl.SSLContext:
    """An ``SSLContext`` for clients that are not ``requests`` (built once per setting).

    ``True`` uses the system store (OpenSSL's default paths, so ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` count) and falls back to certifi's bundle where the system has none.
    """
    key = tls_key(config)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = _build_context(config)
        return context


def _build_context(config: AnacondaAuthSite) -> ssl.SSLContext:
    verify = config.ssl_verify
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify == "truststore":
        context = truststore_context()
    elif isinstance(verify, str):
        try:
            if os.path.isdir(verify):
                context = ssl.create_default_context(capath=verify)
            else:
                context = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"ssl_verify = {verify!r}: cannot load CA certificates ({exc})"
            ) from None
    else:
        context = ssl.create_default_context()
        paths = ssl.get_default_verify_paths()
        has_system_store = any(
            p and os.path.exists(p) for p in (paths.cafile, paths.capath)
        ) or bool(context.get_ca_certs())
        if not has_system_store:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
    if config.client_cert:
        try:
            context.load_cert_chain(config.client_cert, config.client_cert_key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"client_cert = {config.client_cert!r}: cannot load the client certificate "
                f"({type(exc).__name__})"
            ) from None
    return context
