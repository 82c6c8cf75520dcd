"""`make link-order`: write cli/link-order.txt, the order cli/build.rs has the linker lay out
the functions of `t1578` in.

It runs the release binary under Valgrind's callgrind on small inputs of every kind the CLI
reads (look-alike JSON lines of both clouds, the CloudTrail S3 layout, the Activity Log export
layout, events/), through `replay` and `query --profile seed-kql`, and lists every function of
the binary that ran, the most instructions first. Symbols carry a hash of the build profile, so
the file is made from the release profile itself (which keeps its symbol table for this), and
made again after a change of profile or dependencies: names that no longer match are skipped by
the linker, and the functions they named are laid out as if unlisted.

Usage: python3 bench/link_order.py [BIN]   (default target/release/t1578)
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "cli", "link-order.txt")
RECORDS = 30_000
SEED = 42


def executed(profile):
    """Self instruction counts of the functions a callgrind profile saw run."""
    names, cost, cur, after_call = {}, collections.Counter(), None, False
    with open(profile, errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                kind, ident, name = m.groups()
                if name:
                    # callgrind marks recursion levels as NAME'2.
                    names[ident] = re.sub(r"'\d+$", "", name)
                if kind == "fn":
                    cur, after_call = names.get(ident), False
                continue
            if line.startswith("calls="):
                after_call = True
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                # The cost line after `calls=` is the callee's, not this function's own.
                if after_call:
                    after_call = False
                    continue
                parts = line.split()
                if cur and len(parts) >= 2 and parts[1].isdigit():
                    cost[cur] += int(parts[1])
    return cost


def functions(binary):
    out = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True, text=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1] in "tTwW"}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "t1578")
    if not shutil.which("valgrind"):
        sys.exit("link-order: needs valgrind (callgrind) on PATH")
    known = functions(binary)
    if not known:
        sys.exit(f"link-order: {binary} has no symbol table; build it with the release profile")
    with tempfile.TemporaryDirectory() as tmp:
        aws, azure = os.path.join(tmp, "aws.jsonl"), os.path.join(tmp, "azure.jsonl")
        s3, export = os.path.join(tmp, "s3"), os.path.join(tmp, "export")
        for cloud, path, layout in [("aws", aws, s3), ("azure", azure, export)]:
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lookalikes.py"), cloud,
                            "--records", str(RECORDS), "--seed", str(SEED), "--out", path, "--s3", layout],
                           check=True)
        runs = []
        for path in [aws, azure, s3, export, os.path.join(ROOT, "events")]:
            runs.append(["replay", "--format", "json", path])
            runs.append(["query", "--profile", "seed-kql", path])
        runs.append(["replay", aws])
        total = collections.Counter()
        for i, args in enumerate(runs):
            profile = os.path.join(tmp, f"callgrind.{i}")
            subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={profile}",
                            binary, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            total.update(executed(profile))
    order = [name for name, n in total.most_common() if n > 0 and name in known]
    if len(order) < 200:
        sys.exit(f"link-order: only {len(order)} functions of {binary} ran; is it the release build?")
    with open(OUT, "w") as f:
        f.write("".join(name + "\n" for name in order))
    print(f"link-order: {len(order)} functions of {len(known)} in {os.path.relpath(OUT, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
