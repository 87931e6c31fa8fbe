"""Token storage: choosing backends, reading and writing through them, remembering reads.

``access`` (read order, read/write/delete, status) and ``token_memo`` (the per-request fast
path of token loads). The backends themselves are plugins (``anaconda_auth.storage_backends``
and third parties'). Importing this package imports nothing else.
"""
