"""The fixtures live in tests/support, loaded here as plugins: test modules use them without importing."""

pytest_plugins = ["tests.support.fixtures", "tests.support.servers", "tests.support.alerting"]
