"""Helpers shared by the test suites (tests/integration, tests/chaos,
tests/bench): simulators and fake peers the tests drive, and small socket and
/proc helpers. Import as `support.<module>` with tests/ on sys.path (the
integration tests' conftest.py puts it there; the scripts do it themselves)."""
