#!/usr/bin/env python3
"""Generates a deterministic, service-like tree for nkbackup's benchmark.

Mix by bytes: ~40 % log text, ~25 % JSON message archive, ~35 % random
(incompressible) media; thousands of small files plus some large ones.
Same --size and --seed give the same bytes on every machine.

  gen_tree.py --size 512M DIR          mixed tree
  gen_tree.py --small-files 200000 DIR  ~1 KiB JSON files, many directories
"""
import argparse
import json
import os
import random


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


WORDS = ("connected disconnected authenticated message delivered stanza roster presence "
         "upload timeout retry session resumed carbons archive query offline push "
         "tls handshake certificate storage quota user room join leave").split()


def log_lines(rng, n_bytes):
    out, size, t = [], 0, 1_700_000_000
    while size < n_bytes:
        t += rng.randrange(1, 30)
        line = "%d c2s%04x %s %s user%d@chat.example.org %s\n" % (
            t, rng.randrange(65536), rng.choice(("info", "debug", "warn")),
            " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12))),
            rng.randrange(5000), "%08x" % rng.getrandbits(32))
        out.append(line)
        size += len(line)
    return "".join(out).encode()


def json_archive(rng, n_bytes):
    msgs, size = [], 0
    while size < n_bytes:
        m = {"id": "%016x" % rng.getrandbits(64), "from": "user%d@chat.example.org" % rng.randrange(5000),
             "ts": 1_700_000_000 + rng.randrange(10_000_000),
             "body": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 30)))}
        s = json.dumps(m)
        msgs.append(s)
        size += len(s) + 2
    return ("[\n" + ",\n".join(msgs) + "\n]\n").encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def mixed(root, total, seed):
    rng = random.Random(seed)
    budget = {"logs": total * 40 // 100, "archive": total * 25 // 100, "media": total * 35 // 100}
    n = 0
    for kind, left in budget.items():
        i = 0
        while left > 0:
            if kind == "media":
                # a few large files, many small thumbnails
                sz = min(left, rng.choices((8 << 20, 1 << 20, 64 << 10, 16 << 10, 4 << 10), (1, 2, 10, 40, 60))[0])
                data = rng.randbytes(sz)
                path = os.path.join(root, "media", "%02x" % (i % 64), "m%06d.bin" % i)
            elif kind == "logs":
                sz = min(left, rng.choices((4 << 20, 256 << 10, 32 << 10, 4 << 10, 2 << 10), (1, 4, 20, 100, 100))[0])
                data = log_lines(rng, sz)[:sz]
                path = os.path.join(root, "logs", "%02d" % (i % 30), "service-%05d.log" % i)
            else:
                sz = min(left, rng.choices((1 << 20, 64 << 10, 8 << 10, 2 << 10, 1 << 10), (1, 10, 40, 100, 100))[0])
                data = json_archive(rng, sz)[:sz]
                path = os.path.join(root, "archive", "room%03d" % (i % 200), "%06d.json" % i)
            write(path, data)
            left -= len(data)
            i += 1
            n += 1
    return n


def small(root, count, seed):
    rng = random.Random(seed)
    for i in range(count):
        data = json_archive(rng, 900)[:1024]
        write(os.path.join(root, "users", "%03d" % (i % 1000), "%07d.json" % i), data)
    return count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--size", default=None)
    ap.add_argument("--small-files", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.small_files:
        n = small(a.dir, a.small_files, a.seed)
    else:
        n = mixed(a.dir, parse_size(a.size or "512M"), a.seed)
    print("generated %d files in %s" % (n, a.dir))


if __name__ == "__main__":
    main()
