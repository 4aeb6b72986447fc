"""Where a feed is delivered: the channel models and the delivery file pattern."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from carelake.spec.columns import StrictModel


class LocalChannel(StrictModel):
    kind: Literal["local"] = "local"
    path: str = Field(
        min_length=1,
        description="folder relative to the landing root, or absolute under a root `sources/_platform.yaml` allows (local_channel_roots)",
    )

    @field_validator("path")
    @classmethod
    def _stays_inside(cls, path: str) -> str:
        parts = path.replace("\\", "/").split("/")
        if ".." in parts or path.startswith("~"):
            raise ValueError(
                f"path {path!r} leaves its root ('..' or '~'); use a folder under the landing root, or an absolute path "
                "under one of the local_channel_roots of sources/_platform.yaml"
            )
        return path


ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"


class S3Channel(StrictModel):
    """A bucket (any S3-compatible endpoint); credentials come from the named environment variables."""

    kind: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3)
    prefix: str = Field(default="", description="folder inside the bucket, e.g. acme/claims/")
    endpoint_url: str | None = Field(default=None, description="for S3-compatible stores; default: AWS")
    region: str = "us-east-1"
    access_key_env: str = Field(default="AWS_ACCESS_KEY_ID", pattern=ENV_VAR)
    secret_key_env: str = Field(default="AWS_SECRET_ACCESS_KEY", pattern=ENV_VAR)


class SftpChannel(StrictModel):
    """A folder on an SFTP server; the host key is always checked against a known_hosts file."""

    kind: Literal["sftp"] = "sftp"
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    path: str = Field(min_length=1, description="folder on the server")
    user_env: str = Field(pattern=ENV_VAR)
    password_env: str | None = Field(default=None, pattern=ENV_VAR)
    key_path_env: str | None = Field(default=None, pattern=ENV_VAR, description="env var holding a private key file path")
    known_hosts_env: str = Field(pattern=ENV_VAR, description="env var holding a known_hosts file path")

    @model_validator(mode="after")
    def _some_credential(self) -> SftpChannel:
        if not (self.password_env or self.key_path_env):
            raise ValueError("an sftp channel needs password_env or key_path_env (names of environment variables)")
        return self


class HttpChannel(StrictModel):
    """An HTTP API listing deliveries as paged JSON, behind a bearer token."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="listing endpoint; files are downloaded from <url>/<name>")
    token_env: str = Field(pattern=ENV_VAR)
    page_size: int = Field(default=500, ge=1, le=10_000)


Channel = Annotated[LocalChannel | S3Channel | SftpChannel | HttpChannel, Field(discriminator="kind")]


class Delivery(StrictModel):
    channel: Channel
    file_pattern: str = Field(
        description="file name with `{date:<strftime>}` placeholders and `*` wildcards, e.g. members_{date:%Y%m%d}.csv"
    )

    @field_validator("file_pattern")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or ".." in value:
            raise ValueError("file_pattern is a file name, without folders or '..'")
        from carelake.spec.patterns import compile_pattern

        compile_pattern(value)
        return value
