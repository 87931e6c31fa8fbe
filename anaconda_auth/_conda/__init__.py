"""The conda integration: the channel auth handler, ``conda token`` and condarc writing.

conda is not a dependency of anaconda-auth. conda loads :mod:`.entrypoint` through the
``conda`` entry point; it imports the plugin only when conda's plugin API is importable.
Nothing outside this package imports it at module level, so ``import anaconda_auth.client``
never pays for conda. :mod:`.config` and :mod:`.condarc` need no conda (:mod:`.condarc`
needs ruamel.yaml, which conda brings).
"""
