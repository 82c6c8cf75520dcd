//! Hunting queries: CloudTrail Lake SQL and Athena SQL (the standard CloudTrail table) for AWS,
//! KQL over `AzureActivity` and over the raw Activity Log export for Azure.
//!
//! Every value is a string literal escaped for its dialect; resource ids are matched as the JSON
//! string they appear as inside the request and response text (`"snap-1"`, quotes included), so
//! `snap-1` does not also find `snap-10`.

use super::render::Context;
use crate::alert::rfc3339;
use serde::{Deserialize, Serialize};

/// Where a query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// CloudTrail Lake (Trino SQL over an event data store).
    CloudtrailLakeSql,
    /// Athena (Trino) over the standard CloudTrail table.
    AthenaSql,
    /// KQL over `AzureActivity` (Sentinel, Log Analytics).
    KqlAzureActivity,
    /// KQL over the raw Activity Log export (Event Hub / storage records ingested as they are).
    KqlActivityExport,
}

/// What a query looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryName {
    /// Everything the principal did in the range.
    PrincipalActivity,
    /// Everything done to the alert's resources, by anyone.
    ResourceActivity,
    /// Other principals acting from the alert's addresses.
    SameAddresses,
}

impl QueryName {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryName::PrincipalActivity => "principal_activity",
            QueryName::ResourceActivity => "resource_activity",
            QueryName::SameAddresses => "same_addresses",
        }
    }
}

/// Table the Athena queries read: the name the CloudTrail console's "Create Athena table" and
/// the AWS documentation use.
pub const ATHENA_TABLE: &str = "cloudtrail_logs";
/// CloudTrail Lake reads the event data store by its id; replace the word with it.
pub const LAKE_TABLE: &str = "EVENT_DATA_STORE_ID";
/// Table holding raw Activity Log export records (`time`, `resourceId`, `operationName`,
/// `resultType`, `callerIpAddress`, `identity`, `properties`), e.g. an Azure Data Explorer table
/// fed by the diagnostic setting's Event Hub.
pub const EXPORT_TABLE: &str = "AzureActivityExport";

/// A Trino string literal. Quotes are doubled; control characters (which some clients mangle)
/// become `chr(n)` concatenations, so the literal's value is exactly `s`.
pub fn sql_str(s: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in s.chars() {
        if c.is_control() {
            if !run.is_empty() {
                parts.push(format!("'{}'", std::mem::take(&mut run).replace('\'', "''")));
            }
            parts.push(format!("chr({})", c as u32));
        } else {
            run.push(c);
        }
    }
    if !run.is_empty() || parts.is_empty() {
        parts.push(format!("'{}'", run.replace('\'', "''")));
    }
    if parts.len() == 1 {
        parts.pop().unwrap_or_default()
    } else {
        format!("({})", parts.join(" || "))
    }
}

/// A KQL string literal: single-quoted, with `\\`, `\'` and `\uXXXX` escapes for backslashes,
/// quotes and every control or formatting character, so the literal stays on one line.
pub fn kql_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn list(values: &[String], lit: fn(&str) -> String) -> String {
    values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ")
}

/// A resource id as the JSON string that names it inside request and response text.
fn json_needle(id: &str) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Every query for the alert's cloud.
pub fn all(ctx: &Context) -> Vec<super::HuntingQuery> {
    let mut out = Vec::new();
    let mut add = |name, dialect, query: Option<String>| {
        if let Some(query) = query {
            out.push(super::HuntingQuery { name, dialect, query });
        }
    };
    use Dialect::*;
    use QueryName::*;
    if ctx.cloud == "aws" {
        for d in [CloudtrailLakeSql, AthenaSql] {
            add(PrincipalActivity, d, Some(aws::principal(ctx, d)));
            add(ResourceActivity, d, aws::resources(ctx, d));
            add(SameAddresses, d, aws::addresses(ctx, d));
        }
    } else {
        for d in [KqlAzureActivity, KqlActivityExport] {
            add(PrincipalActivity, d, Some(azure::principal(ctx, d)));
            add(ResourceActivity, d, azure::resources(ctx, d));
            add(SameAddresses, d, azure::addresses(ctx, d));
        }
    }
    out
}

mod aws {
    use super::*;

    /// Column names of the two tables: Lake keeps CloudTrail's camel case and a timestamp,
    /// Athena's table lower-cases them and keeps `eventtime` as ISO 8601 text.
    struct Cols {
        table: &'static str,
        time: &'static str,
        arn: &'static str,
        issuer: &'static str,
        account_id: &'static str,
        invoked_by: &'static str,
        recipient: &'static str,
        ip: &'static str,
    }

    fn cols(d: Dialect) -> Cols {
        if d == Dialect::CloudtrailLakeSql {
            Cols {
                table: LAKE_TABLE,
                time: "eventTime",
                arn: "userIdentity.arn",
                issuer: "userIdentity.sessionContext.sessionIssuer.arn",
                account_id: "userIdentity.accountId",
                invoked_by: "userIdentity.invokedBy",
                recipient: "recipientAccountId",
                ip: "sourceIPAddress",
            }
        } else {
            Cols {
                table: ATHENA_TABLE,
                time: "eventtime",
                arn: "useridentity.arn",
                issuer: "useridentity.sessioncontext.sessionissuer.arn",
                account_id: "useridentity.accountid",
                invoked_by: "useridentity.invokedby",
                recipient: "recipientaccountid",
                ip: "sourceipaddress",
            }
        }
    }

    fn range(ctx: &Context, d: Dialect, c: &Cols) -> String {
        // Whole seconds, widened outward: CloudTrail times have no fraction.
        let lo = ctx.start_ms.div_euclid(1000) * 1000;
        let hi = (ctx.end_ms + 999).div_euclid(1000) * 1000;
        let sec = |ms: i64| rfc3339(ms)[..19].to_string();
        if d == Dialect::CloudtrailLakeSql {
            format!(
                "{} BETWEEN TIMESTAMP '{}' AND TIMESTAMP '{}'",
                c.time,
                sec(lo).replace('T', " "),
                sec(hi).replace('T', " ")
            )
        } else {
            format!("{} BETWEEN '{}Z' AND '{}Z'", c.time, sec(lo), sec(hi))
        }
    }

    /// The principal as CloudTrail records it: another account by its id, a service by
    /// `invokedBy`, anyone else by their ARN or the role that issued their session.
    fn who(ctx: &Context, c: &Cols) -> String {
        let k = &ctx.principal_key;
        match ctx.principal_kind.as_str() {
            "aws_account" => format!("{} = {}", c.account_id, sql_str(&ctx.principal_account)),
            "aws_service" => format!("{} = {}", c.invoked_by, sql_str(&ctx.principal)),
            _ => format!("({} = {} OR {} = {})", c.arn, sql_str(k), c.issuer, sql_str(k)),
        }
    }

    fn select(c: &Cols, d: Dialect) -> String {
        let (req, resp) = if d == Dialect::CloudtrailLakeSql {
            ("requestParameters", "responseElements")
        } else {
            ("requestparameters", "responseelements")
        };
        format!(
            "SELECT {t}, eventSource, eventName, awsRegion, {ip}, {arn} AS principal_arn, errorCode, {req}, {resp}\nFROM {table}",
            t = c.time,
            ip = c.ip,
            arn = c.arn,
            table = c.table,
        )
    }

    pub fn principal(ctx: &Context, d: Dialect) -> String {
        let c = cols(d);
        format!(
            "{}\nWHERE {}\n  AND {} = {}\n  AND {}\nORDER BY {}",
            select(&c, d),
            range(ctx, d, &c),
            c.recipient,
            sql_str(&ctx.account),
            who(ctx, &c),
            c.time
        )
    }

    /// Requests or responses that name one of the resources. Lake keeps the parameters as a
    /// map of strings (nested objects as JSON text); Athena as one JSON text.
    fn mentions(ids: &[String], d: Dialect) -> String {
        let terms: Vec<String> = ids
            .iter()
            .map(|id| {
                let needle = sql_str(&json_needle(id));
                if d == Dialect::CloudtrailLakeSql {
                    let v = sql_str(id);
                    format!(
                        "any_match(map_values(requestParameters), v -> v = {v} OR strpos(v, {needle}) > 0)\n    OR any_match(map_values(responseElements), v -> v = {v} OR strpos(v, {needle}) > 0)"
                    )
                } else {
                    format!("strpos(requestparameters, {needle}) > 0\n    OR strpos(responseelements, {needle}) > 0")
                }
            })
            .collect();
        terms.join("\n    OR ")
    }

    pub fn resources(ctx: &Context, d: Dialect) -> Option<String> {
        let ids: Vec<String> = ctx.resources.iter().map(|r| r.id.clone()).collect();
        if ids.is_empty() {
            return None;
        }
        let c = cols(d);
        Some(format!(
            "{}\nWHERE {}\n  AND {} = {}\n  AND (\n    {}\n  )\nORDER BY {}",
            select(&c, d),
            range(ctx, d, &c),
            c.recipient,
            sql_str(&ctx.account),
            mentions(&ids, d),
            c.time
        ))
    }

    pub fn addresses(ctx: &Context, d: Dialect) -> Option<String> {
        if ctx.ips.is_empty() {
            return None;
        }
        let c = cols(d);
        Some(format!(
            "SELECT {ip}, {arn} AS principal_arn, {issuer} AS issuer_arn, count(*) AS calls, min({t}) AS first_seen, max({t}) AS last_seen\nFROM {table}\nWHERE {range}\n  AND {ip} IN ({ips})\n  AND NOT coalesce({who}, false)\nGROUP BY {ip}, {arn}, {issuer}\nORDER BY calls DESC",
            ip = c.ip,
            arn = c.arn,
            issuer = c.issuer,
            t = c.time,
            table = c.table,
            range = range(ctx, d, &c),
            ips = list(&ctx.ips, sql_str),
            who = who(ctx, &c),
        ))
    }
}

mod azure {
    use super::*;

    fn range(ctx: &Context, column: &str) -> String {
        format!(
            "| where {column} between (datetime({}) .. datetime({}))",
            rfc3339(ctx.start_ms),
            rfc3339(ctx.end_ms)
        )
    }

    /// The raw export names the caller only inside `identity`: compare every claim a caller
    /// can be known by.
    fn export_who(ctx: &Context) -> String {
        let v = kql_str(&ctx.principal);
        [
            "tostring(identity.claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'])",
            "trim(' ', tostring(identity.claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name']))",
            "tostring(identity.claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'])",
            "tostring(identity.claims.appid)",
            "tostring(identity.claims['http://schemas.microsoft.com/identity/claims/objectidentifier'])",
            "tostring(identity.claims.xms_mirid)",
            "tostring(identity.authorization.evidence.principalId)",
        ]
        .iter()
        .map(|e| format!("{e} =~ {v}"))
        .collect::<Vec<_>>()
        .join("\n    or ")
    }

    /// `AzureActivity.Caller` holds the UPN of a user and the object id of an application.
    fn caller(ctx: &Context) -> String {
        kql_str(&ctx.principal_name)
    }

    pub fn principal(ctx: &Context, d: Dialect) -> String {
        let sub = kql_str(&ctx.account);
        if d == Dialect::KqlAzureActivity {
            format!(
                "AzureActivity\n{}\n| where SubscriptionId =~ {sub}\n| where Caller =~ {}\n| project TimeGenerated, OperationNameValue, ActivityStatusValue, ResourceGroup, _ResourceId, CallerIpAddress, CorrelationId\n| order by TimeGenerated asc",
                range(ctx, "TimeGenerated"),
                caller(ctx)
            )
        } else {
            format!(
                "{EXPORT_TABLE}\n{}\n| where resourceId startswith strcat('/subscriptions/', {sub}, '/')\n| where {}\n| project ['time'], operationName, resultType, resourceId, callerIpAddress, correlationId\n| order by ['time'] asc",
                range(ctx, "['time']"),
                export_who(ctx)
            )
        }
    }

    pub fn resources(ctx: &Context, d: Dialect) -> Option<String> {
        let ids: Vec<String> = ctx.resources.iter().map(|r| r.raw.clone()).collect();
        if ids.is_empty() {
            return None;
        }
        let ids = list(&ids, kql_str);
        Some(if d == Dialect::KqlAzureActivity {
            format!(
                "AzureActivity\n{}\n| where _ResourceId in~ ({ids})\n| project TimeGenerated, Caller, CallerIpAddress, OperationNameValue, ActivityStatusValue, _ResourceId, CorrelationId\n| order by TimeGenerated asc",
                range(ctx, "TimeGenerated")
            )
        } else {
            format!(
                "{EXPORT_TABLE}\n{}\n| where resourceId in~ ({ids})\n| project ['time'], operationName, resultType, resourceId, callerIpAddress, identity\n| order by ['time'] asc",
                range(ctx, "['time']")
            )
        })
    }

    pub fn addresses(ctx: &Context, d: Dialect) -> Option<String> {
        if ctx.ips.is_empty() {
            return None;
        }
        let ips = list(&ctx.ips, kql_str);
        Some(if d == Dialect::KqlAzureActivity {
            format!(
                "AzureActivity\n{}\n| where CallerIpAddress in ({ips})\n| where not(Caller =~ {})\n| summarize Calls = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated) by Caller, CallerIpAddress\n| order by Calls desc",
                range(ctx, "TimeGenerated"),
                caller(ctx)
            )
        } else {
            format!(
                "{EXPORT_TABLE}\n{}\n| where callerIpAddress in ({ips})\n| where not({})\n| extend Caller = coalesce(tostring(identity.claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn']), tostring(identity.claims.appid), tostring(identity.authorization.evidence.principalId))\n| summarize Calls = count(), FirstSeen = min(['time']), LastSeen = max(['time']) by Caller, callerIpAddress\n| order by Calls desc",
                range(ctx, "['time']"),
                export_who(ctx)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_their_dialect_needs() {
        assert_eq!(sql_str("it's"), "'it''s'");
        assert_eq!(sql_str("a\nb"), "('a' || chr(10) || 'b')");
        assert_eq!(sql_str(""), "''");
        assert_eq!(sql_str("\\ -- /*"), "'\\ -- /*'");
        assert_eq!(kql_str("it's \\ \"q\""), "'it\\'s \\\\ \"q\"'");
        assert_eq!(kql_str("a\nb\u{1b}"), "'a\\u000ab\\u001b'");
        assert_eq!(json_needle("snap-1"), "\"snap-1\"");
    }
}
