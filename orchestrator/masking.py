"""Hide secret values in output, logs, records and state, the way CI systems mask secrets.

Every occurrence of a secret, or of one of the forms a program commonly prints it in,
becomes `***`:

- the value itself (matched as UTF-8 in a stage's output);
- each line of a multi-line value on its own (and the line without its indentation);
- its base64 encoding, standard and URL-safe, at each of the three alignments it can
  have inside a longer base64 text (`user:secret` encoded whole): the characters that
  depend on the secret's bytes alone are hidden, as GitHub Actions' runner does;
- its URL encodings: percent-encoded with every reserved character encoded, with `/`
  kept, with `+` for a space, as JavaScript's encodeURIComponent and encodeURI leave
  it, each with upper- and lower-case hex digits;
- its escaped forms: JSON string escapes (`multi\\nline`, `\\u00e9`, `\\"`), Python's
  repr, ascii and unicode_escape, backslash-escaped double quotes, HTML escapes.

A form shorter than four characters is not masked (hiding every `1` or `yes` would wreck
the output and protect nothing), nor one made only of whitespace: a secret shorter than
four characters, a line of a multi-line secret shorter than four, and the base64 form of
a four-byte secret at one of its three alignments (two characters) stay visible.

Not masked, because they cannot be recognised from the value alone: a secret transformed
any other way (hashed, encrypted, reversed, hex, base32, double-encoded, compressed), a
secret split across two outputs (half in one line, half in another), cut short (only
the first part printed), or interleaved with other characters (a base64 text wrapped
across lines, a terminal's colour codes inside it). docs/reliability.md lists them all.

Matching is leftmost-first and, at one position, longest form first: with the secrets
`hunter22` and `hunter2`, `hunter22` is hidden whole. Where two different forms overlap
only partly (`abcd` then `cdef` in `abcdef`), the first one is masked and the second
one's tail stays visible (`***ef`).

Time is linear in the text masked, whatever the secrets' lengths: each form is found with
a short probe (`bytes.find`), and `StreamMasker` follows every form across chunks with a
Knuth-Morris-Pratt state, so no byte is examined again as output keeps coming.
"""

from __future__ import annotations

import base64
import heapq
import html
import json
import re
from array import array
from collections.abc import Iterable
from typing import Any, Callable
from urllib.parse import quote, quote_plus

MIN_LENGTH = 4
MASK = "***"
_MASK_BYTES = MASK.encode()
_PROBE = 16  # a form is looked for by its first _PROBE characters, then compared whole

_URL_KEPT = ("", "/", "!~*'()", ";,/?:@&=+$#!~*'()")  # quote's `safe`: ours, JS's
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def maskable(text: str) -> bool:
    """Whether a value (or a form of it) is long and varied enough to be masked."""
    return len(text) >= MIN_LENGTH and not text.isspace()


def derived_forms(secret: str) -> set[str]:
    """`secret` and every form of it that is masked (see the module docstring)."""
    pieces = [secret]
    if "\n" in secret or "\r" in secret:
        for line in re.split(r"\r\n|\r|\n", secret):
            pieces += [line, line.strip()]
    forms: set[str] = set()
    for piece in pieces:
        if maskable(piece):
            forms.add(piece)
            forms.update(_escaped(piece))
    forms.update(_base64_forms(secret))
    return {form for form in forms if maskable(form)}


def _escaped(piece: str) -> list[str]:
    makers: list[Callable[[str], str]] = [
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: repr(s)[1:-1],
        lambda s: ascii(s)[1:-1],
        lambda s: s.encode("unicode_escape").decode("ascii"),
        lambda s: s.replace('"', '\\"'),
        html.escape,
        lambda s: html.escape(s, quote=False),
        lambda s: quote_plus(s, safe="", errors="surrogateescape"),
        *[(lambda s, kept=kept: quote(s, safe=kept, errors="surrogateescape"))
          for kept in _URL_KEPT],
    ]
    forms = []
    for make in makers:
        try:
            form = make(piece)
        except (UnicodeError, ValueError):
            continue
        forms.append(form)
        if "%" in form:
            forms.append(_PERCENT.sub(lambda m: m.group().lower(), form))
    return forms


def _base64_forms(secret: str) -> list[str]:
    """The base64 characters that come from the secret's bytes alone, in each of the
    three alignments: starting 0, 1 or 2 bytes into the secret, so that what follows
    begins a group of three bytes; the last character, which mixes in the next byte,
    and the padding are left out."""
    raw = _utf8(secret)
    forms = []
    for offset in range(3):
        part = raw[offset:]
        whole = base64.b64encode(part).decode("ascii")[:len(part) * 8 // 6]
        forms += [whole, whole.replace("+", "-").replace("/", "_")]
    return forms


def _utf8(text: str) -> bytes:
    try:  # a value from os.environ may hold undecodable bytes as lone surrogates
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _longest_first(forms: Iterable) -> tuple:
    return tuple(sorted(set(forms), key=lambda f: (-len(f), f)))


class _Forms:
    """The forms to find in one kind of data (str or bytes), longest first, and a regex
    finding where any of them may begin (`probe`), which rules most data out in one
    pass."""

    def __init__(self, forms: tuple, mask):
        self.forms = forms
        self.mask = mask
        self.probe = _probe_regex({f[:_PROBE] for f in forms}, type(mask))

    def apply(self, data):
        """`data` with every form masked (leftmost first, then longest); `data` itself
        when nothing matched."""
        hit = self.probe.search(data)
        if hit is None:
            return data
        forms = self.forms
        # (next occurrence, minus its length, form): the leftmost, then the longest, first
        upcoming = [(at, -len(form), index) for index, form in enumerate(forms)
                    if (at := data.find(form, hit.start())) >= 0]
        heapq.heapify(upcoming)
        pieces, pos = [], 0
        while upcoming:
            at, minus_length, index = upcoming[0]
            if at >= pos:  # else overlapped by the last mask: look again after it
                pieces += [data[pos:at], self.mask]
                pos = at - minus_length
            at = data.find(forms[index], pos)
            if at < 0:
                heapq.heappop(upcoming)
            else:
                heapq.heapreplace(upcoming, (at, minus_length, index))
        if not pieces:
            return data
        pieces.append(data[pos:])
        return data[:0].join(pieces)


def _probe_regex(probes: set, kind: type) -> re.Pattern:
    """A regex matching where any of `probes` begins, shaped as their trie: the regex
    engine tries each alternative of a group in turn, so one flat alternation of a
    thousand probes (a hundred secrets and their forms) would cost a thousand tries at
    every position, the trie a few dozen."""
    trie: dict = {}
    for probe in probes:
        node = trie
        for unit in probe:
            node = node.setdefault(unit, {})
        node[None] = {}
    empty, bar, open_, close = ((b"", b"|", b"(?:", b")") if kind is bytes
                                else ("", "|", "(?:", ")"))

    def source(node: dict):
        if None in node:  # a probe ends here: enough for a hit
            return empty
        alternatives = [re.escape(bytes([unit]) if kind is bytes else unit) + source(child)
                        for unit, child in sorted(node.items(), key=lambda item: item[0])]
        if len(alternatives) == 1:
            return alternatives[0]
        return open_ + bar.join(alternatives) + close

    return re.compile(source(trie))


class Masker:
    """Masks a fixed set of secret values, and their forms, in text, bytes and JSON-like
    data."""

    def __init__(self, secrets: Iterable[str] = ()):
        kept = {s for s in secrets if maskable(s)}
        self.secrets: tuple[str, ...] = _longest_first(kept)
        forms = set().union(*(derived_forms(s) for s in kept)) if kept else set()
        self.forms: tuple[str, ...] = _longest_first(forms)
        self.encoded: tuple[bytes, ...] = _longest_first(_utf8(f) for f in self.forms)
        self.longest = len(self.encoded[0]) if self.encoded else 0
        self._text = _Forms(self.forms, MASK) if self.forms else None
        self._bytes = _Forms(self.encoded, _MASK_BYTES) if self.encoded else None
        self._stream = None  # see stream_tables

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __repr__(self) -> str:
        # Never the values themselves: a Masker may end up in a traceback or a log.
        return f"Masker({len(self.secrets)} secrets)"

    def mask_text(self, text: str) -> str:
        """`text` with every secret (and form of one) replaced by `***`."""
        if self._text is None:
            return text
        return self._text.apply(text)

    def mask_bytes(self, data: bytes) -> bytes:
        """`data` with every secret's (and form's) UTF-8 encoding replaced by `***`."""
        if self._bytes is None:
            return data
        return self._bytes.apply(data)

    def stream_tables(self) -> tuple[list[bytes], Any, dict[bytes, list[int]],
                                     list[array | None]]:
        """What every StreamMasker of this masker reads, made once: each form's probe,
        the regex finding any probe, the bytes that begin a form without holding its
        whole probe (-> those forms), and each form's borders (made when first needed)."""
        if self._stream is None:
            probes = [f[:_PROBE] for f in self.encoded]
            starts: dict[bytes, list[int]] = {}
            for index, probe in enumerate(probes):
                for size in range(1, len(probe)):
                    starts.setdefault(probe[:size], []).append(index)
            self._stream = (probes, self._bytes.probe, starts, [None] * len(probes))
        return self._stream

    def mask_obj(self, obj: Any, keep: frozenset[str] = frozenset()) -> Any:
        """A copy of JSON-like data (dicts, lists, tuples, strings) with strings masked.

        Dict keys are masked too (a secret can end up in a path used as a key); numbers,
        booleans and None are returned as they are; so are the values of the keys in
        `keep`, at any depth (what the runner itself made: ids, times, statuses, which a
        short secret such as `2026` must not turn into `***-11-28`). Without secrets,
        `obj` itself.
        """
        if self._text is None:
            return obj
        return self._walk(obj, keep)

    def _walk(self, obj: Any, keep: frozenset[str]) -> Any:
        if isinstance(obj, str):
            return self._text.apply(obj)
        if isinstance(obj, dict):
            return {k if k in keep else (self._walk(k, keep) if isinstance(k, str) else k):
                    v if k in keep else self._walk(v, keep) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._walk(v, keep) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._walk(v, keep) for v in obj)
        return obj


class StreamMasker:
    """Masks output that arrives in chunks of any size, e.g. a process's stdout.

    For every way of cutting a byte string into chunks,
    `b"".join(feed(c) for c in chunks) + flush()` equals `mask_bytes(whole)`. `feed`
    holds back fewer bytes than the longest form, and only those that could still be the
    start of one, so ordinary output is not delayed.

    How: for each form, the length of the longest end of the output so far that begins
    the form (a Knuth-Morris-Pratt state) is carried from chunk to chunk, and each whole
    occurrence is noted as the chunk is read. Everything before the earliest form still
    open is settled: its occurrences are masked, leftmost then longest. Only the new
    chunk is read, at C speed (a probe found with `bytes.find`, then compared in
    growing slices), so the cost is linear in the output, however long the secrets.
    """

    def __init__(self, masker: Masker):
        self.masker = masker
        self._forms = masker.encoded
        if self._forms:
            self._probes, self._any_probe, self._starts, self._borders = \
                masker.stream_tables()
        self._states = [0] * len(self._forms)
        self._open: list[int] = []  # the forms whose state is not 0
        self._found: list[tuple[int, int]] = []  # heap of (start, -length), stream offsets
        self._buf = bytearray()  # the output from offset _base on, not yet emitted
        self._base = 0
        self._total = 0

    def feed(self, chunk: bytes) -> bytes:
        """What of the output so far can be emitted now, masked."""
        if not self._forms:
            return chunk
        if not chunk:
            return b""
        chunk = bytes(chunk)
        offset = self._total
        self._total += len(chunk)
        self._buf += chunk
        states = self._states
        if self._any_probe.search(chunk) is None:
            # Usual output: no form's probe is in the chunk, so only the forms open
            # before it, and those its last few bytes begin, need a look.
            for index in self._open:
                states[index] = self._advance(index, chunk, offset)
            opened = [index for index in self._open if states[index]]
            n = len(chunk)
            for q in range(max(0, n - _PROBE + 1), n):
                for index in self._starts.get(chunk[q:], ()):
                    if not states[index]:  # the earliest start is the longest
                        states[index] = n - q
                        opened.append(index)
            self._open = opened
        else:
            for index in range(len(states)):
                states[index] = self._advance(index, chunk, offset)
            self._open = [index for index, k in enumerate(states) if k]
        return self._emit(self._total - max((states[i] for i in self._open), default=0))

    @property
    def held(self) -> int:
        """How many bytes `feed` is holding back for now."""
        return len(self._buf)

    def flush(self) -> bytes:
        """The bytes still held back, masked: call once the output has ended."""
        if not self._forms:
            return b""
        out = self._emit(self._total)
        self._states = [0] * len(self._forms)
        self._open = []
        self._found = []
        return out

    def _emit(self, settled: int) -> bytes:
        """Emit the output before stream offset `settled` (and any mask that begins
        there), masked."""
        found, buf, base = self._found, self._buf, self._base
        first = base  # the stream offset of buf[0]
        out = bytearray()
        while found and found[0][0] < settled:
            start, minus_length = heapq.heappop(found)
            if start < base:  # begins inside the last mask
                continue
            out += buf[base - first:start - first]
            out += _MASK_BYTES
            base = start - minus_length
        if base < settled:
            out += buf[base - first:settled - first]
            base = settled
        del buf[:base - first]
        self._base = base
        return bytes(out)

    def _advance(self, index: int, chunk: bytes, offset: int) -> int:
        """Read `chunk` (at stream offset `offset`) for form `index`: note its whole
        occurrences; return the length of the longest end of the output that begins it."""
        form, probe = self._forms[index], self._probes[index]
        k = self._states[index]  # so many bytes before chunk[i] begin the form
        m, n, i = len(form), len(chunk), 0
        while i < n:
            if k == 0:
                found = chunk.find(probe, i)
                if found < 0:  # only an end shorter than the probe may still begin it
                    return _open_start(chunk, max(i, n - len(probe) + 1), form)
                i = found
            want = min(n - i, m - k)
            same = _common_prefix(chunk, i, form, k, want)
            i += same
            k += same
            if k == m:
                heapq.heappush(self._found, (offset + i - m, -m))
                k = self._border(index, k)
            elif same == want:  # the chunk ended inside the form
                return k
            else:  # chunk[i] differs: the longest shorter start still open
                k = self._border(index, k)
        return k

    def _border(self, index: int, k: int) -> int:
        """The longest proper prefix of the form's first k bytes that is also their end."""
        borders = self._borders[index]
        if borders is None:
            borders = self._borders[index] = _borders(self._forms[index])
        return borders[k]


def _open_start(chunk: bytes, start: int, form: bytes) -> int:
    """The length of the longest end of `chunk`, from `start` on, that begins `form`."""
    n, first = len(chunk), form[0]
    for q in range(start, n):
        if chunk[q] == first and form.startswith(chunk[q:]):
            return n - q
    return 0


def _common_prefix(a: bytes, i: int, b: bytes, j: int, n: int) -> int:
    """How many of the n bytes from a[i] and from b[j] are the same before they differ;
    in time linear in that number, comparing slices twice as long each time."""
    done, step = 0, 64
    while done < n:
        width = min(step, n - done)
        x, y = a[i + done:i + done + width], b[j + done:j + done + width]
        if x == y:
            done += width
            step <<= 1
            continue
        diff = int.from_bytes(x, "big") ^ int.from_bytes(y, "big")
        return done + width - 1 - (diff.bit_length() - 1) // 8
    return n


def _borders(form: bytes) -> array:
    """borders[k]: the longest proper prefix of form[:k] that also ends it (the
    Knuth-Morris-Pratt failure function), for k from 0 to len(form). Runs of matching
    bytes are compared and filled in bulk, so a form whose prefixes rarely recur (any
    random secret) takes about one `find` per occurrence of its first byte."""
    m = len(form)
    borders = array("q", bytes(8 * (m + 1)))
    first = form[:1]
    i, k = 1, 0  # k: the border of form[:i]
    while i < m:
        if k == 0:
            i = form.find(first, i)
            if i < 0:
                break
        same = _common_prefix(form, i, form, k, m - i)
        if same:
            borders[i + 1:i + same + 1] = array("q", range(k + 1, k + same + 1))
            i += same
            k += same
        if i < m:
            k = borders[k] if k else 0
            if k == 0 and form[i] != form[0]:
                i += 1
    return borders
