"""Moved: ``snapshot``, ``restore`` and ``trajectory`` are ``kerasreg.study``'s now.

This module only re-exports them for ``kerasreg/recipes/early_stopping.py``,
the last user, and goes once that recipe imports them from ``kerasreg.study``.
"""

from kerasreg.study.models import restore, snapshot
from kerasreg.study.trajectory import trajectory

__all__ = ["snapshot", "restore", "trajectory"]
