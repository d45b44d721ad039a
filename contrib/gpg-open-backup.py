#!/usr/bin/python3
"""Opens an nkbackup backup with GnuPG and an RSA or NIST OpenPGP card only.

Break-glass path of docs/RECOVERY.md ("GnuPG only: an RSA card"): for when
nkbackup itself is not at hand but GnuPG is and knows the card's key (the
card was set up with `gpg --card-edit`, so the certificate is in the
keyring and `gpg --card-status` made the key stubs).

    gpg-open-backup.py ID.age [GPG-OPTION...] | zstd -d | tar -x

1. Reads the backup's age header and takes every `nkbackup/openpgp` stanza
   (docs/FORMAT.md §8.2): each body is one OpenPGP PKESK packet to a
   card's key, whose session key is the backup's age file key.
2. Hands gpg those packets followed by a dummy encrypted-data packet:
   gpg asks the card (PIN through its usual pinentry) to unwrap the one it
   holds and reports the session key (`--show-session-key`) before it
   stops at the dummy packet.
3. Checks the file key against the header MAC, then decrypts the age
   payload (STREAM, ChaCha20-Poly1305, 64 KiB chunks) to stdout, each
   chunk authenticated before it is written. A damaged or truncated
   backup stops with an error and exit status 1.

GPG-OPTIONs go to gpg as they are (e.g. `--pinentry-mode loopback
--passphrase-fd 0` to give the PIN on stdin). Needs python3 and its
`cryptography` package (Debian: python3-cryptography). Classes with
`compression = "none"` need no `zstd -d`.
"""

import base64
import hashlib
import hmac
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"age-encryption.org/v1\n"
MAX_HEADER = 1 << 20
CHUNK = 64 * 1024
TAG = 16


class Refused(Exception):
    """What went wrong, in words for the admin."""


def b64(s):
    """age's base64: standard alphabet, no padding."""
    try:
        return base64.b64decode(s + b"=" * (-len(s) % 4), validate=True)
    except ValueError as e:
        raise Refused(f"the age header has a malformed base64 line ({e})") from None


def read_header(f):
    """Returns (stanzas, bytes the MAC covers, MAC); stanzas are (args, body)."""
    first = f.readline(len(MAGIC))
    if first != MAGIC:
        raise Refused("this is not an age file (nkbackup backups are ID.age files)")
    covered = bytearray(first)
    stanzas = []
    while True:
        line = f.readline(MAX_HEADER)
        if not line.endswith(b"\n") or len(covered) + len(line) > MAX_HEADER:
            raise Refused("the age header is truncated or too large")
        if line.startswith(b"--- "):
            covered += b"---"
            return stanzas, bytes(covered), b64(line[4:-1])
        covered += line
        if not line.startswith(b"-> "):
            raise Refused("the age header has a line that is not a stanza")
        args = line[3:-1].split(b" ")
        body = bytearray()
        while True:
            part = f.readline(66)
            if not part.endswith(b"\n") or len(part) > 65:
                raise Refused("an age stanza body is truncated or malformed")
            covered += part
            body += b64(part[:-1])
            if len(part) < 65:
                break
        stanzas.append((args, bytes(body)))


def hkdf(ikm, salt, info):
    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def file_key_from_gpg(pkesks, gpg_options):
    """Lets gpg unwrap the PKESK it holds a key for; returns the file key."""
    # A dummy encrypted-data packet (tag 18, version 1): gpg decrypts the
    # session key for it, reports it, then fails on the dummy, as meant.
    dummy = bytes([0xD2, 21, 1]) + bytes(20)
    with tempfile.NamedTemporaryFile(suffix=".gpg") as msg:
        msg.write(b"".join(pkesks) + dummy)
        msg.flush()
        cmd = ["gpg", "--status-fd", "1", "--show-session-key", *gpg_options,
               "--decrypt", msg.name]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    keys = [l.split()[2] for l in run.stdout.splitlines()
            if l.startswith(b"[GNUPG:] SESSION_KEY ")]
    if not keys:
        sys.stderr.write(run.stderr.decode(errors="replace"))
        raise Refused("gpg did not unwrap the file key (see its messages above): "
                      "is the card inserted, the right PIN given, and its key in "
                      "this GNUPGHOME (gpg --card-status, gpg -K)?")
    algo, _, key = keys[0].partition(b":")
    key = bytes.fromhex(key.decode())
    if algo != b"7" or len(key) != 16:
        raise Refused("gpg returned a session key that is not an age file key: "
                      "the stanza is not nkbackup's")
    return key


def decrypt_payload(f, file_key, out):
    nonce = f.read(16)
    if len(nonce) != 16:
        raise Refused("the backup is truncated: it ends after the header")
    aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
    counter = 0
    chunk = f.read(CHUNK + TAG)
    while True:
        following = f.read(CHUNK + TAG)
        last = not following
        if len(chunk) < TAG or (not last and len(chunk) != CHUNK + TAG):
            raise Refused("the backup is truncated or damaged (payload chunk "
                          f"{counter})")
        n = counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            out.write(aead.decrypt(n, chunk, None))
        except InvalidTag:
            raise Refused(f"payload chunk {counter} does not authenticate: the "
                          "backup is damaged or truncated; nothing after it "
                          "was written") from None
        if last:
            return
        counter += 1
        chunk = following


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    with open(argv[1], "rb") as f:
        stanzas, covered, mac = read_header(f)
        pkesks = [body for args, body in stanzas if args[0] == b"nkbackup/openpgp"]
        if not pkesks:
            raise Refused("this backup has no nkbackup/openpgp stanza: it was not "
                          "sealed to an RSA or NIST card (an X25519 card opens "
                          "with nkbackup or age-plugin-openpgp-card)")
        file_key = file_key_from_gpg(pkesks, argv[2:])
        want = hmac.new(hkdf(file_key, b"", b"header"), covered, hashlib.sha256)
        if not hmac.compare_digest(want.digest(), mac):
            raise Refused("the file key gpg returned does not match the header "
                          "MAC: the header is damaged")
        decrypt_payload(f, file_key, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Refused as e:
        sys.stderr.write(f"gpg-open-backup: {e}\n")
        sys.exit(1)
    except OSError as e:
        sys.stderr.write(f"gpg-open-backup: {e}\n")
        sys.exit(1)
