//! CloudTrail calls with the request and response shapes EC2, RDS and the read APIs log.

use super::Pools;
use crate::workload::common::Rng;
use serde_json::{json, Value};

pub struct Call {
    pub name: &'static str,
    pub source: &'static str,
    pub req: Value,
    pub resp: Value,
    pub err: Option<(&'static str, String)>,
    pub read_only: bool,
    /// A compute change as T1578 understands it (successful or not); the rest is noise.
    pub compute: bool,
    pub service_event: bool,
    pub details: Value,
}

impl Call {
    fn ec2(name: &'static str, req: Value, resp: Value) -> Call {
        Call {
            name,
            source: "ec2.amazonaws.com",
            req,
            resp,
            err: None,
            read_only: false,
            compute: true,
            service_event: false,
            details: Value::Null,
        }
    }
    fn read(source: &'static str, name: &'static str, req: Value) -> Call {
        Call {
            name,
            source,
            req,
            resp: Value::Null,
            err: None,
            read_only: true,
            compute: false,
            service_event: false,
            details: Value::Null,
        }
    }
    pub fn failed(mut self, code: &'static str, msg: String) -> Call {
        self.err = Some((code, msg));
        self
    }
    pub fn dry_run(self) -> Call {
        self.failed(
            "Client.DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.".into(),
        )
    }
}

/// The compute operations principals perform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Run,
    Terminate,
    Stop,
    Start,
    Snap,
    DelSnap,
    CopySnapDr,
    Image,
    Dereg,
    NewVol,
    Attach,
    Detach,
    DelVol,
    InstType,
    GroupSet,
    UserData,
    LtVersion,
    Fleet,
    DbSnap,
    DelDbSnap,
}

pub fn id(r: &mut Rng, prefix: &str) -> String {
    format!("{prefix}-{}", r.hex(17))
}

/// The oldest id of a pool, or one that existed before the workload began.
fn take(r: &mut Rng, pool: &mut Vec<String>, prefix: &str) -> String {
    if pool.is_empty() {
        id(r, prefix)
    } else {
        pool.remove(0)
    }
}

fn keep(pool: &mut Vec<String>, id: String) {
    pool.push(id);
    if pool.len() > 300 {
        pool.remove(0);
    }
}

fn items(ids: &[String], key: &str) -> Value {
    json!({"items": ids.iter().map(|i| json!({key: i})).collect::<Vec<_>>()})
}

fn states(ids: &[String], cur: (u32, &str), prev: (u32, &str)) -> Value {
    json!({"instancesSet": {"items": ids.iter().map(|i| json!({"instanceId": i,
        "currentState": {"code": cur.0, "name": cur.1}, "previousState": {"code": prev.0, "name": prev.1}})).collect::<Vec<_>>()}})
}

pub const TYPES: [&str; 8] = [
    "t3.medium",
    "t3.large",
    "m6i.large",
    "m6i.xlarge",
    "c6i.2xlarge",
    "r6i.xlarge",
    "m7g.large",
    "c7g.xlarge",
];

pub fn run_instances(
    r: &mut Rng,
    acct: &str,
    region: &str,
    n: u32,
    itype: &str,
    t: i64,
) -> (Call, Vec<String>) {
    let t = t - t.rem_euclid(1000);
    let ids: Vec<String> = (0..n).map(|_| id(r, "i")).collect();
    let ami = id(r, "ami");
    let subnet = id(r, "subnet");
    let req = json!({"instancesSet": {"items": [{"imageId": ami, "minCount": n, "maxCount": n}]}, "instanceType": itype,
        "blockDeviceMapping": {}, "monitoring": {"enabled": false}, "subnetId": subnet, "disableApiTermination": false,
        "disableApiStop": false, "clientToken": r.uuid(), "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2},
        "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": format!("worker-{}", r.hex(6))}]}]}});
    let items: Vec<Value> = ids
        .iter()
        .map(|i| json!({"instanceId": i, "imageId": ami, "instanceState": {"code": 0, "name": "pending"},
            "instanceType": itype, "launchTime": t, "placement": {"availabilityZone": format!("{region}a"), "tenancy": "default"},
            "privateIpAddress": format!("10.{}.{}.{}", r.below(256), r.below(256), r.range(4, 250)), "subnetId": subnet,
            "architecture": "x86_64", "rootDeviceType": "ebs", "virtualizationType": "hvm", "hypervisor": "xen"}))
        .collect();
    let resp = json!({"reservationId": id(r, "r"), "ownerId": acct, "groupSet": {}, "instancesSet": {"items": items}});
    (Call::ec2("RunInstances", req, resp), ids)
}

pub fn terminate(ids: &[String]) -> Call {
    Call::ec2(
        "TerminateInstances",
        json!({"instancesSet": items(ids, "instanceId")}),
        states(ids, (32, "shutting-down"), (16, "running")),
    )
}

pub fn stop(ids: &[String]) -> Call {
    Call::ec2(
        "StopInstances",
        json!({"instancesSet": items(ids, "instanceId"), "force": false}),
        states(ids, (64, "stopping"), (16, "running")),
    )
}

pub fn start(ids: &[String]) -> Call {
    Call::ec2(
        "StartInstances",
        json!({"instancesSet": items(ids, "instanceId")}),
        states(ids, (0, "pending"), (80, "stopped")),
    )
}

pub fn create_snapshot(r: &mut Rng, acct: &str, vol: &str, desc: &str, t: i64) -> (Call, String) {
    let t = t - t.rem_euclid(1000);
    let snap = id(r, "snap");
    let size = *r.pick(&[8, 20, 50, 100, 200, 500]);
    let call = Call::ec2(
        "CreateSnapshot",
        json!({"volumeId": vol, "description": desc}),
        json!({"snapshotId": snap, "volumeId": vol, "status": "pending", "startTime": t, "progress": "",
            "ownerId": acct, "description": desc, "volumeSize": size, "encrypted": true, "storageTier": "standard"}),
    );
    (call, snap)
}

pub fn delete_snapshot(snap: &str) -> Call {
    Call::ec2(
        "DeleteSnapshot",
        json!({"snapshotId": snap}),
        json!({"_return": true}),
    )
}

pub fn copy_snapshot(r: &mut Rng, snap: &str, from: &str) -> (Call, String) {
    let new = id(r, "snap");
    let call = Call::ec2(
        "CopySnapshot",
        json!({"sourceRegion": from, "sourceSnapshotId": snap, "description": format!("[Copied {snap} from {from}]"), "encrypted": true}),
        json!({"snapshotId": new}),
    );
    (call, new)
}

pub fn create_image(r: &mut Rng, inst: &str, name: &str) -> (Call, String) {
    let ami = id(r, "ami");
    let call = Call::ec2(
        "CreateImage",
        json!({"instanceId": inst, "name": name, "description": format!("{name} image"), "noReboot": true}),
        json!({"imageId": ami}),
    );
    (call, ami)
}

pub fn deregister(ami: &str) -> Call {
    Call::ec2(
        "DeregisterImage",
        json!({"imageId": ami}),
        json!({"_return": true}),
    )
}

pub fn create_volume(r: &mut Rng, region: &str, snap: Option<&str>, t: i64) -> (Call, String) {
    let t = t - t.rem_euclid(1000);
    let vol = id(r, "vol");
    let size = *r.pick(&[20, 50, 100, 200]);
    let zone = format!("{region}{}", r.pick(&["a", "b", "c"]));
    let mut req = json!({"size": size, "zone": zone, "volumeType": "gp3", "encrypted": true});
    if let Some(s) = snap {
        req["snapshotId"] = json!(s);
    }
    let resp = json!({"volumeId": vol, "size": size, "zone": zone, "status": "creating", "createTime": t,
        "volumeType": "gp3", "iops": 3000, "throughput": 125, "encrypted": true, "multiAttachEnabled": false});
    (Call::ec2("CreateVolume", req, resp), vol)
}

pub fn attach(vol: &str, inst: &str, t: i64) -> Call {
    let t = t - t.rem_euclid(1000);
    Call::ec2(
        "AttachVolume",
        json!({"volumeId": vol, "instanceId": inst, "device": "/dev/sdf"}),
        json!({"volumeId": vol, "instanceId": inst, "device": "/dev/sdf", "status": "attaching", "attachTime": t, "deleteOnTermination": false}),
    )
}

pub fn detach(vol: &str, inst: &str, t: i64) -> Call {
    let t = t - t.rem_euclid(1000);
    Call::ec2(
        "DetachVolume",
        json!({"volumeId": vol, "force": false}),
        json!({"volumeId": vol, "instanceId": inst, "device": "/dev/sdf", "status": "detaching", "attachTime": t, "deleteOnTermination": false}),
    )
}

pub fn delete_volume(vol: &str) -> Call {
    Call::ec2("DeleteVolume", json!({"volumeId": vol}), json!({"_return": true}))
}

/// ModifyInstanceAttribute of `attr`: userData, instanceType or groupSet.
pub fn modify_instance(r: &mut Rng, inst: &str, attr: &str) -> Call {
    let req = match attr {
        "userData" => json!({"instanceId": inst, "userData": "<sensitiveDataRemoved>"}),
        "instanceType" => json!({"instanceId": inst, "instanceType": {"value": r.pick(&TYPES)}}),
        _ => {
            json!({"instanceId": inst, "groupSet": {"items": [{"groupId": id(r, "sg")}, {"groupId": id(r, "sg")}]}})
        }
    };
    Call::ec2("ModifyInstanceAttribute", req, json!({"_return": true}))
}

/// Add (or remove) `account`'s permission to create volumes from `snap`.
pub fn share_snapshot(snap: &str, account: &str, add: bool) -> Call {
    let verb = if add { "add" } else { "remove" };
    Call::ec2(
        "ModifySnapshotAttribute",
        json!({"snapshotId": snap, "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {verb: {"items": [{"userId": account}]}}}),
        json!({"_return": true}),
    )
}

pub fn share_image(ami: &str, account: &str) -> Call {
    Call::ec2(
        "ModifyImageAttribute",
        json!({"imageId": ami, "attributeType": "launchPermission",
            "launchPermission": {"add": {"items": [{"userId": account}]}}}),
        json!({"_return": true}),
    )
}

pub fn shared_copy(snap: &str) -> Call {
    let mut c = Call::ec2("SharedSnapshotCopyInitiated", Value::Null, Value::Null);
    c.service_event = true;
    c.details = json!({"snapshotId": snap});
    c
}

pub fn launch_template_version(r: &mut Rng) -> Call {
    let lt = id(r, "lt");
    let ami = id(r, "ami");
    let v = r.range(2, 400);
    Call::ec2(
        "CreateLaunchTemplateVersion",
        json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": lt, "SourceVersion": "$Latest",
            "LaunchTemplateData": {"ImageId": ami}}}),
        json!({"CreateLaunchTemplateVersionResponse": {"launchTemplateVersion": {"launchTemplateId": lt,
            "versionNumber": v, "defaultVersion": false}}}),
    )
}

pub fn create_fleet(r: &mut Rng, n: u32) -> (Call, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|_| id(r, "i")).collect();
    let call = Call::ec2(
        "CreateFleet",
        json!({"CreateFleetRequest": {"Type": "instant", "TargetCapacitySpecification": {"TotalTargetCapacity": n,
            "DefaultTargetCapacityType": "spot"}, "LaunchTemplateConfigs": {"LaunchTemplateSpecification":
            {"LaunchTemplateId": id(r, "lt"), "Version": "$Latest"}}}}),
        json!({"CreateFleetResponse": {"fleetId": id(r, "fleet"),
            "fleetInstanceSet": {"item": {"instanceIds": {"item": ids}, "lifecycle": "spot"}}}}),
    );
    (call, ids)
}

pub fn db_snapshot(r: &mut Rng, acct: &str, region: &str, db: &str) -> (Call, String) {
    let snap = format!("{db}-{}", r.hex(8));
    let mut c = Call::ec2(
        "CreateDBSnapshot",
        json!({"dBSnapshotIdentifier": snap, "dBInstanceIdentifier": db}),
        json!({"dBSnapshotIdentifier": snap, "dBInstanceIdentifier": db, "engine": "postgres", "status": "creating",
            "dBSnapshotArn": format!("arn:aws:rds:{region}:{acct}:snapshot:{snap}"), "snapshotType": "manual", "encrypted": true}),
    );
    c.source = "rds.amazonaws.com";
    (c, snap)
}

pub fn delete_db_snapshot(acct: &str, region: &str, snap: &str) -> Call {
    let mut c = Call::ec2(
        "DeleteDBSnapshot",
        json!({"dBSnapshotIdentifier": snap}),
        json!({"dBSnapshotIdentifier": snap, "status": "deleted", "dBSnapshotArn": format!("arn:aws:rds:{region}:{acct}:snapshot:{snap}")}),
    );
    c.source = "rds.amazonaws.com";
    c
}

/// One call of a routine compute operation, drawing ids from and returning them to `pools`.
pub fn routine(r: &mut Rng, pools: &mut Pools, acct: &str, region: &str, op: Op, t: i64) -> Call {
    match op {
        Op::Run => {
            let n = *r.pick(&[1, 1, 1, 2, 2, 3, 4]);
            let itype = r_type(r);
            let (c, ids) = run_instances(r, acct, region, n, itype, t);
            ids.into_iter().for_each(|i| keep(&mut pools.instances, i));
            c
        }
        Op::Fleet => {
            let n = r.range(1, 6) as u32;
            let (c, ids) = create_fleet(r, n);
            ids.into_iter().for_each(|i| keep(&mut pools.instances, i));
            c
        }
        Op::Terminate => {
            let n = *r.pick(&[1, 1, 1, 2, 3]);
            let ids: Vec<String> = (0..n).map(|_| take(r, &mut pools.instances, "i")).collect();
            terminate(&ids)
        }
        Op::Stop => stop(&[pick_instance(r, pools)]),
        Op::Start => start(&[pick_instance(r, pools)]),
        Op::Snap => {
            let vol = pick_volume(r, pools);
            let (c, s) = create_snapshot(r, acct, &vol, "scheduled snapshot", t);
            keep(&mut pools.snapshots, s);
            c
        }
        Op::DelSnap => delete_snapshot(&take(r, &mut pools.snapshots, "snap")),
        Op::CopySnapDr => {
            // Logged in the DR region (the caller sets the record's region), copied from home.
            let snap = take(r, &mut pools.snapshots, "snap");
            copy_snapshot(r, &snap, region).0
        }
        Op::Image => {
            let inst = pick_instance(r, pools);
            let name = format!("app-{}", r.hex(8));
            let (c, ami) = create_image(r, &inst, &name);
            keep(&mut pools.images, ami);
            c
        }
        Op::Dereg => deregister(&take(r, &mut pools.images, "ami")),
        Op::NewVol => {
            let (c, v) = create_volume(r, region, None, t);
            keep(&mut pools.volumes, v);
            c
        }
        Op::Attach => attach(&pick_volume(r, pools), &pick_instance(r, pools), t),
        Op::Detach => detach(&pick_volume(r, pools), &pick_instance(r, pools), t),
        Op::DelVol => delete_volume(&take(r, &mut pools.volumes, "vol")),
        Op::InstType | Op::GroupSet | Op::UserData => {
            let inst = pick_instance(r, pools);
            let attr = match op {
                Op::InstType => "instanceType",
                Op::GroupSet => "groupSet",
                _ => "userData",
            };
            modify_instance(r, &inst, attr)
        }
        Op::LtVersion => launch_template_version(r),
        Op::DbSnap => {
            let db = format!("db-{}", &acct[8..]);
            let (c, s) = db_snapshot(r, acct, region, &db);
            keep(&mut pools.snapshots, s);
            c
        }
        Op::DelDbSnap => {
            let s = take(r, &mut pools.snapshots, "rds");
            delete_db_snapshot(acct, region, &s)
        }
    }
}

fn r_type(r: &mut Rng) -> &'static str {
    TYPES[r.below(TYPES.len() as u64) as usize]
}

pub fn pick_instance(r: &mut Rng, pools: &mut Pools) -> String {
    if pools.instances.is_empty() || r.chance(0.2) {
        let i = id(r, "i");
        keep(&mut pools.instances, i.clone());
        return i;
    }
    pools.instances[r.below(pools.instances.len() as u64) as usize].clone()
}

pub fn pick_volume(r: &mut Rng, pools: &mut Pools) -> String {
    if pools.volumes.is_empty() || r.chance(0.3) {
        let v = id(r, "vol");
        keep(&mut pools.volumes, v.clone());
        return v;
    }
    pools.volumes[r.below(pools.volumes.len() as u64) as usize].clone()
}

/// Which read and out-of-scope calls a principal makes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    Ec2,
    Console,
    App,
    Scanner,
}

/// One out-of-scope call of the given habit.
pub fn noise(r: &mut Rng, kind: Noise) -> Call {
    let ec2 = |r: &mut Rng| -> Call {
        let name = *r.pick(&[
            "DescribeInstances",
            "DescribeInstances",
            "DescribeVolumes",
            "DescribeSnapshots",
            "DescribeImages",
            "DescribeInstanceStatus",
            "DescribeSecurityGroups",
            "DescribeSubnets",
            "DescribeLaunchTemplateVersions",
        ]);
        Call::read(
            "ec2.amazonaws.com",
            name,
            json!({"filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "platform"}]}}]}, "maxResults": 1000}),
        )
    };
    match kind {
        Noise::Ec2 => {
            if r.chance(0.85) {
                ec2(r)
            } else {
                let mut c = Call::read(
                    "ec2.amazonaws.com",
                    "CreateTags",
                    json!({"resourcesSet": {"items": [{"resourceId": id(r, "i")}]},
                    "tagSet": {"items": [{"key": "owner", "value": "platform"}]}}),
                );
                c.read_only = false;
                c
            }
        }
        Noise::Console => match r.below(6) {
            0 => Call::read("sts.amazonaws.com", "GetCallerIdentity", Value::Null),
            1 => Call::read(
                "s3.amazonaws.com",
                "ListBuckets",
                json!({"Host": "s3.amazonaws.com"}),
            ),
            2 => Call::read(
                "cloudwatch.amazonaws.com",
                "DescribeAlarms",
                json!({"maxRecords": 100}),
            ),
            _ => ec2(r),
        },
        Noise::App => app_noise(r),
        Noise::Scanner => match r.below(5) {
            0 => Call::read(
                "iam.amazonaws.com",
                "ListAttachedRolePolicies",
                json!({"roleName": format!("role-{}", r.hex(6))}),
            ),
            1 => Call::read(
                "s3.amazonaws.com",
                "GetBucketPolicy",
                json!({"bucketName": format!("data-{}", r.hex(8)), "policy": ""}),
            ),
            2 => Call::read("config.amazonaws.com", "DescribeConfigRules", Value::Null),
            _ => ec2(r),
        },
    }
}

fn app_noise(r: &mut Rng) -> Call {
    match r.below(7) {
        0 => Call::read(
            "kms.amazonaws.com",
            "Decrypt",
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        ),
        1 => Call::read(
            "kms.amazonaws.com",
            "GenerateDataKey",
            json!({"keyId": format!("alias/app-{}", r.hex(4)), "keySpec": "AES_256"}),
        ),
        2 => Call::read(
            "ssm.amazonaws.com",
            "GetParameter",
            json!({"name": format!("/app/{}/config", r.hex(6)), "withDecryption": true}),
        ),
        3 => Call::read(
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            json!({"secretId": format!("app/{}/db", r.hex(6))}),
        ),
        4 => Call::read("sts.amazonaws.com", "GetCallerIdentity", Value::Null),
        5 => Call::read(
            "dynamodb.amazonaws.com",
            "DescribeTable",
            json!({"tableName": format!("orders-{}", r.hex(4))}),
        ),
        _ => {
            let mut c = Call::read(
                "logs.amazonaws.com",
                "CreateLogStream",
                json!({"logGroupName": "/app/worker", "logStreamName": r.uuid()}),
            );
            c.read_only = false;
            c
        }
    }
}
