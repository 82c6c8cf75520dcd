//! Azure Resource Manager operations as the Activity Log names them, and their resources.

use super::{Actor, Ctx, Gen};
use crate::workload::common::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AOp {
    VmWrite,
    VmDelete,
    Deallocate,
    VmStart,
    VmRestart,
    DiskWrite,
    DiskDelete,
    SnapWrite,
    SnapDelete,
    VmssWrite,
    VmssExt,
    ExtWrite,
    RpcWrite,
    RpWrite,
    RpDelete,
    GalleryVersionWrite,
    ImageWrite,
    Generalize,
    Capture,
    DiskSas,
    SnapSas,
    GalleryShare,
    RunCommand,
    NicWrite,
    NicDelete,
    PipWrite,
    NsgRuleWrite,
    DeploymentWrite,
    DeploymentValidate,
    ListKeys,
    KeyVaultWrite,
    SiteRestart,
    TagsWrite,
}

impl AOp {
    /// (operation name, long-running with an Accept phase, a compute change).
    pub fn spec(self) -> (&'static str, bool, bool) {
        use AOp::*;
        match self {
            VmWrite => ("Microsoft.Compute/virtualMachines/write", true, true),
            VmDelete => ("Microsoft.Compute/virtualMachines/delete", true, true),
            Deallocate => ("Microsoft.Compute/virtualMachines/deallocate/action", true, true),
            VmStart => ("Microsoft.Compute/virtualMachines/start/action", true, false),
            VmRestart => ("Microsoft.Compute/virtualMachines/restart/action", true, false),
            DiskWrite => ("Microsoft.Compute/disks/write", true, true),
            DiskDelete => ("Microsoft.Compute/disks/delete", true, true),
            SnapWrite => ("Microsoft.Compute/snapshots/write", true, true),
            SnapDelete => ("Microsoft.Compute/snapshots/delete", true, true),
            VmssWrite => ("Microsoft.Compute/virtualMachineScaleSets/write", true, true),
            VmssExt => (
                "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
                true,
                true,
            ),
            ExtWrite => ("Microsoft.Compute/virtualMachines/extensions/write", true, true),
            RpcWrite => ("Microsoft.Compute/restorePointCollections/write", false, true),
            RpWrite => (
                "Microsoft.Compute/restorePointCollections/restorePoints/write",
                true,
                true,
            ),
            RpDelete => (
                "Microsoft.Compute/restorePointCollections/restorePoints/delete",
                true,
                true,
            ),
            GalleryVersionWrite => ("Microsoft.Compute/galleries/images/versions/write", true, true),
            ImageWrite => ("Microsoft.Compute/images/write", true, true),
            Generalize => ("Microsoft.Compute/virtualMachines/generalize/action", false, true),
            Capture => ("Microsoft.Compute/virtualMachines/capture/action", true, true),
            DiskSas => ("Microsoft.Compute/disks/beginGetAccess/action", true, true),
            SnapSas => ("Microsoft.Compute/snapshots/beginGetAccess/action", true, true),
            GalleryShare => ("Microsoft.Compute/galleries/share/action", true, true),
            RunCommand => ("Microsoft.Compute/virtualMachines/runCommand/action", true, true),
            NicWrite => ("Microsoft.Network/networkInterfaces/write", false, false),
            NicDelete => ("Microsoft.Network/networkInterfaces/delete", true, false),
            PipWrite => ("Microsoft.Network/publicIPAddresses/write", false, false),
            NsgRuleWrite => (
                "Microsoft.Network/networkSecurityGroups/securityRules/write",
                true,
                false,
            ),
            DeploymentWrite => ("Microsoft.Resources/deployments/write", false, false),
            DeploymentValidate => ("Microsoft.Resources/deployments/validate/action", false, false),
            ListKeys => ("Microsoft.Storage/storageAccounts/listKeys/action", false, false),
            KeyVaultWrite => ("Microsoft.KeyVault/vaults/write", false, false),
            SiteRestart => ("Microsoft.Web/sites/restart/action", false, false),
            TagsWrite => ("Microsoft.Resources/tags/write", false, false),
        }
    }

    pub fn destructive(self) -> bool {
        matches!(
            self,
            AOp::VmDelete | AOp::Deallocate | AOp::DiskDelete | AOp::SnapDelete
        )
    }
}

pub fn rid(g: &Gen, a: &Actor, kind: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{kind}/{name}",
        g.subs[a.sub].id, a.rg
    )
}

pub fn vm_name(r: &mut Rng) -> String {
    format!(
        "vm-{}-{}",
        r.pick(&["web", "api", "batch", "build", "worker", "sql", "app"]),
        r.hex(5)
    )
}

/// The resource an operation acts on, from the actor's pools: VMs and snapshots are reused
/// the way a fleet is.
pub fn resource(g: &mut Gen, a: &mut Actor, op: AOp) -> String {
    use AOp::*;
    let h = g.r.hex(32);
    let vm = |g: &mut Gen, a: &mut Actor| -> String {
        if a.vms.is_empty() || g.r.chance(0.15) {
            let n = vm_name(&mut g.r);
            a.vms.push(n.clone());
            if a.vms.len() > 200 {
                a.vms.remove(0);
            }
            n
        } else {
            g.r.pick(&a.vms).clone()
        }
    };
    match op {
        VmWrite | VmDelete | Deallocate | VmStart | VmRestart | Generalize | Capture | RunCommand => {
            let n = vm(g, a);
            rid(g, a, "Microsoft.Compute/virtualMachines", &n)
        }
        ExtWrite => {
            let n = vm(g, a);
            let ext = *g.r.pick(&[
                "AzureMonitorLinuxAgent",
                "MDE.Linux",
                "CustomScript",
                "AADSSHLoginForLinux",
            ]);
            rid(
                g,
                a,
                "Microsoft.Compute/virtualMachines",
                &format!("{n}/extensions/{ext}"),
            )
        }
        DiskWrite | DiskDelete | DiskSas => {
            let n = vm(g, a);
            rid(
                g,
                a,
                "Microsoft.Compute/disks",
                &format!("{n}_OsDisk_1_{}", &h[..32]),
            )
        }
        SnapWrite => {
            let n = format!("snap-{}-{}", vm(g, a), g.r.hex(6));
            a.snapshots.push(n.clone());
            rid(g, a, "Microsoft.Compute/snapshots", &n)
        }
        SnapDelete => {
            let n = if a.snapshots.len() > 3 {
                a.snapshots.remove(0)
            } else {
                format!("snap-{}", g.r.hex(10))
            };
            rid(g, a, "Microsoft.Compute/snapshots", &n)
        }
        // The snapshot just made: a backup product reads what it snapshotted.
        SnapSas => {
            let n = a
                .snapshots
                .last()
                .cloned()
                .unwrap_or_else(|| format!("snap-{}", g.r.hex(10)));
            rid(g, a, "Microsoft.Compute/snapshots", &n)
        }
        VmssWrite | VmssExt => {
            let n = format!("vmss-{}", a.rg.trim_start_matches("rg-"));
            let base = rid(g, a, "Microsoft.Compute/virtualMachineScaleSets", &n);
            if op == VmssExt {
                format!("{base}/extensions/AzureMonitorLinuxAgent")
            } else {
                base
            }
        }
        RpcWrite | RpWrite | RpDelete => {
            let n = vm(g, a);
            let base = rid(
                g,
                a,
                "Microsoft.Compute/restorePointCollections",
                &format!("AzureBackup_{n}_{}", &g.subs[a.sub].id[..8]),
            );
            if op == RpcWrite {
                base
            } else {
                format!("{base}/restorePoints/{}", g.r.range(100_000_000, 999_999_999))
            }
        }
        GalleryVersionWrite => {
            let v = format!("1.{}.{}", g.r.range(0, 30), g.r.range(0, 400));
            rid(
                g,
                a,
                "Microsoft.Compute/galleries",
                &format!("gal_golden_images/images/ubuntu-2404-hardened/versions/{v}"),
            )
        }
        ImageWrite => rid(g, a, "Microsoft.Compute/images", &format!("img-{}", &h[..8])),
        GalleryShare => rid(g, a, "Microsoft.Compute/galleries", "gal_golden_images"),
        NicWrite | NicDelete => rid(
            g,
            a,
            "Microsoft.Network/networkInterfaces",
            &format!("nic-{}", &h[..6]),
        ),
        PipWrite => rid(
            g,
            a,
            "Microsoft.Network/publicIPAddresses",
            &format!("pip-{}", &h[..6]),
        ),
        NsgRuleWrite => rid(
            g,
            a,
            "Microsoft.Network/networkSecurityGroups",
            &format!("nsg-{}/securityRules/allow-https", a.rg),
        ),
        DeploymentWrite | DeploymentValidate => rid(
            g,
            a,
            "Microsoft.Resources/deployments",
            &format!("deploy-{}", &h[..8]),
        ),
        ListKeys => rid(
            g,
            a,
            "Microsoft.Storage/storageAccounts",
            &format!("st{}", &h[..10]),
        ),
        KeyVaultWrite => rid(g, a, "Microsoft.KeyVault/vaults", &format!("kv-{}", &h[..6])),
        SiteRestart => rid(g, a, "Microsoft.Web/sites", &format!("app-{}", &h[..6])),
        TagsWrite => format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Resources/tags/default",
            g.subs[a.sub].id, a.rg
        ),
    }
}

/// The request body the Start record carries, where ARM logs one.
pub fn body(g: &mut Gen, op: AOp) -> Option<String> {
    match op {
        AOp::VmWrite => {
            let size: &&str = g.r.pick(&GENERAL_SIZES);
            Some(vm_body(size))
        }
        AOp::DiskSas | AOp::SnapSas => Some(format!(
            "{{\"access\":\"Read\",\"durationInSeconds\":{}}}",
            g.r.pick(&[3600, 14400, 86400])
        )),
        AOp::Capture => Some(
            "{\"vhdPrefix\":\"img\",\"destinationContainerName\":\"vhds\",\"overwriteVhds\":true}".into(),
        ),
        _ => None,
    }
}

/// The request body of a VM of this size.
pub fn vm_body(size: &str) -> String {
    format!(
        "{{\"location\":\"westeurope\",\"properties\":{{\"hardwareProfile\":{{\"vmSize\":\"{size}\"}}}}}}"
    )
}

/// General-purpose sizes, of the machines the organisation runs.
const GENERAL_SIZES: [&str; 5] = [
    "Standard_D2s_v5",
    "Standard_D4s_v5",
    "Standard_B2ms",
    "Standard_E4s_v5",
    "Standard_F8s_v2",
];

/// GPU sizes (the N series) that training jobs, and miners, ask for.
pub const GPU_SIZES: [&str; 4] = [
    "Standard_NC24ads_A100_v4",
    "Standard_NC4as_T4_v3",
    "Standard_ND96asr_v4",
    "Standard_NV36ads_A10_v5",
];

/// The request body of a snapshot or disk made from `source` (a disk or snapshot id), as
/// Resource Manager logs it on the Start record.
pub fn copy_body(source: &str, incremental: bool) -> String {
    format!(
        "{{\"location\":\"westeurope\",\"sku\":{{\"name\":\"Standard_LRS\"}},\"properties\":{{\"creationData\":{{\"createOption\":\"Copy\",\"sourceResourceId\":\"{source}\"}},\"incremental\":{incremental}}}}}"
    )
}

/// The body of a snapshot or disk write, which names its source in the actor's own
/// subscription: a snapshot of one of its VMs' disks, a disk restored from a snapshot, an empty
/// data disk or a resize.
fn local_body(g: &mut Gen, a: &Actor, op: AOp, res: &str) -> Option<String> {
    let name = res.rsplit('/').next().unwrap_or_default();
    match op {
        AOp::SnapWrite => {
            let vm = name.trim_start_matches("snap-").rsplit_once('-').map_or(name, |x| x.0);
            let disk = format!("{vm}_OsDisk_1_{}", g.r.hex(32));
            let disk = rid(g, a, "Microsoft.Compute/disks", &disk);
            Some(copy_body(&disk, g.r.chance(0.7)))
        }
        AOp::DiskWrite => Some(match g.r.below(4) {
            0 if !a.snapshots.is_empty() => {
                let snap = g.r.pick(&a.snapshots).clone();
                copy_body(&rid(g, a, "Microsoft.Compute/snapshots", &snap), false)
            }
            1 => format!(
                "{{\"location\":\"westeurope\",\"properties\":{{\"creationData\":{{\"createOption\":\"Empty\"}},\"diskSizeGB\":{}}}}}",
                g.r.pick(&[64, 128, 256, 512])
            ),
            _ => format!("{{\"properties\":{{\"diskSizeGB\":{}}}}}", g.r.pick(&[128, 256, 512, 1024])),
        }),
        _ => None,
    }
}

/// One operation with its usual resource and body.
pub fn call(g: &mut Gen, a: &mut Actor, c: &Ctx, op: AOp, fail: bool) {
    let res = resource(g, a, op);
    let b = match op {
        AOp::SnapWrite | AOp::DiskWrite => g.aside(|g| local_body(g, a, op, &res)),
        _ => body(g, op),
    };
    super::operation(g, a, c, op, &res, b, fail);
}
