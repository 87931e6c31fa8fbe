"""The one HTTP home: sessions, TLS policy, bearer auth and transport errors.

Used alike by the login flows (:mod:`anaconda_auth.http.session`), ``BaseClient`` and the Panel
provider (:mod:`anaconda_auth.http.tls`). Importing this package imports nothing else.
"""
