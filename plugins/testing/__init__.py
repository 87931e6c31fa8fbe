"""Test helpers for anaconda-auth and the projects built on it.

:class:`StorageBackendContract` (the storage backend test kit) is imported on first use: this
package is also imported by the ``anaconda-auth-idp`` console script, where pytest may be
missing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anaconda_auth.plugins.testing.storage_contract import StorageBackendContract

__all__ = ["StorageBackendContract"]

_CONTRACT_MODULE = "anaconda_auth.plugins.testing.storage_contract"


def __getattr__(name: str) -> Any:
    if name == "StorageBackendContract":
        if _CONTRACT_MODULE not in sys.modules and "pytest" in sys.modules:
            # Plain asserts in the kit then report their values, as in the user's own tests.
            sys.modules["pytest"].register_assert_rewrite(_CONTRACT_MODULE)
        from anaconda_auth.plugins.testing.storage_contract import StorageBackendContract

        return StorageBackendContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
