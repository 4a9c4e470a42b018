#!/usr/bin/env python3
"""Lists test executables from `cargo test --no-run --message-format=json` on stdin.

Arguments select them: `DIR:all` (every test binary of the package in DIR, its unit tests
included) or `DIR:NAME,NAME` (those integration tests, run with --nocapture so their figures
print). Prints one line per binary, tab-separated: package directory, source file,
executable, harness flags. Exits non-zero when a named test is missing, so a renamed test
cannot drop out of a run unnoticed.
"""

import json
import os
import sys


def main() -> int:
    root = os.getcwd()
    wanted = {}
    for arg in sys.argv[1:]:
        directory, _, names = arg.partition(":")
        wanted[os.path.join(root, directory)] = None if names == "all" else set(names.split(","))
    found = {d: set() for d in wanted}
    rows = []
    for line in sys.stdin:
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        directory = os.path.dirname(msg["manifest_path"])
        if directory not in wanted:
            continue
        names = wanted[directory]
        target = msg["target"]
        if names is not None and target["name"] not in names:
            continue
        found[directory].add(target["name"])
        flags = "" if names is None else "--nocapture"
        src = os.path.relpath(target["src_path"], root)
        rows.append((directory, src, msg["executable"], flags))
    missing = [
        f"{os.path.relpath(d, root)}:{n}"
        for d, names in wanted.items()
        for n in sorted((names or set()) - found[d])
    ]
    if any(not found[d] for d in wanted) or missing:
        print(f"test binaries not found: {missing or list(wanted)}", file=sys.stderr)
        return 1
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        print("\t".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
