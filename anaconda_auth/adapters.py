"""0.15's ``anaconda_auth.adapters``: ``HTTPAdapter(ssl_context=...)``.

The adapter is :class:`anaconda_auth.http.tls.SSLContextAdapter`: its connections, direct and
through proxies, use the given ``ssl.SSLContext`` (``ssl_verify = "truststore"`` mounts one);
without a context it is requests' plain ``HTTPAdapter``.
"""

from __future__ import annotations

from anaconda_auth.http.tls import SSLContextAdapter as HTTPAdapter

__all__ = ["HTTPAdapter"]
