"""Hide secret values in output, logs and records, the way CI systems mask secrets.

Every occurrence of a secret becomes `***`. Values shorter than four characters are not
masked (hiding every `1` or `yes` would wreck the output and protect nothing), nor are
values made only of whitespace. Matching is leftmost-first and, at one position, longest
secret first: with the secrets `hunter22` and `hunter2`, `hunter22` is hidden whole. Where
two different secrets overlap only partly (`abcd` then `cdef` in `abcdef`), the first one
is masked and the second one's tail stays visible (`***ef`); that is what keeps
`StreamMasker` able to emit everything but the last `longest - 1` bytes.

Bytes are matched against the secrets' UTF-8 encoding only; a secret that a program
prints in another encoding or escaped (JSON `\\n`, URL-encoded) is not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MIN_LENGTH = 4
MASK = "***"
_MASK_BYTES = MASK.encode()


class Masker:
    """Masks a fixed set of secret values in text, bytes and JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()):
        kept = {s for s in secrets if len(s) >= MIN_LENGTH and s.strip()}
        # Longest first: Python's regex alternation takes the first alternative that
        # matches at a position, so a secret containing another is hidden whole.
        self.secrets: tuple[str, ...] = tuple(sorted(kept, key=lambda s: (-len(s), s)))
        self.encoded: tuple[bytes, ...] = tuple(
            sorted({s.encode("utf-8", "surrogateescape") for s in self.secrets},
                   key=lambda b: (-len(b), b)))
        self._text = (re.compile("|".join(re.escape(s) for s in self.secrets))
                      if self.secrets else None)
        self.bytes_pattern = (re.compile(b"|".join(re.escape(b) for b in self.encoded))
                              if self.encoded else None)
        self.longest = len(self.encoded[0]) if self.encoded else 0

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __repr__(self) -> str:
        # Never the values themselves: a Masker may end up in a traceback or a log.
        return f"Masker({len(self.secrets)} secrets)"

    def mask_text(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        if self._text is None:
            return text
        return self._text.sub(MASK, text)

    def mask_bytes(self, data: bytes) -> bytes:
        """`data` with every secret's UTF-8 encoding replaced by `***`."""
        if self.bytes_pattern is None:
            return data
        return self.bytes_pattern.sub(_MASK_BYTES, data)

    def mask_obj(self, obj: Any) -> Any:
        """A copy of JSON-like data (dicts, lists, tuples, strings) with strings masked.

        Dict keys are masked too (a secret can end up in a path used as a key); numbers,
        booleans and None are returned as they are. Without secrets, `obj` itself.
        """
        if self._text is None:
            return obj
        return self._walk(obj)

    def _walk(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self._text.sub(MASK, obj)
        if isinstance(obj, dict):
            return {(self._walk(k) if isinstance(k, str) else k): self._walk(v)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._walk(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._walk(v) for v in obj)
        return obj


class StreamMasker:
    """Masks output that arrives in chunks of any size, e.g. a process's stdout.

    For every way of cutting a byte string into chunks,
    `b"".join(feed(c) for c in chunks) + flush()` equals `mask_bytes(whole)`. `feed`
    holds back at most `longest - 1` trailing bytes, and only those that could still be
    the start of a secret, so ordinary output is not delayed.
    """

    def __init__(self, masker: Masker):
        self.masker = masker
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """What of the output so far can be emitted now, masked."""
        masker = self.masker
        pattern = masker.bytes_pattern
        if pattern is None:
            return chunk
        buf = self._pending + chunk if self._pending else chunk
        n = len(buf)
        out = bytearray()
        pos = 0
        # Below `settled`, every secret starting at a position fits in `buf`, so the
        # regex's choice there is final; the same choice the whole string would get.
        settled = n - masker.longest + 1
        while (m := pattern.search(buf, pos)) is not None and m.start() < settled:
            out += buf[pos:m.start()]
            out += _MASK_BYTES
            pos = m.end()
        literal_end = max(pos, settled)
        out += buf[pos:literal_end]
        pos = literal_end
        # The last few positions one by one: decided unless the rest of `buf` is the start
        # of a longer secret, which the next chunk may complete.
        while pos < n:
            tail = buf[pos:]
            if any(len(s) > len(tail) and s.startswith(tail) for s in masker.encoded):
                break
            m = pattern.match(buf, pos)
            if m:
                out += _MASK_BYTES
                pos = m.end()
            else:
                out += buf[pos:pos + 1]
                pos += 1
        self._pending = buf[pos:]
        return bytes(out)

    @property
    def held(self) -> int:
        """How many bytes `feed` is holding back for now."""
        return len(self._pending)

    def flush(self) -> bytes:
        """The bytes still held back, masked: call once the output has ended."""
        rest, self._pending = self._pending, b""
        return self.masker.mask_bytes(rest)
