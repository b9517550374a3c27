"""End-to-end tests against real engines. A package, so its conftest does not shadow tests/conftest.py as `conftest`."""
