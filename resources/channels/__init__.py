"""Delivery channels: where providers drop files (local folder, S3, SFTP, HTTP API).

Every channel kind has a client with the same three verbs (`list`, `fetch`, `put`); the
`Channels` resource picks the client for a spec's channel, so the landed layer, the arrival
sensors and the simulator never special-case a kind.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import dagster as dg
from pydantic import Field

from carelake.secrets import MissingCredential
from carelake.spec import Channel
from resources.channels.base import DeliveredFile, Listing, UnsafeChannelPath, UnsafeFileName, checked_name
from resources.channels.http import HttpClient
from resources.channels.local import LocalClient
from resources.channels.s3 import S3Client
from resources.channels.sftp import SftpClient


class Channels(dg.ConfigurableResource):
    """All delivery channels; local channel paths are relative to `root`."""

    root: str = Field(description="folder local channels deliver into")
    # builtins.list: the class's own `list` verb would shadow the type in this annotation.
    allowed_roots: builtins.list[str] = Field(default_factory=builtins.list, description="absolute folders local channels may name")

    def client(self, channel: Channel) -> LocalClient | S3Client | SftpClient | HttpClient:
        kind = channel.kind
        if kind == "local":
            return LocalClient(self.root, self.allowed_roots)
        return {"s3": S3Client, "sftp": SftpClient, "http": HttpClient}[kind]()

    def list(self, channel: Channel) -> Listing:
        """Files delivered in the channel (not recursive), sorted by name; unsafe names are in `rejected`."""
        return self.client(channel).list(channel)

    def fetch(self, channel: Channel, name: str, dest: Path) -> Path:
        """A local path holding the delivered file's bytes (downloaded into `dest` unless already local)."""
        return self.client(channel).fetch(channel, name, dest)

    def put(self, channel: Channel, name: str, source: Path) -> None:
        """Deliver a file into the channel (what a provider does; used by the simulator)."""
        self.client(channel).put(channel, name, source)

    def describe(self, channel: Channel) -> str:
        """Where the channel is, for error messages (never a credential)."""
        if channel.kind == "local":
            return str(self.client(channel).folder(channel))
        if channel.kind == "s3":
            return f"s3://{channel.bucket}/{channel.prefix}"
        if channel.kind == "sftp":
            return f"sftp://{channel.host}:{channel.port}{channel.path}"
        return channel.url


__all__ = ["Channels", "DeliveredFile", "Listing", "MissingCredential", "UnsafeChannelPath", "UnsafeFileName", "checked_name"]
