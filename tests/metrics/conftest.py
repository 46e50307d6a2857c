from tests.phases.conftest import factory  # noqa: F401  (a real project on disk)
