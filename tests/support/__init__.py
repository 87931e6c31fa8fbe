"""Code shared by the test modules (tests/conftest.py puts tests/ on ``sys.path``).

- ``plugin_dists``: real installed distributions (a ``.dist-info`` with entry points) for
  plugin tests, and an in-memory storage plugin;
- ``https_server``: an echoing HTTPS server (optional mutual TLS) and a CONNECT proxy, with
  certificates from the testing kit's throwaway CA;
- ``login``: the login tests' fixtures (``login_home``, ``fake_browser``, ``fresh_discovery``;
  tests/conftest.py registers the module as a plugin), a recording ``LoginUI``, ``free_port``;
- ``tokens``: JWT-shaped API keys with a chosen expiry;
- ``processes``: fresh interpreters (ours and the published 0.15.3) for tests that need one.

Scripts that tests run as separate processes by path (``browser_script.py``,
``keyring_writer.py``) import nothing from here, so they work without this package on
``sys.path``.
"""
