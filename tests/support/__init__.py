"""Code shared by the test modules (tests/conftest.py puts tests/ on ``sys.path``).

- ``plugin_dists``: real installed distributions (a ``.dist-info`` with entry points) for
  plugin tests, and an in-memory storage plugin;
- ``https_server``: an echoing HTTPS server (optional mutual TLS) and a CONNECT proxy, with
  certificates from the testing kit's throwaway CA;
- ``tokens``: JWT-shaped API keys with a chosen expiry;
- ``processes``: fresh interpreters (ours and the published 0.15.3) for tests that need one.

Scripts that tests run as separate processes by path (``python tests/support/<script>.py``)
import nothing from here, so they work without this package on ``sys.path``.
"""
