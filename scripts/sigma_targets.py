#!/usr/bin/env python3
"""The seven SIEM targets of the generated Sigma rules: the public pySigma backends, the
processing pipelines that map CloudTrail / Activity Log names to each SIEM's schema, and the
few per-target additions the public backends lack. Used by scripts/sigma_check.py (coverage
table, make sigma) and by users:

    .tools/sigma-venv/bin/python scripts/sigma_targets.py TARGET RULE.yml|DIR...   # prints the queries
    .tools/sigma-venv/bin/python scripts/sigma_targets.py qradar-properties DIR...  # what QRadar needs

TARGET is one of: kusto splunk esql secops sumologic logscale qradar. A rule the target cannot
take is named on stderr with its reason (exit code 1); the others still print. qradar-properties
lists the JSON custom event properties the QRadar queries read (name, JSON keypath expression,
type).

Per-target additions (each a subclass of the public backend that only sets what is missing):
- field-to-field comparisons (`|fieldref`) for the backends that have no expression for them
  (Kusto, Sumo Logic CSE, LogScale, QRadar): each SIEM's own equality of two fields (SecOps
  would need one too, but its rules with a field reference already fail on UDM names);
- QRadar and ES|QL: case-insensitive string tests (LOWER / to_lower), as Sigma's;
- null-safe negation for ES|QL and QRadar AQL: both use SQL's three-valued logic, where
  `NOT (f == "x")` is NULL, so dropped, when the event has no `f`; Sigma means "true". A negated
  field test becomes `(f IS NULL OR NOT f == "x")`, pushed through AND/OR (De Morgan);
- request arrays: Kusto tests them with set_has_element / extract_all over the RequestParameters
  JSON, ES|QL with MV_CONTAINS (a comparison on a multi-valued field is null there);
- Kusto: `f: '*'` as isnotempty(f), the table from the log source, no quoting of the mapped
  RequestParameters expressions;
- correlation rules (event_count, value_count) for Kusto, QRadar and LogScale, whose backends
  have none: the counted rules' queries joined by OR, counted per group and UTC day, then the
  threshold (convert_correlation); for SecOps and Sumo Logic CSE the reason we add none.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule
from sigma.types import SigmaFieldReference, SigmaNull, SpecialChars

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = ROOT / "shared" / "catalog" / "sigma" / "pipelines"

# CloudTrail top-level and userIdentity names -> Sentinel's AWSCloudTrail columns.
AWSCLOUDTRAIL_COLUMNS = {
    "eventSource": "EventSource", "eventName": "EventName", "errorCode": "ErrorCode", "awsRegion": "AWSRegion",
    "recipientAccountId": "RecipientAccountId", "userIdentity.type": "UserIdentityType",
    "userIdentity.arn": "UserIdentityArn", "userIdentity.invokedBy": "UserIdentityInvokedBy",
    "userIdentity.accountId": "UserIdentityAccountId", "eventType": "EventTypeName"}
# Request parameters the rules compare as numbers (the rest are compared as text).
NUMERIC_REQUEST_PARAMETERS = re.compile(r"(?i)(HopLimit|RetentionPeriod|DeleteAfterDays)$")


# The Azure correlations' principal: the caller's Entra object id, a claim of the Activity Log
# export record. Its key is a URI with dots of its own.
CALLER_OBJECT_ID = "identity.claims.http://schemas.microsoft.com/identity/claims/objectidentifier"
# A claim URI ends a path: its dots are not path separators.
CLAIM_URI = re.compile(r"^(.*?)\.(https?://.*)$")


def json_keys(path: str) -> list[str]:
    """The JSON object keys a dotted Sigma field names: split at the dots, except inside a claim
    URI (`identity.claims.http://schemas.microsoft.com/...` is three keys)."""
    m = CLAIM_URI.match(path)
    return m[1].split(".") + [m[2]] if m else path.split(".")


# A DLM policy's share targets sit in arrays of arrays (schedules[].shareRules[]). KQL and
# LogScale test the first schedule's share rule (a schedule has one at most; a policy up to four
# schedules: README, "Run the rule in your SIEM"); Splunk's `{}` and ES|QL's multi-valued fields
# see them all.
# Either casing: AWS's own DLM example logs the API's PascalCase.
DLM_TARGETS = re.compile(r"\.(schedules)\.(shareRules)\.targetAccounts$", re.I)
# Request arrays of strings (RDS snapshot attributes, a DLM policy's share targets): KQL tests
# them with set_has_element.
STRING_ARRAYS = re.compile(rf"\.valuesTo(Add|Remove)$|\.instanceTypes$|(?i:{DLM_TARGETS.pattern})")
# The variable a LogScale array function binds to each element.
LOGSCALE_ELEMENT = "t1578_element"


def request_array(field: str) -> tuple[str, str | None] | None:
    """A path through a request array (one event holds several values there) -> (the array's
    path, the path within an element, None for an array of strings); None for any other path."""
    items = re.search(r"\.items\.", field)
    if items:
        return field[:items.start() + len(".items")], field[items.end():]
    dlm = DLM_TARGETS.search(field)
    if dlm:
        return f"{field[:dlm.end(1)]}[0].{dlm[2]}[0]{field[dlm.end(2):]}", None
    return (field, None) if STRING_ARRAYS.search(field) else None


def is_array_path(field: str) -> bool:
    return request_array(field) is not None


def array_prefix(cond) -> str | None:
    """The prefix of a `startswith` test (a plain string, then one trailing `*`), else None."""
    parts = list(cond.value.s)
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] == SpecialChars.WILDCARD_MULTI:
        return parts[0]
    return None


def kusto_request_parameter(field: str) -> str:
    """`requestParameters.a.b` -> the KQL expression over AWSCloudTrail's RequestParameters
    (a string column holding the JSON object). Names are CloudTrail's own: [\\w.] only. An
    array of strings stays dynamic (the backend below tests its elements)."""
    path = field[len("requestParameters."):]
    if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
        raise ValueError(f"request parameter path {field!r} is not a plain dotted name")
    parts = path.split(".")
    if "items" in parts:
        # An array of flat objects ({"userId": ...} / {"group": ...}): the values of one member
        # across the items, read from the array's compact JSON (CloudTrail's values here are
        # account ids, "all" and ARNs, never a quote).
        at = parts.index("items")
        if at != len(parts) - 2:
            raise ValueError(f"request parameter path {field!r}: only items.<member> is supported")
        items = "".join(f"['{p}']" for p in parts[:at + 1])
        return f"extract_all(@'\"{parts[-1]}\":\"([^\"]*)\"', tostring(parse_json(RequestParameters){items}))"
    dlm = DLM_TARGETS.search(field)
    access = "".join(f"['{p}']" + ("[0]" if dlm and p in (dlm[1], dlm[2]) else "") for p in parts)
    if STRING_ARRAYS.search(field):
        return f"parse_json(RequestParameters){access}"
    cast = "toreal" if NUMERIC_REQUEST_PARAMETERS.search(path) else "tostring"
    return f"{cast}(parse_json(RequestParameters){access})"


KUSTO_ARRAY = re.compile(r"^parse_json\(RequestParameters\)(\['\w+'\](\[0\])?)+$|^extract_all\(")


# ------------------------------------------------------------------------------------------------
# pipelines
# ------------------------------------------------------------------------------------------------

def sentinel_pipeline():
    """Sentinel's column names: AzureActivity for the Azure rules, AWSCloudTrail for the AWS rules
    (the table is prepended by the backend below); request parameters read from the
    RequestParameters JSON text."""
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldFunctionTransformation, FieldMappingTransformation

    def azure():
        return LogsourceCondition(product="azure", service="activitylogs")

    def aws():
        return LogsourceCondition(product="aws", service="cloudtrail")

    def aws_field(name: str) -> str:
        if name.startswith("requestParameters."):
            return kusto_request_parameter(name)
        return AWSCLOUDTRAIL_COLUMNS.get(name, name)
    return ProcessingPipeline(name="t1578 Sentinel tables", priority=20, items=[
        ProcessingItem(identifier="azure_fields", rule_conditions=[azure()], transformation=FieldMappingTransformation({
            "operationName": "OperationNameValue", "resultType": "ActivityStatusValue", "resourceId": "_ResourceId",
            # The correlations' principal: AzureActivity's Caller, which is the object id for
            # applications and managed identities and the UPN for users (README).
            CALLER_OBJECT_ID: "Caller"})),
        ProcessingItem(identifier="aws_fields", rule_conditions=[aws()],
                       transformation=FieldFunctionTransformation({}, aws_field)),
    ])


SENTINEL_TABLES = {"aws": "AWSCloudTrail", "azure": "AzureActivity"}


def splunk_pipeline():
    """The Splunk Add-on for AWS extracts CloudTrail arrays with `{}` (`items{}.userId`)."""
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldFunctionTransformation

    def arrays(name: str) -> str:
        name = name.replace(".items.", ".items{}.")
        name = DLM_TARGETS.sub(lambda m: f".{m[1]}{{}}.{m[2]}{{}}.{m[0].rsplit('.', 1)[1]}{{}}", name)
        return re.sub(r"\.(valuesToAdd|valuesToRemove|instanceTypes)$", r".\1{}", name)
    return ProcessingPipeline(name="t1578 Splunk CloudTrail arrays", priority=20, items=[ProcessingItem(
        identifier="t1578_splunk_arrays", transformation=FieldFunctionTransformation({}, arrays),
        rule_conditions=[LogsourceCondition(product="aws", service="cloudtrail")])])


def udm_pipeline():
    """Raw CloudTrail / Activity Log names to UDM (our mapping, after the UDM fields Google's
    parsers fill). Request parameters have no UDM field: rules that test them do not convert."""
    from sigma.processing.conditions import IncludeFieldCondition, MatchStringCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import DropDetectionItemTransformation, FieldMappingTransformation
    # CloudTrail's eventType has no UDM field of its own (Google's parser files eventName as the
    # product event type): the filter of network activity records is left out there, and
    # SecOps.convert_condition_not drops the `not` of the filter it empties. Only that test: any
    # other test of eventType still fails the rule here rather than widen it unseen.
    no_event_type = ProcessingItem(
        identifier="t1578_udm_no_event_type", transformation=DropDetectionItemTransformation(),
        field_name_conditions=[IncludeFieldCondition(fields=["eventType"])],
        detection_item_conditions=[MatchStringCondition(cond="any", pattern="^AwsVpceEvent$")])
    return ProcessingPipeline(name="t1578 UDM names", priority=5, items=[no_event_type, ProcessingItem(
        identifier="t1578_udm", transformation=FieldMappingTransformation({
            "eventSource": "target.application", "eventName": "metadata.product_event_type",
            "errorCode": "security_result.description", "userIdentity.type": "principal.user.attribute.roles.name",
            "userIdentity.invokedBy": "principal.application", "userIdentity.arn": "principal.user.userid",
            "operationName": "metadata.product_event_type", "resultType": "security_result.summary",
            "resourceId": "target.resource.name"}))])


def qradar_pipeline():
    """shared/catalog/sigma/pipelines/qradar-custom-properties.yml: one JSON custom event property
    per CloudTrail or Activity Log path (see the README)."""
    from sigma.processing.pipeline import ProcessingPipeline
    return ProcessingPipeline.from_yaml((PIPELINES / "qradar-custom-properties.yml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------
# per-target additions
# ------------------------------------------------------------------------------------------------

class NullSafeNot:
    """Mixin for backends with SQL three-valued logic: a negation is true when the negated test
    is false *or* its field is absent, as Sigma means it. NOT is pushed down to the field tests
    (De Morgan) so that every negated test carries its own null check."""

    def convert_condition_not(self, cond: ConditionNOT, state):
        return self.group_expression.format(expr=self._definitely_false(cond.args[0], state))

    def _definitely_false(self, node, state) -> str:
        sep = self.token_separator
        if isinstance(node, ConditionNOT):
            return self.convert_condition_group(node.args[0], state)
        if isinstance(node, (ConditionAND, ConditionOR)):
            op = self.or_token if isinstance(node, ConditionAND) else self.and_token
            parts = [self.group_expression.format(expr=self._definitely_false(a, state)) for a in node.args]
            return f"{sep}{op}{sep}".join(parts)
        if isinstance(node, ConditionFieldEqualsValueExpression):
            test = self.convert_condition(node, state)
            if isinstance(node.value, SigmaNull):
                return f"{self.not_token}{sep}{self.group_expression.format(expr=test)}"
            fields = [node.field] + ([node.value.field] if isinstance(node.value, SigmaFieldReference) else [])
            nulls = [self.field_null_expression.format(field=self.escape_and_quote_field(f)) for f in fields]
            return f"{sep}{self.or_token}{sep}".join(
                nulls + [f"{self.not_token}{sep}{self.group_expression.format(expr=test)}"])
        # A keyword (QRadar's payload search for the Azure rules): the payload is never null.
        return f"{self.not_token}{sep}{self.group_expression.format(expr=self.convert_condition(node, state))}"


def backends():
    """target key -> (display name, factory(product) -> backend)."""
    from sigma.backends.crowdstrike import LogScaleBackend
    from sigma.backends.elasticsearch import ESQLBackend
    from sigma.backends.kusto import KustoBackend
    from sigma.backends.QRadarAQL import QRadarAQLBackend
    from sigma.backends.secops import SecOpsBackend
    from sigma.backends.splunk import SplunkBackend
    from sigma.backends.sumologic import SumoLogicCSEBackend

    from sigma.backends.splunk.splunk import SplunkDeferredFieldRefExpression
    from sigma.conditions import ConditionOR
    from sigma.conversion.base import TextQueryBackend
    from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

    class NullSafeFieldRef(SplunkDeferredFieldRefExpression):
        # `where NOT 'f'='g'` is null, so false, for a record without f: a negated field
        # reference keeps records that lack the field (a request spelled in the other casing,
        # an organization-only share), as Sigma's `not` does.
        def finalize_expression(self):
            if self.negated:
                return f"where isnull('{self.field}') OR NOT '{self.field}'='{self.value}'"
            return super().finalize_expression()

    class Splunk(SplunkBackend):
        def convert_condition_field_eq_field(self, cond, state):
            # The backend's own method, with the null-safe expression (it refuses an OR of
            # field references, and so does this).
            if cond.parent_condition_chain_contains(ConditionOR):
                raise SigmaFeatureNotSupportedByBackendError(
                    "ORing FieldRef matching is not yet supported by Splunk backend", source=cond.source)
            value = TextQueryBackend.convert_condition_field_eq_field(self, cond, state)
            return NullSafeFieldRef(state, cond.field, value).postprocess(None, cond)

    class Kusto(KustoBackend):
        # Case-insensitive as Sigma's equality; mapped request parameters are expressions, not
        # column names, so they are not quoted; tostring() of a JSON boolean is "true"/"false".
        field_equals_field_expression = "{field1} =~ {field2}"
        field_quote_pattern = re.compile(
            r"^\w+$|^(to(string|real)\()?parse_json\(RequestParameters\)(\['\w+'\])+\)?$|^extract_all\(")
        bool_values = {True: '"true"', False: '"false"'}

        # Correlations (the backend has none): one search of the table, counted per group and
        # 1-day bin of TimeGenerated (bin() floors to UTC midnight, as ES|QL's date_trunc and
        # Splunk's bin). value_count counts with make_set, exact where dcount() estimates.
        correlation_methods = {"default": "summarize per group and bin(TimeGenerated, timespan)"}
        default_correlation_query = {"default": "{search}\n{aggregate}\n{condition}"}
        correlation_search_multi_rule_expression = "{queries}"
        correlation_search_multi_rule_query_expression = "({query})"
        correlation_search_multi_rule_query_expression_joiner = " or "
        event_count_aggregation_expression = {
            "default": "| summarize event_count = count() by bin(TimeGenerated, {timespan}){groupby}"}
        value_count_aggregation_expression = {
            "default": "| summarize distinct_values = make_set({field}) by bin(TimeGenerated, {timespan}){groupby}"
                       "\n| extend value_count = array_length(distinct_values)"}
        groupby_expression = {"default": "{fields}"}
        groupby_field_expression = {"default": ", {field}"}
        groupby_field_expression_joiner = {"default": ""}
        event_count_condition_expression = {"default": "| where event_count {op} {count}"}
        value_count_condition_expression = {"default": "| where value_count {op} {count}"}

        def convert_correlation_search(self, rule, **kwargs):
            one_product(rule)
            return f"{SENTINEL_TABLES[product_of(rule)]}\n| where {super().convert_correlation_search(rule, **kwargs)}"

        def finalize_query_default(self, rule, query, index, state):
            # The kusto_common table postprocessing is skipped for rules that a loaded
            # correlation rule references; the table follows from the log source instead.
            if isinstance(rule, SigmaCorrelationRule):
                return query
            return f"{SENTINEL_TABLES[rule.logsource.product]}\n| where {query}"

        def convert_condition_field_eq_val_str(self, cond, state):
            # `f: '*'` means "f has a value"; the backend's `f startswith ""` is true for "" too.
            # A request array of strings matches when one element does (exact: AWS's values
            # here, "all" and account ids, have one spelling). An absent array, or no match of
            # extract_all, is null: coalesce keeps `not(...)` true there.
            wildcard = tuple(cond.value.s) == (SpecialChars.WILDCARD_MULTI,)
            if KUSTO_ARRAY.match(cond.field):
                if wildcard:
                    return f"coalesce(array_length({cond.field}), 0) > 0"
                if prefix := array_prefix(cond):
                    # One element starts with it: in the array's JSON text, a quote then the prefix.
                    return f"coalesce(tostring({cond.field}) matches regex @'(?i)\"{re.escape(prefix)}', false)"
                if cond.value.contains_special():
                    raise NotImplementedError("wildcard test over a request array")
                return f"coalesce(set_has_element({cond.field}, {self.convert_value_str(cond.value, state)}), false)"
            if wildcard:
                return self.field_exists_expression.format(field=self.escape_and_quote_field(cond.field))
            return super().convert_condition_field_eq_val_str(cond, state)

        def convert_condition_field_eq_field(self, cond, state):
            if KUSTO_ARRAY.match(cond.field):
                other = self.escape_and_quote_field(cond.value.field)
                return f"coalesce(set_has_element({cond.field}, {other}), false)"
            return super().convert_condition_field_eq_field(cond, state)

    class ESQL(NullSafeNot, ESQLBackend):
        # A comparison on a multi-valued field is null in ES|QL: a request array (CloudTrail's
        # `items` objects flattened, `valuesToAdd`) is tested with MV_CONTAINS, which treats an
        # absent field as an empty set (false, never null). Exact match: AWS's values here ("all",
        # account ids, ARNs) have one spelling.
        # Sigma's string tests ignore case, ES|QL's ==, like and starts_with do not (the Activity
        # Log exports write MICROSOFT.COMPUTE/...): both sides are lower-cased, one test at a time.
        convert_or_as_in = False
        field_quote_pattern = re.compile(r"^[\w.]+$|^to_lower\([\w.`]+\)$")

        def convert_condition_field_eq_val_str(self, cond, state):
            if not is_array_path(cond.field):
                lowered = copy.copy(cond)
                lowered.field = f"to_lower({self.escape_and_quote_field(cond.field)})"
                lowered.value = copy.copy(cond.value)
                lowered.value.s = [p.lower() if isinstance(p, str) else p for p in cond.value.s]
                return super().convert_condition_field_eq_val_str(lowered, state)
            if tuple(cond.value.s) == (SpecialChars.WILDCARD_MULTI,):
                return f"mv_count({self.escape_and_quote_field(cond.field)}) > 0"
            if prefix := array_prefix(cond):
                # One element starts with it: the elements joined, each after a comma. MV_CONCAT of
                # an absent field is null, and so is the test: coalesce keeps NOT(...) true there.
                field = self.escape_and_quote_field(cond.field)
                return (f"coalesce(concat(\",\", to_lower(mv_concat({field}, \",\"))) like \"*,{prefix.lower()}*\", false)")
            if cond.value.contains_special():
                raise NotImplementedError("wildcard test over a request array")
            field, value = self.escape_and_quote_field(cond.field), self.convert_value_str(cond.value, state)
            return f"mv_contains({field}, {value})"

        def convert_condition_field_eq_field(self, cond, state):
            if not is_array_path(cond.field):
                return super().convert_condition_field_eq_field(cond, state)
            # MV_CONTAINS(x, null) is true (the empty set is contained): require the other field.
            other = self.escape_and_quote_field(cond.value.field)
            return f"({other} is not null and mv_contains({self.escape_and_quote_field(cond.field)}, {other}))"

    class SumoCSE(SumoLogicCSEBackend):
        # Why we add no correlations here (README "Run the rule in your SIEM").
        t1578_no_correlation = ("none in the backend; not added: a CSE Threshold rule would group by "
                                "record fields whose CSE names we cannot check")

        def convert_condition_field_eq_field(self, cond, state):
            # The public backend refuses; CSE's rule expressions compare two fields with `=`.
            return f"({self.escape_and_quote_field(cond.field)} = {self.escape_and_quote_field(cond.value.field)})"

    class LogScale(LogScaleBackend):
        field_equals_field_expression = "test({field1} == {field2})"
        # Correlations (the backend has none): the day of @timestamp (formatTime, UTC), groupBy
        # the group and the day with count(), then a filter on _count. value_count counts exactly:
        # a first groupBy with no function keeps one row per distinct value, a second counts them
        # (count(distinct=true) may estimate). limit=max: the default keeps 20,000 groups. Each
        # counted rule's query is parenthesized: the backend's precedence puts `or` above the
        # implicit `and` and writes a rule's query accordingly.
        correlation_methods = {"default": "groupBy the group and the UTC day of @timestamp, then filter"}
        default_correlation_query = {"default": "{search}\n{aggregate}\n{condition}"}
        correlation_search_multi_rule_expression = "{queries}"
        correlation_search_multi_rule_query_expression = "({query})"
        correlation_search_multi_rule_query_expression_joiner = " or "
        event_count_aggregation_expression = {
            "default": f"| {LOGSCALE_DAY}\n| groupBy([{{groupby}}, t1578_day], function=count(), limit=max)"}
        value_count_aggregation_expression = {
            "default": f"| {LOGSCALE_DAY}\n| groupBy([{{groupby}}, t1578_day, {{field}}], function=[], limit=max)"
                       "\n| groupBy([{groupby}, t1578_day], function=count(as=value_count), limit=max)"}
        groupby_expression = {"default": "{fields}"}
        groupby_field_expression = {"default": "{field}"}
        groupby_field_expression_joiner = {"default": ", "}
        event_count_condition_expression = {"default": "| _count {op} {count}"}
        value_count_condition_expression = {"default": "| value_count {op} {count}"}
        correlation_condition_mapping = {**LogScaleBackend.correlation_condition_mapping,
                                         SigmaCorrelationConditionOperator.EQ: "="}

        def convert_correlation_search(self, rule, **kwargs):
            one_day(rule)
            one_product(rule)
            return super().convert_correlation_search(rule, **kwargs)

        # A request array: parseJson names its elements `items[0].userId`, `valuesToAdd[1]`, so
        # the Sigma path names no field. Its test is made on each element, with the array
        # functions of LogScale 1.175+ (objectArray:exists for `items` objects, array:exists for
        # strings): true when one element passes, false for an absent array, so `not` keeps
        # Sigma's meaning.
        def convert_condition_field_eq_val_str(self, cond, state):
            return self.per_element(cond, state, super().convert_condition_field_eq_val_str)

        def convert_condition_field_eq_field(self, cond, state):
            return self.per_element(cond, state, super().convert_condition_field_eq_field)

        def per_element(self, cond, state, convert):
            split = request_array(cond.field)
            if split is None:
                return convert(cond, state)
            array, member = split
            element = copy.copy(cond)
            element.field = LOGSCALE_ELEMENT if member is None else f"{LOGSCALE_ELEMENT}.{member}"
            function = "array:exists" if member is None else "objectArray:exists"
            return (f'{function}(array="{array}[]", var={LOGSCALE_ELEMENT}, '
                    f"condition={{{convert(element, state)}}})")

    class QRadar(NullSafeNot, QRadarAQLBackend):
        # JSON custom properties hold CloudTrail's booleans as text. Sigma's equality ignores case
        # (Activity Log exports write MICROSOFT.COMPUTE/...): plain values are compared lower-cased,
        # as the backend already does for wildcard values, so no case-sensitive IN lists.
        field_equals_field_expression = "{field1}={field2}"
        bool_values = {True: "'true'", False: "'false'"}
        convert_or_as_in = False

        def convert_condition_field_eq_val_str(self, cond, state):
            if cond.value.contains_special():
                return super().convert_condition_field_eq_val_str(cond, state)
            value = self.convert_value_str(cond.value, state).lower()
            return f"LOWER({self.escape_and_quote_field(cond.field)})={value}"

        # Correlations (the backend has none): GROUP BY the group and the UTC day of devicetime
        # (the event's own time, CloudTrail's eventTime / the Activity Log's time, as the DSMs
        # parse it), HAVING on COUNT(*) or UNIQUECOUNT(field). Only a timespan of 1d is a day.
        correlation_methods = {"default": "GROUP BY the group and the day of devicetime, HAVING"}
        default_correlation_query = {"default": "{aggregate} {condition}"}
        correlation_search_multi_rule_expression = "{queries}"
        correlation_search_multi_rule_query_expression = "({query})"
        correlation_search_multi_rule_query_expression_joiner = " OR "
        event_count_aggregation_expression = {
            "default": f"SELECT {{groupby}}, {AQL_DAY} AS day, COUNT(*) AS event_count FROM events "
                       "WHERE {search} GROUP BY {groupby}, day"}
        value_count_aggregation_expression = {
            "default": f"SELECT {{groupby}}, {AQL_DAY} AS day, UNIQUECOUNT({{field}}) AS value_count FROM events "
                       "WHERE {search} GROUP BY {groupby}, day"}
        groupby_expression = {"default": "{fields}"}
        groupby_field_expression = {"default": "{field}"}
        groupby_field_expression_joiner = {"default": ", "}
        event_count_condition_expression = {"default": "HAVING event_count {op} {count}"}
        value_count_condition_expression = {"default": "HAVING value_count {op} {count}"}
        correlation_condition_mapping = {**QRadarAQLBackend.correlation_condition_mapping,
                                         SigmaCorrelationConditionOperator.EQ: "="}

        def convert_correlation_search(self, rule, **kwargs):
            # The counted rules' queries without their SELECT (pySigma leaves them unfinalized),
            # under the device types of their log source, as a single rule's query has them.
            one_day(rule)
            one_product(rule)
            ref = rule.referenced_rules[0].rule
            device = self.device_type_expression(rule=ref, device_type_field_name="devicetype", device_types=[])
            return device.format(query=f"({super().convert_correlation_search(rule, **kwargs)})")

        def finalize_query_default(self, rule, query, index, state):
            if isinstance(rule, SigmaCorrelationRule):
                return query
            return super().finalize_query_default(rule, query, index, state)

    class SecOps(SecOpsBackend):
        # Why we add no correlations here (README "Run the rule in your SIEM").
        t1578_no_correlation = ("none in the backend; not added: a YARA-L rule counts in hop windows "
                                "(`match: ... over 1d`), not per UTC day as the other targets, and each "
                                "AWS correlation counts rules that fail here")

        def convert_condition_not(self, cond, state):
            # The backend negates each test under NOT but keeps the group's operator: `not (a or
            # b)` becomes `a != .. OR b != ..`, `not (a and b)` `a != .. AND b != ..` (read in
            # its convert_condition). Only an OR it writes as one field's value list comes out
            # right (every value `!=`, joined by AND); refuse the rest rather than mistranslate.
            arg = cond.args[0]
            if arg is None:
                # A filter whose every test was dropped (udm_pipeline): nothing to negate.
                return None
            in_list = isinstance(arg, ConditionOR) and self.decide_convert_condition_as_in_expression(arg, state)
            if isinstance(arg, (ConditionAND, ConditionOR)) and not in_list:
                raise NotImplementedError("NOT over a group: the backend keeps the group's AND/OR "
                                          "while it negates each test")
            return super().convert_condition_not(cond, state)

    def secops(_product):
        from sigma.pipelines.secops import secops_udm_pipeline
        return SecOps(processing_pipeline=udm_pipeline() + secops_udm_pipeline(prepend_metadata=False))

    def sumo(_product):
        from sigma.pipelines.sumologic import sumologic_cse_pipeline
        return SumoCSE(processing_pipeline=sumologic_cse_pipeline())

    return {
        "kusto": ("Sentinel (Kusto)", lambda _p: Kusto(processing_pipeline=sentinel_pipeline())),
        "splunk": ("Splunk SPL", lambda _p: Splunk(processing_pipeline=splunk_pipeline())),
        "esql": ("Elastic ES|QL", lambda _p: ESQL()),
        "secops": ("Google SecOps (UDM)", secops),
        "sumologic": ("Sumo Logic CSE", sumo),
        "logscale": ("CrowdStrike LogScale", lambda _p: LogScale()),
        "qradar": ("QRadar AQL", lambda _p: QRadar(processing_pipeline=qradar_pipeline())),
    }


# The UTC day of an event in LogScale (@timestamp: the event's time as its parser sets it).
LOGSCALE_DAY = 'formatTime("%Y-%m-%d", field=@timestamp, as=t1578_day, timezone="UTC")'
# The UTC day of an event in AQL: its device time (milliseconds since the epoch) divided by a
# day's milliseconds. IBM's QRadar Pulse guide makes time intervals so (GROUP BY starttime/60000).
AQL_DAY = "devicetime/86400000"


def one_day(rule) -> None:
    """Targets that bucket by calendar day (AQL, LogScale) express a timespan of one day only."""
    if rule.timespan.seconds != 86400:
        raise NotImplementedError(f"timespan {rule.timespan.spec}: only 1d is a calendar day here")


def one_product(rule) -> None:
    """A correlation's search is one table / log source: its rules must share their product."""
    products = {product_of(r.rule) for r in rule.referenced_rules}
    if len(products) != 1:
        raise NotImplementedError(f"correlation over several log sources: {sorted(products)}")


def product_of(rule) -> str:
    """aws or azure: a correlation rule's is the one of the rules it counts."""
    from sigma.correlations import SigmaCorrelationRule
    if isinstance(rule, SigmaCorrelationRule):
        return product_of(rule.rules[0].rule)
    return rule.logsource.product


def convert_correlation(backend, rule) -> list[str]:
    """A correlation rule's queries. The backend builds them from its own conversions of the
    rules the correlation counts: each is converted once per backend (pipelines transform a rule
    in place, so a second pass would map its names twice), and a counted rule that does not
    convert fails the correlation with its reason."""
    if backend.correlation_methods is None:
        why = getattr(backend, "t1578_no_correlation", "Backend does not support correlation rules.")
        raise NotImplementedError(why)
    failed = backend.__dict__.setdefault("_t1578_failed", {})
    for ref in rule.referenced_rules:
        counted = ref.rule
        if id(counted) in failed:
            raise failed[id(counted)][1]
        if getattr(counted, "_conversion_result", None) is None:
            try:
                backend.convert_rule(counted)
            except Exception as e:  # noqa: BLE001 - re-raised as the correlation's reason
                err = NotImplementedError(f"counted rule {counted.name}: {type(e).__name__}: {e}")
                failed[id(counted)] = (counted, err)
                raise err from e
    return backend.convert_correlation_rule(rule)


QRADAR_PROPERTY_PREFIX = {"aws": "CloudTrail", "azure": "AzureActivity"}


def qradar_properties(rules) -> list[str]:
    """One line per CloudTrail or Activity Log path the rules test: the custom property's name (as
    the qradar-custom-properties pipeline prefixes it), its JSON keypath expression and its type."""
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule
    paths: set[tuple[str, str]] = set()
    for rule in rules:
        if isinstance(rule, SigmaCorrelationRule):  # what it groups by and counts distinct values of
            prefix = QRADAR_PROPERTY_PREFIX[product_of(rule)]
            paths.update((prefix, f) for f in (rule.group_by or []) + [rule.condition.fieldref] if f)
        elif isinstance(rule, SigmaRule):
            prefix = QRADAR_PROPERTY_PREFIX[rule.logsource.product]
            for det in rule.detection.detections.values():
                stack = list(det.detection_items)
                while stack:
                    item = stack.pop()
                    if hasattr(item, "detection_items"):
                        stack.extend(item.detection_items)
                        continue
                    paths.add((prefix, item.field))
                    paths.update((prefix, v.field) for v in item.value
                                 if hasattr(v, "field") and isinstance(v.field, str))
    lines = []
    for prefix, p in sorted(paths):
        kind = "Numeric" if NUMERIC_REQUEST_PARAMETERS.search(p) else "AlphaNumeric"
        keypath = "".join(f'/"{k}"' for k in json_keys(p))
        lines.append(f"{prefix} {p}\t{keypath}\t{kind}")
    return lines


def main(argv: list[str]) -> int:
    import warnings

    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    warnings.simplefilter("ignore")
    targets = backends()
    if len(argv) >= 2 and argv[0] == "qradar-properties":
        print("\n".join(qradar_properties(SigmaCollection.load_ruleset(argv[1:]).rules)))
        return 0
    if len(argv) < 2 or argv[0] not in targets:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    factory = targets[argv[0]][1]
    failed = 0

    def emit(rule, convert) -> None:
        # A rule the target cannot take is reported with its reason; the others still print.
        nonlocal failed
        try:
            queries = convert()
        except Exception as e:  # noqa: BLE001 - every backend error is the rule's reason
            failed += 1
            print(f"sigma_targets: {rule.name}: not converted: {type(e).__name__}: {e}", file=sys.stderr)
            return
        for query in queries:
            print(f"# {rule.name}\n{query}\n")
    # Rules first, on a load without resolved references: pySigma leaves a rule that a loaded
    # correlation counts unfinalized (no table), and analysts run the rules on their own.
    backend_of: dict = {}
    for rule in SigmaCollection.load_ruleset(argv[1:], resolve_references=False).rules:
        if not isinstance(rule, SigmaCorrelationRule):
            backend = backend_of.setdefault(rule.logsource.product, factory(rule.logsource.product))
            emit(rule, lambda: backend.convert_rule(rule))
    # Then the correlations, each from fresh conversions of the rules it counts.
    backend_of = {}
    for rule in SigmaCollection.load_ruleset(argv[1:]).rules:
        if isinstance(rule, SigmaCorrelationRule):
            backend = backend_of.setdefault(product_of(rule), factory(product_of(rule)))
            emit(rule, lambda: convert_correlation(backend, rule))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
