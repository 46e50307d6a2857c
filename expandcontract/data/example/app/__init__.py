"""The example application's models, one module per release (see releases/).

`models.py` is the release in the working tree (what `[tool.expandcontract] models` names);
`releases/` keeps every earlier release, so `expandcontract rehearse` and the tests can replay each
change with the code that ran before it (old) and the code that shipped with it (new).
"""
