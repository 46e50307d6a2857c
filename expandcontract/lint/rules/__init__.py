"""One lint rule per module. Each module defines `RULE`, a Rule subclass whose docstring is its docs."""
