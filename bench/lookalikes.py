"""Benchmark data with the look-alikes real trails have, in the layouts archives are kept in.

Usage:
  lookalikes.py aws|azure --records N --out FILE.jsonl [--s3 DIR] [--seed S]

Besides out-of-scope noise and in-scope calls (about 3 %, bursts that must alert every 50,000
records), it writes what a byte-level filter on the operation name cannot tell from an in-scope
record:
- AWS: same-named calls of other services (ElastiCache, Directory Service, FSx, Storage Gateway,
  Image Builder `CreateSnapshot`/`DeleteSnapshot`/`DeleteVolume`/`CreateImage`), failed and dry-run
  in-scope calls, EC2 operations outside the catalog, and assumed-role callers whose session rotates
  (the seed groups by `userIdentity.arn`, so each session is its own caller);
- Azure: Start/Accept/Success triples of long-running operations, failed in-scope calls,
  Microsoft.Compute operations outside the catalog, and callers that are users, service principals
  and managed identities (AzureActivity's `Caller` is the UPN or the object id).

`--s3 DIR` also writes the same AWS records in CloudTrail's S3 delivery layout:
`DIR/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_X.json.gz`,
each file `{"Records":[...]}` of one account and region, a new file every 250 records or day.
For Azure, `--s3 DIR` writes the Activity Log storage export layout instead:
`DIR/insights-activity-logs/resourceId=/SUBSCRIPTIONS/SUB/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`
(JSON lines). Deterministic for a seed; the data is never committed.
"""
import argparse
import datetime
import gzip
import json
import os
import random

START = datetime.datetime(2026, 9, 21, 12, 53, 20, tzinfo=datetime.timezone.utc)  # 1,790,000,000 s
SPAN_S = 30 * 86400
PRINCIPALS = 3000
ACCOUNTS = 20
BURST_EVERY = 50_000
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

AWS_NOISE = [("ec2.amazonaws.com", "DescribeInstances"), ("s3.amazonaws.com", "GetObject"),
             ("sts.amazonaws.com", "AssumeRole"), ("s3.amazonaws.com", "ListBuckets"),
             ("ec2.amazonaws.com", "DescribeVolumes"), ("sts.amazonaws.com", "GetCallerIdentity"),
             ("kms.amazonaws.com", "Decrypt"), ("ec2.amazonaws.com", "DescribeSnapshots"),
             ("logs.amazonaws.com", "PutLogEvents"), ("iam.amazonaws.com", "GetRole")]
# The EC2 rows of the catalog that the DuckDB port (bench/duck.py) scores, one resource each.
AWS_SCOPE = ["CreateSnapshot", "DeleteSnapshot", "CreateImage", "ModifyInstanceAttribute", "StopInstances",
             "DeleteVolume"]
# Same names, other services: not in the catalog (it keys on service and name).
AWS_SAME_NAME = [("elasticache.amazonaws.com", "CreateSnapshot"), ("elasticache.amazonaws.com", "DeleteSnapshot"),
                 ("ds.amazonaws.com", "CreateSnapshot"), ("fsx.amazonaws.com", "DeleteSnapshot"),
                 ("storagegateway.amazonaws.com", "DeleteVolume"), ("storagegateway.amazonaws.com", "CreateSnapshot"),
                 ("imagebuilder.amazonaws.com", "CreateImage")]
AWS_OTHER_COMPUTE = ["RebootInstances", "CreateTags", "ModifyVolume", "DescribeInstanceStatus", "MonitorInstances",
                     "CreateKeyPair", "AuthorizeSecurityGroupIngress"]
AWS_ERRORS = [("Client.UnauthorizedOperation", "You are not authorized to perform this operation."),
              ("Client.InvalidSnapshot.NotFound", "The snapshot does not exist."),
              ("Client.DryRunOperation", "Request would have succeeded, but DryRun flag is set.")]

AZURE_NOISE = ["MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION", "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
               "MICROSOFT.RESOURCES/DEPLOYMENTS/WRITE", "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/WRITE",
               "MICROSOFT.KEYVAULT/VAULTS/WRITE", "MICROSOFT.WEB/SITES/RESTART/ACTION"]
AZURE_SCOPE = ["MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE", "MICROSOFT.COMPUTE/SNAPSHOTS/WRITE",
               "MICROSOFT.COMPUTE/DISKS/DELETE", "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
               "MICROSOFT.COMPUTE/VIRTUALMACHINES/DEALLOCATE/ACTION"]
AZURE_OTHER_COMPUTE = ["MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION", "MICROSOFT.COMPUTE/VIRTUALMACHINES/RESTART/ACTION",
                       "MICROSOFT.COMPUTE/AVAILABILITYSETS/WRITE", "MICROSOFT.COMPUTE/VIRTUALMACHINES/EXTENSIONS/READ",
                       "MICROSOFT.COMPUTE/DISKS/ENDGETACCESS/ACTION", "MICROSOFT.CLASSICCOMPUTE/VIRTUALMACHINES/DELETE"]
CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def iso(t, azure=False):
    d = START + datetime.timedelta(milliseconds=t)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    return s + (".%03d0000Z" % (d.microsecond // 1000) if azure else "Z")


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def uuid(self):
        return "%08x-%04x-4%03x-a%03x-%012x" % tuple(self.r.getrandbits(b) for b in (32, 16, 12, 12, 48))

    def hexid(self, prefix):
        return "%s-%017x" % (prefix, self.r.getrandbits(68))

    def user_identity(self, p, acct):
        if p % 3 == 0:
            session = "session-%d" % self.r.randrange(40)
            return {"type": "AssumedRole", "principalId": "AROA%016X:%s" % (p, session),
                    "arn": "arn:aws:sts::%s:assumed-role/ops-role-%d/%s" % (acct, p, session), "accountId": acct,
                    "accessKeyId": "ASIA%016X" % self.r.getrandbits(64),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA%016X" % p,
                                                         "arn": "arn:aws:iam::%s:role/ops-role-%d" % (acct, p),
                                                         "accountId": acct, "userName": "ops-role-%d" % p},
                                       "webIdFederationData": {},
                                       "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"}}}
        return {"type": "IAMUser", "principalId": "AIDA%016X" % p, "arn": "arn:aws:iam::%s:user/user-%d" % (acct, p),
                "accountId": acct, "accessKeyId": "AKIA%016X" % self.r.getrandbits(64), "userName": "user-%d" % p}

    def aws_params(self, source, name, acct, t):
        h = self.hexid
        if source != "ec2.amazonaws.com" or name not in AWS_SCOPE:
            if name in ("CreateSnapshot", "DeleteSnapshot"):
                return {"snapshotName": "nightly-%d" % self.r.randrange(10**6), "cacheClusterId": "cache-1"}, None
            if name == "DeleteVolume":
                return {"volumeARN": "arn:aws:storagegateway:us-east-1:%s:gateway/sgw-1/volume/%s" % (acct, h("vol"))}, None
            return {"filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "platform"}]}}]},
                    "maxResults": 1000, "bucketName": "logs-archive", "key": "2026/10/%d.gz" % t}, None
        if name == "CreateSnapshot":
            return {"volumeId": h("vol"), "description": "nightly"}, \
                {"snapshotId": h("snap"), "volumeId": h("vol"), "status": "pending", "startTime": t, "progress": "",
                 "ownerId": acct, "volumeSize": 100, "encrypted": True}
        if name == "DeleteSnapshot":
            return {"snapshotId": h("snap")}, {"_return": True}
        if name == "DeleteVolume":
            return {"volumeId": h("vol")}, {"_return": True}
        if name == "CreateImage":
            return {"instanceId": h("i"), "name": "img-%d" % t, "noReboot": True}, {"imageId": h("ami")}
        if name == "ModifyInstanceAttribute":
            return {"instanceId": h("i"), "userData": "<sensitiveDataRemoved>"}, {"_return": True}
        inst = h("i")
        return {"instancesSet": {"items": [{"instanceId": inst}]}, "force": False}, \
            {"instancesSet": {"items": [{"instanceId": inst, "currentState": {"code": 64, "name": "stopping"},
                                         "previousState": {"code": 16, "name": "running"}}]}}

    def aws(self, t, source, name, p, error=None):
        acct = "%012d" % (100_000_000_000 + p % ACCOUNTS)
        region = REGIONS[p % 3]
        req, resp = self.aws_params(source, name, acct, t)
        rec = {"eventVersion": "1.09", "userIdentity": self.user_identity(p, acct), "eventTime": iso(t),
               "eventSource": source, "eventName": name, "awsRegion": region,
               "sourceIPAddress": "198.51.%d.%d" % (p % 250, self.r.randrange(4)),
               "userAgent": "aws-cli/2.17.%d md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 "
                            "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off "
                            "md/command#%s" % (p % 30, name.lower())}
        if error:
            rec["errorCode"], rec["errorMessage"] = error
            resp = None
        rec.update({"requestParameters": req, "responseElements": resp, "requestID": self.uuid(),
                    "eventID": self.uuid(), "readOnly": name.startswith(("Describe", "Get", "List")),
                    "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": acct,
                    "eventCategory": "Management",
                    "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                            "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                            "x-amz-id-2": "%064x/Yv4lAN1xZuqJ0mX3wk0aW5Q=" % self.r.getrandbits(256),
                                            "bytesTransferredOut": self.r.randrange(100_000)},
                    "sessionCredentialFromConsole": "false", "vpcEndpointId": "vpce-%017x" % p,
                    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                   "clientProvidedHostHeader": "%s.%s.amazonaws.com" % (source.split(".")[0], region)}})
        return rec

    def aws_pick(self, burst):
        """(source, name, error) of one record."""
        if burst:
            return "ec2.amazonaws.com", "DeleteSnapshot", None
        x = self.r.randrange(1000)
        if x < 30:
            return "ec2.amazonaws.com", self.r.choice(AWS_SCOPE), None
        if x < 50:
            s, n = self.r.choice(AWS_SAME_NAME)
            return s, n, None
        if x < 70:
            return "ec2.amazonaws.com", self.r.choice(AWS_SCOPE), self.r.choice(AWS_ERRORS)
        if x < 110:
            return "ec2.amazonaws.com", self.r.choice(AWS_OTHER_COMPUTE), None
        s, n = self.r.choice(AWS_NOISE)
        return s, n, None

    def azure_identity(self, p, op, resource):
        sub = "%08x-1111-2222-3333-444444444444" % (p % ACCOUNTS)
        kind = p % 10
        oid = "%08x-0000-4000-8000-%012x" % (p, p * 7919)
        claims = {"aud": "https://management.core.windows.net/",
                  "iss": "https://sts.windows.net/22222222-2222-2222-2222-222222222222/",
                  "iat": "1744711621", "nbf": "1744711621", "exp": "1744717084",
                  "aio": "AaQAW/8ZAAAA%032x" % self.r.getrandbits(128), OID: oid,
                  "http://schemas.microsoft.com/identity/claims/tenantid": "22222222-2222-2222-2222-222222222222",
                  "ver": "1.0", "xms_tcdt": "1391159646"}
        if kind == 0:  # managed identity
            claims.update({"appid": "%08x-5555-4000-8000-000000000000" % p, "appidacr": "2", "idtyp": "app",
                           "xms_mirid": "/subscriptions/%s/resourcegroups/rg-%d/providers/Microsoft.ManagedIdentity/"
                                        "userAssignedIdentities/mi-%d" % (sub, p % 40, p)})
            ptype = "ServicePrincipal"
        elif kind == 1:  # application
            claims.update({"appid": "%08x-6666-4000-8000-000000000000" % p, "appidacr": "1", "idtyp": "app"})
            ptype = "ServicePrincipal"
        else:
            upn = "user%d@contoso.com" % p
            claims.update({"http://schemas.microsoft.com/claims/authnclassreference": "1",
                           "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
                           "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "appidacr": "0",
                           CLAIM + "upn": upn, CLAIM + "name": upn, CLAIM + "surname": "Doe",
                           CLAIM + "givenname": "John", "idtyp": "user", "ipaddr": "203.0.%d.%d" % (p % 250, p % 7),
                           "name": "User %d" % p,
                           "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation"})
            ptype = "User"
        return {"authorization": {"scope": resource.lower(), "action": op.lower(),
                                  "evidence": {"role": "Contributor", "roleAssignmentScope": "/subscriptions/" + sub,
                                               "roleAssignmentId": "%032x" % p,
                                               "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                                               "principalId": oid.replace("-", ""), "principalType": ptype}},
                "claims": claims}

    def azure(self, t, op, p, status, corr, resource):
        sig = {"Start": "Started.", "Accept": "Accepted.Created", "Success": "Succeeded.OK",
               "Failure": "Failed.Forbidden"}[status]
        return {"RoleLocation": "West Europe", "Stamp": "FDWeb", "ReleaseVersion": "6.2025.14.4+0123456.release_2025w14",
                "time": iso(t, azure=True), "resourceId": resource, "operationName": op, "category": "Administrative",
                "resultType": status, "resultSignature": sig, "durationMs": "0",
                "callerIpAddress": "203.0.%d.%d" % (p % 250, p % 7), "correlationId": corr,
                "identity": self.azure_identity(p, op, resource), "level": "Informational",
                "properties": {"eventCategory": "Administrative", "entity": resource, "message": op.lower(),
                               "hierarchy": "22222222-2222-2222-2222-222222222222/%08x-1111-2222-3333-444444444444" % (p % ACCOUNTS),
                               "statusCode": {"Start": "", "Accept": "Accepted", "Success": "OK", "Failure": "Forbidden"}[status],
                               "serviceRequestId": self.uuid()},
                "tenantId": "22222222-2222-2222-2222-222222222222"}

    def azure_group(self, t, burst, p):
        """Records of one operation: Start/Success, a Start/Accept/Success triple, or a failure."""
        x = self.r.randrange(1000)
        if burst:
            op, phases = "MICROSOFT.COMPUTE/SNAPSHOTS/DELETE", ["Start", "Success"]
        elif x < 30:
            op = self.r.choice(AZURE_SCOPE)
            phases = ["Start", "Accept", "Success"] if x < 15 else ["Start", "Success"]
        elif x < 45:
            op, phases = self.r.choice(AZURE_SCOPE), ["Start", "Failure"]
        elif x < 85:
            op, phases = self.r.choice(AZURE_OTHER_COMPUTE), ["Start", "Success"]
        else:
            op, phases = self.r.choice(AZURE_NOISE), ["Start", "Success"]
        sub = "%08x-1111-2222-3333-444444444444" % (p % ACCOUNTS)
        provider, kind = op.split("/")[0], op.split("/")[1]
        resource = "/SUBSCRIPTIONS/%s/RESOURCEGROUPS/RG-%d/PROVIDERS/%s/%s/RES-%d" % (
            sub.upper(), p % 40, provider, kind, self.r.randrange(10**6))
        corr = self.uuid()
        return [self.azure(t + j * 1000, op, p, s, corr, resource) for j, s in enumerate(phases)]


def records(cloud, n, seed):
    """Yield (time_ms, principal, record) in time order, `n` records."""
    g = Gen(seed)
    step = SPAN_S * 1000 // max(n, 1)
    written = i = 0
    while written < n:
        t = written * step
        burst = i % BURST_EVERY == BURST_EVERY - 1
        p = (i // BURST_EVERY) % PRINCIPALS if burst else g.r.randrange(PRINCIPALS)
        if cloud == "aws":
            for k in range(8 if burst else 1):
                s, name, err = g.aws_pick(burst)
                yield t + k, p, g.aws(t + k, s, name, p, err)
                written += 1
        else:
            for k in range(4 if burst else 1):
                for rec in g.azure_group(t + k, burst, p):
                    yield t + k, p, rec
                    written += 1
        i += 1


class S3Layout:
    """CloudTrail's delivery layout: one gzip file per account, region and 250 records or day."""

    def __init__(self, root, seed):
        self.root, self.open, self.r = root, {}, random.Random(seed)
        self.files = 0

    def add(self, t, p, line):
        acct, region = "%012d" % (100_000_000_000 + p % ACCOUNTS), REGIONS[p % 3]
        day = t // 86_400_000
        key = (acct, region)
        cur = self.open.get(key)
        if cur and (cur[1] != day or len(cur[2]) >= 250):
            self.flush(key)
            cur = None
        if cur is None:
            cur = self.open[key] = [t, day, []]
        cur[2].append(line)

    def flush(self, key):
        t, _, lines = self.open.pop(key)
        acct, region = key
        d = START + datetime.timedelta(milliseconds=t)
        folder = os.path.join(self.root, "AWSLogs", acct, "CloudTrail", region, d.strftime("%Y/%m/%d"))
        os.makedirs(folder, exist_ok=True)
        name = "%s_CloudTrail_%s_%s_%016X.json.gz" % (acct, region, d.strftime("%Y%m%dT%H%MZ"), self.r.getrandbits(64))
        with gzip.open(os.path.join(folder, name), "wb", compresslevel=6) as f:
            f.write(b'{"Records":[' + b",".join(lines) + b"]}")
        self.files += 1

    def close(self):
        for key in list(self.open):
            self.flush(key)


class AzureExportLayout:
    """The Activity Log storage export: one PT1H.json (JSON lines) per subscription and hour."""

    def __init__(self, root):
        self.root, self.handles, self.files = root, {}, 0

    def add(self, t, p, line):
        sub = "%08X-1111-2222-3333-444444444444" % (p % ACCOUNTS)
        d = START + datetime.timedelta(milliseconds=t)
        key = (sub, d.strftime("y=%Y/m=%m/d=%d/h=%H"))
        f = self.handles.get(key)
        if f is None:
            # Hours end: close the files of earlier hours (records come in time order).
            for k in [k for k in self.handles if k[1] != key[1]]:
                self.handles.pop(k).close()
            folder = os.path.join(self.root, "insights-activity-logs", "resourceId=", "SUBSCRIPTIONS", sub, key[1], "m=00")
            os.makedirs(folder, exist_ok=True)
            f = self.handles[key] = open(os.path.join(folder, "PT1H.json"), "ab")
            self.files += 1
        f.write(line + b"\n")

    def close(self):
        for f in self.handles.values():
            f.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cloud", choices=["aws", "azure"])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--s3", help="also write the archive layout under this directory")
    a = ap.parse_args()
    layout = None
    if a.s3:
        if os.path.isdir(a.s3) and os.listdir(a.s3):
            raise SystemExit(f"{a.s3} is not empty: the layout is written into a new directory")
        layout = S3Layout(a.s3, a.seed) if a.cloud == "aws" else AzureExportLayout(a.s3)
    with open(a.out, "wb") as out:
        for t, p, rec in records(a.cloud, a.records, a.seed):
            line = json.dumps(rec, separators=(",", ":")).encode()
            out.write(line + b"\n")
            if layout:
                layout.add(t, p, line)
    if layout:
        layout.close()


if __name__ == "__main__":
    main()
