"""kerasreg.callbacks."""
