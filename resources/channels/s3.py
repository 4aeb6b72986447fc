"""The S3 channel (any S3-compatible endpoint), through dagster-aws's S3Resource."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dagster_aws.s3 import S3Resource

from carelake.secrets import env_secret
from carelake.spec import S3Channel
from resources.channels.base import DeliveredFile, Listing, checked_name


@lru_cache(maxsize=32)
def _boto_client(endpoint_url: str | None, region: str, key: str | None, secret: str | None):  # noqa: ANN202
    # Building a boto3 client costs ~0.2 s; one per endpoint and credential pair is reused (clients are thread-safe).
    return S3Resource(endpoint_url=endpoint_url, region_name=region, aws_access_key_id=key, aws_secret_access_key=secret).get_client()


class S3Client:
    def _client(self, channel: S3Channel):  # noqa: ANN202 - a boto3 client
        return _boto_client(
            channel.endpoint_url,
            channel.region,
            env_secret(channel.access_key_env, "S3 access key id"),
            env_secret(channel.secret_key_env, "S3 secret access key"),
        )

    @staticmethod
    def _prefix(channel: S3Channel) -> str:
        return channel.prefix if not channel.prefix or channel.prefix.endswith("/") else channel.prefix + "/"

    def list(self, channel: S3Channel) -> Listing:
        listing, prefix = Listing(), self._prefix(channel)
        paginator = self._client(channel).get_paginator("list_objects_v2")
        # Delimiter "/": objects in sub-folders are not deliveries of this channel.
        for page in paginator.paginate(Bucket=channel.bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix):]
                listing.add(DeliveredFile(name, obj["Size"], obj["LastModified"].timestamp(), obj["ETag"].strip('"')))
        return listing.sorted()

    def fetch(self, channel: S3Channel, name: str, dest: Path) -> Path:
        target = dest / checked_name(name)
        self._client(channel).download_file(channel.bucket, self._prefix(channel) + name, str(target))
        return target

    def put(self, channel: S3Channel, name: str, source: Path) -> None:
        self._client(channel).upload_file(str(source), channel.bucket, self._prefix(channel) + checked_name(name))
