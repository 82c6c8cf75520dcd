//! Filling templates from an alert: the values, the resources by kind, shell quoting.

use super::book::{is_word, QuestionTpl, StepTpl};
use super::{hunting_range, Question, Step};
use crate::alert::Alert;

/// A resource of the alert, split into what commands need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// As in the alert (ARN or ARM id).
    pub raw: String,
    /// AWS `<service>:<type>` from the ARN; Azure the type path after the provider, lower case.
    pub kind: String,
    /// AWS: the id part of the ARN; Azure: the full ARM id.
    pub id: String,
    /// Last segment.
    pub name: String,
    /// Azure: the first named segment after the provider (VM, gallery, collection).
    pub parent: String,
    /// Azure resource group.
    pub rg: String,
    /// AWS region from the ARN.
    pub region: String,
}

impl Resource {
    /// Split an ARN (`arn:aws:ec2:r:a:snapshot/snap-1`, `arn:aws:rds:r:a:db:name`) or an ARM id.
    pub fn parse(raw: &str) -> Option<Resource> {
        if raw.starts_with("arn:") {
            let mut p = raw.splitn(6, ':');
            let (_, _, service, region, _, rest) =
                (p.next(), p.next(), p.next()?, p.next()?, p.next(), p.next()?);
            let cut = rest.find(['/', ':']);
            let (kind, id) = match cut {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, rest),
            };
            return Some(Resource {
                raw: raw.to_string(),
                kind: format!("{service}:{kind}").to_ascii_lowercase(),
                id: id.to_string(),
                name: id.rsplit(['/', ':']).next().unwrap_or(id).to_string(),
                parent: String::new(),
                rg: String::new(),
                region: region.to_string(),
            });
        }
        let segs: Vec<&str> = raw.split('/').filter(|s| !s.is_empty()).collect();
        let at = |name: &str| segs.iter().position(|s| s.eq_ignore_ascii_case(name));
        let prov = at("providers")?;
        // providers/<namespace>/<type>/<name>[/<type>/<name>...]
        let tail = segs.get(prov + 2..)?;
        let kind: Vec<String> = tail.iter().step_by(2).map(|s| s.to_ascii_lowercase()).collect();
        Some(Resource {
            raw: raw.to_string(),
            kind: kind.join("/"),
            id: raw.to_string(),
            name: tail.last()?.to_string(),
            parent: tail.get(1).map(|s| s.to_string()).unwrap_or_default(),
            rg: at("resourcegroups")
                .and_then(|i| segs.get(i + 1))
                .map(|s| s.to_string())
                .unwrap_or_default(),
            region: String::new(),
        })
    }

    fn matches(&self, kind: &str) -> bool {
        kind == "*" || self.kind == kind
    }
}

/// Everything a template can name, taken from one alert.
#[derive(Debug, Clone)]
pub struct Context {
    /// `aws` or `azure`.
    pub cloud: &'static str,
    /// Account or subscription.
    pub account: String,
    /// Region (AWS) of the alert.
    pub region: String,
    /// The principal's stable key as in the alert.
    pub principal_key: String,
    /// The principal as the CLI names it.
    pub principal: String,
    /// `actor.user.kind`.
    pub principal_kind: String,
    /// The principal's AWS account.
    pub principal_account: String,
    /// The display name (Azure `Caller`).
    pub principal_name: String,
    /// Resources of the alert.
    pub resources: Vec<Resource>,
    /// Source addresses that parse as IP addresses.
    pub ips: Vec<String>,
    /// Hunting range (epoch ms).
    pub start_ms: i64,
    /// Hunting range end (epoch ms).
    pub end_ms: i64,
}

/// The principal as the cloud's CLI names it: the IAM user or role name, the UPN, app id,
/// object id or managed identity resource id behind an Azure key's prefix.
fn cli_principal(key: &str, name: &str, azure: bool) -> String {
    if azure {
        return match key.split_once(':') {
            Some(("user", _)) => name.to_string(),
            Some((_, v)) => v.to_string(),
            None => key.to_string(),
        };
    }
    // The normalizer's display name of an IAM user or role is its userName / role name.
    key.strip_prefix("aws-service:").unwrap_or(name).to_string()
}

impl Context {
    /// The values of one alert.
    pub fn of(alert: &Alert) -> Context {
        let azure = alert.cloud.provider.eq_ignore_ascii_case("azure");
        let user = &alert.actor.user;
        let (start_ms, end_ms) = hunting_range(alert);
        let principal_account = user
            .uid
            .strip_prefix("arn:")
            .and_then(|r| r.split(':').nth(3))
            .filter(|a| !a.is_empty())
            .unwrap_or(&alert.cloud.account.uid)
            .to_string();
        Context {
            cloud: if azure { "azure" } else { "aws" },
            account: alert.cloud.account.uid.clone(),
            region: if azure {
                String::new()
            } else {
                alert.cloud.region.clone().unwrap_or_default()
            },
            principal_key: user.uid.clone(),
            principal: cli_principal(&user.uid, &user.name, azure),
            principal_kind: user.kind.clone(),
            principal_account,
            principal_name: user.name.clone(),
            resources: alert
                .resources
                .iter()
                .filter_map(|r| Resource::parse(&r.uid))
                .collect(),
            ips: alert
                .unmapped
                .source_ips
                .iter()
                .map(|s| s.ip.clone())
                .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
                .collect(),
            start_ms,
            end_ms,
        }
    }

    /// The resources a template repeats for: every resource of its kind, or one `None` (the
    /// template is rendered once, with REPLACE_WITH_ words when it names a resource).
    fn targets(&self, on: Option<&str>) -> Vec<Option<&Resource>> {
        let Some(kind) = on else {
            return vec![None];
        };
        let hits: Vec<Option<&Resource>> = self
            .resources
            .iter()
            .filter(|r| r.matches(kind))
            .map(Some)
            .collect();
        if hits.is_empty() {
            vec![None]
        } else {
            hits
        }
    }

    fn value(&self, key: &str, r: Option<&Resource>, on: Option<&str>) -> String {
        let missing = || {
            let kind = on.unwrap_or("resource");
            let kind = kind.rsplit([':', '/']).next().unwrap_or(kind);
            let kind = if kind == "*" { "resource" } else { kind };
            format!(
                "REPLACE_WITH_{}_{}",
                kind.replace('-', "_").to_ascii_uppercase(),
                key.to_ascii_uppercase()
            )
        };
        let or_missing = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned().unwrap_or_else(missing);
        match key {
            "id" => or_missing(r.map(|r| &r.id)),
            "name" => or_missing(r.map(|r| &r.name)),
            "parent" => or_missing(r.map(|r| &r.parent)),
            "rg" => or_missing(r.map(|r| &r.rg)),
            "arn" => or_missing(r.map(|r| &r.raw)),
            "region" => r
                .map(|r| r.region.clone())
                .filter(|s| !s.is_empty())
                .or_else(|| Some(self.region.clone()).filter(|s| !s.is_empty()))
                .unwrap_or_else(|| "REPLACE_WITH_REGION".into()),
            "account" => self.account.clone(),
            "principal" => self.principal.clone(),
            "principal_account" => self.principal_account.clone(),
            "start" => crate::alert::rfc3339(self.start_ms),
            "end" => crate::alert::rfc3339(self.end_ms),
            _ => format!("{{{key}}}"),
        }
    }

    /// Fill a template; `shell` quotes each value as one shell word.
    pub fn fill(&self, tpl: &str, r: Option<&Resource>, on: Option<&str>, shell: bool) -> String {
        let mut out = String::with_capacity(tpl.len() + 64);
        let mut rest = tpl;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if is_word(&after[..close]) => {
                    let v = self.value(&after[..close], r, on);
                    out.push_str(&if shell { shell_quote(&v) } else { v });
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// A question template rendered for each of its resources.
    pub fn questions(&self, q: &QuestionTpl) -> Vec<Question> {
        let on = q.on.as_deref();
        self.targets(on)
            .into_iter()
            .map(|r| Question {
                ask: self.fill(&q.ask, r, on, false),
                command: q.cmd.as_deref().map(|c| self.fill(c, r, on, true)),
            })
            .collect()
    }

    /// A step template rendered for each of its resources.
    pub fn steps(&self, source: &str, t: &StepTpl) -> Vec<Step> {
        let on = t.on.as_deref();
        self.targets(on)
            .into_iter()
            .map(|r| Step {
                source: source.to_string(),
                action: self.fill(&t.action, r, on, false),
                command: self.fill(&t.cmd, r, on, true),
            })
            .collect()
    }
}

/// One shell word for `value`, for bash and zsh: left bare when safe, quoted by `shlex`
/// otherwise, and written as `$'...'` with escapes when it holds control or bidirectional
/// formatting characters (which a terminal paste could act on, or display misleadingly).
pub fn shell_quote(value: &str) -> String {
    let special = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !value.chars().any(special) {
        if let Ok(q) = shlex::try_quote(value) {
            return q.into_owned();
        }
    }
    let mut out = String::from("$'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if special(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if special(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_arm_ids_split_into_what_commands_need() {
        let r = Resource::parse("arn:aws:ec2:eu-west-1:111122223333:snapshot/snap-0abc").unwrap();
        assert_eq!(
            (r.kind.as_str(), r.id.as_str(), r.region.as_str()),
            ("ec2:snapshot", "snap-0abc", "eu-west-1")
        );
        let r = Resource::parse("arn:aws:rds:us-east-1:111122223333:cluster-snapshot:nightly").unwrap();
        assert_eq!(
            (r.kind.as_str(), r.id.as_str()),
            ("rds:cluster-snapshot", "nightly")
        );
        let id = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG-1/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/vm1/EXTENSIONS/cse";
        let r = Resource::parse(id).unwrap();
        assert_eq!(r.kind, "virtualmachines/extensions");
        assert_eq!(
            (r.name.as_str(), r.parent.as_str(), r.rg.as_str(), r.id.as_str()),
            ("cse", "vm1", "RG-1", id)
        );
        assert!(Resource::parse("not-a-resource").is_none());
    }

    #[test]
    fn cli_principals_drop_the_key_prefix() {
        assert_eq!(cli_principal("user:a@b.com", "A@b.com", true), "A@b.com");
        assert_eq!(cli_principal("app:1234", "oid-9", true), "1234");
        assert_eq!(cli_principal("arn:aws:iam::1:role/ci", "ci", false), "ci");
        assert_eq!(
            cli_principal("aws-service:backup.amazonaws.com", "x", false),
            "backup.amazonaws.com"
        );
    }
}
