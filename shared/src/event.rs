//! The one normalized event model both clouds are reduced to.

use serde::{Deserialize, Serialize};

/// Which cloud a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// AWS CloudTrail.
    Aws,
    /// Azure Activity Log.
    Azure,
}

impl Cloud {
    /// Lower-case name, as used in keys and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
        }
    }
}

/// What kind of identity made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A human user (IAM user, Entra ID user).
    User,
    /// An AWS IAM role used through an assumed-role session.
    Role,
    /// The AWS account root user.
    Root,
    /// An AWS service acting on its own (`AWSService`, or a call `invokedBy` a service).
    AwsService,
    /// Another AWS account, as seen in service events such as `SharedSnapshotCopyInitiated`.
    AwsAccount,
    /// An Entra ID application / service principal.
    ServicePrincipal,
    /// An Azure managed identity.
    ManagedIdentity,
    /// Not determinable from the record.
    #[default]
    Unknown,
}

impl PrincipalKind {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Root => "root",
            PrincipalKind::AwsService => "aws_service",
            PrincipalKind::AwsAccount => "aws_account",
            PrincipalKind::ServicePrincipal => "service_principal",
            PrincipalKind::ManagedIdentity => "managed_identity",
            PrincipalKind::Unknown => "unknown",
        }
    }
}

/// Whether a caller is a workload: applications, managed identities, AWS services, and AWS
/// roles other than IAM Identity Center's whose session is not named after a person. Workloads
/// act on schedules from fixed places and in bulk; people do not. A role's session name is the
/// caller's choice, so this tells who a call looks like, never who made it: it only narrows what
/// a rule judges, it hides nothing a workload's own baseline would show.
pub fn is_workload(kind: PrincipalKind, name: &str, session: Option<&str>) -> bool {
    match kind {
        PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity | PrincipalKind::AwsService => true,
        PrincipalKind::Role => {
            !name.starts_with("AWSReservedSSO_") && !session.is_some_and(|s| s.contains('@'))
        }
        _ => false,
    }
}

/// Who made the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Principal {
    /// Stable identity: the IAM user/role ARN (an assumed role is keyed by its issuer role, not
    /// the session), or the Azure caller (UPN, app id...) lower-cased and prefixed by its kind.
    pub key: String,
    /// What an analyst reads; for Azure the value the `Caller` column would hold.
    pub name: String,
    /// Kind of identity.
    pub kind: PrincipalKind,
    /// Session name of an assumed role, kept as context only (it rotates).
    pub session: Option<String>,
    /// AWS `userIdentity.arn` as the record gives it: the session ARN for an assumed role.
    /// The seed rule groups by it (every session is a new caller); `key` does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl ComputeEvent {
    /// The caller the seed rule groups by and prints: `userIdentity.arn` on CloudTrail (the
    /// session for assumed roles; the stable key when the record has no ARN), the `Caller`
    /// column on Azure.
    pub fn seed_caller(&self) -> &str {
        match self.cloud {
            Cloud::Aws => self.principal.arn.as_deref().unwrap_or(&self.principal.key),
            Cloud::Azure => &self.principal.name,
        }
    }
}

/// Lifecycle phase / outcome of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Completed successfully (CloudTrail without errorCode; Activity Log `Success`/`Succeeded`).
    Success,
    /// Activity Log `Start`/`Started`.
    Start,
    /// Activity Log `Accept`/`Accepted` (async operation accepted).
    Accept,
    /// Failed (errorCode, `Failure`/`Failed`).
    Failure,
    /// CloudTrail `Client.DryRunOperation`: nothing happened.
    DryRun,
    /// Any other status value.
    Other,
    /// A CloudTrail network activity event (`eventType` `AwsVpceEvent`): a call seen passing a
    /// VPC endpoint, logged to the endpoint's owner beside the call's own management event, or
    /// for a call another account made in its own account. Never counted: it is not the call.
    Network,
}

/// CloudTrail's `eventType` of a network activity record ([`Phase::Network`]): one spelling for
/// the normalizer that gives the phase, the prefilter that skips it and the Sigma rules that
/// leave it out.
pub const NETWORK_ACTIVITY_TYPE: &str = "AwsVpceEvent";

/// Request details the catalog conditions read. Extracted once, at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Details {
    /// Recipients added to a share: account ids, `all` (public), organization / OU ARNs.
    pub share_added: Vec<String>,
    /// Recipients removed from a share.
    pub share_removed: Vec<String>,
    /// The instance attribute modified (`ModifyInstanceAttribute`), or the add-on a Lightsail
    /// `DisableAddOn` turns off, lower-cased.
    pub attribute: Option<String>,
    /// IMDS `httpTokens`, lower-cased.
    pub http_tokens: Option<String>,
    /// The volume or disk is created from a snapshot (AWS: the request names one; Azure: the
    /// Start's `creationData.sourceResourceId` is a snapshot or a disk restore point).
    pub from_snapshot: bool,
    /// The disk the call makes a machine's root (OS) disk, as its resource is written: the
    /// volume an `AttachVolume` attaches at a root device name; the managed OS disk an Azure
    /// VM write's request body names. What links a machine booted from a disk to the disk's
    /// creation from a snapshot ([`crate::window`]).
    #[serde(default)]
    pub root_disk: Option<String>,
    /// The disks the call attaches to a machine as data disks, as their resources are written:
    /// the volume an `AttachVolume` attaches at a device that is not a root device; the managed
    /// data disks an Azure VM write's request body names (at most [`MAX_DATA_DISKS`]). With
    /// [`Self::mounted_on`], what links a disk made from a snapshot to the machine that reads it
    /// ([`crate::window`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_disks: Vec<String>,
    /// The machine those disks are attached to, as its resource is written, where the call is
    /// not on the machine itself (`AttachVolume`: the instance). An Azure VM write is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounted_on: Option<String>,
    /// Azure: a VM write that creates the machine (its body has a location, names the image it
    /// is created from and no OS disk by id): a data disk attached to it is read by a machine
    /// made for the purpose.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creates_machine: bool,
    /// Azure: a VM write's request body sets the `userData` (a script or data the machine
    /// fetches from the metadata service, which cloud-init runs where configured) of a machine
    /// that exists: a full update names its OS disk by id and a PATCH carries no `location`,
    /// where a create from an image does neither (a launch's bootstrap script is not a change
    /// of one). A GET of a VM leaves the user data out unless asked for (`$expand=userData`),
    /// so a full update sent back by the portal or the CLI does not carry it: a body that does
    /// was written to set it.
    #[serde(default)]
    pub user_data: bool,
    /// Source region of a copy.
    pub source_region: Option<String>,
    /// Azure: the subscription a snapshot or disk is copied from (`creationData.sourceResourceId`
    /// of the Start record's request body), lower-cased.
    pub source_account: Option<String>,
    /// RDS `deletionProtection` as requested.
    pub deletion_protection: Option<bool>,
    /// A retention in days: RDS `backupRetentionPeriod` as requested, or the days from an
    /// AWS Backup `UpdateRecoveryPointLifecycle` call until the service deletes the recovery
    /// point (the response's calculated deletion time, else the requested `deleteAfterDays`,
    /// which count from the point's creation; none for a retention taken away).
    pub backup_retention: Option<i64>,
    /// RDS `publiclyAccessible` as requested.
    pub publicly_accessible: Option<bool>,
    /// Requested instance type / VM size.
    pub instance_type: Option<String>,
    /// RDS `skipFinalSnapshot` as requested.
    pub skip_final_snapshot: Option<bool>,
    /// RDS `deleteAutomatedBackups` as requested.
    pub delete_automated_backups: Option<bool>,
    /// EC2 `DeleteReplacedRootVolume` as requested: a root volume replaced and the volume it
    /// replaced deleted, so the machine's state before the revert is gone.
    pub delete_replaced_root_volume: Option<bool>,
    /// IMDS `httpPutResponseHopLimit` as requested.
    pub hop_limit: Option<i64>,
    /// Auto Scaling: the request sets a group's desired or maximum capacity to 0, so the service
    /// terminates every instance of the group (its TerminateInstances calls are the service's).
    #[serde(default)]
    pub capacity_zero: bool,
    /// EC2 Fleet and Spot Fleet: the request deletes or cancels fleets with their instances
    /// (`TerminateInstances`), which the service then terminates.
    #[serde(default)]
    pub terminates_instances: bool,
    /// Azure VM extension name, from the resource id.
    pub extension: Option<String>,
    /// Azure: the virtual machine a call on one of its parts (an extension, a managed run
    /// command) works on, as its resource id is written (the part's id up to the machine's
    /// name). What tells a script run on the machine whose security agent was just removed
    /// ([`crate::window`]), where the two calls name two different resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Azure: the access a disk's or snapshot's export (`beginGetAccess`) asks for, in seconds
    /// (`durationInSeconds` of the Start record's request body): how long its SAS URL reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_seconds: Option<i64>,
}

/// One normalized compute-control-plane event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeEvent {
    /// Event time, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Source cloud.
    pub cloud: Cloud,
    /// AWS account (the recipient account) or Azure subscription id (lower-case).
    pub account: String,
    /// AWS region or Azure resource group, as the record gives it.
    pub scope: String,
    /// The caller.
    pub principal: Principal,
    /// Source IP as a string: not always a valid address (service DNS names, anonymised logs).
    pub source_ip: Option<String>,
    /// User agent (attacker-controlled).
    pub user_agent: Option<String>,
    /// Canonical operation: `ec2:createsnapshot`, `microsoft.compute/snapshots/write`.
    pub operation: String,
    /// The operation as the record spells it (`CreateSnapshot`, `MICROSOFT.COMPUTE/...`).
    pub operation_raw: String,
    /// Provider: AWS service (`ec2`) or Azure resource provider (`microsoft.compute`).
    pub provider: String,
    /// Phase / outcome.
    pub phase: Phase,
    /// AWS errorCode or Azure failure signature.
    pub error_code: Option<String>,
    /// Every affected resource id (TerminateInstances of 5 instances gives 5).
    pub resources: Vec<String>,
    /// Request details for catalog conditions.
    pub details: Details,
    /// Record identity: CloudTrail `eventID`; Azure `eventDataId` or a hash of the record.
    pub event_id: String,
    /// Azure only: identity of the operation across its Start/Accept/Success records.
    pub operation_key: Option<String>,
    /// AWS `userIdentity.invokedBy` (an AWS service acting for the principal).
    pub invoked_by: Option<String>,
    /// AWS service event (`AwsServiceEvent`) rather than an API call.
    pub service_event: bool,
}

/// Cut an attacker-controlled string to at most `max` bytes on a char boundary.
///
/// Length caps keep state and alerts bounded whatever the input; the marker shows an analyst
/// the value was cut rather than silently shortened.
pub fn clip(s: &str, max: usize) -> String {
    clip_into(s, max)
}

/// [`clip`] of a string that may be owned already: kept as it is when short enough, where
/// [`clip`] copies it.
pub fn clip_into<'a>(s: impl Into<std::borrow::Cow<'a, str>>, max: usize) -> String {
    let s = s.into();
    if s.len() <= max {
        return s.into_owned();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Longest principal, resource or IP string kept in state and alerts.
pub const MAX_FIELD: usize = 256;

/// Data disks kept of one VM write ([`Details::data_disks`]), the last ones its body lists (a
/// disk added to a machine's model is appended): Azure allows up to 64 on the largest sizes; a
/// reading machine needs one.
pub const MAX_DATA_DISKS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_workloads() {
        assert!(is_workload(PrincipalKind::ManagedIdentity, "mi-x", None));
        assert!(is_workload(PrincipalKind::ServicePrincipal, "app", None));
        assert!(is_workload(PrincipalKind::Role, "nightly-backup", Some("i-0abc")));
        assert!(!is_workload(
            PrincipalKind::Role,
            "AWSReservedSSO_AdministratorAccess_0123",
            Some("ana")
        ));
        assert!(!is_workload(
            PrincipalKind::Role,
            "okta-admin",
            Some("ana@example.com")
        ));
        assert!(!is_workload(PrincipalKind::User, "ana", None));
        assert!(!is_workload(PrincipalKind::Unknown, "?", None));
    }
}
