"""kerasreg.constraints."""
