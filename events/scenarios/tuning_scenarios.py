#!/usr/bin/env python3
"""Writes the tuning scenarios' events.json (deterministic): a Terraform run inside and outside
a change window, a principal acting from a new network, and a shadow-mode account.
Run from the repository root: python3 events/scenarios/tuning_scenarios.py"""
import hashlib
import json
import uuid
from pathlib import Path

HERE = Path(__file__).parent
TERRAFORM = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) "
             "terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
             "aws-sdk-go-v2/1.32.6 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.193.0")
CLI = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.7 md/command#ec2.{cmd}"


def uid(*parts) -> str:
    return str(uuid.UUID(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]))


def hx(*parts, n=17) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def role(account, name, session):
    pid = "AROA" + hx(account, name, n=16).upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{pid}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA" + hx(session, n=16).upper(),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": pid, "arn": f"arn:aws:iam::{account}:role/{name}",
                              "accountId": account, "userName": name},
            "attributes": {"mfaAuthenticated": "false"},
        },
    }


def user(account, name):
    return {"type": "IAMUser", "principalId": "AIDA" + hx(account, name, n=16).upper(),
            "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account,
            "accessKeyId": "AKIA" + hx(name, n=16).upper(), "userName": name}


def record(who, t, name, ip, ua, req, resp, account, region="eu-west-2"):
    rid = uid("req", who["arn"], t, name)
    return {
        "eventVersion": "1.10", "userIdentity": who, "eventTime": t, "eventSource": "ec2.amazonaws.com",
        "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": ua,
        "requestParameters": req, "responseElements": {"requestId": rid, **resp}, "requestID": rid,
        "eventID": uid("evt", who["arn"], t, name), "readOnly": False, "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"ec2.{region}.amazonaws.com"},
    }


def terraform_run(account, day, ip):
    """What one `terraform apply` replacing a worker does: launch, snapshot, terminate, delete."""
    who = role(account, "terraform-apply", f"terraform-{hx(day, n=8)}")
    iid_new, iid_old = "i-" + hx("new", day), "i-" + hx("old", day)
    vol, snap_new, snap_old = "vol-" + hx("vol", day), "snap-" + hx("snap", day), "snap-" + hx("old-snap", day)
    t = lambda s: f"{day}{s}Z"
    return [
        record(who, t("T02:00:05"), "RunInstances", ip, TERRAFORM,
               {"instancesSet": {"items": [{"imageId": "ami-0c1f" + hx(day, n=13), "minCount": 1, "maxCount": 1}]},
                "instanceType": "m7i.large", "metadataOptions": {"httpTokens": "required"}},
               {"instancesSet": {"items": [{"instanceId": iid_new}]}}, account),
        record(who, t("T02:01:40"), "CreateSnapshot", ip, TERRAFORM,
               {"volumeId": vol, "description": "pre-replace backup"},
               {"snapshotId": snap_new, "volumeId": vol, "status": "pending"}, account),
        record(who, t("T02:03:12"), "TerminateInstances", ip, TERRAFORM,
               {"instancesSet": {"items": [{"instanceId": iid_old}]}},
               {"instancesSet": {"items": [{"instanceId": iid_old, "currentState": {"code": 32, "name": "shutting-down"},
                                            "previousState": {"code": 16, "name": "running"}}]}}, account),
        record(who, t("T02:04:30"), "DeleteSnapshot", ip, TERRAFORM, {"snapshotId": snap_old}, {"_return": True}, account),
    ]


def write(name, records):
    (HERE / name / "events.json").write_text(json.dumps({"Records": records}, indent=2) + "\n")


# Saturday 2026-11-21 02:00 London (GMT): inside the Saturday 01:00-05:00 window; Wednesday
# 2026-11-25 02:00: the same run, outside it.
write("terraform-change-window",
      terraform_run("444455556666", "2026-11-21", "203.0.113.30") + terraform_run("444455556666", "2026-11-25", "203.0.113.30"))

# ops-alice launches one instance a day from the office (203.0.113.45, then .46 in the same
# /24); on day five, more than a day after the last launch, a snapshot comes from a network she
# has never used.
alice = user("111122223333", "ops-alice")
days = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
recs = [record(alice, f"{d}T09:{10 + i}:00Z", "RunInstances", "203.0.113.45" if i < 3 else "203.0.113.46",
               CLI.format(cmd="run-instances"),
               {"instancesSet": {"items": [{"imageId": "ami-0a1b2c3d4e5f60718", "minCount": 1, "maxCount": 1}]},
                "instanceType": "t3.micro", "metadataOptions": {"httpTokens": "required"}},
               {"instancesSet": {"items": [{"instanceId": "i-" + hx("alice", d)}]}}, "111122223333")
        for i, d in enumerate(days)]
recs.append(record(alice, "2026-11-20T11:12:44Z", "CreateSnapshot", "198.51.100.23", CLI.format(cmd="create-snapshot"),
                   {"volumeId": "vol-0f1e2d3c4b5a69788"},
                   {"snapshotId": "snap-" + hx("alice-snap"), "volumeId": "vol-0f1e2d3c4b5a69788", "status": "pending"},
                   "111122223333"))
write("unfamiliar-ip", recs)


def share(account, who, t, ip):
    snap = "snap-" + hx(account, t)
    return record(who, t, "ModifySnapshotAttribute", ip, CLI.format(cmd="modify-snapshot-attribute"),
                  {"snapshotId": snap, "attributeType": "CREATE_VOLUME_PERMISSION",
                   "createVolumePermission": {"add": {"items": [{"userId": "999900001111"}]}}},
                  {"_return": True}, account)


# The same snapshot share in a shadow-mode account (decided, logged, not sent) and in an
# alerting one.
write("shadow-account", [
    share("777788889999", role("777788889999", "migration-bot", "migration-42"), "2026-11-22T10:00:00Z", "192.0.2.60"),
    share("111122223333", user("111122223333", "ops-bob"), "2026-11-22T10:05:00Z", "192.0.2.61"),
])
