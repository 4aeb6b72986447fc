"""What the tests share, loaded as a pytest plugin by tests/conftest.py.

- `fixtures`: the `settings` (a fresh sources copy, lake and landing folder) and `instance` fixtures.
- `servers`: real delivery servers on loopback (S3 on SeaweedFS, SFTP, an HTTP API) and their fixtures.
- `environment`: the repository's sources, the shared data folder, CI's rule for missing services.
- `specs`: spec YAML builders, the test feeds, a loaded spec by key.
- `deliveries`: files delivered to the landing folder, one file ingested into a fresh lake.
- `runs`: feeds run through Dagster, sensor ticks, what a run or a tick requested, lake counts.

Fixtures need no import; helpers are imported from their module.
"""
