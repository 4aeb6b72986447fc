"""The arrival sensors' durable cursor: what each feed has already seen, small enough to store per tick.

Per feed it keeps a watermark (the newest delivery time seen), the fingerprints of files delivered
within `SLACK_S` of it (so files with equal or slightly skewed timestamps are neither missed nor
taken twice), and files waiting for their partition to exist. Files older than that window are
summarised by one digest and a count: a file that appears there later (delivered with a preserved,
older mtime by `mv`, `cp -p`, `rsync -t` or `sftp put -p`) changes the digest, and the sensor then
checks that part of the listing against the landed manifest. The cursor stays O(recent files),
not O(all files), however many thousands of files a channel holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field

from resources.channels import DeliveredFile

SLACK_S = 600.0
VERSION = 3


def seen_token(file: DeliveredFile) -> str:
    """A short digest of (name, fingerprint): 11 characters per recent file in the cursor."""
    digest = hashlib.blake2b(f"{file.name}\x00{file.fingerprint}".encode(), digest_size=8).digest()
    return base64.b64encode(digest).decode()[:11]


def listing_digest(files: list[DeliveredFile]) -> str:
    """An order-independent 11-character digest of the (name, fingerprint) pairs of `files`."""
    # Sorted and hashed once: ~4x cheaper than summing a hash per file (file names hold no NUL).
    body = "\x00\n".join(sorted(f"{f.name}\x00{f.fingerprint}" for f in files))
    return base64.b64encode(hashlib.blake2b(body.encode(), digest_size=8).digest()).decode()[:11]


EMPTY_DIGEST = listing_digest([])


@dataclass
class FeedState:
    watermark: float = 0.0
    recent: set[str] = field(default_factory=set)
    pending: dict[str, str] = field(default_factory=dict)
    # Digest and count of the files below the window at the end of the last tick; None: unknown (a v2 cursor).
    older: str | None = EMPTY_DIGEST
    older_count: int = 0

    @property
    def floor(self) -> float:
        return self.watermark - SLACK_S

    def new_files(self, files: list[DeliveredFile]) -> list[DeliveredFile]:
        """Files not taken before: newer than the watermark's slack window and not seen with this fingerprint."""
        floor = self.floor
        return [
            f for f in files
            if (f.modified >= floor and seen_token(f) not in self.recent) or self.pending.get(f.name) == f.fingerprint
        ]

    def older_files(self, files: list[DeliveredFile]) -> list[DeliveredFile]:
        """Files delivered before the window: `new_files` never looks at them."""
        floor = self.floor
        return [f for f in files if f.modified < floor]

    def older_changed(self, files: list[DeliveredFile]) -> bool:
        """Whether the files below the window differ from those accounted for at the end of the last tick
        (one appeared, changed or was removed), so `new_files` alone may miss one."""
        older = self.older_files(files)
        return (self.older, self.older_count) != (listing_digest(older), len(older))

    def advance(self, files: list[DeliveredFile], older_changed: bool = True) -> None:
        """Remember every file listed now as accounted for (pending ones are kept separately by the caller).

        `older_changed` is what `older_changed(files)` said this tick: if False and the window did not
        move, the digest of the older files is already the listing's.
        """
        before = self.floor
        if files:
            self.watermark = max(self.watermark, max(f.modified for f in files))
        floor = self.floor
        self.recent = {seen_token(f) for f in files if f.modified >= floor}
        if older_changed or floor != before:
            older = self.older_files(files)
            self.older, self.older_count = listing_digest(older), len(older)


@dataclass
class ArrivalCursor:
    feeds: dict[str, FeedState] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> ArrivalCursor:
        """The cursor stored by the last tick; a version 2 cursor (no digest of older files) is migrated."""
        if not text:
            return cls()
        body = json.loads(text)
        if body.get("v") == 2:
            # Files below a v2 window were never summed up: the first tick checks them all once.
            return cls({k: FeedState(s["w"], set(s["r"]), s["p"], older=None) for k, s in body["feeds"].items()})
        if body.get("v") != VERSION:
            raise ValueError(f"arrival sensor cursor version {body.get('v')} is not {VERSION}; reset the sensor's cursor")
        return cls({k: FeedState(s["w"], set(s["r"]), s["p"], s["o"], s["n"]) for k, s in body["feeds"].items()})

    def feed(self, key: str) -> FeedState:
        return self.feeds.setdefault(key, FeedState())

    def serialize(self) -> str:
        feeds = {k: {"w": s.watermark, "r": sorted(s.recent), "p": s.pending, "o": s.older, "n": s.older_count}
                 for k, s in sorted(self.feeds.items())}
        return json.dumps({"v": VERSION, "feeds": feeds}, separators=(",", ":"))
