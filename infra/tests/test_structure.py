"""Structural tests of the Terraform under infra/ (no providers, no cloud: HCL is parsed).

`terraform validate` needs provider schemas, which cannot be downloaded here, so these tests
check the properties that matter for this project instead: documented variables and outputs,
least-privilege IAM, the event patterns, the exact Lambda environment / Azure app settings the
Rust functions read, and that the Logic App URL never leaves Key Vault.

Parser note: checkov depends on `bc-python-hcl2`, which installs the same `hcl2` package as
`python-hcl2`; whichever is importable is used. The two render HCL differently (bc wraps every
attribute value in a one-element list; python-hcl2 >= 7 keeps string quotes and adds
`__is_block__` markers), so everything goes through `_parse`, `attr` and `blocks` below.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import hcl2
import pytest

INFRA = Path(__file__).resolve().parents[1]
REPO = INFRA.parent
AWS = INFRA / "aws"
AZURE = INFRA / "azure"
AWS_DETECTOR = AWS / "modules" / "detector"
AWS_FORWARDER = AWS / "modules" / "account-forwarder"
AWS_CENTRAL_BUS = AWS / "modules" / "central-bus"
AZ_DETECTOR = AZURE / "modules" / "detector"
AZ_DIAGNOSTICS = AZURE / "modules" / "subscription-diagnostics"
PATTERNS_FILE = AWS_DETECTOR / "event-patterns.json"

MODULE_DIRS = [AWS_DETECTOR, AWS_FORWARDER, AWS_CENTRAL_BUS, AZ_DETECTOR, AZ_DIAGNOSTICS]
EXAMPLE_DIRS = sorted(p for p in (INFRA / "aws" / "examples").iterdir() if p.is_dir()) + sorted(
    p for p in (INFRA / "azure" / "examples").iterdir() if p.is_dir()
)

# The environment the Lambda's Config::from_env() reads - no more, no less.
LAMBDA_ENV = {
    "T1578_STATE_TABLE",
    "T1578_ALERT_TOPIC_ARN",
    "T1578_PROFILE",
    "T1578_WINDOW",
    "T1578_MODE",
    "T1578_CONFIG",
    "T1578_OBSERVED_SINCE",
    "T1578_AWS_IP_RANGES",
    "RUST_LOG",
}

# The app settings of the Azure function app - no more, no less.
AZURE_APP_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsStorage__accountName",
    "ActivityLogHub__fullyQualifiedNamespace",
    "T1578_EVENTHUB_NAME",
    "T1578_EVENTHUB_CONSUMER_GROUP",
    "T1578_TABLE_ENDPOINT",
    "T1578_STATE_TABLE",
    "T1578_BLOB_ENDPOINT",
    "T1578_DEADLETTER_CONTAINER",
    "T1578_LOGIC_APP_URL",
    "T1578_PROFILE",
    "T1578_WINDOW",
    "T1578_MODE",
    "T1578_CONFIG",
    "T1578_OBSERVED_SINCE",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "RUST_LOG",
}

# Every IAM action any policy document in infra/aws may grant.
ALLOWED_ACTIONS = {
    "sts:AssumeRole",  # trust policies (lambda.amazonaws.com, events.amazonaws.com)
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "sns:Publish",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",  # Lambda on-failure destination; EventBridge rule DLQ (queue policy)
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "events:PutEvents",  # account forwarder role; central bus policy
}

# Actions allowed on resource "*", with the reason.
STAR_RESOURCE_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
}

DETECTOR_ROLE_GRANTS = {
    "dynamodb:GetItem": ["${aws_dynamodb_table.this.arn}"],
    "dynamodb:PutItem": ["${aws_dynamodb_table.this.arn}"],
    "dynamodb:UpdateItem": ["${aws_dynamodb_table.this.arn}"],
    "sns:Publish": ["${aws_sns_topic.this.arn}"],
    "logs:CreateLogStream": ["${aws_cloudwatch_log_group.this.arn}:*"],
    "logs:PutLogEvents": ["${aws_cloudwatch_log_group.this.arn}:*"],
    "sqs:SendMessage": ["${aws_sqs_queue.dlq.arn}"],
    "xray:PutTraceSegments": ["*"],
    "xray:PutTelemetryRecords": ["*"],
    "kms:Decrypt": "${local.kms_key_arns}",
    "kms:GenerateDataKey": "${local.kms_key_arns}",
}

AZURE_ROLE_ASSIGNMENTS = {
    # role -> scope expression (each scoped to exactly one resource)
    "Storage Table Data Contributor": "${azurerm_storage_account.state.id}",
    # the dead-letter container only, not its account
    "Storage Blob Data Contributor": "${azurerm_storage_account.state.id}/blobServices/default/containers/${azurerm_storage_container.dead_letter.name}",
    "Storage Blob Data Owner": "${azurerm_storage_account.host.id}",
    "Azure Event Hubs Data Receiver": "${azurerm_eventhub.this.id}",
    "Key Vault Secrets User": "${azurerm_key_vault.this.id}",
    "Key Vault Secrets Officer": "${azurerm_key_vault.this.id}",  # the deployer, to write the secret
}

MAX_PATTERN_LENGTH = 4096  # EventBridge PutRule EventPattern maximum length


# ----------------------------------------------------------------------------------------------
# HCL helpers
# ----------------------------------------------------------------------------------------------

_MARKERS = {"__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__"}


def _flavor() -> str:
    probe = hcl2.loads('a = "x"\n')
    return "bc" if probe.get("a") == ["x"] else "modern"


FLAVOR = _flavor()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _clean(node: Any) -> Any:
    """Drop parser markers; for modern python-hcl2 also strip the quotes it keeps on strings."""
    if isinstance(node, dict):
        return {(_unquote(k) if FLAVOR == "modern" else k): _clean(v) for k, v in node.items() if k not in _MARKERS}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if isinstance(node, str) and FLAVOR == "modern":
        return _unquote(node)
    return node


@lru_cache(maxsize=None)
def _parse_file(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return _clean(hcl2.load(handle))


def attr(body: dict, key: str, default: Any = None) -> Any:
    """Value of attribute `key` of a block body."""
    if key not in body:
        return default
    value = body[key]
    if FLAVOR == "bc" and isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def blocks(body: dict, key: str) -> list[dict]:
    """Nested blocks named `key` of a block body."""
    value = body.get(key, [])
    return value if isinstance(value, list) else [value]


def tf_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.tf") if ".terraform" not in p.parts)


def top(directory: Path, kind: str) -> Iterator[tuple[Path, dict]]:
    """Top-level blocks (`variable`, `output`, `locals`, `module`, ...) of every file under directory."""
    for path in tf_files(directory):
        for entry in _parse_file(path).get(kind, []):
            yield path, entry


def labeled(directory: Path, kind: str) -> dict[str, tuple[Path, dict]]:
    """Single-label blocks (`variable "x"`, `output "x"`, `module "x"`) -> name: (file, body)."""
    found = {}
    for path, entry in top(directory, kind):
        for name, body in entry.items():
            found[name] = (path, body)
    return found


def resources(directory: Path, kind: str = "resource") -> dict[tuple[str, str], dict]:
    """`resource`/`data` blocks -> (type, name): body."""
    found = {}
    for _, entry in top(directory, kind):
        for rtype, named in entry.items():
            for name, body in named.items():
                found[(rtype, name)] = body
    return found


def locals_of(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, entry in top(directory, "locals"):
        for key in entry:
            merged[key] = attr(entry, key)
    return merged


def policy_statements(document: dict) -> list[dict]:
    """`statement` blocks and `dynamic "statement"` contents of an aws_iam_policy_document."""
    statements = list(blocks(document, "statement"))
    for dynamic in blocks(document, "dynamic"):
        for label, body in dynamic.items():
            if label == "statement":
                statements.extend(blocks(body, "content"))
    return statements


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


# ----------------------------------------------------------------------------------------------
# Conventions (terraform-aws-modules)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", MODULE_DIRS + EXAMPLE_DIRS, ids=lambda p: str(p.relative_to(INFRA)))
def test_standard_module_structure(directory: Path) -> None:
    for name in ("versions.tf", "variables.tf", "outputs.tf", "main.tf"):
        assert (directory / name).is_file(), f"{directory.relative_to(INFRA)} lacks {name}"
    terraform_blocks = [entry for _, entry in top(directory, "terraform")]
    assert terraform_blocks, "versions.tf must hold the terraform block"
    assert any(attr(t, "required_version") for t in terraform_blocks)
    assert any(blocks(t, "required_providers") for t in terraform_blocks)


def test_every_variable_has_type_and_description() -> None:
    variables = labeled(INFRA, "variable")
    assert variables
    missing = [
        f"{path.relative_to(INFRA)}: {name}"
        for name, (path, body) in variables.items()
        if not attr(body, "type") or not attr(body, "description")
    ]
    # labeled() keys by name only; recheck every file so same-named variables are all seen.
    for path, entry in top(INFRA, "variable"):
        for name, body in entry.items():
            if not attr(body, "type") or not attr(body, "description"):
                missing.append(f"{path.relative_to(INFRA)}: {name}")
    assert not missing, f"variables without type or description: {sorted(set(missing))}"


def test_every_output_has_description() -> None:
    outputs = [(path, name, body) for path, entry in top(INFRA, "output") for name, body in entry.items()]
    # Both detectors export outputs (topic, table, function names...): none found is a parse gap.
    assert {path.parent for path, _, _ in outputs} >= {AWS_DETECTOR, AZ_DETECTOR}, outputs
    missing = [f"{path.relative_to(INFRA)}: {name}" for path, name, body in outputs if not attr(body, "description")]
    assert not missing, f"outputs without description: {missing}"


@pytest.mark.parametrize("directory", [AWS_DETECTOR, AZ_DETECTOR], ids=["aws", "azure"])
def test_mode_and_profile_are_validated(directory: Path) -> None:
    variables = labeled(directory, "variable")
    for name, allowed in (("mode", ("alert", "shadow")), ("profile", ("default", "seed-kql"))):
        _, body = variables[name]
        conditions = " ".join(str(attr(v, "condition")) for v in blocks(body, "validation"))
        for value in allowed:
            assert value in conditions, f"var.{name} validation must allow {value!r}"


# ----------------------------------------------------------------------------------------------
# AWS: IAM
# ----------------------------------------------------------------------------------------------


def _all_policy_documents() -> Iterator[tuple[str, dict]]:
    for directory in [AWS_DETECTOR, AWS_FORWARDER, AWS_CENTRAL_BUS] + [d for d in EXAMPLE_DIRS if AWS in d.parents]:
        for (rtype, name), body in resources(directory, "data").items():
            if rtype == "aws_iam_policy_document":
                yield f"{directory.relative_to(INFRA)}:{name}", body


def test_policy_statements_are_least_privilege() -> None:
    documents = list(_all_policy_documents())
    assert len(documents) >= 6
    for label, document in documents:
        for statement in policy_statements(document):
            actions = as_list(attr(statement, "actions"))
            assert actions, f"{label}: statement without actions"
            assert not attr(statement, "not_actions") and not attr(statement, "not_resources"), label
            for action in actions:
                assert "*" not in action, f"{label}: wildcard action {action!r}"
                assert action in ALLOWED_ACTIONS, f"{label}: action {action!r} is not in the allowed list"
            resources_ = as_list(attr(statement, "resources"))
            if actions == ["sts:AssumeRole"]:
                continue
            assert resources_, f"{label}: statement without resources"
            if "*" in resources_:
                extra = set(actions) - set(STAR_RESOURCE_ACTIONS)
                assert not extra, f"{label}: {sorted(extra)} granted on resource '*'"
            assert attr(statement, "effect", "Allow") == "Allow", f"{label}: Deny statements are not expected"


def test_policies_come_from_policy_documents() -> None:
    """Every role/queue/bus policy is rendered from an aws_iam_policy_document (so the tests above see it)."""
    policy_attrs = {
        "aws_iam_role": "assume_role_policy",
        "aws_iam_role_policy": "policy",
        "aws_sqs_queue_policy": "policy",
        "aws_cloudwatch_event_bus_policy": "policy",
    }
    seen = 0
    for directory in [AWS_DETECTOR, AWS_FORWARDER, AWS_CENTRAL_BUS]:
        for (rtype, name), body in resources(directory).items():
            assert rtype not in {"aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_policy"}, (
                f"{rtype}.{name}: managed policies are not allowed"
            )
            if rtype in policy_attrs:
                value = attr(body, policy_attrs[rtype])
                assert re.fullmatch(r"\$\{data\.aws_iam_policy_document\.\w+\.json\}", str(value)), (
                    f"{rtype}.{name}.{policy_attrs[rtype]} must be data.aws_iam_policy_document.<x>.json, got {value!r}"
                )
                assert not attr(body, "managed_policy_arns"), f"{rtype}.{name}: managed policies are not allowed"
                seen += 1
    assert seen >= 6


def test_detector_role_grants_exactly_what_the_function_needs() -> None:
    data = resources(AWS_DETECTOR, "data")
    grants: dict[str, Any] = {}
    for statement in policy_statements(data[("aws_iam_policy_document", "lambda")]):
        for action in as_list(attr(statement, "actions")):
            grants[action] = attr(statement, "resources")
    assert grants == DETECTOR_ROLE_GRANTS

    role_policy = resources(AWS_DETECTOR)[("aws_iam_role_policy", "this")]
    assert attr(role_policy, "policy") == "${data.aws_iam_policy_document.lambda.json}"
    # The CMK statement exists only when CMKs are given.
    kms = [d for d in blocks(data[("aws_iam_policy_document", "lambda")], "dynamic") if "statement" in d]
    assert kms and "local.kms_key_arns" in str(attr(kms[0]["statement"], "for_each"))


def test_forwarder_role_allows_only_put_events_on_the_central_bus() -> None:
    data = resources(AWS_FORWARDER, "data")
    statements = policy_statements(data[("aws_iam_policy_document", "put_events")])
    assert len(statements) == 1
    assert as_list(attr(statements[0], "actions")) == ["events:PutEvents"]
    assert as_list(attr(statements[0], "resources")) == ["${var.central_event_bus_arn}"]

    role_policies = [body for (rtype, _), body in resources(AWS_FORWARDER).items() if rtype == "aws_iam_role_policy"]
    assert len(role_policies) == 1
    assert attr(role_policies[0], "policy") == "${data.aws_iam_policy_document.put_events.json}"

    trust = policy_statements(data[("aws_iam_policy_document", "assume_role")])
    principals = [attr(p, "identifiers") for s in trust for p in blocks(s, "principals")]
    assert principals == [["events.amazonaws.com"]]


def test_central_bus_policy_allows_only_listed_accounts_or_the_organization() -> None:
    document = resources(AWS_CENTRAL_BUS, "data")[("aws_iam_policy_document", "this")]
    statements = policy_statements(document)
    assert len(statements) == 2
    for statement in statements:
        assert as_list(attr(statement, "actions")) == ["events:PutEvents"]
        assert as_list(attr(statement, "resources")) == ["${local.event_bus_arn}"]
        for principal in blocks(statement, "principals"):
            if "*" in as_list(attr(principal, "identifiers")):
                conditions = blocks(statement, "condition")
                assert [attr(c, "variable") for c in conditions] == ["aws:PrincipalOrgID"], (
                    "a '*' principal needs the aws:PrincipalOrgID condition"
                )
            else:
                assert "var.member_account_ids" in str(attr(principal, "identifiers"))


# ----------------------------------------------------------------------------------------------
# AWS: event patterns and function configuration
# ----------------------------------------------------------------------------------------------


def _patterns() -> list:
    with PATTERNS_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


def test_event_patterns_file_is_valid_and_small_enough() -> None:
    patterns = _patterns()
    assert isinstance(patterns, list) and patterns, "event-patterns.json must be a non-empty JSON array"
    for index, pattern in enumerate(patterns):
        assert isinstance(pattern, dict) and pattern, f"pattern {index} must be a non-empty object"
        compact = json.dumps(pattern, separators=(",", ":"), ensure_ascii=False)
        assert len(compact) <= MAX_PATTERN_LENGTH, f"pattern {index} is {len(compact)} > {MAX_PATTERN_LENGTH} characters"
        assert "source" in pattern and "detail-type" in pattern, f"pattern {index} must filter source and detail-type"


@pytest.mark.parametrize("directory", [AWS_DETECTOR, AWS_FORWARDER], ids=["detector", "account-forwarder"])
def test_event_rules_use_the_patterns_file(directory: Path) -> None:
    local_values = locals_of(directory)
    source = str(local_values["event_patterns"])
    assert "jsondecode(file(" in source, "local.event_patterns must be jsondecode(file(...))"
    loaded_file = source + str(local_values.get("event_patterns_path", ""))
    assert "event-patterns.json" in loaded_file
    if directory == AWS_FORWARDER:
        assert "../detector/event-patterns.json" in str(local_values["event_patterns_path"])
    assert "local.event_patterns" in str(local_values["rule_patterns"])

    rules = {name: body for (rtype, name), body in resources(directory).items() if rtype == "aws_cloudwatch_event_rule"}
    assert list(rules) == ["this"], "exactly one for_each rule resource"
    rule = rules["this"]
    assert attr(rule, "for_each") == "${local.rule_patterns}"
    assert attr(rule, "event_pattern") == "${jsonencode(each.value)}"


@pytest.mark.skipif(not os.environ.get("T1578_EVENT_PATTERN_CMD"), reason="T1578_EVENT_PATTERN_CMD is not set")
def test_event_patterns_file_matches_the_cli() -> None:
    command = shlex.split(os.environ["T1578_EVENT_PATTERN_CMD"])
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{command} failed: {result.stderr}"
    generated = json.loads(result.stdout)
    if isinstance(generated, dict):  # a single pattern printed as an object
        generated = [generated]
    assert generated == _patterns(), (
        "infra/aws/modules/detector/event-patterns.json is stale: regenerate it with "
        f"`{os.environ['T1578_EVENT_PATTERN_CMD']} > {PATTERNS_FILE.relative_to(REPO)}`"
    )


def test_lambda_configuration_and_environment() -> None:
    function = resources(AWS_DETECTOR)[("aws_lambda_function", "this")]
    assert attr(function, "runtime") == "provided.al2023"
    assert attr(function, "handler") == "bootstrap"
    assert attr(function, "architectures") == ["${var.architecture}"]
    assert [attr(t, "mode") for t in blocks(function, "tracing_config")] == ["Active"]
    environment = blocks(function, "environment")
    assert len(environment) == 1
    names = set(attr(environment[0], "variables"))
    assert names == LAMBDA_ENV, f"unexpected: {sorted(names - LAMBDA_ENV)}, missing: {sorted(LAMBDA_ENV - names)}"

    variables = labeled(AWS_DETECTOR, "variable")
    assert attr(variables["architecture"][1], "default") == "x86_64"
    assert attr(variables["memory_size"][1], "default") == 128
    assert attr(variables["timeout"][1], "default") == 30
    assert attr(variables["log_retention_in_days"][1], "default") == 365


def test_state_table_settings() -> None:
    table = resources(AWS_DETECTOR)[("aws_dynamodb_table", "this")]
    assert attr(table, "billing_mode") == "PAY_PER_REQUEST"
    assert attr(table, "hash_key") == "pk"
    assert [(attr(a, "name"), attr(a, "type")) for a in blocks(table, "attribute")] == [("pk", "S")]
    assert [(attr(t, "attribute_name"), attr(t, "enabled")) for t in blocks(table, "ttl")] == [("expires_at", True)]
    assert [attr(s, "enabled") for s in blocks(table, "server_side_encryption")] == [True]
    assert [attr(p, "enabled") for p in blocks(table, "point_in_time_recovery")] == [True]


def test_failures_end_in_the_encrypted_dlq() -> None:
    all_resources = resources(AWS_DETECTOR)
    queue = all_resources[("aws_sqs_queue", "dlq")]
    assert attr(queue, "sqs_managed_sse_enabled") is not None and attr(queue, "kms_master_key_id") is not None
    target = all_resources[("aws_cloudwatch_event_target", "this")]
    assert [attr(d, "arn") for d in blocks(target, "dead_letter_config")] == ["${aws_sqs_queue.dlq.arn}"]
    invoke = all_resources[("aws_lambda_function_event_invoke_config", "this")]
    on_failure = [attr(o, "destination") for d in blocks(invoke, "destination_config") for o in blocks(d, "on_failure")]
    assert on_failure == ["${aws_sqs_queue.dlq.arn}"]
    alarms = {attr(body, "metric_name") for (rtype, _), body in all_resources.items() if rtype == "aws_cloudwatch_metric_alarm"}
    assert alarms == {"Errors", "ApproximateNumberOfMessagesVisible"}


# ----------------------------------------------------------------------------------------------
# Azure
# ----------------------------------------------------------------------------------------------


def _function_app() -> dict:
    apps = {k: v for k, v in resources(AZ_DETECTOR).items() if k[0] in {"azurerm_function_app_flex_consumption", "azurerm_linux_function_app"}}
    assert len(apps) == 1, "exactly one function app resource"
    return next(iter(apps.values()))


def _app_settings() -> dict[str, Any]:
    app = _function_app()
    value = attr(app, "app_settings")
    if value == "${local.app_settings}":
        return dict(locals_of(AZ_DETECTOR)["app_settings"])
    assert isinstance(value, dict), "app_settings must be a literal map or local.app_settings"
    return dict(value)


def test_azure_app_settings_are_exactly_the_expected_ones() -> None:
    app = _function_app()
    settings = set(_app_settings())
    effective = set(settings)
    # Set by the resource itself rather than through app_settings:
    site_config = blocks(app, "site_config")
    if site_config and attr(site_config[0], "application_insights_connection_string"):
        assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in settings, "set it once (site_config)"
        effective.add("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if attr(app, "runtime_name") == "custom":  # Flex Consumption: the platform sets FUNCTIONS_WORKER_RUNTIME
        assert "FUNCTIONS_WORKER_RUNTIME" not in settings, "Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME"
        effective.add("FUNCTIONS_WORKER_RUNTIME")
    else:
        assert _app_settings().get("FUNCTIONS_WORKER_RUNTIME") == "custom"
    assert effective == AZURE_APP_SETTINGS, (
        f"unexpected: {sorted(effective - AZURE_APP_SETTINGS)}, missing: {sorted(AZURE_APP_SETTINGS - effective)}"
    )
    assert "T1578_STORAGE_CONNECTION_STRING" not in settings, "the Azurite-only connection string must not be set"
    assert not any(k == "AzureWebJobsStorage" for k in settings), "host storage must be identity-based"


def test_azure_app_setting_values() -> None:
    settings = _app_settings()
    assert re.sub(r"\s", "", settings["T1578_TABLE_ENDPOINT"]) == '${trimsuffix(azurerm_storage_account.state.primary_table_endpoint,"/")}'
    assert settings["ActivityLogHub__fullyQualifiedNamespace"].endswith(".servicebus.windows.net")
    assert settings["T1578_EVENTHUB_CONSUMER_GROUP"] == "${azurerm_eventhub_consumer_group.this.name}"
    assert settings["T1578_MODE"] == "${var.mode}"
    consumer_group = labeled(AZ_DETECTOR, "variable")["eventhub_consumer_group_name"][1]
    assert attr(consumer_group, "default") == "t1578"
    assert attr(labeled(AZ_DETECTOR, "variable")["state_table_name"][1], "default") == "t1578state"


def test_logic_app_url_only_reaches_the_app_through_key_vault() -> None:
    settings = _app_settings()
    reference = settings["T1578_LOGIC_APP_URL"]
    assert re.fullmatch(r"@Microsoft\.KeyVault\(SecretUri=\$\{azurerm_key_vault_secret\.\w+\.versionless_id\}\)", reference), reference

    variable = labeled(AZ_DETECTOR, "variable")["logic_app_trigger_url"][1]
    assert attr(variable, "sensitive") is True

    # The variable is used in exactly one place of the module: the Key Vault secret's value.
    uses = []
    for (rtype, name), body in resources(AZ_DETECTOR).items():
        for key, value in body.items():
            if any("var.logic_app_trigger_url" in s and "logic_app_trigger_url_version" not in s for s in strings_in(value)):
                uses.append((rtype, name, key))
    assert uses == [("azurerm_key_vault_secret", "logic_app_url", "value_wo")], uses
    for key, value in locals_of(AZ_DETECTOR).items():
        assert not any("var.logic_app_trigger_url" in s for s in strings_in(value)), f"local.{key}"

    # No output anywhere exposes the URL or the secret value; no app setting embeds a URL.
    for path, entry in top(INFRA / "azure", "output"):
        for name, body in entry.items():
            text = " ".join(strings_in(attr(body, "value")))
            assert "logic_app_trigger_url" not in text, f"{path.relative_to(INFRA)}: output {name}"
            assert not re.search(r"azurerm_key_vault_secret\.\w+\.value", text), f"{path.relative_to(INFRA)}: output {name}"
    for key, value in settings.items():
        assert "logic.azure.com" not in str(value) and "sig=" not in str(value), key

    # Examples only pass the (ephemeral) root variable through to the module.
    for example in (d for d in EXAMPLE_DIRS if AZURE in d.parents):
        root_var = labeled(example, "variable")["logic_app_trigger_url"][1]
        assert attr(root_var, "sensitive") is True
        for name, (_, body) in labeled(example, "module").items():
            for key, value in body.items():
                if any("var.logic_app_trigger_url" in s for s in strings_in(value)):
                    assert key == "logic_app_trigger_url", f"{example.name}: module {name}.{key}"


def test_azure_role_assignments_are_scoped_to_single_resources() -> None:
    assignments = {
        attr(body, "role_definition_name"): attr(body, "scope")
        for (rtype, _), body in resources(AZ_DETECTOR).items()
        if rtype == "azurerm_role_assignment"
    }
    assert assignments == AZURE_ROLE_ASSIGNMENTS


def test_azure_storage_and_messaging_hardening() -> None:
    all_resources = resources(AZ_DETECTOR)
    accounts = [body for (rtype, _), body in all_resources.items() if rtype == "azurerm_storage_account"]
    assert len(accounts) == 2
    for account in accounts:
        assert attr(account, "min_tls_version") == "TLS1_2"
        assert attr(account, "https_traffic_only_enabled") is True
        assert attr(account, "allow_nested_items_to_be_public") is False
        assert attr(account, "shared_access_key_enabled") is False
        assert attr(account, "infrastructure_encryption_enabled") is True
        blob = blocks(account, "blob_properties")
        assert blob and blocks(blob[0], "delete_retention_policy"), "blob soft delete"

    namespace = all_resources[("azurerm_eventhub_namespace", "this")]
    assert attr(namespace, "sku") == "Standard"
    assert attr(namespace, "minimum_tls_version") == "1.2"
    assert attr(namespace, "local_authentication_enabled") == "${var.eventhub_local_authentication_enabled}"
    assert attr(labeled(AZ_DETECTOR, "variable")["eventhub_local_authentication_enabled"][1], "default") is False

    rule = all_resources[("azurerm_eventhub_namespace_authorization_rule", "diagnostics_send")]
    assert (attr(rule, "listen"), attr(rule, "send"), attr(rule, "manage")) == (False, True, False)

    vault = all_resources[("azurerm_key_vault", "this")]
    assert attr(vault, "rbac_authorization_enabled") is True
    assert attr(vault, "purge_protection_enabled") is True


def test_subscription_diagnostics_streams_the_administrative_category() -> None:
    setting = resources(AZ_DIAGNOSTICS)[("azurerm_monitor_diagnostic_setting", "this")]
    assert attr(setting, "target_resource_id") == "/subscriptions/${var.subscription_id}"
    assert attr(setting, "eventhub_authorization_rule_id") == "${var.eventhub_authorization_rule_id}"
    default_categories = attr(labeled(AZ_DIAGNOSTICS, "variable")["log_categories"][1], "default")
    assert default_categories == ["Administrative"]


def _names_read_by(crate: str) -> set:
    """T1578_* settings the function's own code reads: its sources, the core's shared settings,
    and the %T1578_...% binding expressions of its function.json files."""
    root = INFRA.parent
    texts = [p.read_text() for p in (root / "functions" / crate / "src").glob("*.rs")]
    texts.append((root / "shared" / "src" / "settings.rs").read_text())
    texts += [p.read_text() for p in (root / "functions" / crate).glob("*/function.json")]
    return set(re.findall(r'["%](T1578_[A-Z_]+)["%]', "\n".join(texts)))


def test_both_detectors_learn_from_each_accounts_first_event_by_default() -> None:
    """Without a learning period a cold start alerts for about half the principals on its
    first day: both modules pass observed_since, "first" unless the user says otherwise."""
    lambda_env = attr(blocks(resources(AWS_DETECTOR)[("aws_lambda_function", "this")], "environment")[0], "variables")
    assert lambda_env["T1578_OBSERVED_SINCE"] == "${var.observed_since}"
    assert _app_settings()["T1578_OBSERVED_SINCE"] == "${var.observed_since}"
    for module in (AWS_DETECTOR, AZ_DETECTOR):
        variable = labeled(module, "variable")["observed_since"][1]
        assert attr(variable, "default") == "first", module
        assert "first" in str(attr(variable, "validation")), module


def test_lambda_env_is_exactly_what_the_code_reads():
    read = _names_read_by("aws-lambda")
    assert read == {n for n in LAMBDA_ENV if n.startswith("T1578_")}, sorted(read ^ LAMBDA_ENV)


def test_app_settings_are_exactly_what_the_code_reads():
    # The Azurite connection string is for development and tests only; the module must not set it.
    read = _names_read_by("azure-function") - {"T1578_STORAGE_CONNECTION_STRING"}
    assert read == {n for n in AZURE_APP_SETTINGS if n.startswith("T1578_")}, sorted(read ^ AZURE_APP_SETTINGS)


def test_multi_account_example_takes_its_accounts_as_the_organizations_own() -> None:
    """The example's detector lists the rollout's accounts and organization in `own_accounts`:
    a share to one of them is evidence, not a critical (README, Tuning)."""
    _, detector = labeled(AWS / "examples" / "multi-account", "module")["detector"]
    config = attr(detector, "config_toml")
    assert isinstance(config, str) and config.startswith("own_accounts = "), config
    for name in ("aws_caller_identity.security.account_id", "local.member_account_ids", "var.organization_id"):
        assert name in config, config


def test_aws_ranges_reach_the_function_as_a_layer_fetched_at_apply_time() -> None:
    """AWS's ranges are fetched by the module (never built into the function, where they would
    go stale), packed as a layer, and named to the function by the path the layer extracts to;
    an empty URL fetches nothing and leaves the setting empty (the sign off)."""
    datas = resources(AWS_DETECTOR, "data")
    http = datas[("http", "aws_ip_ranges")]
    assert attr(http, "url") == "${var.aws_ip_ranges_url}"
    assert "local.fetch_aws_ip_ranges" in str(attr(http, "count"))
    archive = datas[("archive_file", "aws_ip_ranges")]
    source = blocks(archive, "source")[0]
    assert attr(source, "content") == "${data.http.aws_ip_ranges[0].response_body}"
    assert attr(source, "filename") == "${local.aws_ip_ranges_file}"
    layer = resources(AWS_DETECTOR)[("aws_lambda_layer_version", "aws_ip_ranges")]
    assert attr(layer, "filename") == "${data.archive_file.aws_ip_ranges[0].output_path}"
    assert attr(layer, "source_code_hash") == "${data.archive_file.aws_ip_ranges[0].output_base64sha256}"
    function = resources(AWS_DETECTOR)[("aws_lambda_function", "this")]
    assert attr(function, "layers") == "${aws_lambda_layer_version.aws_ip_ranges[*].arn}"
    env = attr(blocks(function, "environment")[0], "variables")
    assert env["T1578_AWS_IP_RANGES"] == '${local.fetch_aws_ip_ranges ? "/opt/${local.aws_ip_ranges_file}" : ""}'
    assert locals_of(AWS_DETECTOR)["aws_ip_ranges_file"] == "t1578/aws-ip-ranges.json"
    variable = labeled(AWS_DETECTOR, "variable")["aws_ip_ranges_url"][1]
    assert attr(variable, "default") == "https://ip-ranges.amazonaws.com/ip-ranges.json"
