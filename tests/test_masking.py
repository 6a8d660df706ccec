"""Secret masking: whole strings, bytes, JSON-like records, and output arriving in chunks."""

from __future__ import annotations

import base64
import html
import itertools
import json
import random
import re
import subprocess
import sys
from urllib.parse import quote, quote_plus

import pytest

from orchestrator.masking import Masker, StreamMasker


def reference_mask(data: bytes, secrets: list[str]) -> bytes:
    """Masking spelled out position by position: the longest secret starting here, if any."""
    encoded = sorted((s.encode() for s in secrets if len(s) >= 4 and s.strip()),
                     key=len, reverse=True)
    out, i = bytearray(), 0
    while i < len(data):
        hit = next((e for e in encoded if data.startswith(e, i)), None)
        if hit:
            out += b"***"
            i += len(hit)
        else:
            out += data[i:i + 1]
            i += 1
    return bytes(out)


def streamed(masker: Masker, chunks) -> bytes:
    stream = StreamMasker(masker)
    return b"".join(stream.feed(c) for c in chunks) + stream.flush()


def all_splits(data: bytes):
    """Every way of cutting `data` into non-empty chunks (2 ** (len - 1) of them)."""
    for cuts in itertools.product((False, True), repeat=max(len(data) - 1, 0)):
        chunks, start = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                chunks.append(data[start:i])
                start = i
        chunks.append(data[start:])
        yield chunks


def test_mask_text_replaces_every_occurrence():
    masker = Masker(["hunter22", "s3cr3t-token"])
    assert masker.mask_text("pw=hunter22 token=s3cr3t-token again hunter22.") == (
        "pw=*** token=*** again ***.")
    assert masker.mask_text("nothing here") == "nothing here"
    assert masker.mask_text("hunter22hunter22") == "******"


def test_short_and_blank_values_are_not_masked():
    masker = Masker(["abc", "", "    ", "\n\t\n\t", "1234", "yes"])
    assert masker.secrets == ("1234",)
    assert masker.mask_text("abc yes 1234     x") == "abc yes ***     x"
    assert not Masker(["abc", "  \t  "])


def test_longest_secret_first_hides_a_secret_containing_another():
    masker = Masker(["pass", "password", "password123"])
    assert masker.mask_text("password123 password pass passport") == "*** *** *** ***port"
    assert masker.mask_bytes(b"password1234") == b"***4"


def test_partial_overlap_masks_the_first_secret():
    # Documented limit: keeps StreamMasker's hold-back bounded by the longest secret.
    masker = Masker(["abcd", "cdef"])
    assert masker.mask_text("abcdef") == "***ef"
    assert masker.mask_text("xcdefabcd") == "x******"


def test_same_secret_repeated_and_overlapping_itself():
    masker = Masker(["aaaa"])
    assert masker.mask_text("aaaaaaaaa") == "******a"
    assert masker.mask_bytes(b"aaaaaaaaa") == b"******a"


def test_regex_characters_in_secrets_are_literal():
    masker = Masker(["a.b*c(d)", "^$[x]\\"])
    assert masker.mask_text("a.b*c(d) axbbc(d) ^$[x]\\ x") == "*** axbbc(d) *** x"


def test_mask_bytes_matches_utf8_encoding():
    masker = Masker(["pässwörd", "日本語の鍵"])
    text = "user pässwörd key 日本語の鍵!"
    assert masker.mask_bytes(text.encode()) == "user *** key ***!".encode()
    assert masker.mask_text(text) == "user *** key ***!"
    # Latin-1 bytes of the same text are not its UTF-8 encoding, so they are not matched.
    assert masker.mask_bytes("pässwörd".encode("latin-1")) == "pässwörd".encode("latin-1")


def test_mask_obj_walks_json_like_data():
    masker = Masker(["topsecret", "/srv/topsecret-dir"])
    record = {
        "stage": "extract",
        "error": "login failed for topsecret",
        "attempts": 3,
        "ok": False,
        "none": None,
        "ratio": 0.5,
        "argv": ["run", "--token=topsecret", ("topsecret", 1)],
        "outputs": {"/srv/topsecret-dir/out.json": {"size": 10}},
        7: "topsecret",
    }
    assert masker.mask_obj(record) == {
        "stage": "extract",
        "error": "login failed for ***",
        "attempts": 3,
        "ok": False,
        "none": None,
        "ratio": 0.5,
        "argv": ["run", "--token=***", ("***", 1)],
        "outputs": {"***/out.json": {"size": 10}},
        7: "***",
    }
    assert record["error"] == "login failed for topsecret"  # the input is left alone


def test_empty_masker_returns_its_input_unchanged():
    masker = Masker([])
    assert not masker
    record = {"a": ["b"]}
    assert masker.mask_obj(record) is record
    data = b"some output"
    assert masker.mask_bytes(data) is data
    text = "some text"
    assert masker.mask_text(text) is text
    stream = StreamMasker(masker)
    chunk = b"partial"
    assert stream.feed(chunk) is chunk
    assert stream.held == 0
    assert stream.flush() == b""


def test_repr_never_shows_the_secrets():
    assert repr(Masker(["topsecret", "other-secret"])) == "Masker(2 secrets)"


SECRETS = ["abcd", "abcdef", "cdefgh", "aaaa", "ünï©", "xyzzy"]
SAMPLES = [
    b"",
    b"abc",
    b"xxabcdefghyy",
    b"aaaaaaaaaaa",
    b"abcdabcdeabcdef",
    b"abcabcdabcdefgh",
    "-ünï©ünï-ü".encode(),
    b"xyzzxyzzyabcd",
    b"no secrets at all",
]


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: d.decode(errors="replace") or "empty")
def test_every_split_of_the_stream_gives_the_whole_masking(data):
    masker = Masker(SECRETS)
    whole = masker.mask_bytes(data)
    assert whole == reference_mask(data, SECRETS)
    count = 0
    for chunks in all_splits(data):
        assert streamed(masker, chunks) == whole, chunks
        count += 1
    assert count == 2 ** max(len(data) - 1, 0)


def test_known_masked_samples():
    masker = Masker(SECRETS)
    assert masker.mask_bytes(b"xxabcdefghyy") == b"xx***ghyy"
    assert masker.mask_bytes(b"abcabcdabcdefgh") == b"abc******gh"
    assert masker.mask_bytes("-ünï©ünï-ü".encode()) == "-***ünï-ü".encode()


def test_random_streams_and_chunkings_match_the_reference():
    rng = random.Random(20261125)
    for _ in range(400):
        secrets = ["".join(rng.choice("abc") for _ in range(rng.randint(1, 7)))
                   for _ in range(rng.randint(1, 4))]
        masker = Masker(secrets)
        data = "".join(rng.choice("abcd\n") for _ in range(rng.randint(0, 60))).encode()
        whole = masker.mask_bytes(data)
        assert whole == reference_mask(data, secrets), (secrets, data)
        assert masker.mask_text(data.decode()) == whole.decode()
        for _ in range(10):
            cuts = sorted(rng.sample(range(1, len(data)), rng.randint(0, len(data) - 1))
                          if len(data) > 1 else [])
            bounds = [0, *cuts, len(data)]
            chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
            assert streamed(masker, chunks) == whole, (secrets, chunks)


def test_hold_back_is_short_and_only_what_could_start_a_secret():
    masker = Masker(["s3cret-value", "other"])
    longest = len("s3cret-value")
    stream = StreamMasker(masker)
    assert stream.feed(b"progress: 10%\n") == b"progress: 10%\n"
    assert stream.held == 0
    assert stream.feed(b"token s3c") == b"token "
    assert stream.held == 3
    assert stream.feed(b"ret-val") == b""
    assert stream.held == 10
    assert stream.feed(b"ue and oth") == b"*** and "
    assert stream.held == 3
    assert stream.feed(b"er\n") == b"***\n"
    assert stream.held == 0
    assert stream.feed(b"s3cret-valu") == b""
    assert stream.held == longest - 1
    assert stream.flush() == b"s3cret-valu"
    assert stream.held == 0
    # Whatever the chunks, never more than longest - 1 bytes wait.
    stream = StreamMasker(masker)
    data = b"s3cret-vals3cret-value s3cret-valuother s3" * 3
    for i in range(len(data)):
        stream.feed(data[i:i + 1])
        assert stream.held <= longest - 1


def test_a_shorter_secret_waits_while_a_longer_one_may_still_match():
    masker = Masker(["abcd", "abcdefgh"])
    stream = StreamMasker(masker)
    assert stream.feed(b"abcdef") == b""
    assert stream.feed(b"x") == b"***efx"
    assert stream.feed(b"abcdefg") == b""
    assert stream.feed(b"h!") == b"***!"
    assert stream.feed(b"abcd") == b""
    assert stream.flush() == b"***"


# -- the forms a secret is printed in --------------------------------------------------


def test_base64_forms_are_masked_at_every_alignment_in_both_alphabets():
    secret = "s3cr3t~~~??value"
    masker = Masker([secret])
    raw = secret.encode()
    # 16 bytes: 21 characters from the secret alone, then one from its last bits
    assert masker.mask_text(base64.b64encode(raw).decode()) == "***Q=="
    assert masker.mask_text(base64.urlsafe_b64encode(raw).decode()) == "***Q=="
    assert masker.mask_text(base64.b64encode(raw).decode().rstrip("=")) == "***Q"
    for head in (b"", b"u:", b"us:", b"usr:", b"user:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(head + raw + b":more-after-it").decode()
            masked = masker.mask_text(text)
            before, after = masked.split("***")
            # what stays shares its base64 characters with the bytes around the secret
            assert len(before) <= len(encode(head).decode()) + 4, (head, masked)
            assert len(after) <= len(encode(b":more-after-it").decode()) + 4, (head, masked)


def test_url_encoded_json_escaped_and_repr_forms_are_masked():
    secret = 'p@ss w0rd/"x"é'
    masker = Masker([secret])
    for text in (quote(secret, safe=""), quote(secret), quote_plus(secret),
                 quote(secret, safe="!~*'()"),
                 re.sub("%..", lambda m: m.group().lower(), quote(secret, safe="")),
                 json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                 repr(secret)[1:-1], ascii(secret)[1:-1], html.escape(secret),
                 secret.replace('"', '\\"')):
        assert masker.mask_text(f"<{text}>") == "<***>", text
        assert masker.mask_bytes(f"<{text}>".encode()) == b"<***>", text


def test_each_line_of_a_multi_line_secret_and_its_escaped_form():
    secret = "-----BEGIN KEY-----\n  MIIBVwIBADANBg\nok\n-----END KEY-----"
    masker = Masker([secret])
    assert masker.mask_text(secret) == "***"
    assert masker.mask_text(repr(secret)) == "'***'"
    assert masker.mask_text(json.dumps({"key": secret})) == '{"key": "***"}'
    # each line alone, indented or not; a line shorter than four characters is not
    assert masker.mask_text("got MIIBVwIBADANBg here") == "got *** here"
    assert masker.mask_text("  MIIBVwIBADANBg") == "***"
    assert masker.mask_text("-----END KEY-----\nok\n") == "***\nok\n"
    assert masker.mask_text(secret.replace("\n", "\r\n")) == "***\r\n***\r\nok\r\n***"


def test_short_forms_are_not_masked():
    # a four-byte secret: base64 at one alignment is two characters, not masked
    masker = Masker(["abcd"])
    assert set(masker.forms) == {"abcd", "YWJjZ", "YmNk"}  # not "Y2", from "cd"
    encoded = " ".join(base64.b64encode(b).decode() for b in (b"abcd", b"xxabcd", b"xabcd"))
    assert masker.mask_text(encoded) == "***A== eHhh*** eGFiY2Q="


def test_derived_forms_stream_like_the_whole():
    rng = random.Random(14)
    for _ in range(300):
        alphabet = rng.choice(["ab", "ab\n", 'a b/+"é', "xy=%"])
        secrets = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
                   for _ in range(rng.randint(1, 3))]
        masker = Masker(secrets)
        forms = list(masker.encoded) or [b"x"]
        parts = []
        for _ in range(rng.randint(0, 10)):
            form = rng.choice(forms)
            cut = rng.randint(0, len(form))
            parts.append(rng.choice([form, form[:cut], form[cut:],
                                     rng.choice(alphabet).encode() * rng.randint(1, 5)]))
        data = b"".join(parts)
        whole = masker.mask_bytes(data)
        expected = re.sub(b"|".join(re.escape(f) for f in masker.encoded), b"***", data) \
            if masker.encoded else data
        assert whole == expected, (secrets, data)
        for _ in range(5):
            bounds = sorted({0, len(data), *(rng.randint(0, len(data)) for _ in range(4))})
            chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
            assert streamed(masker, chunks) == whole, (secrets, chunks)


def test_long_secrets_stream_in_linear_time():
    """A 64 KiB secret over 10 MB of output, and a secret of one repeated byte but one
    against output of that byte (the worst case for following a form across chunks):
    the masker used to look at its whole tail again at every position (minutes)."""
    code = (
        "import os, random, string\n"
        "from orchestrator.masking import Masker, StreamMasker\n"
        "rng = random.Random(1)\n"
        "secret = ''.join(rng.choice(string.ascii_letters) for _ in range(65536))\n"
        "cases = [(secret, os.urandom(5_000_000) + secret.encode() + bytes(5_000_000)),\n"
        "         ('a' * 32768 + 'b' + 'a' * 32767, b'a' * 1_000_000)]\n"
        "for value, data in cases:\n"
        "    masker = Masker([value])\n"
        "    for size in (65536, 1000):\n"
        "        stream = StreamMasker(masker)\n"
        "        out = b''.join(stream.feed(data[i:i + size])\n"
        "                       for i in range(0, len(data), size)) + stream.flush()\n"
        "        assert out == masker.mask_bytes(data)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
