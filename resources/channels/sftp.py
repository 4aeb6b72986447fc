"""The SFTP channel (asyncssh): password or key authentication, host key checked against known_hosts."""

from __future__ import annotations

import asyncio
import posixpath
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncssh

from carelake.secrets import env_secret
from carelake.spec import SftpChannel
from resources.channels.base import DeliveredFile, Listing, checked_name

T = TypeVar("T")


class SftpClient:
    def _run(self, channel: SftpChannel, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        async def session() -> T:
            key_path = env_secret(channel.key_path_env, "SFTP private key path")
            async with asyncssh.connect(
                channel.host,
                port=channel.port,
                username=env_secret(channel.user_env, "SFTP user"),
                password=env_secret(channel.password_env, "SFTP password"),
                client_keys=[key_path] if key_path else None,
                known_hosts=env_secret(channel.known_hosts_env, "SFTP known_hosts file"),
                agent_path=None,
                config=None,
            ) as conn:
                async with conn.start_sftp_client() as sftp:
                    return await work(sftp)

        return asyncio.run(session())

    def list(self, channel: SftpChannel) -> Listing:
        async def work(sftp: asyncssh.SFTPClient) -> Listing:
            listing = Listing()
            for entry in await sftp.readdir(channel.path):
                attrs = entry.attrs
                regular = attrs.type == asyncssh.FILEXFER_TYPE_REGULAR or (
                    attrs.permissions is not None and stat.S_ISREG(attrs.permissions)  # SFTP v3 servers send modes only
                )
                if entry.filename.startswith(".") or not regular:
                    continue
                listing.add(DeliveredFile(entry.filename, attrs.size or 0, float(attrs.mtime or 0), f"{attrs.size}:{attrs.mtime}"))
            return listing.sorted()

        return self._run(channel, work)

    def fetch(self, channel: SftpChannel, name: str, dest: Path) -> Path:
        target = dest / checked_name(name)

        async def work(sftp: asyncssh.SFTPClient) -> None:
            await sftp.get(posixpath.join(channel.path, name), str(target))

        self._run(channel, work)
        return target

    def put(self, channel: SftpChannel, name: str, source: Path) -> None:
        remote = posixpath.join(channel.path, checked_name(name))

        async def work(sftp: asyncssh.SFTPClient) -> None:
            await sftp.makedirs(channel.path, exist_ok=True)
            await sftp.put(str(source), remote + ".partial")
            await sftp.posix_rename(remote + ".partial", remote)

        self._run(channel, work)
