#!/usr/bin/env python3
"""Offline checks of the generated Sigma rules (shared/catalog/sigma), independent of the Rust code.

    .tools/sigma-venv/bin/python scripts/sigma_check.py            # check (make sigma)
    .tools/sigma-venv/bin/python scripts/sigma_check.py --write    # regenerate COVERAGE.md

1. pySigma loads every rule and correlation rule without errors (no validator that downloads
   ATT&CK data is run).
2. Every rule is converted with the public pySigma backends of the seed's seven SIEMs and the
   pipelines and additions of scripts/sigma_targets.py. The rule x target table (what
   converted, what did not and why) is written to shared/catalog/sigma/COVERAGE.md; the check
   fails if the committed table differs. Every converted Kusto query is parsed and analyzed by
   Kusto.Language against Sentinel's tables; every converted QRadar query is run in DuckDB over
   events/ and must select exactly the records the evaluator (3.) matches. The QRadar
   correlation queries run there too, over events/ plus boundary records, and must return the
   groups the evaluator computes for the correlation; before that, every field a correlation
   groups by must be in every record of events/ it counts. The Kusto and LogScale ones are
   checked against the rule's table, aggregation and threshold. Every converted LogScale rule
   query is run over events/ by an interpreter of the subset it uses (logscale_subset.py) and
   must select exactly the records the evaluator matches.
3. An evaluator that walks pySigma's parsed condition tree runs every rule over events/:
   each rule matches its catalog row's positive fixture and nothing else there, and none of its
   negative look-alike; a rule marked `sigma_wider` (its description names what Sigma cannot
   compare) may also match its negative and the positives of its operation's other rows, which
   may match its positive. The share additions in the real Stratus Red Team captures match a
   rule of level high or critical; the share-removal fixtures match none at that level.

Ends with "N passed, N failed" and exits non-zero on any failure.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import tempfile
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.conditions import (ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR,
                              ConditionValueExpression)
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import (CompareOperators, SigmaBool, SigmaCompareExpression, SigmaFieldReference, SigmaNull,
                         SigmaNumber, SigmaString, SpecialChars)

import sigma_targets

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "shared" / "catalog" / "sigma"
CATALOG = ROOT / "shared" / "catalog" / "t1578.toml"
EVENTS = ROOT / "events"
STRATUS = ROOT.parent / "shared" / "data" / "stratus-red-team"
COVERAGE = RULES / "COVERAGE.md"
# The rules (RULES/pipelines holds the processing pipelines, not rules).
RULE_DIRS = [str(RULES / d) for d in ("aws", "azure", "correlation")]

# The share additions among the Stratus captures, and the fixtures that only remove a share.
STRATUS_SHARES = ["aws.exfiltration.ec2-share-ebs-snapshot.json", "aws.exfiltration.ec2-share-ami.json",
                  "aws.exfiltration.rds-share-snapshot.json"]
SHARE_REMOVALS = ["aws/ec2-modify-snapshot-attribute-remove.json", "aws/rds-modify-db-snapshot-attribute-remove.json"]
# CloudTrail network activity records (eventType AwsVpceEvent) of calls that crossed a VPC endpoint.
NETWORK_ACTIVITY = "formats/cloudtrail-network-activity.jsonl"


# ------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------

def expand(v, out: list) -> None:
    """The containers the detector reads: arrays, {"Records": [...]}, {"records": [...]},
    EventBridge envelopes ({"detail": {...}})."""
    if isinstance(v, list):
        for x in v:
            expand(x, out)
    elif isinstance(v, dict):
        for k in ("Records", "records"):
            if isinstance(v.get(k), list):
                expand(v[k], out)
                return
        if isinstance(v.get("detail"), dict) and "detail-type" in v:
            out.append(v["detail"])
        else:
            out.append(v)


def load_records(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    out: list = []
    try:
        expand(json.loads(text), out)
    except json.JSONDecodeError:
        for line in text.splitlines():
            if line.strip():
                expand(json.loads(line), out)
    return [r for r in out if isinstance(r, dict)]


# ------------------------------------------------------------------------------------------------
# the evaluator: pySigma's parsed condition tree over one JSON record
# ------------------------------------------------------------------------------------------------

def values_at(record, path: str) -> list:
    """Every value at a dotted path; arrays are walked through, as SIEMs flatten them. A key may
    hold dots itself (the claim URIs under identity.claims): at each object, every key that is the
    path or a dot-ended prefix of it is followed."""
    out: list = []

    def walk(node, rest: str) -> None:
        if isinstance(node, list):
            for x in node:
                walk(x, rest)
            return
        if not isinstance(node, dict):
            return
        if rest in node:
            v = node[rest]
            out.extend(v if isinstance(v, list) else [v])
        i = rest.find(".")
        while i != -1:
            if rest[:i] in node:
                walk(node[rest[:i]], rest[i + 1:])
            i = rest.find(".", i + 1)
    walk(record, path)
    return [v for v in out if v is not None]


def scalar_text(v) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    return None


def string_regex(s: SigmaString) -> re.Pattern:
    parts = []
    for p in s.s:
        if p == SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        else:
            parts.append(re.escape(p))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def as_number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


COMPARE = {CompareOperators.LT: lambda a, b: a < b, CompareOperators.LTE: lambda a, b: a <= b,
           CompareOperators.GT: lambda a, b: a > b, CompareOperators.GTE: lambda a, b: a >= b}


def field_matches(record, fld: str, value) -> bool:
    got = values_at(record, fld)
    if isinstance(value, SigmaNull):
        return all(scalar_text(v) == "" for v in got)
    if isinstance(value, SigmaFieldReference):
        other = {scalar_text(v).lower() for v in values_at(record, value.field) if scalar_text(v) is not None}
        return any(scalar_text(v) is not None and scalar_text(v).lower() in other for v in got)
    if isinstance(value, SigmaCompareExpression):
        want = value.number.number
        return any(as_number(v) is not None and COMPARE[value.op](as_number(v), want) for v in got)
    if isinstance(value, SigmaBool):
        return any(scalar_text(v) is not None and scalar_text(v).lower() == str(value.boolean).lower() for v in got)
    if isinstance(value, SigmaNumber):
        return any(as_number(v) == value.number for v in got)
    if isinstance(value, SigmaString):
        if tuple(value.s) == (SpecialChars.WILDCARD_MULTI,):  # pySigma holds the parts in a list
            return any(scalar_text(v) != "" for v in got)  # present: objects count
        rx = string_regex(value)
        return any(scalar_text(v) is not None and rx.fullmatch(scalar_text(v)) for v in got)
    raise TypeError(f"evaluator: unsupported Sigma value {type(value).__name__} on {fld}")


def evaluate(node, record) -> bool:
    if isinstance(node, ConditionAND):
        return all(evaluate(a, record) for a in node.args)
    if isinstance(node, ConditionOR):
        return any(evaluate(a, record) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not evaluate(node.args[0], record)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return field_matches(record, node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        raise TypeError("evaluator: keyword searches are not used by the generated rules")
    raise TypeError(f"evaluator: unsupported condition node {type(node).__name__}")


# pySigma parses a condition anew on every `.parsed`: once per rule is enough (the rule is kept
# in the value so that its id is not reused).
_TREES: dict[int, tuple] = {}


def rule_matches(rule: SigmaRule, record: dict) -> bool:
    if id(rule) not in _TREES:
        _TREES[id(rule)] = (rule, [c.parsed for c in rule.detection.parsed_condition])
    return any(evaluate(t, record) for t in _TREES[id(rule)][1])


# ------------------------------------------------------------------------------------------------
# conversion to the seven targets
# ------------------------------------------------------------------------------------------------

def fields_of(node, negated: bool = False, out: set | None = None) -> set[tuple[str, bool]]:
    """(field, under a NOT) for every field test of a parsed condition."""
    out = set() if out is None else out
    if isinstance(node, ConditionFieldEqualsValueExpression):
        out.add((node.field, negated))
    for a in getattr(node, "args", []):
        if not isinstance(a, str):
            fields_of(a, negated or isinstance(node, ConditionNOT), out)
    return out


def known_wrong(tname: str, rule: SigmaRule) -> str | None:
    """Conversions that succeed but whose query does not mean the rule (checked by hand on the
    output; see README "Run the rule in your SIEM"). They are not counted as converted."""
    conds = [c.parsed for c in rule.detection.parsed_condition]
    fields = set().union(*(fields_of(c) for c in conds))
    arrays = rule.logsource.product == "aws" and any(sigma_targets.is_array_path(f) for f, _ in fields)
    if not arrays:
        return None
    if tname.startswith("QRadar"):
        return "converts, but a custom event property holds one value: tests over a request array are not any-of"
    return None


def targets():
    """(name, factory(product) -> backend) for the seed's seven platforms (scripts/sigma_targets.py)."""
    return list(sigma_targets.backends().values())


def short_error(e: Exception) -> str:
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    # Drop the "(while converting rule /abs/path...)" tail: the table must not depend on the clone.
    text = re.sub(r"\s*\(while [^)]*\)?$", "", re.sub(r"\s+", " ", text))
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return text[:140]


# Kusto queries that converted, checked by Microsoft's Kusto.Language against Sentinel's tables.
KQL: dict[str, str] = {}
# (target, correlation rule) -> its query, for the checks of the targets that do not run here.
CORRELATION_QUERIES: dict[tuple[str, str], str] = {}


def convert_one(tname: str, backend, rule) -> str | None:
    """None when the rule converted correctly, else why not."""
    try:
        if isinstance(rule, SigmaCorrelationRule):
            # A correlation counts with its rules' queries: one wrong query makes it wrong too.
            wrong = [r.rule.name for r in rule.referenced_rules if known_wrong(tname, r.rule)]
            out = sigma_targets.convert_correlation(backend, rule)
            CORRELATION_QUERIES[(tname, rule.name)] = out[0]  # its form is checked, right or wrong
            if wrong:
                more = f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""
                return f"converts, but counts rules whose query is wrong here: {wrong[0]}{more}"
        else:
            why = known_wrong(tname, rule)  # before the backend maps the rule's fields in place
            out = backend.convert_rule(rule)
            if why:
                return why
        if out and tname.startswith("Sentinel"):
            KQL[rule.name] = out[0]
        return None if out else "empty output"
    except Exception as e:  # noqa: BLE001 - every backend error is a table cell
        return short_error(e)


def convert_all() -> dict[str, dict[str, str | None]]:
    """rule name -> target -> None (converted) or the reason it did not. Backends transform the
    rules they convert in place, so each target gets a fresh load. The single-event rules are
    loaded without the correlation rules: pySigma leaves a rule that a loaded correlation
    references unfinalized (no table, no output format), and analysts run them on their own."""
    result: dict[str, dict[str, str | None]] = {}
    for tname, factory in targets():
        backend_of: dict = {}
        single = SigmaCollection.load_ruleset(RULE_DIRS[:2]).rules
        together = SigmaCollection.load_ruleset(RULE_DIRS)
        together.resolve_rule_references()
        correlations = [r for r in together.rules if isinstance(r, SigmaCorrelationRule)]
        for rule in list(single) + correlations:
            product = sigma_targets.product_of(rule)
            if product not in backend_of:
                backend_of[product] = factory(product)
            result.setdefault(rule.name, {})[tname] = convert_one(tname, backend_of[product], rule)
    return result


def coverage_markdown(collection: SigmaCollection, conv: dict) -> str:
    names = [t for t, _ in targets()]
    lines = ["# Sigma coverage (generated by `scripts/sigma_check.py --write`; checked by `make sigma`)", "",
             "Rule x target: `ok` converted with the public pySigma backend and the pipelines and additions of",
             "`scripts/sigma_targets.py`; `converts, but ...`: a query we know to be wrong (not counted); otherwise",
             "the backend's reason.",
             "`Sigma gaps` counts what the rule's description lists under *Not expressed in Sigma* beyond",
             "the detector's summed risk (every rule lacks that).", ""]
    totals = {t: 0 for t in names}
    for r in collection.rules:
        for t in names:
            totals[t] += conv[r.name][t] is None
    lines.append("| Target | Converted |")
    lines.append("|---|---|")
    for t in names:
        lines.append(f"| {t} | {totals[t]} / {len(collection.rules)} |")
    lines += ["", "| Rule | Level | Sigma gaps | " + " | ".join(names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for r in sorted(collection.rules, key=lambda r: r.name):
        gaps = r.custom_attributes.get("sigma_gaps", "correlation") if isinstance(r, SigmaRule) else "correlation"
        cells = ["ok" if conv[r.name][t] is None else conv[r.name][t].replace("|", "\\|") for t in names]
        level = r.level.name.lower() if r.level else ""
        lines.append(f"| {r.name} | {level} | {gaps} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------------

@dataclass
class Report:
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)


def behaviour(rules: list[SigmaRule], report: Report) -> None:
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))["operation"]
    by_id = {r.custom_attributes["catalog_id"]: r for r in rules}
    report.check(set(by_id) == {row["id"] for row in catalog}, "one rule per catalog row")
    files = sorted(p for p in EVENTS.rglob("*") if p.suffix in (".json", ".jsonl", ".gz"))
    hits: dict[str, set[str]] = {}
    for f in files:
        recs = load_records(f)
        hits[f.relative_to(EVENTS).as_posix()] = {r.custom_attributes["catalog_id"] for r in rules
                                                  if any(rule_matches(r, rec) for rec in recs)}
    report.check(len(files) > 200 and any(hits.values()), f"events/ read ({len(files)} files)")
    # A rule marked `sigma_wider` says in its description what Sigma cannot compare (the
    # subscription of a copy's source with the record's): it may also match the look-alikes of
    # its own operation, its negative and the positives of the operation's other rows, and its
    # positive (a copy's Start and Success) may be matched by those rows (on the Success, which
    # names no source), and no more.
    wider = {cid for cid, r in by_id.items() if str(r.custom_attributes.get("sigma_wider", "")).lower() == "true"}
    operation = {row["id"]: row["operation"].lower() for row in catalog}
    positive = {row["id"]: row["positive"] for row in catalog}
    on_start = {row["id"]: bool(row.get("on_start")) for row in catalog}
    for cid in wider:
        report.check("sigma cannot compare" in (by_id[cid].description or "").lower(),
                     f"{cid}: sigma_wider without the gap in its description")
        # Wider, not unconditional: the positive's Start with a body that names no source
        # (a resize) matches it no more.
        starts = [r for r in load_records(EVENTS / positive[cid]) if r.get("resultType") == "Start"]
        bare = [{**r, "properties": {**r.get("properties", {}), "requestbody": '{"properties":{"diskSizeGB":256}}'}}
                for r in starts]
        report.check(bool(starts) and all(rule_matches(by_id[cid], r) for r in starts)
                     and not any(rule_matches(by_id[cid], r) for r in bare),
                     f"{cid}: matches a Start whose body names no source, or misses its own")
    for row in catalog:
        pos, neg = hits.get(row["positive"], set()), hits.get(row["negative"], set())
        extra = pos - {row["id"]}
        # A row counted from its Start: its positive holds the operation's Success too (no
        # body), which the operation's plain row counts, and its rule matches.
        overlap = lambda x: ((x in wider or row["id"] in wider or (on_start[row["id"]] and not on_start[x]))  # noqa: E731
                             and operation[x] == operation[row["id"]])
        report.check(row["id"] in pos and all(overlap(x) for x in extra),
                     f"{row['id']}: positive {row['positive']} matches {sorted(pos)}")
        report.check(row["id"] not in neg or row["id"] in wider, f"{row['id']}: negative {row['negative']} matches it")
    high = {"high", "critical"}
    level = {cid: r.level.name.lower() for cid, r in by_id.items()}
    for name in STRATUS_SHARES:
        recs = load_records(STRATUS / name)
        got = {cid for cid, r in by_id.items() if any(rule_matches(r, x) for x in recs)}
        report.check(any(level[c] in high for c in got), f"Stratus {name}: matches {sorted(got)}, none high/critical")
    for name in SHARE_REMOVALS:
        got = hits.get(name, set())
        report.check(bool(load_records(EVENTS / name)) and not any(level[c] in high for c in got),
                     f"share removal {name}: matches {sorted(got)}, one of them high/critical")
    # A network activity record (the endpoint owner's copy of a call) is not the call: no rule
    # matches it, and the same record as an API call is matched (the filter is what excludes it).
    seen = load_records(EVENTS / NETWORK_ACTIVITY)
    as_calls = [{**r, "eventType": "AwsApiCall"} for r in seen]
    report.check(len(seen) == 3 and not hits.get(NETWORK_ACTIVITY)
                 and all(any(rule_matches(r, x) for r in rules) for x in as_calls),
                 f"network activity {NETWORK_ACTIVITY}: matches {sorted(hits.get(NETWORK_ACTIVITY, set()))}, "
                 "or its calls match no rule")


SECOPS_NOT_RULE = """
title: NOT over a group
id: 6f1c2d3e-0000-4000-8000-000000000001
logsource: {product: azure, service: activitylogs}
detection:
  sel: {operationName: 'x'}
  a: {resultType: 'Success'}
  b: {resourceId: ['*foo*', '*bar*']}
  condition: sel and not (a or b) and not b
"""


def secops_negation(report: Report) -> None:
    """sigma_targets' SecOps refuses NOT over a group of several fields (the backend would keep
    the group's OR) and converts NOT over one field's value list, every value `!=`, joined by AND."""
    backend = sigma_targets.backends()["secops"][1](None)
    group = SigmaCollection.from_yaml(SECOPS_NOT_RULE).rules[0]
    try:
        report.check(False, f"SecOps converts NOT over a group: {backend.convert_rule(group)}")
    except Exception as e:  # pySigma wraps the backend's NotImplementedError
        report.check("NOT over a group" in str(e), f"SecOps refuses NOT over a group for another reason: {e}")
    values = SigmaCollection.from_yaml(SECOPS_NOT_RULE.replace("not (a or b) and ", "")).rules[0]
    query = backend.convert_rule(values)[0]
    report.check(query.endswith('(target.resource.name != /foo/ nocase AND target.resource.name != /bar/ nocase)'),
                 f"SecOps NOT over a value list: {query}")
    # The filter of network activity records, which UDM has no field for, is left out whole: the
    # query ends with the service-caller filter, and no other test is lost with it.
    aws = SigmaCollection.load_ruleset([str(RULES / "aws" / "t1578_aws_ec2_create_snapshot.yml")]).rules[0]
    query = backend.convert_rule(aws)[0]
    report.check("eventType" not in query and "AwsVpceEvent" not in query
                 and query.endswith('principal.user.attribute.roles.name != "AWSService" nocase'),
                 f"SecOps AWS rule without its network activity filter: {query}")
    other = SigmaCollection.from_yaml(SECOPS_NOT_RULE.replace("product: azure, service: activitylogs",
                                                              "product: aws, service: cloudtrail")
                                      .replace("a: {resultType: 'Success'}", "a: {eventType: 'AwsServiceEvent'}")
                                      .replace("not (a or b) and not b", "not a")).rules[0]
    try:
        report.check(False, f"SecOps drops another eventType test: {backend.convert_rule(other)}")
    except Exception as e:
        report.check("eventType" in str(e), f"SecOps refuses another eventType test for another reason: {e}")


def kql_diagnostics(report: Report) -> None:
    """Every converted Kusto query parses and type-checks against Sentinel's AzureActivity and
    AWSCloudTrail columns (scripts/query-check/kql_check.js, the checker of `make queries`)."""
    node_modules = ROOT / ".tools" / "node" / "node_modules"
    names = sorted(KQL)
    run = subprocess.run(["node", str(ROOT / "scripts" / "query-check" / "kql_check.js")],
                         input=json.dumps([KQL[n] for n in names]), capture_output=True, text=True,
                         env=dict(os.environ, NODE_PATH=str(node_modules)), check=False)
    report.check(run.returncode == 0, f"kql_check.js failed: {run.stderr[-500:]}")
    if run.returncode != 0:
        return
    results = json.loads(run.stdout)
    report.check(len(results) == len(names) > 100, f"Kusto.Language checked {len(results)} queries")
    for name, r in zip(names, results):
        report.check(not r["diagnostics"], f"{name}: KQL diagnostics {r['diagnostics']}\n{KQL[name]}")


CORRELATION_SYMBOLS = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">=", "EQ": "==", "NEQ": "!="}


def correlation_shape(target: str, corr: SigmaCorrelationRule) -> tuple[str, str, str]:
    """(first line, the aggregation that must occur, last line) of a correlation query in the
    Kusto and LogScale forms, written from the Sigma rule (not from the templates)."""
    count = corr.type.name == "EVENT_COUNT"
    op, n = corr.condition.op.name, corr.condition.count
    if target == "Sentinel (Kusto)":
        measure = "event_count" if count else "value_count"
        symbol = {"EQ": "=="}.get(op, CORRELATION_SYMBOLS[op])
        agg = f"| summarize {'event_count = count()' if count else 'distinct_values = make_set('}"
        return (sigma_targets.SENTINEL_TABLES[sigma_targets.product_of(corr)],
                agg + ("" if not count else f" by bin(TimeGenerated, {corr.timespan.spec}),"),
                f"| where {measure} {symbol} {n}")
    symbol = {"EQ": "="}.get(op, CORRELATION_SYMBOLS[op])
    agg = "function=count(), limit=max)" if count else "function=count(as=value_count), limit=max)"
    return ("(", agg, f"| {'_count' if count else 'value_count'} {symbol} {n}")


def correlation_shapes(report: Report) -> None:
    """No Kusto or LogScale engine runs here: Kusto.Language checks the correlation KQL's names and
    types, and this the meaning of both against the Sigma rule: the table or search, the
    aggregation, and the threshold with its operator (an off-by-one fails here)."""
    correlations = [r for r in SigmaCollection.load_ruleset(RULE_DIRS).rules if isinstance(r, SigmaCorrelationRule)]
    for target in ("Sentinel (Kusto)", "CrowdStrike LogScale"):
        checked = 0
        for corr in correlations:
            query = CORRELATION_QUERIES.get((target, corr.name))
            if query is None:
                continue
            checked += 1
            first, agg, last = correlation_shape(target, corr)
            lines = query.split("\n")
            day = (f"bin(TimeGenerated, {corr.timespan.spec})" if target.startswith("Sentinel")
                   else sigma_targets.LOGSCALE_DAY)
            ok = lines[0].startswith(first) and any(agg in x for x in lines) and day in query and lines[-1] == last
            report.check(ok, f"{corr.name}: the {target} query does not start `{first}`, aggregate `{agg}` "
                             f"by `{day}` and end `{last}`:\n" + "\n".join(x[:200] for x in lines))
        report.check(checked == len(correlations) >= 1,
                     f"{target}: {checked} of {len(correlations)} correlations converted")


def flat_scalars(v, prefix: str, out: dict) -> None:
    """path -> scalar for every object member outside arrays (as a JSON custom property reads it)."""
    if isinstance(v, dict):
        for k, x in v.items():
            flat_scalars(x, f"{prefix}.{k}" if prefix else k, out)
    elif not isinstance(v, list) and v is not None:
        out[prefix] = scalar_text(v)


QRADAR_PREFIX = {"aws": ("CloudTrail", "eventSource"), "azure": ("AzureActivity", "operationName")}


AQL_COLUMN = re.compile(r'"((?:CloudTrail|AzureActivity) [^"]+)"')
TIME_FIELD = {"aws": "eventTime", "azure": "time"}
ISO_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def event_time(record: dict) -> datetime | None:
    """The record's own time (CloudTrail eventTime, Activity Log time), in UTC."""
    for key in ("eventTime", "time"):
        m = ISO_TIME.match(str(record.get(key, "")))
        if m:
            y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
            tz = timezone.utc if m[8] == "Z" else timezone(timedelta(
                hours=int(m[8][1:3]), minutes=int(m[8][4:6])) * (1 if m[8][0] == "+" else -1))
            return datetime(y, mo, d, h, mi, sec, tzinfo=tz).astimezone(timezone.utc)
    return None


def qradar_table(records: list[dict], queries: list[str]):
    """DuckDB with an `events` table: one row per CloudTrail or Activity Log record, one column per
    custom property the queries name (a path no record has is an all-NULL column; the numeric
    ones as numbers), devicetime as QRadar holds it (milliseconds since the epoch, from the
    record's own time), AQL's UNIQUECOUNT as a macro, and `/` on integers as AQL's (Java's long)
    integer division."""
    import duckdb
    cols = sorted({c for aql in queries for c in AQL_COLUMN.findall(aql)})
    numeric = {c for c in cols if sigma_targets.NUMERIC_REQUEST_PARAMETERS.search(c)}
    con = duckdb.connect()
    types = {"rownum": "INTEGER", "devicetype": "INTEGER", "devicetime": "BIGINT"} | {
        c: "DOUBLE" if c in numeric else "VARCHAR" for c in cols}
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as tmp:
        for i, r in enumerate(records):  # JSON lines load in one statement; row-wise inserts are slow
            for prefix, key in QRADAR_PREFIX.values():
                if key in r:
                    flat: dict = {}
                    flat_scalars(r, "", flat)
                    row = {f"{prefix} {p}": v for p, v in flat.items()}
                    t = event_time(r)
                    tmp.write(json.dumps({"rownum": i, "devicetype": 347,
                                          "devicetime": int(t.timestamp() * 1000) if t else None}
                                         | {c: row.get(c) for c in cols}) + "\n")
        tmp.flush()
        con.execute("CREATE TABLE events AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?)",
                    [tmp.name, types])
    con.execute("SET integer_division = true")
    con.execute("CREATE MACRO UNIQUECOUNT(x) AS count(DISTINCT x)")
    return con


def events_records() -> list[dict]:
    return [r for f in sorted(EVENTS.rglob("*")) if f.suffix in (".json", ".jsonl", ".gz") for r in load_records(f)]


def evaluator_selections(records: list[dict]) -> dict[str, set[int]]:
    """Rule name -> the indices of the records the evaluator matches, for each rule the targets
    are run against (a fresh load: backends transform the rules they convert in place)."""
    return {r.name: {i for i, rec in enumerate(records) if rule_matches(r, rec)}
            for r in SigmaCollection.load_ruleset(RULE_DIRS[:2]).rules}


def check_selection(report: Report, target: str, name: str, got: set[int], want: set[int], query: str) -> None:
    """A target's query selects exactly the records the evaluator matches, and some."""
    report.check(got == want and bool(want), f"{name}: {target} query selects {len(got)} records, the evaluator "
                 f"{len(want)} (only {target}: {sorted(got - want)[:5]}, only evaluator: {sorted(want - got)[:5]})"
                 f"\n{query}")


def qradar_runs(rules: list[SigmaRule], records: list[dict], selections: dict[str, set[int]],
                report: Report) -> None:
    """The QRadar conversions, run: every CloudTrail or Activity Log record of events/ becomes a
    row of an `events` table in DuckDB (qradar_table), and each converted AQL query must select
    exactly the records the evaluator matches. Rules whose table cell is not `ok` (request arrays)
    are left out. This checks the property mapping, the case-insensitive equality and the
    null-safe NOT under SQL's three-valued logic, which is the one QRadar's `IS NULL` implies."""
    import duckdb
    backend = sigma_targets.backends()["qradar"][1](None)
    queries = {r.name: backend.convert_rule(r)[0] for r in rules if not known_wrong("QRadar AQL", r)}
    con = qradar_table(records, list(queries.values()))
    for name, aql in sorted(queries.items()):
        sql = aql.replace("SELECT * FROM events", "SELECT rownum FROM events", 1)
        try:
            got = {x[0] for x in con.execute(sql).fetchall()}
        except duckdb.Error as e:
            report.check(False, f"{name}: QRadar query does not run as SQL: {e}\n{aql}")
            continue
        check_selection(report, "QRadar", name, got, selections[name], aql)
    report.check(len(queries) > 100, f"QRadar runs: {len(queries)} queries")


def logscale_runs(rules: list[SigmaRule], records: list[dict], selections: dict[str, set[int]],
                  report: Report) -> None:
    """The LogScale conversions, run: scripts/logscale_subset.py interprets each query (the part
    of LogScale's language the backend and sigma_targets write) over every record of events/ as
    parseJson() names its fields, and each query must select exactly the records the evaluator
    matches. This checks the backend's precedence (`or` above the implicit `and`), its regexes
    and `!=*`, and the request arrays tested per element."""
    import logscale_subset
    fields = [logscale_subset.flatten(r) for r in records]
    backend = sigma_targets.backends()["logscale"][1](None)
    queries = {r.name: backend.convert_rule(r)[0] for r in rules}
    arrays = 0
    for name, query in sorted(queries.items()):
        try:
            tree = logscale_subset.parse(query)
            got = {i for i, f in enumerate(fields) if logscale_subset.evaluate(tree, f)}
        except ValueError as e:
            report.check(False, f"{name}: LogScale query outside the interpreted subset: {e}\n{query}")
            continue
        arrays += ":exists(" in query
        check_selection(report, "LogScale", name, got, selections[name], query)
    report.check(len(queries) > 100 and arrays >= 9, f"LogScale runs: {len(queries)} queries, {arrays} on request arrays")


# ------------------------------------------------------------------------------------------------
# correlation rules: the evaluator's groups, and the QRadar queries run against them
# ------------------------------------------------------------------------------------------------

CORRELATION_OPS = {"LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b, "GT": lambda a, b: a > b,
                   "GTE": lambda a, b: a >= b, "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b}


def utc_day(record: dict) -> int:
    """The record's UTC calendar day, as days since 1970-01-01."""
    return (event_time(record).date() - datetime(1970, 1, 1).date()).days


def first_text(record: dict, path: str) -> str | None:
    got = [scalar_text(v) for v in values_at(record, path)]
    return next((v for v in got if v is not None), None)


def correlation_groups(corr: SigmaCorrelationRule, records: list[dict]) -> dict[tuple, int]:
    """What a correlation rule means, evaluated here: the records that any rule it counts matches
    (each once), grouped by its group-by values (None where a record has none, as SQL's and KQL's
    grouping keep them) and the UTC day of the record's time (the timespan of 1d as calendar days,
    as every backend buckets it); per group the number of records (event_count) or of distinct
    values of the condition's field (value_count); the groups that meet the condition."""
    counted = [r.rule for r in corr.referenced_rules]
    per: dict[tuple, list] = {}
    for rec in records:
        if any(rule_matches(c, rec) for c in counted):
            key = tuple(first_text(rec, f) for f in corr.group_by) + (utc_day(rec),)
            per.setdefault(key, []).append(rec)
    out = {}
    for key, recs in per.items():
        if corr.type.name == "EVENT_COUNT":
            n = len(recs)
        elif corr.type.name == "VALUE_COUNT":
            n = len({v for r in recs if (v := first_text(r, corr.condition.fieldref)) is not None})
        else:
            raise TypeError(f"evaluator: correlation type {corr.type.name}")
        if CORRELATION_OPS[corr.condition.op.name](n, corr.condition.count):
            out[key] = n
    return out


def set_path(record: dict, path: str, value) -> None:
    *parents, last = sigma_targets.json_keys(path)
    for k in parents:
        record = record.setdefault(k, {})
    record[last] = value


BOUNDARY_DAY = (datetime(2031, 3, 14) - datetime(1970, 1, 1)).days


def boundary_records(corr: SigmaCorrelationRule, records: list[dict]) -> dict[str, list[dict]]:
    """Copies of a record that a counted rule matches, as three principals on a day of their own:
    `at` reaches the threshold exactly, `below` falls one short (value_count: more events than
    the threshold, one distinct value too few), `midnight` reaches it only across midnight
    (each day one short). Without them, events/ holds no group at some thresholds."""
    counted = [r.rule for r in corr.referenced_rules]
    template = next(r for r in records if any(rule_matches(c, r) for c in counted))
    product = sigma_targets.product_of(corr)
    n = corr.condition.count + (1 if corr.condition.op.name == "GT" else 0)
    field = corr.condition.fieldref

    def copy(label: str, k: int, when: str) -> dict:
        rec = json.loads(json.dumps(template))
        for g in corr.group_by:
            set_path(rec, g, f"synthetic-{corr.name}-{label}-{g}")
        if field:  # distinct values per event, except `below`, which repeats one of them
            set_path(rec, field, f"{first_text(template, field)}-{min(k, n - 2) if label == 'below' else k}")
        rec[TIME_FIELD[product]] = when
        return rec
    day, next_day = "2031-03-14", "2031-03-15"  # BOUNDARY_DAY and the day after
    return {
        "at": [copy("at", k, f"{day}T12:{k:02d}:00Z") for k in range(n)],
        "below": [copy("below", k, f"{day}T12:{k:02d}:00Z") for k in range(n - 1 if not field else n + 1)],
        "midnight": [copy("midnight", k, f"{day}T23:{59 - k:02d}:00Z") for k in range(n - 1)]
        + [copy("midnight", n - 1, f"{next_day}T00:01:00Z")],
    }


def correlation_fields_present(corr: SigmaCorrelationRule, records: list[dict], report: Report) -> None:
    """Every field the correlation groups by, and the field value_count counts, has a value in every
    record of events/ that it counts. A field outside the records' schema makes the SIEMs put all of a
    day's records in one null group (QRadar, ES|QL) or drop them (Splunk), and the evaluator's
    groups and the DuckDB run agree on that null group, so only this check sees it. (The Azure
    correlations once grouped by the REST API's caller and subscriptionId, which the Activity Log
    export in events/ does not have.)"""
    counted = [r.rule for r in corr.referenced_rules]
    matched = [r for r in records if any(rule_matches(c, r) for c in counted)]
    fields = list(corr.group_by or []) + ([corr.condition.fieldref] if corr.condition.fieldref else [])
    report.check(bool(matched) and bool(corr.group_by), f"{corr.name}: counts no record of events/ or groups by nothing")
    for f in fields:
        missing = sum(first_text(r, f) in (None, "") for r in matched)  # "" groups as one principal too
        report.check(bool(matched) and not missing,
                     f"{corr.name}: `{f}` is absent or empty in {missing} of the {len(matched)} records of events/ it "
                     "counts: not a field of the data it is evaluated on")


def qradar_correlation_runs(report: Report) -> None:
    """The QRadar correlation queries, run in DuckDB (qradar_table) over events/ plus the boundary
    records of every correlation: each must return exactly the groups, and the counts, that
    correlation_groups computes from the Sigma rule itself. Correlations whose cell is not `ok`
    (they count a rule whose query is known to be wrong here) are left out."""
    import duckdb
    collection = SigmaCollection.load_ruleset(RULE_DIRS)
    correlations = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    meaning = SigmaCollection.load_ruleset(RULE_DIRS)  # the evaluator's own, untouched by a backend
    base = events_records()
    records = list(base)
    for corr in meaning.rules:
        if isinstance(corr, SigmaCorrelationRule):
            correlation_fields_present(corr, base, report)  # before boundary records set them
            for label, recs in boundary_records(corr, base).items():
                records += recs
    backend_of: dict = {}
    queries = {}
    for corr in correlations:
        if any(known_wrong("QRadar AQL", r.rule) for r in corr.referenced_rules):
            continue
        product = sigma_targets.product_of(corr)
        backend = backend_of.setdefault(product, sigma_targets.backends()["qradar"][1](product))
        queries[corr.name] = sigma_targets.convert_correlation(backend, corr)[0]
    con = qradar_table(records, list(queries.values()))
    by_name = {r.name: r for r in meaning.rules if isinstance(r, SigmaCorrelationRule)}
    for name, aql in sorted(queries.items()):
        corr = by_name[name]
        try:
            rows = con.execute(aql).fetchall()
        except duckdb.Error as e:
            report.check(False, f"{name}: QRadar correlation does not run as SQL: {e}\n{aql}")
            continue
        got = {tuple(r[:-1]): r[-1] for r in rows}
        want = correlation_groups(corr, records)
        mine = f"synthetic-{name}-"
        synthetic = {k[-1] for k in want if any(str(v).startswith(mine + "at-") for v in k[:-1])}
        at = [n for k, n in want.items() if any(str(v).startswith(mine + "at-") for v in k[:-1])]
        short = [k for k in want if any(str(v).startswith((mine + "below-", mine + "midnight-")) for v in k[:-1])]
        report.check(at == [corr.condition.count] and not short,
                     f"{name}: boundary records: the evaluator counts {at} for the group at the threshold "
                     f"{corr.condition.count} and fires for {short}")
        report.check(got == want and len(want) >= 1 and synthetic == {BOUNDARY_DAY},
                     f"{name}: QRadar correlation returns {len(got)} groups, the evaluator {len(want)} "
                     f"(only SQL: {sorted(set(got.items()) - set(want.items()), key=str)[:3]}, only evaluator: "
                     f"{sorted(set(want.items()) - set(got.items()), key=str)[:3]})")
    # The two Azure correlations: each AWS one counts a rule over a request array (a share's
    # recipients, a node group's types), which a QRadar custom property cannot test any-of.
    report.check(len(queries) >= 2, f"QRadar correlation runs: {len(queries)} queries")


def main() -> int:
    warnings.simplefilter("ignore")  # backends warn per rule (e.g. QRadar payload search); the table says it
    write = "--write" in sys.argv
    report = Report()
    collection = SigmaCollection.load_ruleset(RULE_DIRS, collect_errors=True)
    errors = [f"{r.source}: {e}" for r in collection.rules for e in r.errors]
    report.check(not errors, "pySigma load errors:\n  " + "\n  ".join(errors))
    rules = [r for r in collection.rules if isinstance(r, SigmaRule)]
    corr = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    report.check(len(rules) > 100 and len(corr) >= 1, f"{len(rules)} rules, {len(corr)} correlation rules loaded")
    conv = convert_all()
    for c in corr:  # the reason sigma_targets gives for SecOps in the table: AWS correlations
        if sigma_targets.product_of(c.referenced_rules[0].rule) == "aws":
            report.check(any(conv[r.rule.name]["Google SecOps (UDM)"] is not None for r in c.referenced_rules),
                         f"{c.name}: every rule it counts converts for SecOps; the SecOps reason no longer holds")
    kql_diagnostics(report)
    secops_negation(report)
    correlation_shapes(report)
    table = coverage_markdown(collection, conv)
    if write:
        COVERAGE.write_text(table, encoding="utf-8")
    report.check(COVERAGE.is_file() and COVERAGE.read_text(encoding="utf-8") == table,
                 f"{COVERAGE.relative_to(ROOT)} is stale: run `make sigma-coverage`")
    # Backends transform the rules they convert in place: evaluate a fresh load.
    fresh = SigmaCollection.load_ruleset(RULE_DIRS)
    behaviour([r for r in fresh.rules if isinstance(r, SigmaRule)], report)
    records = events_records()
    selections = evaluator_selections(records)
    qradar_runs(SigmaCollection.load_ruleset(RULE_DIRS[:2]).rules, records, selections, report)
    qradar_correlation_runs(report)
    logscale_runs(SigmaCollection.load_ruleset(RULE_DIRS[:2]).rules, records, selections, report)
    for f in report.failures:
        print("FAIL:", f)
    ok_cells = sum(v is None for r in conv.values() for v in r.values())
    print(f"sigma: {len(rules)} rules + {len(corr)} correlations loaded; {ok_cells} of "
          f"{len(conv) * len(targets())} rule x target conversions succeeded (see {COVERAGE.relative_to(ROOT)})")
    print(f"sigma: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
