#!/usr/bin/env python3
"""Writes the baseline scenarios under events/scenarios/baseline/ (deterministic): two weeks of
habits per principal, then a test day with routine work or an attack.
Run from the repository root: python3 events/scenarios/baseline_scenarios.py

Each scenario's expected.toml is written by hand; this script only writes events.json."""
import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).parent / "baseline"
ACCOUNT = "111122223333"
SUB = "aaaaaaaa-1111-2222-3333-444444444444"
TENANT = "bbbbbbbb-5555-6666-7777-888888888888"
DAY0 = datetime(2026, 11, 1, tzinfo=timezone.utc)  # day 1 is 2026-11-01; the test day is day 15
CLI = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.7 md/command#ec2.{cmd}"
BOTO = "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.7 cfg/retry-mode#legacy Botocore/1.35.76"


def h(*parts, n=17) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def uid(*parts) -> str:
    return str(uuid.UUID(h(*parts, n=32)))


def at(day, hour, minute=0, second=0):
    return DAY0 + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)


def ct_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def role(name, session):
    pid = "AROA" + h(ACCOUNT, name, n=16).upper()
    return {"type": "AssumedRole", "principalId": f"{pid}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}", "accountId": ACCOUNT,
            "accessKeyId": "ASIA" + h(session, n=16).upper(),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": pid,
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                                                 "accountId": ACCOUNT, "userName": name},
                               "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "false"}}}


def iam_user(name):
    return {"type": "IAMUser", "principalId": "AIDA" + h(ACCOUNT, name, n=16).upper(),
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT,
            "accessKeyId": "AKIA" + h(name, n=16).upper(), "userName": name}


def ct(who, t, name, ip, req, resp, ua=BOTO, region="eu-west-1"):
    key = who["arn"] + ct_time(t) + name + json.dumps(req, sort_keys=True)
    return {"eventVersion": "1.10", "userIdentity": who, "eventTime": ct_time(t), "eventSource": "ec2.amazonaws.com",
            "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": ua,
            "requestParameters": req, "responseElements": resp, "requestID": uid("req", key),
            "eventID": uid("evt", key), "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
            "recipientAccountId": ACCOUNT, "eventCategory": "Management"}


def items(key, ids):
    return {"items": [{key: i} for i in ids]}


def run_instances(who, t, ip, n, tag, ua=BOTO):
    ids = ["i-" + h(tag, t, k) for k in range(n)]
    return ct(who, t, "RunInstances", ip,
              {"instancesSet": {"items": [{"imageId": "ami-0a1b2c3d4e5f60718", "minCount": n, "maxCount": n}]},
               "instanceType": "m7i.large", "metadataOptions": {"httpTokens": "required"}},
              {"instancesSet": items("instanceId", ids)}, ua)


def terminate(who, t, ip, tag, ua=BOTO):
    iid = "i-" + h("old", tag, t)
    return ct(who, t, "TerminateInstances", ip, {"instancesSet": items("instanceId", [iid])},
              {"instancesSet": {"items": [{"instanceId": iid, "currentState": {"code": 32, "name": "shutting-down"}}]}}, ua)


def delete_snapshot(who, t, ip, tag, ua=BOTO):
    return ct(who, t, "DeleteSnapshot", ip, {"snapshotId": "snap-" + h("snap", tag, t)}, {"_return": True}, ua)


def create_snapshot(who, t, ip, tag, ua=BOTO):
    vol = "vol-" + h("vol", tag)
    return ct(who, t, "CreateSnapshot", ip, {"volumeId": vol, "description": "nightly"},
              {"snapshotId": "snap-" + h("new", tag, t), "volumeId": vol, "status": "pending"}, ua)


def share_snapshot(who, t, ip, snap, account, ua=BOTO):
    return ct(who, t, "ModifySnapshotAttribute", ip,
              {"snapshotId": snap, "attributeType": "CREATE_VOLUME_PERMISSION",
               "createVolumePermission": {"add": {"items": [{"userId": account}]}}}, {"_return": True}, ua)


def simple(who, t, ip, name, req, ua=CLI):
    return ct(who, t, name, ip, req, {"_return": True}, ua.format(cmd=name.lower()))


def fleet_day(day, volume, hours=range(9, 17), ip_net="198.51.100"):
    """The fleet-manager role's routine: replace `volume` workers a day in office hours."""
    out = []
    for k in range(volume):
        hr = hours[k % len(hours)]
        t = at(day, hr, (k * 7) % 60, k % 60)
        who = role("fleet-manager", f"fleet-{h(day, hr, n=8)}")
        ip = f"{ip_net}.{10 + k % 5}"
        out += [run_instances(who, t, ip, 1, f"fleet{day}-{k}"),
                terminate(who, t + timedelta(seconds=30), ip, f"fleet{day}-{k}"),
                delete_snapshot(who, t + timedelta(seconds=45), ip, f"fleet{day}-{k}")]
    return out


def fleet_volume(day):
    return 8 + (day * 5) % 5 + (day % 3)  # 8..12, varying by day


def aws_routine():
    return [e for d in range(1, 16) for e in fleet_day(d, fleet_volume(d))]


def aws_night_burst():
    events = [e for d in range(1, 15) for e in fleet_day(d, fleet_volume(d))]
    top = max(fleet_volume(d) for d in range(1, 15))
    who = role("fleet-manager", "fleet-maint-0215")
    for k in range(3 * top):
        t = at(15, 2, 10 + k // 4, (k * 13) % 60)
        events.append(delete_snapshot(who, t, "203.0.113.66", f"burst-{k}"))
    return events


def publisher_history(days, partner="999988887777"):
    events = []
    for d in days:
        who = role("snapshot-publisher", f"publisher-{d}")
        t = at(d, 1, 5)
        events.append(create_snapshot(who, t, "198.51.100.40", f"pub{d}"))
        if d % 7 == 1:
            events.append(share_snapshot(who, t + timedelta(minutes=20), "198.51.100.40",
                                         "snap-" + h("new", f"pub{d}", t), partner))
    return events


def aws_partner_share():
    return publisher_history(range(1, 16))


def aws_new_destination():
    events = publisher_history(range(1, 15))
    who = role("snapshot-publisher", "publisher-15")
    t = at(15, 1, 5)
    events.append(create_snapshot(who, t, "198.51.100.40", "pub15"))
    events.append(share_snapshot(who, t + timedelta(minutes=20), "198.51.100.40", "snap-" + h("new", "pub15", t),
                                 "123456789012"))
    return events


def aws_new_principal():
    events = [e for d in range(1, 16) for e in fleet_day(d, fleet_volume(d))]
    who = role("gpu-burst-runner", "runner-8f3a")
    for k in range(6):
        events.append(run_instances(who, at(15, 11, 2, k * 9), "192.0.2.77", 5, f"gpu-{k}"))
    return events


def admin_day(day):
    who = iam_user("ops-carol")
    ip = "198.51.100.23"
    return [simple(who, at(day, 9, 40), ip, "StopInstances", {"instancesSet": items("instanceId", ["i-" + h("dev", day)])}),
            simple(who, at(day, 10, 15), ip, "StartInstances", {"instancesSet": items("instanceId", ["i-" + h("dev", day)])}),
            run_instances(who, at(day, 14, 5), ip, 1, f"carol{day}", CLI.format(cmd="run-instances")),
            create_snapshot(who, at(day, 16, 30), ip, f"carol{day}", CLI.format(cmd="create-snapshot"))]


def aws_escalation():
    events = [e for d in range(1, 15) if d % 7 not in (0, 6) for e in admin_day(d)]
    who = iam_user("ops-carol")
    ip = "198.51.100.23"
    events.append(simple(who, at(15, 10, 0), ip, "CreateImage",
                         {"instanceId": "i-" + h("prod-db"), "name": "prod-db-copy", "noReboot": True}))
    for k in range(12):
        name, req = (("DeregisterImage", {"imageId": "ami-" + h("ami", k)}) if k % 2 == 0
                     else ("DeleteSnapshot", {"snapshotId": "snap-" + h("esc", k)}))
        events.append(simple(who, at(15, 10, 20 + k * 3), ip, name, req))
    return events


def user_data(who, t, ip, iid, ua=CLI):
    return simple(who, t, ip, "ModifyInstanceAttribute", {"instanceId": iid, "userData": "<sensitiveDataRemoved>"}, ua)


def stop_start(who, t, ip, iid):
    return [simple(who, t, ip, "StopInstances", {"instancesSet": items("instanceId", [iid])}),
            simple(who, t + timedelta(minutes=40), ip, "StartInstances", {"instancesSet": items("instanceId", [iid])})]


def explorer_days(name, nets):
    """An admin who works from a new network every few days and takes up a new kind of
    operation every few days (an explorer and a roamer), stopping and starting dev instances."""
    who = iam_user(name)
    events = []
    later = {3: ("CreateSnapshot", {"volumeId": "vol-" + h(name, "v")}),
             6: ("CreateVolume", {"size": 20, "availabilityZone": "eu-west-1a"}),
             9: ("TerminateInstances", {"instancesSet": items("instanceId", ["i-" + h(name, "old")])})}
    for d in (d for d in range(1, 15) if d % 7 not in (0, 6)):
        ip = f"{nets[(d // 3) % len(nets)]}.{20 + d}"
        events += stop_start(who, at(d, 9, 30), ip, "i-" + h(name, "dev", d))
        if d in later:
            events.append(simple(who, at(d, 11, 0), ip, *later[d]))
    return who, events


def aws_user_data_swap():
    """Day 15: an explorer admin swaps an instance's user data (stop, new user data, start) from
    a new network: a finding. Another explorer changes a running instance's user data, no stop:
    a weak sign, no finding. The IaC role that swaps user data every weekday does it again: its
    routine, no finding."""
    dave, events = explorer_days("ops-dave", ["198.51.100", "203.0.113", "192.0.2", "100.64.7"])
    iid = "i-" + h("dave", "web")
    events += [simple(dave, at(15, 10, 0), "100.66.1.9", "StopInstances", {"instancesSet": items("instanceId", [iid])}),
               user_data(dave, at(15, 10, 2), "100.66.1.9", iid),
               simple(dave, at(15, 10, 3), "100.66.1.9", "StartInstances", {"instancesSet": items("instanceId", [iid])})]
    erin, more = explorer_days("ops-erin", ["198.51.100", "203.0.113"])
    events += more + [user_data(erin, at(15, 10, 30), "198.51.100.35", "i-" + h("erin", "app"))]
    for d in (d for d in range(1, 16) if d % 7 not in (0, 6)):
        who = role("terraform-apply", f"terraform-{d}")
        iid = "i-" + h("tf", d)
        t = at(d, 13, 10)
        events += [simple(who, t, "198.51.100.90", "StopInstances", {"instancesSet": items("instanceId", [iid])}, BOTO),
                   user_data(who, t + timedelta(minutes=1), "198.51.100.90", iid, BOTO),
                   simple(who, t + timedelta(minutes=2), "198.51.100.90", "StartInstances",
                          {"instancesSet": items("instanceId", [iid])}, BOTO)]
    return events


# --------------------------------------------------------------------------------------------
# Azure Activity Log export records
# --------------------------------------------------------------------------------------------


def az_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def mi_claims(name):
    oid = uid("oid", name)
    return {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{TENANT}/",
            "appid": uid("app", name), "appidacr": "2", "idtyp": "app",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "xms_mirid": f"/subscriptions/{SUB}/resourcegroups/rg-ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"}


def user_claims(upn):
    return {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{TENANT}/",
            "idtyp": "user", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
            "http://schemas.microsoft.com/identity/claims/objectidentifier": uid("oid", upn),
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT, "name": upn.split("@")[0]}


def sp_claims(name):
    return {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{TENANT}/",
            "idtyp": "app", "appid": uid("app", name),
            "http://schemas.microsoft.com/identity/claims/objectidentifier": uid("oid", name),
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT}


def az(claims, t, op, resource, ip, body=None, phases=("Start", "Success")):
    """One operation as the Activity Log writes it: Start, then Success (or Accept), one
    correlation id, a second or two apart."""
    corr = uid("corr", json.dumps(claims, sort_keys=True), t.isoformat(), resource, op)
    out = []
    for i, phase in enumerate(phases):
        props = {"eventCategory": "Administrative", "entity": resource, "message": op}
        if body is not None and phase == "Start":
            props["requestbody"] = json.dumps(body)
        out.append({"time": az_time(t + timedelta(seconds=2 * i)), "resourceId": resource.upper(),
                    "operationName": op.upper(), "category": "Administrative", "resultType": phase,
                    "resultSignature": {"Start": "Started.", "Accept": "Accepted.Accepted"}.get(phase, "Succeeded.OK"),
                    "durationMs": 0 if phase == "Start" else 2000, "callerIpAddress": ip, "correlationId": corr,
                    "identity": {"authorization": {"scope": resource, "action": op}, "claims": claims},
                    "level": "Information", "location": "westeurope", "properties": props, "tenantId": TENANT})
    return out


def vm(rg, name):
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def disk(rg, name):
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"


DEALLOCATE = "Microsoft.Compute/virtualMachines/deallocate/action"


def scheduler_day(day, n):
    """The cost scheduler's routine: deallocate the dev VMs at 19:00, delete scratch disks."""
    claims = mi_claims("mi-cost-scheduler")
    out = []
    for k in range(n):
        out += az(claims, at(day, 19, k, 3), DEALLOCATE, vm("rg-dev", f"dev-vm-{k:02}"), "20.50.2.17",
                  phases=("Start", "Accept", "Success"))
    for k in range(max(2, n // 4)):
        out += az(claims, at(day, 19, 30 + k, 5), "Microsoft.Compute/disks/delete",
                  disk("rg-dev", f"scratch-{day}-{k}"), "20.50.2.17", phases=("Start", "Accept", "Success"))
    return out


def scheduler_volume(day):
    return 10 + day % 4


def azure_routine():
    return [e for d in range(1, 16) for e in scheduler_day(d, scheduler_volume(d))]


def azure_mi_burst():
    events = [e for d in range(1, 15) for e in scheduler_day(d, scheduler_volume(d))]
    claims = mi_claims("mi-cost-scheduler")
    top = max(scheduler_volume(d) for d in range(1, 15))
    for k in range(3 * top):
        events += az(claims, at(15, 3, k // 3, k * 7 % 60), DEALLOCATE, vm("rg-prod", f"prod-vm-{k:02}"),
                     "185.220.101.9", phases=("Start", "Accept", "Success"))
        events += az(claims, at(15, 3, 20 + k // 3, k * 7 % 60), "Microsoft.Compute/virtualMachines/delete",
                     vm("rg-prod", f"prod-vm-{k:02}"), "185.220.101.9", phases=("Start", "Accept", "Success"))
    return events


def gallery_share(claims, t, ip, partner, name="gal_golden"):
    gallery = f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/{name}"
    body = {"operationType": "Add", "groups": [{"type": "Subscriptions", "ids": [partner]}]}
    return az(claims, t, "Microsoft.Compute/galleries/share/action", gallery, ip, body)


def publisher_az(days, partner="cccccccc-9999-8888-7777-666666666666"):
    claims = sp_claims("image-pipeline")
    out = []
    for d in days:
        version = (f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal_golden"
                   f"/images/ubuntu-2404/versions/1.0.{d}")
        out += az(claims, at(d, 2, 0), "Microsoft.Compute/galleries/images/versions/write", version, "20.50.9.4",
                  body={"location": "westeurope"}, phases=("Start", "Accept", "Success"))
        if d % 7 == 1:
            out += gallery_share(claims, at(d, 2, 40), "20.50.9.4", partner)
    return out


def azure_partner_share():
    return publisher_az(range(1, 16))


def azure_new_destination():
    events = publisher_az(range(1, 15))
    events += gallery_share(sp_claims("image-pipeline"), at(15, 2, 40), "20.50.9.4",
                            "dddddddd-1234-5678-9abc-def012345678", "gal_restricted")
    return events


def dba_day(day):
    claims = user_claims("erin@contoso.com")
    out = az(claims, at(day, 10, 5), "Microsoft.Compute/snapshots/write",
             f"/subscriptions/{SUB}/resourceGroups/rg-db/providers/Microsoft.Compute/snapshots/db-{day}",
             "198.51.100.80", body={"location": "westeurope"})
    out += az(claims, at(day, 15, 30), "Microsoft.Compute/virtualMachines/write", vm("rg-db", "db-01"),
              "198.51.100.80", body={"properties": {"hardwareProfile": {"vmSize": "Standard_E8s_v5"}}})
    return out


def azure_disk_sas():
    events = [e for d in range(1, 15) if d % 7 not in (0, 6) for e in dba_day(d)]
    events += az(user_claims("erin@contoso.com"), at(15, 11, 12),
                 "Microsoft.Compute/disks/beginGetAccess/action", disk("rg-db", "db-01-osdisk"), "198.51.100.80",
                 body={"access": "Read", "durationInSeconds": 86400}, phases=("Start", "Accept", "Success"))
    return events


def azure_capture():
    """An established user who never images generalizes and captures a VM (T1578.002)."""
    events = [e for d in range(1, 15) if d % 7 not in (0, 6) for e in dba_day(d)]
    claims = user_claims("erin@contoso.com")
    events += az(claims, at(15, 14, 2), "Microsoft.Compute/virtualMachines/generalize/action", vm("rg-db", "db-01"),
                 "198.51.100.80")
    events += az(claims, at(15, 14, 9), "Microsoft.Compute/virtualMachines/capture/action", vm("rg-db", "db-01"),
                 "198.51.100.80", body={"vhdPrefix": "cap", "destinationContainerName": "vhds"},
                 phases=("Start", "Accept", "Success"))
    return events


def azure_new_principal():
    events = [e for d in range(1, 16) for e in scheduler_day(d, scheduler_volume(d))]
    claims = sp_claims("ci-unknown-app")
    for k in range(8):
        events += az(claims, at(15, 13, k), "Microsoft.Compute/virtualMachines/write", vm("rg-ci", f"ci-{k}"),
                     "192.0.2.140", body={"properties": {"hardwareProfile": {"vmSize": "Standard_NC24ads_A100_v4"}}})
    return events


EXT_WRITE = "Microsoft.Compute/virtualMachines/extensions/write"


def agent_day(day):
    """A fleet identity that keeps the monitoring agent installed on the app VMs every morning."""
    claims = mi_claims("mi-fleet-agent")
    return [e for k in range(3)
            for e in az(claims, at(day, 10, 10 * k), EXT_WRITE,
                        vm("rg-app", f"app-vm-{k}") + "/extensions/AzureMonitorLinuxAgent", "20.50.3.8",
                        body={"properties": {"publisher": "Microsoft.Azure.Monitor"}})]


def azure_extension_variant():
    """Day 15: the fleet identity installs an extension it names CustomScript (a variant of its
    routine extension writes), and the cost scheduler, which never touches extensions, does the
    same: only the scheduler's is a first remote-execution extension."""
    events = [e for d in range(1, 16) for e in agent_day(d) + scheduler_day(d, scheduler_volume(d))]
    events += az(mi_claims("mi-fleet-agent"), at(15, 10, 40), EXT_WRITE,
                 vm("rg-app", "app-vm-1") + "/extensions/CustomScript", "20.50.3.8",
                 body={"properties": {"publisher": "Microsoft.Azure.Extensions"}})
    events += az(mi_claims("mi-cost-scheduler"), at(15, 19, 50), EXT_WRITE,
                 vm("rg-dev", "dev-vm-03") + "/extensions/CustomScript", "20.50.2.17",
                 body={"properties": {"publisher": "Microsoft.Azure.Extensions"}})
    return events


SCENARIOS = {
    "aws-routine-automation": aws_routine,
    "aws-automation-night-burst": aws_night_burst,
    "aws-partner-share": aws_partner_share,
    "aws-new-destination-share": aws_new_destination,
    "aws-new-principal-mass-launch": aws_new_principal,
    "aws-escalation": aws_escalation,
    "aws-user-data-swap": aws_user_data_swap,
    "azure-routine-automation": azure_routine,
    "azure-mi-mass-delete": azure_mi_burst,
    "azure-gallery-partner-share": azure_partner_share,
    "azure-gallery-new-destination": azure_new_destination,
    "azure-disk-sas-export": azure_disk_sas,
    "azure-vm-capture": azure_capture,
    "azure-new-principal": azure_new_principal,
    "azure-extension-variant": azure_extension_variant,
}

if __name__ == "__main__":
    for name, make in SCENARIOS.items():
        d = OUT / name
        d.mkdir(parents=True, exist_ok=True)
        events = sorted(make(), key=lambda e: e.get("eventTime") or e["time"])
        key = "Records" if "eventTime" in events[0] else "records"
        with open(d / "events.json", "w") as f:
            f.write('{"%s": [\n' % key)
            f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in events))
            f.write("\n]}\n")
        print(f"{name}: {len(events)} records")
