"""The HTTP API channel: deliveries listed as paged JSON behind a bearer token.

Protocol: `GET <url>?page=N&page_size=M` returns `{"files": [{"name", "size", "modified",
"sha256"}], "next_page": N+1 | null}`; `GET <url>/<name>` downloads a file; `PUT` uploads one.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from carelake.secrets import env_secret
from carelake.spec import HttpChannel
from resources.channels.base import DeliveredFile, Listing, checked_name

TIMEOUT_S = 60


class HttpClient:
    def _request(self, channel: HttpChannel, url: str, method: str = "GET", data: bytes | None = None) -> urllib.request.Request:
        token = env_secret(channel.token_env, "HTTP API token")
        return urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})

    def list(self, channel: HttpChannel) -> Listing:
        listing, page = Listing(), 1
        while page is not None:
            query = urllib.parse.urlencode({"page": page, "page_size": channel.page_size})
            with urllib.request.urlopen(self._request(channel, f"{channel.url}?{query}"), timeout=TIMEOUT_S) as resp:
                body = json.load(resp)
            for item in body["files"]:
                listing.add(DeliveredFile(item["name"], int(item["size"]), float(item["modified"]), item["sha256"]))
            page = body.get("next_page")
        return listing.sorted()

    def _file_url(self, channel: HttpChannel, name: str) -> str:
        return f"{channel.url.rstrip('/')}/{urllib.parse.quote(checked_name(name))}"

    def fetch(self, channel: HttpChannel, name: str, dest: Path) -> Path:
        target = dest / checked_name(name)
        with urllib.request.urlopen(self._request(channel, self._file_url(channel, name)), timeout=TIMEOUT_S) as resp:
            with target.open("wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
        return target

    def put(self, channel: HttpChannel, name: str, source: Path) -> None:
        request = self._request(channel, self._file_url(channel, name), method="PUT", data=source.read_bytes())
        with urllib.request.urlopen(request, timeout=TIMEOUT_S):
            pass
