"""Recipes: `new` writes a whole change (expand, migrate, contract) read from the live schema at heads."""
