"""The arrival sensors' durable cursor: what each feed has already seen, small enough to store per tick.

Per feed it keeps a watermark (the newest delivery time seen), the fingerprints of files delivered
within `SLACK_S` of it (so files with equal or slightly skewed timestamps are neither missed nor
taken twice), and files waiting for their partition to exist. The cursor stays O(recent files),
not O(all files), however many thousands of files a channel holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

from resources.channels import DeliveredFile

SLACK_S = 600.0
VERSION = 2


def seen_token(file: DeliveredFile) -> str:
    """A short digest of (name, fingerprint): 11 characters per recent file in the cursor."""
    digest = hashlib.blake2b(f"{file.name}\x00{file.fingerprint}".encode(), digest_size=8).digest()
    return base64.b64encode(digest).decode()[:11]


@dataclass
class FeedState:
    watermark: float = 0.0
    recent: set[str] = field(default_factory=set)
    pending: dict[str, str] = field(default_factory=dict)

    def new_files(self, files: list[DeliveredFile]) -> list[DeliveredFile]:
        """Files not taken before: newer than the watermark's slack window and not seen with this fingerprint."""
        floor = self.watermark - SLACK_S
        return [
            f for f in files
            if (f.modified >= floor and seen_token(f) not in self.recent) or self.pending.get(f.name) == f.fingerprint
        ]

    def advance(self, files: list[DeliveredFile]) -> None:
        """Remember every file listed now as seen (pending ones are kept separately by the caller)."""
        if files:
            self.watermark = max(self.watermark, max(f.modified for f in files))
        floor = self.watermark - SLACK_S
        self.recent = {seen_token(f) for f in files if f.modified >= floor}


@dataclass
class ArrivalCursor:
    feeds: dict[str, FeedState] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> ArrivalCursor:
        if not text:
            return cls()
        body = json.loads(text)
        if body.get("v") != VERSION:
            raise ValueError(f"arrival sensor cursor version {body.get('v')} is not {VERSION}; reset the sensor's cursor")
        return cls({k: FeedState(s["w"], set(s["r"]), s["p"]) for k, s in body["feeds"].items()})

    def feed(self, key: str) -> FeedState:
        return self.feeds.setdefault(key, FeedState())

    def serialize(self) -> str:
        return json.dumps(
            {"v": VERSION, "feeds": {k: {"w": s.watermark, "r": sorted(s.recent), "p": s.pending} for k, s in sorted(self.feeds.items())}},
            separators=(",", ":"),
        )
