"""``anaconda_cloud_auth``: the import name of anaconda-auth before 0.5, kept as an alias.

Every module of this package re-exports the matching ``anaconda_auth`` names and, when it is
first imported, warns (``DeprecationWarning``) with the text 0.15 used.
"""

from __future__ import annotations

import warnings

from anaconda_auth import __version__ as __version__
from anaconda_auth import client_factory as client_factory
from anaconda_auth import login as login
from anaconda_auth import logout as logout

#: 0.15's wording, kept: code and tests match on it.
MESSAGE = "Please replace imports from `import anaconda_cloud_auth` to `import anaconda_auth`"


def warn() -> None:
    """Warn that ``anaconda_cloud_auth`` is deprecated (called once per imported module)."""
    warnings.warn(MESSAGE, DeprecationWarning, stacklevel=2)


warn()
