"""kerasreg.layers."""
