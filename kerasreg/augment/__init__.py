"""kerasreg.augment."""
