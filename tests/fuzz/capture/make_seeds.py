#!/usr/bin/env python3
"""Turns captured <name>.client / <name>.server pairs into fuzz seeds and unit-test data.

fuzz_startup seeds: client streams as captured (they begin with the startup packet).
fuzz_frames seeds: the typed part of each stream (after the startup packets of a client stream, after
the one-byte SSL/GSS answer of a server stream), prefixed with fuzz_frames' two control bytes:
direction (bit 0: 1 = backend) plus maximum-size pick, and the chunking seed.
"""
import argparse
import glob
import os
import shutil
import struct

SPECIAL = {80877102: "cancel", 80877103: "ssl", 80877104: "gssenc"}


def split_client(b):
    """Returns (startup part, typed part) of a client stream."""
    i = 0
    while i + 8 <= len(b):
        length, code = struct.unpack("!II", b[i:i + 8])
        i += length
        if SPECIAL.get(code) in ("ssl", "gssenc"):
            continue
        break
    return b[:i], b[i:]


def server_typed(b, client):
    # An SSLRequest/GSSENCRequest is answered with one byte before anything else.
    if len(client) >= 8 and struct.unpack("!I", client[4:8])[0] in (80877103, 80877104):
        return b[1:]
    return b


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--captures", required=True)
    ap.add_argument("--repo", required=True, help="repository root")
    ap.add_argument("--unit-data", nargs="*", default=[], help="capture names to copy into unit test data")
    args = ap.parse_args()
    frames = os.path.join(args.repo, "tests/fuzz/corpus/fuzz_frames")
    startup = os.path.join(args.repo, "tests/fuzz/corpus/fuzz_startup")
    data = os.path.join(args.repo, "tests/unit/protocol/data/captured")
    for d in (frames, startup, data):
        os.makedirs(d, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(args.captures, "*.client"))):
        name = os.path.basename(path)[:-len(".client")]
        client = open(path, "rb").read()
        server = open(path[:-len(".client")] + ".server", "rb").read()
        open(os.path.join(startup, f"captured_{name}"), "wb").write(client)
        _, typed = split_client(client)
        if typed:
            open(os.path.join(frames, f"captured_{name}_client"), "wb").write(bytes([0x00, 0x07]) + typed)
        styped = server_typed(server, client)
        if styped:
            open(os.path.join(frames, f"captured_{name}_server"), "wb").write(bytes([0x01, 0x05]) + styped)
            # The same stream under a small maximum size, so the limit path starts from real data.
            open(os.path.join(frames, f"captured_{name}_server_small"), "wb").write(bytes([0x29, 0x11]) + styped)
        if name in args.unit_data:
            shutil.copyfile(path, os.path.join(data, f"{name}.client"))
            shutil.copyfile(path[:-len(".client")] + ".server", os.path.join(data, f"{name}.server"))


if __name__ == "__main__":
    main()
