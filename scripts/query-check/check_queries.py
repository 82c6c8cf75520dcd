"""Checks the hunting queries the t1578 binary generates, benign and hostile.

Feeds the sample snapshot share (CloudTrail) and disk SAS export (Activity Log) through
`t1578 replay --format json`, once as shipped and once with principal names and resource ids
full of quotes, backslashes, newlines and comment markers, then for every generated query:

* SQL (CloudTrail Lake, Athena): parses in sqlglot's Trino dialect; every string literal decodes
  to a value from the alert (nothing leaked out of a literal) and every alert value is there
  whole; the Athena and CloudTrail Lake queries, transpiled by sqlglot, run in DuckDB over a
  table of each shape (Athena: text columns; Lake: timestamp and maps, with Trino's any_match as
  a macro) holding the intended rows and near-miss decoys, and return exactly the intended rows.
* KQL (AzureActivity, raw export): parses and analyzes without diagnostics in Microsoft's
  Kusto.Language (npm @kusto/language-service-next) against the columns of both tables (an
  unknown column or a type error is a diagnostic), with the same literal checks.

Usage: python check_queries.py T1578_BINARY EVENTS_DIR NODE_MODULES_DIR
"""

import json
import os
import subprocess
import sys
import tempfile

import duckdb
import sqlglot
from sqlglot import exp

HOSTILE = "ev'il\"\\ \n-- /* x */ ; DROP TABLE t; -- ' OR '1'='1 | take 1 //"
HOSTILE_ID = "snap-0'); DELETE FROM t; --\\\n\"x\"%_*/"
HOSTILE_DISK = "d'isk\" | take 1 // \\ \n-- /*"


def die(msg):
    print(f"check_queries: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def write_inputs(events, out, hostile):
    with open(os.path.join(events, "aws/ec2-modify-snapshot-attribute-share.json")) as f:
        ct = json.load(f)
    with open(os.path.join(events, "azure/compute-disk-begin-get-access.json")) as f:
        az = json.load(f)
    if hostile:
        d = ct["detail"]
        d["userIdentity"] = {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{d['recipientAccountId']}:user/{HOSTILE}",
            "userName": HOSTILE,
            "accountId": d["recipientAccountId"],
        }
        d["requestParameters"]["snapshotId"] = HOSTILE_ID
        records = az["records"] if isinstance(az, dict) and "records" in az else az
        for r in records:
            r["resourceId"] = r["resourceId"].rsplit("/", 1)[0] + "/" + HOSTILE_DISK
            claims = r["identity"]["claims"]
            for k in list(claims):
                if k.endswith("/upn") or k.endswith("/claims/name"):
                    claims[k] = HOSTILE + "@contoso.com"
    for name, doc in (("ct.json", ct), ("az.json", az)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f)


def alerts(binary, events, hostile):
    with tempfile.TemporaryDirectory() as tmp:
        write_inputs(events, tmp, hostile)
        run = subprocess.run(
            [binary, "replay", "--format", "json", tmp], capture_output=True, text=True, check=True
        )
    found = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    clouds = {a["cloud"]["provider"] for a in found}
    if clouds != {"AWS", "Azure"}:
        die(f"expected alerts from both clouds, got {clouds} ({run.stderr.strip()})")
    return found


def sql_strings(tree):
    """Decoded value of every string literal, with `'a' || chr(10) || 'b'` chains folded."""
    out = []

    def value(node):
        if isinstance(node, exp.Literal) and node.is_string:
            return node.this
        if isinstance(node, exp.Chr):
            return chr(int(node.expressions[0].this))
        if isinstance(node, exp.Anonymous) and node.name.lower() == "chr":
            return chr(int(node.expressions[0].this))
        if isinstance(node, exp.DPipe):
            left, right = value(node.left), value(node.right)
            if left is not None and right is not None:
                return left + right
        if isinstance(node, exp.Paren):
            return value(node.this)
        return None

    def walk(node):
        v = value(node)
        if v is not None:
            out.append(v)
            return
        for child in node.iter_expressions():
            walk(child)

    walk(tree)
    return out


def allowed_values(a):
    g = a["unmapped"]["guide"]
    ids = [r["uid"] for r in a["resources"]]
    short = [u.split("/", 1)[1] if u.startswith("arn:") and "/" in u else u for u in ids]
    vals = {a["cloud"]["account"]["uid"], a["actor"]["user"]["uid"], a["actor"]["user"]["name"]}
    vals |= set(ids) | set(short) | {json.dumps(s, ensure_ascii=False) for s in short}
    vals |= {ip["ip"] for ip in a["unmapped"]["source_ips"]}
    vals |= {g["start_dt"][:19] + "Z", g["end_dt"][:19] + "Z"}
    vals |= {g["start_dt"][:19].replace("T", " "), g["end_dt"][:19].replace("T", " ")}
    return vals, short, ids


# Constants the query templates themselves write.
TEMPLATE_STRINGS = {
    " ",
    "time",
    "/",
    "/subscriptions/",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
}


def check_literals(a, q, strings):
    allowed, short, ids = allowed_values(a)
    stray = [s for s in strings if s not in allowed and s not in TEMPLATE_STRINGS]
    if stray:
        die(f"{q['dialect']}/{q['name']}: literal(s) not from the alert: {stray!r}\n{q['query']}")
    cloud = a["cloud"]["provider"]
    want = {a["cloud"]["account"]["uid"]} if q["name"] == "principal_activity" else set()
    if q["name"] == "resource_activity":
        want = set(ids) if cloud == "Azure" else {json.dumps(s, ensure_ascii=False) for s in short}
    missing = [w for w in want if w not in strings]
    if missing:
        die(f"{q['dialect']}/{q['name']}: value(s) missing whole: {missing!r}\n{q['query']}")


def check_sql(a, q):
    try:
        tree = sqlglot.parse_one(q["query"], read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as e:
        die(f"{q['dialect']}/{q['name']} does not parse as Trino: {e}\n{q['query']}")
    check_literals(a, q, sql_strings(tree))


def cloudtrail_table(con, a, dialect):
    """A CloudTrail-shaped table for the dialect: the alert's own events and decoys one
    character away. Athena's table keeps `eventtime` and the parameters as text; CloudTrail
    Lake a timestamp and maps of strings (nested objects as JSON text)."""
    key, acct = a["actor"]["user"]["uid"], a["cloud"]["account"]["uid"]
    snap = [r["uid"].split("/", 1)[1] for r in a["resources"]][0]
    ip = a["unmapped"]["source_ips"][0]["ip"]
    inside = a["finding_info"]["first_seen_time_dt"][:19] + "Z"
    outside = "2001-01-01T00:00:00Z"
    lake = dialect == "cloudtrail_lake_sql"
    if lake:
        # Trino's any_match, which DuckDB lacks, as a macro over DuckDB's list functions.
        con.execute("CREATE MACRO any_match(l, f) AS list_bool_or(list_transform(l, f))")
        con.execute(
            "CREATE TABLE EVENT_DATA_STORE_ID (eventTime TIMESTAMP, eventSource VARCHAR, eventName VARCHAR,"
            " awsRegion VARCHAR, sourceIPAddress VARCHAR, errorCode VARCHAR, recipientAccountId VARCHAR,"
            " requestParameters MAP(VARCHAR, VARCHAR), responseElements MAP(VARCHAR, VARCHAR),"
            " userIdentity STRUCT(arn VARCHAR, accountId VARCHAR, invokedBy VARCHAR,"
            "   sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR))))"
        )
    else:
        con.execute(
            "CREATE TABLE cloudtrail_logs (eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR,"
            " awsregion VARCHAR, sourceipaddress VARCHAR, errorcode VARCHAR, recipientaccountid VARCHAR,"
            " requestparameters VARCHAR, responseelements VARCHAR,"
            " useridentity STRUCT(arn VARCHAR, accountid VARCHAR, invokedby VARCHAR,"
            "   sessioncontext STRUCT(sessionissuer STRUCT(arn VARCHAR))))"
        )
    cut = key.split("'")[0] if "'" in key else key + "0"
    nested = {"instancesSet": json.dumps({"items": [{"snapshotId": snap}]}, ensure_ascii=False)}
    rows = [
        ("intended", inside, key, ip, {"snapshotId": snap}),
        ("nested_mention", inside, "arn:aws:iam::999988887777:user/nested", "198.51.100.252", nested),
        ("decoy_cut_key", inside, cut, "198.51.100.250", {"snapshotId": snap + "0"}),
        ("decoy_or_true", inside, "x' OR '1'='1", "198.51.100.251", {"snapshotId": "snap-0"}),
        ("other_same_ip", inside, "arn:aws:iam::999988887777:user/other", ip, {}),
        ("intended_but_outside", outside, key, ip, {"snapshotId": snap}),
    ]
    table = "EVENT_DATA_STORE_ID" if lake else "cloudtrail_logs"
    for name, t, arn, src, req in rows:
        if lake:
            t, params = t.replace("T", " ").rstrip("Z"), req
        else:
            # Athena keeps nested objects inside one JSON text, as CloudTrail writes it.
            flat = {k: json.loads(v) if k == "instancesSet" else v for k, v in req.items()}
            params = json.dumps(flat, ensure_ascii=False)
        con.execute(
            f"INSERT INTO {table} VALUES (?, 'ec2.amazonaws.com', ?, 'eu-west-1', ?, NULL, ?, ?, NULL, ?)",
            [t, name, src, acct, params, {"arn": arn, "accountid": acct, "invokedby": None,
                                          "sessioncontext": {"sessionissuer": {"arn": None}}}],
        )


def run_sql(a, dialect):
    expect = {
        "principal_activity": {"intended"},
        "resource_activity": {"intended", "nested_mention"},
        "same_addresses": {"arn:aws:iam::999988887777:user/other"},
    }
    con = duckdb.connect()
    cloudtrail_table(con, a, dialect)
    ran = 0
    for q in a["unmapped"]["guide"]["queries"]:
        if q["dialect"] != dialect:
            continue
        sql = sqlglot.transpile(q["query"], read="trino", write="duckdb")[0]
        rows = con.execute(sql).fetchall()
        col = 1 if q["name"] == "same_addresses" else 2
        got = {r[col] for r in rows}
        if got != expect[q["name"]]:
            die(f"{dialect} {q['name']} returned {got!r}, expected {expect[q['name']]!r}\n{sql}")
        ran += 1
    if ran != 3:
        die(f"expected 3 {dialect} queries, ran {ran}")
    return ran


def check_kql(a, queries, node_modules):
    env = dict(os.environ, NODE_PATH=node_modules)
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run(
        ["node", os.path.join(here, "kql_check.js")],
        input=json.dumps([q["query"] for q in queries]),
        capture_output=True, text=True, env=env, check=True,
    )
    for q, r in zip(queries, json.loads(run.stdout)):
        if r["diagnostics"]:
            die(f"{q['dialect']}/{q['name']} KQL diagnostics {r['diagnostics']}\n{q['query']}")
        check_literals(a, q, r["strings"])


def main():
    binary, events, node_modules = sys.argv[1], sys.argv[2], sys.argv[3]
    counts = {"sql": 0, "kql": 0, "runs": 0}
    for hostile in (False, True):
        for a in alerts(binary, events, hostile):
            qs = a["unmapped"]["guide"]["queries"]
            if len(qs) != 6:
                die(f"expected 6 queries (3 per dialect), got {len(qs)}")
            sql = [q for q in qs if q["dialect"].endswith("_sql")]
            kql = [q for q in qs if q["dialect"].startswith("kql_")]
            for q in sql:
                check_sql(a, q)
            if sql:
                for d in ("athena_sql", "cloudtrail_lake_sql"):
                    counts["runs"] += run_sql(a, d)
            if kql:
                check_kql(a, kql, node_modules)
            counts["sql"] += len(sql)
            counts["kql"] += len(kql)
    if counts["sql"] < 12 or counts["kql"] < 12:
        die(f"too few queries checked: {counts}")
    print(
        f"check_queries: {counts['sql']} SQL queries parse as Trino, {counts['kql']} KQL queries parse "
        f"and analyze in Kusto.Language, {counts['runs']} Athena and CloudTrail Lake queries ran in DuckDB with "
        "exactly the intended rows; hostile principals and resource ids stayed inside their literals"
    )


if __name__ == "__main__":
    main()
