"""CI integration: the steps of the GitHub Action in action.yml (`action.py`, standard library only)."""
