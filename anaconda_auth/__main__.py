"""``python -m anaconda_auth``: the ``anaconda auth`` command without anaconda-cli-base."""

from __future__ import annotations

if __name__ == "__main__":
    from anaconda_auth.plugins.cli import main

    raise SystemExit(main())
