"""One module per release of the example app, named after the change it shipped with."""
