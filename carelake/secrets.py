"""Secrets: a spec or the platform config names an environment variable, never holds the value.
Every credential (channel keys, PGP keys, later alert tokens) is read here and only here."""

from __future__ import annotations

import os


class MissingCredential(RuntimeError):
    """An environment variable named in a spec or the platform config is not set."""


def env_secret(name: str | None, purpose: str, *, required: bool = True) -> str | None:
    """The value of the environment variable `name` (None if no variable is named).

    An unset or empty variable is missing: a clear error naming the variable and what it is for,
    or None when the secret is optional (`required=False`, e.g. a key without a passphrase).
    """
    if name is None:
        return None
    value = os.environ.get(name) or None
    if value is None and required:
        raise MissingCredential(f"environment variable {name} ({purpose}) is not set. Fix: export {name} for the code location")
    return value
