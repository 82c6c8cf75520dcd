//! Printing: readable tables for people, one JSON object per line for programs. Values that
//! come from logs (principal names, resource ids) are escaped so they cannot forge rows or
//! drive the terminal.

use serde::Serialize;
use std::io::Write;
use t1578_core::Alert;

/// Printable form of an untrusted string: control characters escaped, at most `max` chars.
pub fn escape(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One KQL output row, with the seed's column names.
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct QueryRow {
    pub FirstSeen: String,
    pub LastSeen: String,
    pub PrincipalName: String,
    pub CallerIp: String,
    pub ResourceGroup: String,
    pub SubscriptionId: String,
    pub OperationCount: u32,
    pub UniqueResources: u32,
    pub OperationTypes: Vec<String>,
    pub TotalRiskScore: u32,
    pub AlertReason: String,
    pub Resources: Vec<String>,
}

fn row(out: &mut impl Write, cells: &[(String, usize)]) -> std::io::Result<()> {
    let line: Vec<String> = cells
        .iter()
        .map(|(c, w)| format!("{:<w$}", escape(c, *w), w = *w))
        .collect();
    writeln!(out, "{}", line.join("  ").trim_end())
}

fn header(out: &mut impl Write, names: &[&str], widths: &[usize]) -> std::io::Result<()> {
    row(
        out,
        &names
            .iter()
            .zip(widths)
            .map(|(n, w)| (n.to_string(), *w))
            .collect::<Vec<_>>(),
    )
}

pub struct AlertPrinter {
    json: bool,
    header: bool,
}

impl AlertPrinter {
    pub fn new(json: bool) -> AlertPrinter {
        AlertPrinter { json, header: false }
    }

    pub fn print(&mut self, out: &mut impl Write, a: &Alert) -> std::io::Result<()> {
        if self.json {
            return writeln!(out, "{}", serde_json::to_string(a).unwrap_or_default());
        }
        let widths = [24, 8, 10, 36, 14, 4, 4, 4, 90];
        if !self.header {
            self.header = true;
            let names = [
                "TIME",
                "SEVERITY",
                "TIER",
                "PRINCIPAL",
                "ACCOUNT",
                "RISK",
                "OPS",
                "RES",
                "REASON",
            ];
            header(out, &names, &widths)?;
        }
        let reason = match &a.trigger_catalog_id {
            Some(id) => format!("{} [{id}]", a.reason),
            None => a.reason.clone(),
        };
        let vals = [
            a.time.clone(),
            a.severity.as_str().to_string(),
            a.tier.as_str().to_string(),
            a.principal.name.clone(),
            a.account.clone(),
            a.total_risk.to_string(),
            format!(
                "{}{}",
                a.operation_count,
                if a.counts_are_lower_bounds { "+" } else { "" }
            ),
            a.unique_resources.to_string(),
            reason,
        ];
        row(out, &vals.into_iter().zip(widths).collect::<Vec<_>>())
    }
}

pub fn print_rows(out: &mut impl Write, rows: &[QueryRow], json: bool) -> std::io::Result<()> {
    if json {
        for r in rows {
            writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())?;
        }
        return Ok(());
    }
    let widths = [24, 24, 30, 16, 14, 14, 6, 6, 30, 5, 60];
    let names = [
        "FirstSeen",
        "LastSeen",
        "PrincipalName",
        "CallerIp",
        "ResourceGroup",
        "SubscriptionId",
        "Ops",
        "Uniq",
        "OperationTypes",
        "Risk",
        "AlertReason",
    ];
    header(out, &names, &widths)?;
    for r in rows {
        let vals = [
            r.FirstSeen.clone(),
            r.LastSeen.clone(),
            r.PrincipalName.clone(),
            r.CallerIp.clone(),
            r.ResourceGroup.clone(),
            r.SubscriptionId.clone(),
            r.OperationCount.to_string(),
            r.UniqueResources.to_string(),
            r.OperationTypes.join(","),
            r.TotalRiskScore.to_string(),
            r.AlertReason.clone(),
        ];
        row(out, &vals.into_iter().zip(widths).collect::<Vec<_>>())?;
    }
    Ok(())
}
