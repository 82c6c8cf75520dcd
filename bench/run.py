"""`make bench`: t1578 against DuckDB on the same generated files.

For each cloud: generate 1,000,000 records (never committed), then run, each as its own process
so peak RSS is its own: `t1578 replay`, `t1578 query --profile seed-kql`, and DuckDB running
the seed KQL as SQL over read_ndjson. Checks that query and DuckDB return the same rows, and
that t1578's memory does not grow with input size (a quarter-size file for comparison). The same
on look-alike data (bench/lookalikes.py) as JSON lines and in CloudTrail's S3 layout.
BENCH_ONLY=TEXT runs only the inputs whose label contains TEXT. BENCH_SEED=S generates the
look-alike inputs with another seed (default 7), under names that carry it.
Prints a Markdown table for BENCHMARKS.md.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import link_order  # bench/, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/t1578")
DATA = os.path.join(ROOT, "bench-data")
PY = sys.executable
SEED = int(os.environ.get("BENCH_SEED", "7"))
COMPARED = ["FirstSeen", "LastSeen", "PrincipalName", "CallerIp", "ResourceGroup", "SubscriptionId",
            "OperationCount", "UniqueResources", "TotalRiskScore"]


def measure(cmd, runs=3):
    """Best wall time of `runs`, and the peak RSS (KiB) of that process alone.

    RSS comes from /usr/bin/time: a child forked from this Python process would report this
    process's own resident pages at exec as its peak (ru_maxrss is recorded across exec).
    """
    best = None
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as rss_file:
            start = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"failed: {' '.join(cmd)}")
            rss = int(rss_file.read().split()[-1])
        if best is None or wall < best[0]:
            best = (wall, rss, proc.stdout)
    return best


def rows(out):
    return sorted(tuple(json.loads(l)[c] for c in COMPARED) for l in out.decode().splitlines() if l.strip())


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def inputs(n, only=None):
    """(label, cloud, path, quarter-size path or None, until) of every input, generated once.

    `generator`: `t1578 generate` (about 97 % plainly out of scope). `look-alikes`:
    bench/lookalikes.py, with same-named calls of other services, failed in-scope calls, compute
    operations outside the catalog and Azure Start/Accept/Success triples, as JSON lines and, for
    CloudTrail, in the S3 delivery layout (a directory of .json.gz files of {"Records":[...]}).
    """
    out = []
    for cloud in ["aws", "azure"]:
        if only and only not in f"{cloud} generator":
            continue
        path = os.path.join(DATA, f"{cloud}-{n}.jsonl")
        small = os.path.join(DATA, f"{cloud}-{n // 4}.jsonl")
        for p, k in [(path, n), (small, n // 4)]:
            if not os.path.exists(p):
                subprocess.run([BIN, "generate", cloud, "--records", str(k), "--out", p], check=True)
        out.append((f"{cloud} generator", cloud, path, small))
    for cloud in ["aws", "azure"]:
        if only and only not in f"{cloud} look-alikes, JSON lines, S3 layout":
            continue
        tag = "" if SEED == 7 else f"-seed{SEED}"
        path = os.path.join(DATA, f"{cloud}-lookalikes-{n}{tag}.jsonl")
        s3 = os.path.join(DATA, f"{cloud}-s3-{n}{tag}")
        if not os.path.exists(path):
            layout = ["--s3", s3] if cloud == "aws" else []
            subprocess.run([PY, os.path.join(ROOT, "bench/lookalikes.py"), cloud, "--records", str(n), "--out", path,
                            "--seed", str(SEED), *layout], check=True)
        out.append((f"{cloud} look-alikes, JSON lines", cloud, path, None))
        if cloud == "aws":
            out.append((f"{cloud} look-alikes, S3 layout", cloud, s3, None))
    result = []
    for label, cloud, path, small in out:
        lines = path if os.path.isfile(path) else path.replace("-s3-", "-lookalikes-") + ".jsonl"
        size = os.path.getsize(lines)
        with open(lines, "rb") as f:
            f.seek(max(0, size - 8192))
            last = json.loads(f.read().splitlines()[-1])
        result.append((label, cloud, path, small, last["eventTime"] if cloud == "aws" else last["time"]))
    return result


def link_order_coverage():
    """How much of cli/link-order.txt names functions of the binary measured: a stale file (after a
    change of profile or dependencies) lays out less of the code a replay runs, and costs memory."""
    path = os.path.join(ROOT, "cli", "link-order.txt")
    if not os.path.exists(path):
        return
    with open(path) as f:
        names = f.read().split()
    syms = link_order.functions(BIN)
    found = sum(n in syms for n in names)
    print(f"link order: {found} of {len(names)} functions of cli/link-order.txt are in {BIN}", file=sys.stderr)
    if found < 0.9 * len(names):
        print("link order: stale; run `make link-order` and rebuild", file=sys.stderr)


def main():
    os.makedirs(DATA, exist_ok=True)
    link_order_coverage()
    n = int(os.environ.get("BENCH_RECORDS", "1000000"))
    only = os.environ.get("BENCH_ONLY")
    table = []
    for label, cloud, path, small, until in inputs(n, only):
        if only and only not in label:
            continue
        replay = measure([BIN, "replay", "--format", "json", path])
        replay_small = small and measure([BIN, "replay", "--format", "json", small], runs=1)
        query = measure([BIN, "query", "--profile", "seed-kql", "--until", until, "--format", "json", path])
        duck = measure([PY, os.path.join(ROOT, "bench/duck.py"), cloud, path, until])
        ours, theirs = rows(query[2]), rows(duck[2])
        if ours != theirs:
            only_ours = set(ours) - set(theirs)
            only_duck = set(theirs) - set(ours)
            sys.exit(f"{label}: rows differ: {len(ours)} vs {len(theirs)}; t1578 only {list(only_ours)[:3]}; duckdb only {list(only_duck)[:3]}")
        mb = size_of(path) / 1e6
        for name, (wall, rss, _) in [("t1578 replay (default)", replay), ("t1578 query --profile seed-kql", query), ("DuckDB seed KQL as SQL", duck)]:
            table.append((label, name, f"{n / wall:,.0f}", f"{mb / wall:,.0f}", f"{wall:.2f}", f"{rss / 1024:.0f}"))
        if small:
            table.append((label, f"t1578 replay, {n // 4:,} records", "", "", f"{replay_small[0]:.2f}", f"{replay_small[1] / 1024:.0f}"))
        print(f"{label}: {len(ours)} rows identical to DuckDB; {mb:,.0f} MB on disk; "
              f"query {duck[0] / query[0]:.2f}x and replay {duck[0] / replay[0]:.2f}x DuckDB's throughput "
              f"at {query[1] / duck[1]:.3f} and {replay[1] / duck[1]:.3f} of its peak RSS", file=sys.stderr)
    print("| input | engine | records/s | MB/s | wall s | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|")
    for r in table:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
