#!/usr/bin/env python3
"""Offline checks of the generated Sigma rules (shared/catalog/sigma), independent of the Rust code.

    .tools/sigma-venv/bin/python scripts/sigma_check.py            # check (make sigma)
    .tools/sigma-venv/bin/python scripts/sigma_check.py --write    # regenerate COVERAGE.md

1. pySigma loads every rule and correlation rule without errors (no validator that downloads
   ATT&CK data is run).
2. Every rule is converted with the public pySigma backends of the seed's seven SIEMs. The
   rule x target table (what converted, what did not and why) is written to
   shared/catalog/sigma/COVERAGE.md; the check fails if the committed table differs.
3. An evaluator that walks pySigma's parsed condition tree runs every rule over events/:
   each rule matches its catalog row's positive fixture and nothing else there, and none of its
   negative look-alike. The share additions in the real Stratus Red Team captures match a
   rule of level high or critical; the share-removal fixtures match none at that level.

Ends with "N passed, N failed" and exits non-zero on any failure.
"""
from __future__ import annotations

import gzip
import json
import re
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.conditions import (ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR,
                              ConditionValueExpression)
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import (CompareOperators, SigmaBool, SigmaCompareExpression, SigmaFieldReference, SigmaNull,
                         SigmaNumber, SigmaString, SpecialChars)

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "shared" / "catalog" / "sigma"
CATALOG = ROOT / "shared" / "catalog" / "t1578.toml"
EVENTS = ROOT / "events"
STRATUS = ROOT.parent / "shared" / "data" / "stratus-red-team"
COVERAGE = RULES / "COVERAGE.md"

# The share additions among the Stratus captures, and the fixtures that only remove a share.
STRATUS_SHARES = ["aws.exfiltration.ec2-share-ebs-snapshot.json", "aws.exfiltration.ec2-share-ami.json",
                  "aws.exfiltration.rds-share-snapshot.json"]
SHARE_REMOVALS = ["aws/ec2-modify-snapshot-attribute-remove.json", "aws/rds-modify-db-snapshot-attribute-remove.json"]


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
    """Every value at a dotted path; arrays are walked through, as SIEMs flatten them."""
    current = [record]
    for key in path.split("."):
        nxt = []
        for c in current:
            if isinstance(c, list):
                c_items = c
            else:
                c_items = [c]
            for it in c_items:
                if isinstance(it, dict) and key in it:
                    v = it[key]
                    nxt.extend(v if isinstance(v, list) else [v])
        current = nxt
    return [v for v in current if v is not None]


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
        if value.s == (SpecialChars.WILDCARD_MULTI,):
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


def rule_matches(rule: SigmaRule, record: dict) -> bool:
    return any(evaluate(c.parsed, record) for c in rule.detection.parsed_condition)


# ------------------------------------------------------------------------------------------------
# conversion to the seven targets
# ------------------------------------------------------------------------------------------------

def sentinel_pipeline():
    """AzureActivity for the Azure rules, AWSCloudTrail for the AWS rules (Sentinel's tables)."""
    from sigma.pipelines.kusto_common.postprocessing import create_prepend_query_table_item
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation, SetStateTransformation
    def azure():
        return LogsourceCondition(product="azure", service="activitylogs")

    def aws():
        return LogsourceCondition(product="aws", service="cloudtrail")
    return ProcessingPipeline(name="t1578 Sentinel tables", priority=20, items=[
        ProcessingItem(identifier="azure_table", transformation=SetStateTransformation("query_table", "AzureActivity"),
                       rule_conditions=[azure()]),
        ProcessingItem(identifier="azure_fields", rule_conditions=[azure()], transformation=FieldMappingTransformation({
            "operationName": "OperationNameValue", "resultType": "ActivityStatusValue", "resourceId": "_ResourceId",
            "caller": "Caller", "subscriptionId": "SubscriptionId"})),
        ProcessingItem(identifier="aws_table", transformation=SetStateTransformation("query_table", "AWSCloudTrail"),
                       rule_conditions=[aws()]),
        ProcessingItem(identifier="aws_fields", rule_conditions=[aws()], transformation=FieldMappingTransformation({
            "eventSource": "EventSource", "eventName": "EventName", "errorCode": "ErrorCode", "awsRegion": "AWSRegion",
            "recipientAccountId": "RecipientAccountId", "userIdentity.type": "UserIdentityType",
            "userIdentity.arn": "UserIdentityArn", "userIdentity.invokedBy": "UserIdentityInvokedBy",
            "userIdentity.accountId": "UserIdentityAccountId"})),
    ], postprocessing_items=[create_prepend_query_table_item()])


def splunk_pipeline():
    """The Splunk Add-on for AWS extracts CloudTrail arrays with `{}` (`items{}.userId`)."""
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldFunctionTransformation

    def arrays(name: str) -> str:
        name = name.replace(".items.", ".items{}.")
        return re.sub(r"\.(valuesToAdd|valuesToRemove)$", r".\1{}", name)
    return ProcessingPipeline(name="t1578 Splunk CloudTrail arrays", priority=20, items=[ProcessingItem(
        identifier="t1578_splunk_arrays", transformation=FieldFunctionTransformation({}, arrays),
        rule_conditions=[LogsourceCondition(product="aws", service="cloudtrail")])])


def udm_pipeline():
    """Raw CloudTrail / Activity Log names to UDM (our mapping, after the UDM fields Google's
    parsers fill). Request parameters have no UDM field: rules that test them do not convert."""
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation
    return ProcessingPipeline(name="t1578 UDM names", priority=5, items=[ProcessingItem(
        identifier="t1578_udm", transformation=FieldMappingTransformation({
            "eventSource": "target.application", "eventName": "metadata.product_event_type",
            "errorCode": "security_result.description", "userIdentity.type": "principal.user.attribute.roles.name",
            "userIdentity.invokedBy": "principal.application", "userIdentity.arn": "principal.user.userid",
            "operationName": "metadata.product_event_type", "resultType": "security_result.summary",
            "resourceId": "target.resource.name"}))])


def negates_a_group(node) -> bool:
    """pySigma-backend-secops 1.0.0 drops or inverts NOT over an AND/OR group (checked by hand:
    `not (a or b)` becomes `a != .. OR b != ..`). Such conversions are wrong, so they are not `ok`."""
    if isinstance(node, ConditionNOT):
        return not isinstance(node.args[0], ConditionFieldEqualsValueExpression)
    return any(negates_a_group(a) for a in getattr(node, "args", []) if not isinstance(a, str))


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
    aws = rule.logsource.product == "aws"
    if tname.startswith("Google SecOps") and any(negates_a_group(c) for c in conds):
        return "converts, but wrongly: the backend drops NOT over a group"
    if tname.startswith("Sentinel") and aws and any(f.startswith("requestParameters.") for f, _ in fields):
        return "converts, but AWSCloudTrail has no requestParameters.* columns (RequestParameters is JSON text)"
    if tname.startswith("Elastic") and any(neg and f != "userIdentity.type" for f, neg in fields):
        return "converts, but ES|QL null logic drops events where a negated field is absent"
    return None


def targets():
    """(name, backend factory, note) for the seed's seven platforms."""
    def kusto():
        from sigma.backends.kusto import KustoBackend
        return KustoBackend(processing_pipeline=sentinel_pipeline())

    def splunk():
        from sigma.backends.splunk import SplunkBackend
        return SplunkBackend(processing_pipeline=splunk_pipeline())

    def esql():
        from sigma.backends.elasticsearch import ESQLBackend
        return ESQLBackend()

    def secops():
        from sigma.backends.secops import SecOpsBackend
        from sigma.pipelines.secops import secops_udm_pipeline
        return SecOpsBackend(processing_pipeline=udm_pipeline() + secops_udm_pipeline(prepend_metadata=False))

    def sumo():
        from sigma.backends.sumologic import SumoLogicCSEBackend
        from sigma.pipelines.sumologic import sumologic_cse_pipeline
        return SumoLogicCSEBackend(processing_pipeline=sumologic_cse_pipeline())

    def logscale():
        from sigma.backends.crowdstrike import LogScaleBackend
        return LogScaleBackend()

    def qradar():
        from sigma.backends.QRadarAQL import QRadarAQLBackend
        from sigma.pipelines.QRadarAQL import QRadarAQL_payload_pipeline
        return QRadarAQLBackend(processing_pipeline=QRadarAQL_payload_pipeline())

    return [("Sentinel (Kusto)", kusto), ("Splunk SPL", splunk), ("Elastic ES|QL", esql),
            ("Google SecOps (UDM)", secops), ("Sumo Logic CSE", sumo), ("CrowdStrike LogScale", logscale),
            ("QRadar AQL", qradar)]


def short_error(e: Exception) -> str:
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    # Drop the "(while converting rule /abs/path...)" tail: the table must not depend on the clone.
    text = re.sub(r"\s*\(while [^)]*\)?$", "", re.sub(r"\s+", " ", text))
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    return text[:140]


def convert_one(tname: str, backend, rule) -> str | None:
    """None when the rule converted correctly, else why not."""
    try:
        if isinstance(rule, SigmaCorrelationRule):
            out = backend.convert_correlation_rule(rule)
        else:
            out = backend.convert_rule(rule)
            why = known_wrong(tname, rule)
            if why:
                return why
        return None if out else "empty output"
    except Exception as e:  # noqa: BLE001 - every backend error is a table cell
        return short_error(e)


def convert_all() -> dict[str, dict[str, str | None]]:
    """rule name -> target -> None (converted) or the reason it did not. Backends transform the
    rules they convert in place, so each target gets a fresh load."""
    result: dict[str, dict[str, str | None]] = {}
    for tname, factory in targets():
        backend = factory()
        collection = SigmaCollection.load_ruleset([str(RULES)])
        collection.resolve_rule_references()
        for rule in collection.rules:
            result.setdefault(rule.name, {})[tname] = convert_one(tname, backend, rule)
    return result


def coverage_markdown(collection: SigmaCollection, conv: dict) -> str:
    names = [t for t, _ in targets()]
    lines = ["# Sigma coverage (generated by `scripts/sigma_check.py --write`; checked by `make sigma`)", "",
             "Rule x target: `ok` converted with the public pySigma backend; otherwise the backend's reason.",
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
    for row in catalog:
        pos, neg = hits.get(row["positive"], set()), hits.get(row["negative"], set())
        report.check(pos == {row["id"]}, f"{row['id']}: positive {row['positive']} matches {sorted(pos)}")
        report.check(row["id"] not in neg, f"{row['id']}: negative {row['negative']} matches it")
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


def main() -> int:
    warnings.simplefilter("ignore")  # backends warn per rule (e.g. QRadar payload search); the table says it
    write = "--write" in sys.argv
    report = Report()
    collection = SigmaCollection.load_ruleset([str(RULES)], collect_errors=True)
    errors = [f"{r.source}: {e}" for r in collection.rules for e in r.errors]
    report.check(not errors, "pySigma load errors:\n  " + "\n  ".join(errors))
    rules = [r for r in collection.rules if isinstance(r, SigmaRule)]
    corr = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    report.check(len(rules) > 100 and len(corr) >= 1, f"{len(rules)} rules, {len(corr)} correlation rules loaded")
    conv = convert_all()
    table = coverage_markdown(collection, conv)
    if write:
        COVERAGE.write_text(table, encoding="utf-8")
    report.check(COVERAGE.is_file() and COVERAGE.read_text(encoding="utf-8") == table,
                 f"{COVERAGE.relative_to(ROOT)} is stale: run `make sigma-coverage`")
    # Backends transform the rules they convert in place: evaluate a fresh load.
    fresh = SigmaCollection.load_ruleset([str(RULES)])
    behaviour([r for r in fresh.rules if isinstance(r, SigmaRule)], report)
    for f in report.failures:
        print("FAIL:", f)
    ok_cells = sum(v is None for r in conv.values() for v in r.values())
    print(f"sigma: {len(rules)} rules + {len(corr)} correlations loaded; {ok_cells} of "
          f"{len(conv) * len(targets())} rule x target conversions succeeded (see {COVERAGE.relative_to(ROOT)})")
    print(f"sigma: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
