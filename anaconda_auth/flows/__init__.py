"""The login flows: everything between "log in" and a stored API key.

``discovery`` (the provider's OpenID configuration), ``tokens`` (the token endpoint),
``browser`` (authorization code + PKCE with the loopback ``redirect_server``), ``device``
(RFC 8628), ``api_keys`` (turning an access token into an API key) and ``ui`` (how a flow
talks to the person). :mod:`anaconda_auth.actions` puts them together. Importing this package
imports nothing else.
"""
