"""kerasreg.data."""
