"""The lecture's claims as runnable recipes (``kerasreg list``, ``kerasreg run NAME``).

Each module here is one recipe.  Recipes use only kerasreg's public API; the
rest of the library never imports them (only the command line does, to run one).
"""
