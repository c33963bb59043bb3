"""A plugin whose own import fails, as one with a missing dependency does."""

import qwthn_no_such_dependency  # noqa: F401
