//! Benchmark data: JSON lines with the real field sets of CloudTrail records (~1.7 KB) and
//! Azure Activity Log export records (~2.6 KB). About 3 % are in scope, spread over a few
//! thousand principals, plus bursts that must alert. Deterministic for a seed; never committed.

use crate::args::CloudArg;
use serde_json::json;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

const START_MS: i64 = 1_790_000_000_000;
const PRINCIPALS: u64 = 3_000;
const ACCOUNTS: u64 = 20;
const BURST_EVERY: u64 = 50_000;

const AWS_NOISE: [(&str, &str); 10] = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("ec2.amazonaws.com", "DescribeVolumes"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("kms.amazonaws.com", "Decrypt"),
    ("ec2.amazonaws.com", "DescribeSnapshots"),
    ("logs.amazonaws.com", "PutLogEvents"),
    ("iam.amazonaws.com", "GetRole"),
];
/// In-scope calls with one resource each, so a plain SQL engine can count them the same way.
const AWS_SCOPE: [&str; 6] = [
    "CreateSnapshot",
    "DeleteSnapshot",
    "CreateImage",
    "ModifyInstanceAttribute",
    "StopInstances",
    "DeleteVolume",
];

fn aws_record(r: &mut Rng, i: u64, t: i64, name: &str, principal: u64) -> serde_json::Value {
    let acct = format!("{:012}", 100_000_000_000 + principal % ACCOUNTS);
    let region = ["us-east-1", "eu-west-1", "ap-southeast-2"][(principal % 3) as usize];
    let role = principal % 3 == 0;
    let ui = if role {
        json!({"type":"AssumedRole","principalId":format!("AROA{:016X}:session-{}", principal, r.below(1000)),
               "arn":format!("arn:aws:sts::{acct}:assumed-role/ops-role-{principal}/session-{}", r.below(1000)),"accountId":acct,
               "accessKeyId":format!("ASIA{:016X}", r.next()),
               "sessionContext":{"sessionIssuer":{"type":"Role","principalId":format!("AROA{:016X}", principal),
                 "arn":format!("arn:aws:iam::{acct}:role/ops-role-{principal}"),"accountId":acct,"userName":format!("ops-role-{principal}")},
                 "webIdFederationData":{},"attributes":{"creationDate":"2026-10-01T00:00:00Z","mfaAuthenticated":"false"}}})
    } else {
        json!({"type":"IAMUser","principalId":format!("AIDA{:016X}", principal),"arn":format!("arn:aws:iam::{acct}:user/user-{principal}"),
               "accountId":acct,"accessKeyId":format!("AKIA{:016X}", r.next()),"userName":format!("user-{principal}")})
    };
    let id = |p: &str, r: &mut Rng| format!("{p}-{:017x}", r.next() >> 4);
    let (source, req, resp) = match name {
        "CreateSnapshot" => {
            let snap = id("snap", r);
            (
                "ec2.amazonaws.com",
                json!({"volumeId": id("vol", r), "description": "nightly"}),
                json!({"snapshotId": snap, "volumeId": id("vol", r), "status": "pending", "startTime": t, "progress": "", "ownerId": acct, "volumeSize": 100, "encrypted": true}),
            )
        }
        "DeleteSnapshot" => (
            "ec2.amazonaws.com",
            json!({"snapshotId": id("snap", r)}),
            json!({"_return": true}),
        ),
        "DeleteVolume" => (
            "ec2.amazonaws.com",
            json!({"volumeId": id("vol", r)}),
            json!({"_return": true}),
        ),
        "CreateImage" => (
            "ec2.amazonaws.com",
            json!({"instanceId": id("i", r), "name": format!("img-{i}"), "noReboot": true}),
            json!({"imageId": id("ami", r)}),
        ),
        "ModifyInstanceAttribute" => (
            "ec2.amazonaws.com",
            json!({"instanceId": id("i", r), "userData": "<sensitiveDataRemoved>"}),
            json!({"_return": true}),
        ),
        "StopInstances" => {
            let inst = id("i", r);
            (
                "ec2.amazonaws.com",
                json!({"instancesSet": {"items": [{"instanceId": inst}]}, "force": false}),
                json!({"instancesSet": {"items": [{"instanceId": inst, "currentState": {"code": 64, "name": "stopping"}, "previousState": {"code": 16, "name": "running"}}]}}),
            )
        }
        _ => {
            let (src, _) = AWS_NOISE
                .iter()
                .find(|(_, n)| *n == name)
                .copied()
                .unwrap_or(("ec2.amazonaws.com", name));
            (
                src,
                json!({"filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "platform"}]}}]}, "maxResults": 1000, "bucketName": "logs-archive", "key": format!("2026/10/{i}.gz")}),
                serde_json::Value::Null,
            )
        }
    };
    json!({
        "eventVersion": "1.09", "userIdentity": ui,
        "eventTime": t1578_core::alert::rfc3339(t).replace(".000Z", "Z"),
        "eventSource": source, "eventName": name, "awsRegion": region,
        "sourceIPAddress": format!("198.51.{}.{}", principal % 250, r.below(250)),
        "userAgent": format!("aws-cli/2.17.{} md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#ec2.{}", principal % 30, name.to_ascii_lowercase()),
        "requestParameters": req, "responseElements": resp,
        "requestID": r.uuid(), "eventID": r.uuid(), "readOnly": !AWS_SCOPE.contains(&name), "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": acct, "eventCategory": "Management",
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": format!("{:016x}{:016x}{:016x}{:016x}/Yv4lAN1xZuqJ0mX3wk0aW5Q=", r.next(), r.next(), r.next(), r.next()), "bytesTransferredOut": r.below(100_000)},
        "sessionCredentialFromConsole": "false", "vpcEndpointId": format!("vpce-{:017x}", principal),
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.split('.').next().unwrap_or("ec2"))}
    })
}

const AZURE_NOISE: [&str; 6] = [
    "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
    "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
    "MICROSOFT.RESOURCES/DEPLOYMENTS/WRITE",
    "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/WRITE",
    "MICROSOFT.KEYVAULT/VAULTS/WRITE",
    "MICROSOFT.WEB/SITES/RESTART/ACTION",
];
const AZURE_SCOPE: [&str; 5] = [
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
    "MICROSOFT.COMPUTE/SNAPSHOTS/WRITE",
    "MICROSOFT.COMPUTE/DISKS/DELETE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/DEALLOCATE/ACTION",
];

fn azure_record(
    r: &mut Rng,
    t: i64,
    op: &str,
    principal: u64,
    status: &str,
    corr: &str,
    resource: &str,
) -> serde_json::Value {
    let sub = format!("{:08x}-1111-2222-3333-444444444444", principal % ACCOUNTS);
    let upn = format!("user{principal}@contoso.com");
    json!({
        "RoleLocation": "West Europe", "Stamp": "FDWeb", "ReleaseVersion": "6.2025.14.4+0123456.release_2025w14",
        "time": t1578_core::alert::rfc3339(t).replace("Z", "0000Z"),
        "resourceId": resource, "operationName": op, "category": "Administrative",
        "resultType": status, "resultSignature": if status == "Start" { "Started." } else { "Succeeded.OK" },
        "durationMs": "0", "callerIpAddress": format!("203.0.{}.{}", principal % 250, principal % 7), "correlationId": corr,
        "identity": {
            "authorization": {"scope": resource.to_ascii_lowercase(), "action": op.to_ascii_lowercase(),
                "evidence": {"role": "Contributor", "roleAssignmentScope": format!("/subscriptions/{sub}"), "roleAssignmentId": format!("{:032x}", principal),
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c", "principalId": format!("{:032x}", principal * 7919), "principalType": "User"}},
            "claims": {"aud": "https://management.core.windows.net/", "iss": "https://sts.windows.net/22222222-2222-2222-2222-222222222222/",
                "iat": "1744711621", "nbf": "1744711621", "exp": "1744717084", "http://schemas.microsoft.com/claims/authnclassreference": "1",
                "aio": format!("AaQAW/8ZAAAA{:016x}{:016x}", r.next(), r.next()),
                "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa", "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "appidacr": "0",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": "Doe", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": "John",
                "idtyp": "user", "ipaddr": format!("203.0.{}.{}", principal % 250, principal % 7),
                "name": format!("User {principal}"), "http://schemas.microsoft.com/identity/claims/objectidentifier": r.uuid(),
                "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
                "http://schemas.microsoft.com/identity/claims/tenantid": "22222222-2222-2222-2222-222222222222", "ver": "1.0",
                "xms_tcdt": "1391159646"}
        },
        "level": "Informational",
        "properties": {"eventCategory": "Administrative", "entity": resource, "message": op.to_ascii_lowercase(),
            "hierarchy": format!("22222222-2222-2222-2222-222222222222/{sub}"), "statusCode": if status == "Start" { "" } else { "OK" },
            "serviceRequestId": r.uuid()},
        "tenantId": "22222222-2222-2222-2222-222222222222"
    })
}

pub fn generate(cloud: CloudArg, records: u64, seed: u64, out: &Path) -> anyhow::Result<ExitCode> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    let step = 30 * 86_400_000 / records.max(1) as i64;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < records {
        let t = START_MS + written as i64 * step;
        let burst = i % BURST_EVERY == BURST_EVERY - 1;
        let principal = if burst {
            i / BURST_EVERY % PRINCIPALS
        } else {
            r.below(PRINCIPALS)
        };
        let in_scope = burst || r.below(100) < 3;
        match cloud {
            CloudArg::Aws => {
                let n = if burst { 8 } else { 1 };
                for k in 0..n {
                    let name = if burst {
                        "DeleteSnapshot"
                    } else if in_scope {
                        AWS_SCOPE[r.below(AWS_SCOPE.len() as u64) as usize]
                    } else {
                        AWS_NOISE[r.below(AWS_NOISE.len() as u64) as usize].1
                    };
                    serde_json::to_writer(&mut w, &aws_record(&mut r, i, t + k, name, principal))?;
                    w.write_all(b"\n")?;
                    written += 1;
                }
            }
            CloudArg::Azure => {
                let sub = format!("{:08x}-1111-2222-3333-444444444444", principal % ACCOUNTS);
                let n = if burst { 4 } else { 1 };
                for k in 0..n {
                    let op = if burst {
                        "MICROSOFT.COMPUTE/SNAPSHOTS/DELETE"
                    } else if in_scope {
                        AZURE_SCOPE[r.below(AZURE_SCOPE.len() as u64) as usize]
                    } else {
                        AZURE_NOISE[r.below(AZURE_NOISE.len() as u64) as usize]
                    };
                    let kind = op.split('/').nth(1).unwrap_or("X");
                    let resource = format!(
                        "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG-{}/PROVIDERS/{}/{}/RES-{}",
                        sub.to_uppercase(),
                        principal % 40,
                        op.split('/').next().unwrap_or(""),
                        kind,
                        r.below(1_000_000)
                    );
                    let corr = r.uuid();
                    // Write operations log Start then Success, as the Activity Log does.
                    for (j, status) in ["Start", "Success"].iter().enumerate() {
                        serde_json::to_writer(
                            &mut w,
                            &azure_record(
                                &mut r,
                                t + k + j as i64 * 1000,
                                op,
                                principal,
                                status,
                                &corr,
                                &resource,
                            ),
                        )?;
                        w.write_all(b"\n")?;
                        written += 1;
                    }
                }
            }
        }
        i += 1;
    }
    w.flush()?;
    eprintln!("t1578: wrote {written} records to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
