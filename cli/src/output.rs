//! Printing: readable tables for people, one JSON object per line for programs. Values that
//! come from logs (principal names, resource ids) are escaped so they cannot forge rows or
//! drive the terminal.

use serde::Serialize;
use std::io::Write;
use t1578_core::Alert;

pub use t1578_cli::escape;

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
        self.print_marked(out, a, None)
    }

    /// A table row led by a one-character mark (`+`/`-` of a comparison); the header gets a
    /// blank column to match.
    pub fn print_marked(
        &mut self,
        out: &mut impl Write,
        a: &Alert,
        mark: Option<char>,
    ) -> std::io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut *out, a)?;
            return writeln!(out);
        }
        let widths = [24, 8, 18, 36, 14, 4, 4, 4, 90];
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
            if mark.is_some() {
                write!(out, "  ")?;
            }
            header(out, &names, &widths)?;
        }
        if let Some(m) = mark {
            write!(out, "{m} ")?;
        }
        let d = &a.unmapped;
        let reason = match &d.trigger_catalog_id {
            Some(id) => format!("{} [{id}]", a.finding_info.desc),
            None => a.finding_info.desc.clone(),
        };
        let vals = [
            a.time_dt.clone(),
            a.severity_level().as_str().to_string(),
            if a.is_alert {
                a.tier().as_str().to_string()
            } else {
                format!("{} (shadow)", a.tier().as_str())
            },
            a.principal_name().to_string(),
            a.account().to_string(),
            a.risk_score.to_string(),
            format!(
                "{}{}",
                d.operation_count,
                if d.counts_are_lower_bounds { "+" } else { "" }
            ),
            d.unique_resources.to_string(),
            reason,
        ];
        row(out, &vals.into_iter().zip(widths).collect::<Vec<_>>())
    }
}

pub fn print_rows(out: &mut impl Write, rows: &[QueryRow], json: bool) -> std::io::Result<()> {
    if json {
        for r in rows {
            serde_json::to_writer(&mut *out, r)?;
            writeln!(out)?;
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

/// One alert and its guide, for a person: what fired, the questions, the steps with their
/// commands, the hunting queries. Values from logs in prose are escaped; commands and queries
/// are printed as generated (their values are already quoted for the shell or the dialect and
/// hold no control characters).
pub fn print_guide(out: &mut impl Write, a: &Alert) -> std::io::Result<()> {
    let e = |s: &str| escape(s, 400);
    writeln!(out, "{}", e(&a.finding_info.title))?;
    writeln!(out, "  alert {}  dedup {}", a.alert_id(), a.dedup_key())?;
    writeln!(
        out,
        "  {} {}  {} {}  severity {}  risk {}",
        a.cloud.provider,
        e(a.account()),
        a.time_dt,
        e(&a.finding_info.desc),
        a.severity,
        a.risk_score
    )?;
    writeln!(
        out,
        "  principal {} ({})",
        e(&a.actor.user.uid),
        e(&a.actor.user.kind)
    )?;
    for r in &a.resources {
        writeln!(out, "  resource  {}", e(&r.uid))?;
    }
    let Some(g) = &a.unmapped.guide else {
        return writeln!(out, "\n(no guide attached)");
    };
    writeln!(
        out,
        "\nHunting range {} .. {}  (rows: {})",
        g.start_dt,
        g.end_dt,
        g.rows.join(", ")
    )?;
    writeln!(out, "\nQUESTIONS")?;
    for (i, q) in g.questions.iter().enumerate() {
        writeln!(out, "{:>2}. {}", i + 1, e(&q.ask))?;
        if let Some(c) = &q.command {
            writeln!(out, "      $ {c}")?;
        }
    }
    writeln!(out, "\nCONTAINMENT AND REVERT")?;
    for (i, s) in g.steps.iter().enumerate() {
        writeln!(out, "{:>2}. [{}] {}", i + 1, e(&s.source), e(&s.action))?;
        writeln!(out, "      $ {}", s.command)?;
    }
    writeln!(out, "\nHUNTING QUERIES")?;
    for q in &g.queries {
        writeln!(
            out,
            "-- {} / {}",
            q.name.as_str(),
            serde_json::to_value(q.dialect)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("")
        )?;
        writeln!(out, "{}\n", q.query)?;
    }
    if let Some(r) = &a.remediation {
        for link in &r.references {
            writeln!(out, "see {}", e(link))?;
        }
    }
    if !g.omitted.is_empty() {
        writeln!(out, "omitted: {}", g.omitted.join(", "))?;
    }
    Ok(())
}
