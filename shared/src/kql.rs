//! The seed rule's Kusto semantics, reproduced exactly (see `../shared/seed/`).
//!
//! `has` is a term match, not a substring match: `"extensions/write" has "extension"` is false
//! because `extensions` is a different term. Combined with the order of the seed's `case()`,
//! this is why the seed types `virtualMachines/extensions/write` as CREATE_OR_MODIFY (`/write`
//! is tested first) and can never produce EXTENSION_CHANGE. We keep that in `seed-kql`.

use crate::catalog::OpType;

/// The seed's 13 operations, in its `has_any` order.
pub const SEED_OPERATIONS: [&str; 13] = [
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/snapshots/write",
    "Microsoft.Compute/snapshots/delete",
    "Microsoft.Compute/disks/write",
    "Microsoft.Compute/disks/delete",
    "Microsoft.Compute/virtualMachines/deallocate/action",
    "Microsoft.Compute/virtualMachines/generalize/action",
    "Microsoft.Compute/virtualMachines/capture/action",
    "Microsoft.Compute/virtualMachines/extensions/write",
    "Microsoft.Compute/virtualMachineScaleSets/write",
    "Microsoft.Compute/virtualMachineScaleSets/delete",
    "Microsoft.Compute/restorePointCollections/write",
];

/// `ActivityStatusValue in~ ("Succeeded", "Started")`, plus the `Success`/`Start` spellings the
/// diagnostic export and current Log Analytics data use for the same two phases.
pub const SEED_STATUSES: [&str; 4] = ["succeeded", "started", "success", "start"];

/// The seed's four `AlertReason` strings, in its `case()` order.
pub const REASON_HIGH_RISK: &str = "High-risk compute operations: multiple delete/capture/generalize actions";
/// Second `AlertReason`.
pub const REASON_ELEVATED: &str = "Elevated compute modification activity with destructive operations";
/// Third `AlertReason`.
pub const REASON_BULK: &str = "Bulk modifications across multiple compute resources";
/// Fallback `AlertReason`.
pub const REASON_SUSPICIOUS: &str = "Suspicious compute infrastructure modification";

fn is_term_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// Kusto `has`: case-insensitive match of `needle` on term boundaries of `haystack`.
pub fn has(haystack: &str, needle: &str) -> bool {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return n.is_empty();
    }
    let (first, last) = (n[0], n[n.len() - 1]);
    (0..=h.len() - n.len()).any(|i| {
        h[i..i + n.len()].eq_ignore_ascii_case(n)
            && (i == 0 || !is_term_char(first) || !is_term_char(h[i - 1]))
            && (i + n.len() == h.len() || !is_term_char(last) || !is_term_char(h[i + n.len()]))
    })
}

/// Kusto `has_any`: the index of the first needle that `haystack` has.
pub fn has_any(haystack: &str, needles: &[&str]) -> Option<usize> {
    needles.iter().position(|n| has(haystack, n))
}

/// The seed's `OperationType = case(...)`, tested in its written order.
pub fn operation_type(operation_name: &str) -> OpType {
    if has(operation_name, "delete") {
        OpType::Delete
    } else if has(operation_name, "/write") {
        OpType::CreateOrModify
    } else if has(operation_name, "capture") {
        OpType::Capture
    } else if has(operation_name, "generalize") {
        OpType::Generalize
    } else if has(operation_name, "deallocate") {
        OpType::Deallocate
    } else if has(operation_name, "extension") {
        OpType::ExtensionChange
    } else {
        OpType::Other
    }
}

/// The seed's `RiskScore = case(...)`.
pub fn risk_points(t: OpType) -> u32 {
    match t {
        OpType::Delete | OpType::Capture | OpType::Generalize => 3,
        OpType::ExtensionChange => 2,
        OpType::CreateOrModify => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_matches_terms_case_insensitively() {
        assert!(has("MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE", "delete"));
        assert!(has(
            "microsoft.compute/virtualMachines/write",
            "Microsoft.Compute/virtualMachines/write"
        ));
        assert!(!has(
            "Microsoft.Compute/virtualMachines/extensions/write",
            "extension"
        ));
        assert!(!has(
            "Microsoft.Compute/virtualMachines/extensions/write",
            "Microsoft.Compute/virtualMachines/write"
        ));
        assert!(!has(
            "Microsoft.Compute/virtualMachineScaleSets/write",
            "Microsoft.Compute/virtualMachines/write"
        ));
        assert!(!has("undeleted", "delete"));
        assert!(has("a/write", "/write"));
    }

    #[test]
    fn case_order_is_the_seeds() {
        use OpType::*;
        let want = [
            CreateOrModify,
            Delete,
            CreateOrModify,
            Delete,
            CreateOrModify,
            Delete,
            Deallocate,
            Generalize,
            Capture,
            CreateOrModify,
            CreateOrModify,
            Delete,
            CreateOrModify,
        ];
        for (op, t) in SEED_OPERATIONS.iter().zip(want) {
            assert_eq!(operation_type(op), t, "{op}");
        }
        assert_eq!(risk_points(CreateOrModify), 1);
        assert_eq!(risk_points(Deallocate), 0);
    }
}
