"""The ``conda`` entry point. conda imports this module when it loads plugins; the hooks are
defined only when conda's plugin API (conda >= 23.7) is importable."""

try:  # noqa: SIM105 (the star import cannot go in a with block)
    from anaconda_auth._conda.plugins import *  # noqa: F403
except ImportError:  # an older conda: no plugins, and conda keeps working
    pass
