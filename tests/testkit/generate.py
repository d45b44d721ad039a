#!/usr/bin/env python3
"""Writes the hostile-backup testkit: one `<defect>.case` file per defect.

Every case is what an attacker with write access to a repository and the
public key could plant: a tar stream (or a sidecar) built byte by byte,
here, without nkbackup. `tests/testkit.rs` encrypts each stream to its test
key, plants it with a sidecar that matches the ciphertext, runs the commands
the case names and checks the exit code and a fragment of the message. The
cases are the executable form of docs/FORMAT.md's safety rules (§3, §6,
§10); docs/THREAT-MODEL.md points here.

A case file is a header of `key: value` lines, an empty line, then the
payload bytes:

    defect:   what is wrong, in a sentence
    payload:  tar (a plaintext tar stream), tar.zst (compressed), age (the
              data file itself, not encrypted by the test), or sidecar (a
              sidecar JSON; @CIPHERTEXT_SHA256@ and @CIPHERTEXT_BYTES@ are
              filled in by the test)
    manifest: entries skipped file_bytes sha256 -- what the sidecar
              records about the stream's inner manifest (the test plants a
              sidecar that agrees with it)
    id:       the backup id to plant under (default ID below)
    expect:   COMMAND EXIT "message fragment" -- one line per command:
              verify (no key), verify-deep, restore, ls, retention-check

Run it from anywhere: `python3 tests/testkit/generate.py [DIR]` (default:
this directory). It only uses the standard library and writes the same
bytes every time; `tests/testkit.rs` checks that the committed cases are
what it writes. Paths that would escape point at `../outside` (a directory
beside the restore target that the test watches) or
/tmp/nkbackup-testkit-absolute, never at a real system file.
"""

import base64
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ID = "20261101T000000Z-7e57c0de"
CREATED = "2026-11-01T00:00:00Z"
MTIME = 1790000000
BLOCK = 512


def octal(n, width):
    """A NUL-terminated octal field of `width` bytes."""
    return b"%0*o\0" % (width - 1, n)


def header(name, typ=b"0", size=0, mode=0o644, link=b"", prefix=b"",
           magic=b"ustar\x0000", uid=0, gid=0, mtime=MTIME, size_field=None,
           damage_checksum=False):
    """One 512-byte ustar header, checksum computed as tar does."""
    h = bytearray(BLOCK)
    h[0:len(name)] = name
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(uid, 8)
    h[116:124] = octal(gid, 8)
    if size_field is not None:
        h[124:136] = size_field
    elif size < 8 ** 11:
        h[124:136] = octal(size, 12)
    else:  # GNU base-256
        h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[136:148] = octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157:157 + len(link)] = link
    h[257:265] = magic
    h[345:345 + len(prefix)] = prefix
    chk = sum(h)
    if damage_checksum:
        chk += 1
    h[148:156] = b"%06o\0 " % chk
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def entry(name, typ=b"0", data=b"", **kw):
    return header(name, typ, size=len(data), **kw) + pad(data)


def record(key, value):
    """A pax record `<len> key=value\\n` whose length counts itself."""
    rest = len(key) + len(value) + 3
    n = rest + 1
    while n != rest + len(str(n)):
        n = rest + len(str(n))
    return b"%d %s=%s\n" % (n, key, value)


def pax(records, typ=b"x"):
    data = b"".join(records)
    return entry(b"././@PaxHeader", typ, data)


def manifest(entries, skipped=0, version=1):
    """The inner manifest for `entries` (dicts as nkbackup writes them) and
    its entry; also the values the sidecar records about it."""
    stored = [e for e in entries if e["type"] != "skipped"]
    head = {
        "nkbackup_manifest": version,
        "backup_id": ID,
        "class": "archive",
        "created": CREATED,
        "host": "testkit",
        "tool": "testkit",
        "entries": len(entries),
        "skipped": skipped,
        "file_bytes": sum(e.get("size", 0) for e in stored),
    }
    lines = [json.dumps(head, separators=(",", ":"))]
    lines += [json.dumps(e, separators=(",", ":")) for e in entries]
    body = ("\n".join(lines) + "\n").encode()
    info = "%d %d %d %s" % (len(entries), skipped, head["file_bytes"],
                            hashlib.sha256(body).hexdigest())
    return entry(b".nkbackup/manifest.jsonl", b"0", body), info


def file_entry(path, data, mode=0o644):
    return {"path": path, "type": "file", "size": len(data), "mode": mode,
            "mtime": MTIME, "uid": 0, "gid": 0,
            "sha256": hashlib.sha256(data).hexdigest()}


START = entry(b".nkbackup", b"5", mode=0o755)
END = b"\0" * (2 * BLOCK)

CASES = {}


def case(name, defect, body, expect, payload="tar", info=None, id=None):
    CASES[name] = (defect, payload, body, expect, info, id)


def refused(msg):
    """The same refusal from a deep verify and from a restore."""
    return [("verify-deep", 3, msg), ("restore", 3, msg)]


# --- paths -------------------------------------------------------------
case("path-absolute", "an entry with an absolute path",
     START + entry(b"/tmp/nkbackup-testkit-absolute", data=b"x") + END,
     refused("absolute path"))
case("path-dot-dot", "an entry whose path climbs out with '..'",
     START + entry(b"svc/../../outside/escaped", data=b"x") + END,
     refused("'..'"))
case("path-reserved", "an entry inside the reserved .nkbackup directory",
     START + entry(b".nkbackup/evil", data=b"x") + END,
     refused("reserved path"))
case("path-too-long", "a pax path of 4096 bytes, longer than a restore can create",
     START + pax([record(b"path", b"d/" * 2047 + b"ff")])
     + entry(b"d/placeholder", data=b"x") + END,
     refused("longer than 4095 bytes"))
case("name-too-long", "a path component of 256 bytes",
     START + pax([record(b"path", b"a" * 256)]) + entry(b"a", data=b"x") + END,
     refused("longer than 255 bytes"))
case("pax-path-nul", "a pax path with a NUL byte (GNU tar cuts it there, verify used to accept it)",
     START + pax([record(b"path", b"ok\0/../../outside/escaped")])
     + entry(b"ok", data=b"x") + END,
     refused("NUL byte"))
case("pax-linkpath-nul", "a symlink whose pax target holds a NUL byte",
     START + pax([record(b"linkpath", b"target\0more")])
     + entry(b"link", b"2", link=b"t") + END,
     refused("NUL byte"))

# --- links and types ---------------------------------------------------
case("symlink-then-file-below", "a symlink to the outside, then a file written through it",
     START + entry(b"svc", b"2", link=b"../outside") + entry(b"svc/escaped", data=b"x") + END,
     refused("passes through a symlink"))
case("symlink-in-dir-then-file-below", "a directory, a symlink in it, a file below the symlink",
     START + entry(b"svc", b"5") + entry(b"svc/link", b"2", link=b"../../outside")
     + entry(b"svc/link/escaped", b"5") + END,
     refused("passes through a symlink"))
case("hardlink-dot-dot", "a hard link to a file outside the target",
     START + entry(b"h", b"1", link=b"../outside/secret") + END,
     refused("hard link"))
case("hardlink-absolute", "a hard link to an absolute path",
     START + entry(b"h", b"1", link=b"/tmp/nkbackup-testkit-absolute") + END,
     refused("hard link"))
case("hardlink-to-directory", "a hard link to a directory stored before (no file system can create it)",
     START + entry(b"svc", b"5") + entry(b"svc/d", b"5")
     + entry(b"svc/h", b"1", link=b"svc/d") + END,
     refused("hard link to a directory"))
case("hardlink-to-symlink", "a hard link to a symlink stored before",
     START + entry(b"svc", b"5") + entry(b"svc/l", b"2", link=b"../../outside/secret")
     + entry(b"svc/m", b"1", link=b"svc/l") + END,
     refused("hard link to or through a symlink"))
case("hardlink-through-symlink", "a hard link whose target path passes through a symlink",
     START + entry(b"svc", b"5") + entry(b"svc/l", b"2", link=b"../../outside")
     + entry(b"svc/m", b"1", link=b"svc/l/secret") + END,
     refused("hard link to or through a symlink"))
case("device-node", "a character device node", START + entry(b"null", b"3") + END,
     refused("device node"))
case("fifo", "a fifo", START + entry(b"pipe", b"6") + END, refused("fifo"))
case("gnu-sparse-type", "a GNU sparse file (type S), which nkbackup never writes",
     START + entry(b"sparse", b"S") + END, refused("unsupported entry type"))
case("pax-gnu-sparse", "GNU sparse pax records, which a stock tar would apply",
     START + pax([record(b"GNU.sparse.major", b"1"), record(b"GNU.sparse.minor", b"0")])
     + entry(b"f", data=b"x") + END,
     refused("sparse files"))
case("pax-global-header", "a global pax header, which would change every later entry",
     START + pax([record(b"path", b"evil")], typ=b"g") + entry(b"f", data=b"x") + END,
     refused("global pax header"))
case("directory-with-content", "a directory entry claiming 4 bytes of content",
     START + header(b"d", b"5", size=4) + pad(b"data") + END,
     refused("claims 4 bytes"))

# --- shape: what the walk never writes -----------------------------------
case("duplicate-file", "the same path twice: which copy a restore keeps would depend on threads",
     START + entry(b"svc", b"5") + entry(b"svc/a", data=b"1") + entry(b"svc/a", data=b"2") + END,
     refused("repeats an earlier path"))
case("duplicate-top-level", "the same top-level name twice",
     START + entry(b"a", data=b"1") + entry(b"a", data=b"2") + END,
     refused("repeats or contains an earlier top-level entry"))
case("out-of-order", "a directory's entries out of byte order",
     START + entry(b"svc", b"5") + entry(b"svc/b", data=b"1") + entry(b"svc/a", data=b"2") + END,
     refused("out of order"))
case("entry-below-file", "an entry below a regular file",
     START + entry(b"svc", b"5") + entry(b"svc/f", data=b"1") + entry(b"svc/f/x", data=b"2") + END,
     refused("lies below"))

# --- pax records (GNU tar refuses the stream; so must nkbackup) ----------
case("pax-negative-length", "a pax record with a negative length",
     START + pax([b"-9 path=a\n"]) + entry(b"f", data=b"x") + END,
     refused("pax record 1 is malformed"))
case("pax-lying-length", "a pax record whose length runs past the header",
     START + pax([b"99 path=a\n"]) + entry(b"f", data=b"x") + END,
     refused("pax record 1 is malformed"))
case("pax-no-equals", "a pax record without '='",
     START + pax([b"9 patha\nx"]) + entry(b"f", data=b"x") + END,
     refused("pax record 1 is malformed"))
case("pax-duplicate-key", "a pax header naming two paths",
     START + pax([record(b"path", b"a"), record(b"path", b"b")]) + entry(b"f", data=b"x") + END,
     refused("appears twice"))

# --- sizes an attacker chooses (docs/FORMAT.md §10) ----------------------
case("pax-header-2gib", "a pax header claiming 2 GiB (the tar crate allocated it)",
     START + header(b"././@PaxHeader", b"x", size=2 << 30) + b"9 path=a\n" + END,
     refused("larger than the 65536"))
case("gnu-longname-1gib", "a GNU long-name header claiming 1 GiB",
     START + header(b"././@LongLink", b"L", size=1 << 30) + END,
     refused("larger than the 4096"))
_long_line = b'{"path":"' + b"a" * 70000
case("manifest-line-too-long", "an inner manifest whose first line is longer than 64 KiB",
     START + header(b".nkbackup/manifest.jsonl", b"0", size=4 << 30) + _long_line,
     refused("longer than 65536 bytes"))
# A zstd frame header asking for a 2 GiB window (window descriptor 0xA8:
# exponent 21, 2^(10+21)); the decoder must refuse it before allocating.
_zstd = b"\x28\xb5\x2f\xfd" + b"\x00" + b"\xa8" + b"\x01\x00\x00"
case("zstd-window-2gib", "a zstd frame asking for a 2 GiB window", _zstd,
     refused("fails authentication or decoding"), payload="tar.zst")

# --- the age header --------------------------------------------------------
case("age-header-many-lines", "an age header of 5000 stanza lines (age re-parses it after every line)",
     b"age-encryption.org/v1\n" + b"-> x\n" * 5000 + b"--- AAAA\n",
     refused("its age header is longer than"), payload="age")

_MAC = b"--- " + b"A" * 43 + b"\n"
case("share-stanza-threshold-1", "an nkbackup/share stanza with threshold 1 (one member alone would open it)",
     b"age-encryption.org/v1\n-> nkbackup/share officers 1 1 X25519 abc\nAAAA\n" + _MAC + b"\0" * 64,
     [("verify-deep", 3, "malformed nkbackup/share stanza"), ("restore", 3, "malformed nkbackup/share stanza")],
     payload="age")
case("share-stanza-nested", "an nkbackup/share stanza wrapping another share stanza",
     b"age-encryption.org/v1\n-> nkbackup/share officers 2 1 nkbackup/share x 2 1 X25519\nAAAA\n" + _MAC + b"\0" * 64,
     [("verify-deep", 3, "nests another share stanza")], payload="age")
case("share-stanza-index-0", "an nkbackup/share stanza at x = 0 (the secret itself)",
     b"age-encryption.org/v1\n-> nkbackup/share officers 2 0 X25519 abc\nAAAA\n" + _MAC + b"\0" * 64,
     [("verify-deep", 3, "its index is not a number from 1 to 255")], payload="age")

# --- the stream's frame ---------------------------------------------------
_ok_entries = [{"path": "svc", "type": "dir", "size": 0, "mode": 0o755, "mtime": MTIME,
                "uid": 0, "gid": 0}, file_entry("svc/f", b"hello")]
_ok_body = entry(b"svc", b"5", mode=0o755) + entry(b"svc/f", data=b"hello")
_manifest, _info = manifest(_ok_entries)
case("valid-control", "nothing: a well-formed stream, to show the planting is right",
     START + _ok_body + _manifest + END,
     [("verify", 0, "OK"), ("verify-deep", 0, "OK"), ("restore", 0, "restored"),
      ("ls", 0, "svc/f")],
     info=_info)
case("first-entry-not-nkbackup", "a stream that does not start with .nkbackup",
     _ok_body + _manifest + END, refused("does not start with the .nkbackup directory"),
     info=_info)
case("manifest-missing", "a stream without an inner manifest",
     START + _ok_body + END, refused("inner manifest is missing"))
case("entries-after-manifest", "an entry after the inner manifest",
     START + _ok_body + _manifest + entry(b"late", data=b"x") + END,
     refused("after the inner manifest"), info=_info)
_lying, _lying_info = manifest([_ok_entries[0], file_entry("svc/f", b"other")])
case("lying-manifest", "a manifest whose digest of a file is not the file's",
     START + _ok_body + _lying + END, refused("content digest does not match"),
     info=_lying_info)
case("truncated-in-entry", "a stream cut inside a file's content",
     START + header(b"big", size=100000) + b"x" * 600, refused("truncated"))
case("truncated-no-end", "a stream cut after its manifest, without end blocks",
     START + _ok_body + _manifest, refused("without its end-of-archive blocks"), info=_info)
case("one-end-block", "a stream with one end block instead of two",
     START + _ok_body + _manifest + b"\0" * BLOCK, refused("single zero block"), info=_info)
case("data-after-end", "bytes after the end-of-archive blocks",
     START + _ok_body + _manifest + END + b"hidden", refused("data follows the end"),
     info=_info)
case("bad-checksum", "a header whose checksum does not match",
     START + header(b"f", size=1, damage_checksum=True) + pad(b"x") + END,
     refused("checksum does not match"))
case("v7-header", "a pre-POSIX header without the ustar magic",
     START + header(b"f", size=1, magic=b"\0" * 8) + pad(b"x") + END,
     refused("no ustar magic"))
case("size-not-octal", "a header whose size field is not a number",
     START + header(b"f", size_field=b"12x4\0" + b"\0" * 7) + END,
     refused("its size is not a number"))

# --- sidecars --------------------------------------------------------------
def sidecar(**over):
    s = {
        "format": "nkbackup-sidecar/1", "id": ID, "class": "archive",
        "created": CREATED, "host": "testkit", "tool": "testkit",
        "compression": "zstd:3", "data": ID + ".age",
        "entries": 2, "skipped": 0, "file_bytes": 5, "tar_bytes": 0,
        "ciphertext_bytes": "@CIPHERTEXT_BYTES@",
        "ciphertext_sha256": "@CIPHERTEXT_SHA256@",
        "manifest_sha256": _info.split()[3], "recipients": [],
    }
    s.update(over)
    text = json.dumps(s, indent=2)
    return text.replace('"@CIPHERTEXT_BYTES@"', "@CIPHERTEXT_BYTES@").encode()


case("sidecar-data-traversal", "a sidecar whose data file is outside the repository",
     sidecar(data="../../../outside/secret"),
     [("verify", 3, "names data file"), ("retention-check", 7, "names data file")],
     payload="sidecar")
case("sidecar-class-mismatch", "a sidecar that says another class than its directory",
     sidecar(**{"class": "logs"}),
     [("verify", 3, "lies in backups/archive/"), ("retention-check", 7, "lies in backups/archive/")],
     payload="sidecar")
case("sidecar-created-not-id", "a sidecar whose creation time is not its id's",
     sidecar(created="2020-01-01T00:00:00Z"),
     [("verify", 3, "is not the time of its id"), ("retention-check", 7, "is not the time")],
     payload="sidecar")
case("sidecar-year-9999", "a backup dated 9999-12-31: its deadline overflows the calendar",
     sidecar(id="99991231T000000Z-7e57c0de", created="9999-12-31T00:00:00Z",
             data="99991231T000000Z-7e57c0de.age"),
     [("verify", 0, "OK"), ("retention-check", 7, "out of range")],
     payload="sidecar", id="99991231T000000Z-7e57c0de")
case("sidecar-bad-digest", "a sidecar whose ciphertext digest is not hex",
     sidecar(ciphertext_sha256="zz" * 32),
     [("verify", 3, "not 64 lowercase hex digits")], payload="sidecar")
case("sidecar-escape-in-host", "a sidecar whose host name holds a terminal escape",
     sidecar(host="evil\u001b]0;owned\u0007"),
     [("verify", 3, "control characters")], payload="sidecar")
case("sidecar-not-json", "a sidecar that is not JSON",
     b"this is not json\n", [("verify", 3, "sidecar manifest")], payload="sidecar")
case("sidecar-unknown-recipient-type", "a sidecar naming a recipient type nkbackup has not",
     sidecar(recipients=[{"label": "x", "type": "\u001b[2J", "key": "k"}]),
     [("verify", 3, "unknown type")], payload="sidecar")

case("sidecar-rewrap-pending-bad-digest", "a pending rewrap whose digests are not hex",
     sidecar(rewrap_pending={"header_sha256": "zz" * 32, "ciphertext_bytes": 1,
                             "ciphertext_sha256": "zz" * 32, "recipients": []}),
     [("verify", 3, "rewrap_pending: a digest is not 64 lowercase hex digits"),
      ("retention-check", 7, "rewrap_pending")], payload="sidecar")
case("sidecar-rewrap-pending-escape", "a pending rewrap naming a recipient with a terminal escape",
     sidecar(rewrap_pending={"header_sha256": "0" * 64, "ciphertext_bytes": 1,
                             "ciphertext_sha256": "0" * 64,
                             "recipients": [{"label": "\u001b[2J", "type": "age", "key": "k"}]}),
     [("verify", 3, "rewrap_pending: recipient label")], payload="sidecar")
case("sidecar-group-without-threshold", "a group member without the group's threshold",
     sidecar(recipients=[{"label": "alice", "type": "age", "key": "k", "group": "officers"}]),
     [("verify", 3, "malformed group or threshold")], payload="sidecar")
case("sidecar-group-threshold-1", "a group member whose threshold is 1",
     sidecar(recipients=[{"label": "alice", "type": "age", "key": "k", "group": "officers",
                          "threshold": 1}]),
     [("verify", 3, "malformed group or threshold")], payload="sidecar")

case("sidecar-period-key-not-sole", "a period backup that lists other recipients than its period key",
     sidecar(period_key={"period": "20261029T000000Z-7d", "key_id": "0123456789abcdef"},
             recipients=[{"label": "test-key", "type": "age", "key": "k"}]),
     [("verify", 3, "lists exactly one recipient, its period key")], payload="sidecar")
case("sidecar-period-key-bad-period", "a period backup whose period is not a period name",
     sidecar(period_key={"period": "2026-10-29/../../x", "key_id": "0123456789abcdef"}),
     [("verify", 3, "is not a period name"), ("retention-check", 7, "period_key")],
     payload="sidecar")
case("sidecar-period-key-wrong-period", "a period backup whose period does not contain its creation time",
     sidecar(period_key={"period": "20261126T000000Z-7d", "key_id": "0123456789abcdef"}),
     [("verify", 3, "does not contain the backup's creation time")], payload="sidecar")
case("sidecar-period-recipient-without-key", "a period-key recipient without a period_key",
     sidecar(recipients=[{"label": "period-key", "type": "period", "key": "k"}]),
     [("verify", 3, "but no period_key")], payload="sidecar")
case("sidecar-job-escape", "a sidecar whose job name holds a terminal escape",
     sidecar(job="nightly\u001b[2J"),
     [("verify", 3, "its job"), ("retention-check", 7, "its job")], payload="sidecar")

# --- key items (keys/<class>/<period>/<key id>.json) -----------------------
# A real public key and its key id (the first 16 hex digits of its SHA-256).
PUBLIC = "age1eznufznpk69yh6ahgqly8drh7zmeup6d0pzyd6luydr8grhezu3q29dgm8"
KEY_ID = hashlib.sha256(PUBLIC.encode()).hexdigest()[:16]
PLACE = "archive/20261029T000000Z-7d/" + KEY_ID


def key_item(**over):
    k = {
        "format": "nkbackup-period-key/1", "class": "archive",
        "period": "20261029T000000Z-7d", "key_id": KEY_ID,
        "created": "2026-10-29T00:00:00Z", "public_key": PUBLIC,
        "recipients": [], "ciphertext_sha256": "0" * 64,
    }
    k.update(over)
    return json.dumps(k, indent=2).encode()


case("key-item-moved", "a key item moved to another period's directory",
     key_item(period="20261105T000000Z-7d"),
     [("keyring-list", 3, "not the item of its place"),
      ("retention-verify", 6, "not the item of its place")],
     payload="key-item", id=PLACE)
case("key-item-foreign-public-key", "a key item whose public key is not the one its key id names",
     key_item(public_key="age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"),
     [("keyring-list", 3, "key_id is not the digest of public_key")],
     payload="key-item", id=PLACE)
case("key-item-escape-in-format", "a key item whose format holds a terminal escape",
     key_item(format="\u001b]0;owned\u0007"),
     [("keyring-list", 3, "\\u{1b}]0;owned")],
     payload="key-item", id=PLACE)
case("key-item-too-many-recipients", "a key item listing 300 recipients",
     key_item(recipients=[{"label": "r%d" % i, "type": "age", "key": "k"} for i in range(300)]),
     [("keyring-list", 3, "more than 256 recipients")],
     payload="key-item", id=PLACE)


# --- the repository's own nkbackup.toml --------------------------------
# payload "classes": the [classes] tables of a planted nkbackup.toml (the
# configuration lives in the repository too), beside a valid backup.
case("promise-contradicted", "a class whose settings outlive the bound its promise states",
     b'[classes.archive]\npromise = "Deleted within 90 days, backups included."\n'
     b'promise_max = "90d"\nsource_max_age = "90d"\nmax_age = "90d"\n',
     [("retention-check", 1, "source_max_age 90d + max_age 90d = 180d exceeds promise_max 90d"),
      ("retention-verify", 1, "exceeds promise_max 90d")],
     payload="classes")
case("forever-without-reason", "a class kept forever that does not say why",
     b'[classes.archive]\nmax_age = "forever"\n',
     [("retention-check", 1, "needs reason")],
     payload="classes")
case("no-deadline", "a class without a deadline: it keeps backups forever",
     b'[classes.archive]\ndescription = "no max_age"\n',
     [("retention-check", 7, "keeps backups forever: no promise can hold"),
      ("retention-verify", 6, "keeps backups forever: no promise can hold")],
     payload="classes")


# --- the drill journal -------------------------------------------------
# payload "drill-journal": journal/drills.jsonl as planted, beside a valid
# backup, in a repository where card "nk-a" is enrolled with a signature
# key (@SIGNING_FP@ is its fingerprint, generated by the test).
def drill_line(openpgp, key="@SIGNING_FP@"):
    line = {
        "seq": 1, "prev": "0" * 64,
        "started": "2026-12-01T00:00:00Z", "duration_s": 0.5, "outcome": "passed",
        "backup_id": "20261101T000000Z-7e57c0de", "class": "archive",
        "backup_created": "2026-11-01T00:00:00Z",
        "token": {"label": "nk-a", "type": "card-x25519", "ident": "FFFE:0000000A"},
        "entries_verified": 3, "bytes_verified": 10, "ciphertext_bytes": 500,
        "throughput_mib_s": 0.1, "host": "h", "tool": "nkbackup 0.1.0",
        "signature": {"key": key, "openpgp": openpgp},
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


# A literal-data packet (tag 11), where a signature packet belongs.
LITERAL = base64.b64encode(bytes([0xcb, 0x06]) + b"b\0\0\0\0\0").decode()
case("drill-signature-not-base64", "a drill record whose signature is not base64",
     drill_line("not base64!"),
     [("retention-verify", 6, "carries a signature that fails: it is not base64")],
     payload="drill-journal")
case("drill-signature-too-long", "a drill record with a signature of 10 000 characters",
     drill_line("A" * 10000),
     [("retention-verify", 6, "a signature has at most 4096")],
     payload="drill-journal")
case("drill-signature-wrong-packet", "a drill record whose signature is a literal-data packet",
     drill_line(LITERAL),
     [("retention-verify", 6, "it is a Literal Data Packet, not a signature packet")],
     payload="drill-journal")
case("drill-line-too-long", "a drill journal line of 100 000 bytes",
     drill_line("A" * 100000),
     [("retention-verify", 6, "drill journal line 1")],
     payload="drill-journal")


# --- journal segments --------------------------------------------------
# payload "journal-files": files planted under the repository's journal/,
# beside a valid backup; the payload is one or more "== NAME\n" lines each
# followed by that file's bytes (NAME relative to journal/).
def deletion_lines(n):
    import hashlib
    prev, out = "0" * 64, []
    for seq in range(1, n + 1):
        line = {"seq": seq, "prev": prev, "event": "intent", "at": "2026-11-02T00:00:00Z",
                "reason": "overdue",
                "path": "backups/logs/20261001T000000Z-%08x.age" % seq}
        b = json.dumps(line, separators=(",", ":")).encode() + b"\n"
        out.append(b)
        prev = hashlib.sha256(b).hexdigest()
    head = json.dumps({"seq": n, "sha256": prev}, separators=(",", ":")).encode() + b"\n"
    return out, head


def journal_files(files):
    return b"".join(b"== " + name.encode() + b"\n" + body for name, body in files)


_lines, _head = deletion_lines(2)
case("journal-segment-misnamed", "a deletion journal segment named for seq 2 that begins with seq 1",
     journal_files([("deletions/00000000000000000002.jsonl", b"".join(_lines)),
                    ("deletions.head", _head)]),
     [("retention-verify", 6, "must begin with seq 2")],
     payload="journal-files")
case("journal-segment-stray", "an object planted among the deletion journal's segments",
     journal_files([("deletions/00000000000000000001.jsonl", b"".join(_lines)),
                    ("deletions/00000000000000000003.jsonl.bak", b"x\n"),
                    ("deletions.head", _head)]),
     [("retention-verify", 6, "not one nkbackup writes")],
     payload="journal-files")
case("journal-segment-empty", "an empty deletion journal segment after the lines",
     journal_files([("deletions/00000000000000000001.jsonl", b"".join(_lines)),
                    ("deletions/00000000000000000003.jsonl", b""),
                    ("deletions.head", _head)]),
     [("retention-verify", 6, "is empty")],
     payload="journal-files")


# A seekable payload (docs/FORMAT.md §2.1), built by hand: zstd frames of
# raw blocks (no compression needed to test the index), the locator and
# the seek table, with one part of the tail made to lie.
def zstd_frame(data):
    """`data` as one zstd frame of raw blocks: frame header without content
    size or checksum, a 128 KiB window (descriptor 0x38)."""
    out = b"\x28\xb5\x2f\xfd\x00\x38"
    pieces = [data[i:i + 131072] for i in range(0, len(data), 131072)] or [b""]
    for k, p in enumerate(pieces):
        last = 1 if k == len(pieces) - 1 else 0
        out += struct.pack("<I", last | (len(p) << 3))[:3] + p
    return out


def seekable(tar, cuts, manifest_offset, lie=None):
    """`tar` cut at `cuts` into frames, then the locator naming
    `manifest_offset` and the seek table; `lie(entries)` may change the
    table's (compressed, decompressed) sizes, or `lie` be "count" (a frame
    count no payload holds)."""
    bounds = [0] + sorted(cuts) + [len(tar)]
    pieces = [tar[a:b] for a, b in zip(bounds, bounds[1:])]
    frames = [zstd_frame(p) for p in pieces]
    sizes = [[len(f), len(p)] for f, p in zip(frames, pieces)]
    if callable(lie):
        lie(sizes)
    n = 0xFFFFFFFF if lie == "count" else len(sizes)
    table = struct.pack("<II", 0x184D2A5E, 8 * len(sizes) + 9)
    table += b"".join(struct.pack("<II", c, d) for c, d in sizes)
    table += struct.pack("<IBI", n, 0, 0x8F92EAB1)
    locator = struct.pack("<II8sQ", 0x184D2A5B, 16, b"nkbackup", manifest_offset)
    return b"".join(frames) + locator + table


def with_offsets(entries, start):
    """`entries` with the offsets of a stream of 512-byte headers from
    `start` (no pax headers)."""
    out, at = [], start
    for e in entries:
        e = dict(e, offset=at)
        at += BLOCK + len(pad(b"\0" * e.get("size", 0)))
        out.append(e)
    return out, at


_v2_entries, _v2_end = with_offsets(_ok_entries, BLOCK)
_v2_manifest, _v2_info = manifest(_v2_entries, version=2)
_v2_tar = START + _ok_body + _v2_manifest + END
_ls = lambda msg: [("ls", 3, msg), ("restore", 0, "restored")]
case("seek-control", "nothing: a well-formed seekable payload, to show the planting is right",
     seekable(_v2_tar, [_v2_end], _v2_end),
     [("ls", 0, "svc/f"), ("verify-deep", 0, "OK"), ("restore", 0, "restored")],
     payload="tar.zst", info=_v2_info)
case("seek-table-not-tiling", "the seek table's first frame claims a byte more than it holds",
     seekable(_v2_tar, [_v2_end], _v2_end, lie=lambda s: s[0].__setitem__(0, s[0][0] + 1)),
     _ls("add up to"), payload="tar.zst", info=_v2_info)
case("seek-table-frame-count", "a seek table footer claiming 2^32-1 frames",
     seekable(_v2_tar, [_v2_end], _v2_end, lie="count"),
     _ls("a payload has 1 to"), payload="tar.zst", info=_v2_info)
case("seek-locator-mid-frame", "a locator naming an offset inside a frame",
     seekable(_v2_tar, [_v2_end], _v2_end + BLOCK),
     _ls("does not start a frame"), payload="tar.zst", info=_v2_info)
case("seek-locator-not-manifest", "a locator naming a frame that starts with a file, not the manifest",
     seekable(_v2_tar, [BLOCK * 2, _v2_end], BLOCK * 2),
     _ls("where the inner manifest is not"), payload="tar.zst", info=_v2_info)
# A file whose content is a forged manifest entry and end blocks, and a
# locator pointing into it: the real stream goes on after the forgery.
_forged = _v2_manifest + END
_f_entries, _f_end = with_offsets(_ok_entries + [file_entry("svc/g", _forged)], BLOCK)
_f_manifest, _f_info = manifest(_f_entries, version=2)
_f_body = _ok_body + entry(b"svc/g", data=_forged)
case("seek-locator-forged-manifest",
     "a locator pointing at a forged manifest inside a file's content",
     seekable(START + _f_body + _f_manifest + END, [_f_end - len(pad(_forged)), _f_end],
              _f_end - len(pad(_forged))),
     _ls("data follows the end of the archive"), payload="tar.zst", info=_f_info)

# Offsets a manifest line may leave out (docs/FORMAT.md §4): each where
# the stored entry before implies it (offset + 512 + size padded to 512;
# 0 before the first).
def implied_offsets(entries, drop_first=False):
    out, implied = [], 0
    for k, e in enumerate(entries):
        at = e["offset"]
        if at == implied or (k == 0 and drop_first):
            e = {f: v for f, v in e.items() if f != "offset"}
        implied = at + BLOCK + len(pad(b"\0" * e.get("size", 0)))
        out.append(e)
    return out


_i_manifest, _i_info = manifest(implied_offsets(_v2_entries), version=2)
_i_tar = START + _ok_body + _i_manifest + END
case("seek-implied-control", "nothing: offsets left out where the entry before implies them",
     seekable(_i_tar, [_v2_end], _v2_end),
     [("ls", 0, "svc/f"), ("verify-deep", 0, "OK"), ("restore", 0, "restored")],
     payload="tar.zst", info=_i_info)
_w_manifest, _w_info = manifest(implied_offsets(_v2_entries, drop_first=True), version=2)
case("seek-implied-offset-wrong",
     "the first entry's offset left out: implied 0, and every later one 512 bytes short",
     seekable(START + _ok_body + _w_manifest + END, [_v2_end], _v2_end),
     [("verify-deep", 3, "but the manifest says 0"), ("restore", 3, "but the manifest says 0")],
     payload="tar.zst", info=_w_info)


def main():
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".case"):
            os.remove(os.path.join(out, old))
    for name, (defect, payload, body, expect, info, id_) in sorted(CASES.items()):
        lines = ["nkbackup testkit case", "defect: " + defect, "payload: " + payload]
        if info:
            lines.append("manifest: " + info)
        if id_:
            lines.append("id: " + id_)
        for cmd, code, msg in expect:
            lines.append('expect: %s %d "%s"' % (cmd, code, msg))
        with open(os.path.join(out, name + ".case"), "wb") as f:
            f.write(("\n".join(lines) + "\n\n").encode() + body)
    print("wrote %d cases to %s" % (len(CASES), out))


if __name__ == "__main__":
    main()
