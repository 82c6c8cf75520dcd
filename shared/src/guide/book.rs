//! `catalog/guides.toml`: the guide text, parsed and checked against the catalog.

use crate::catalog::Catalog;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The guide text shipped with this build.
pub const BUILTIN_GUIDES: &str = include_str!("../../catalog/guides.toml");

/// A question template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionTpl {
    /// The question.
    pub ask: String,
    /// The command that answers it.
    #[serde(default)]
    pub cmd: Option<String>,
    /// Resource kind the command is repeated for.
    #[serde(default)]
    pub on: Option<String>,
}

/// A step template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepTpl {
    /// What and why.
    #[serde(rename = "do")]
    pub action: String,
    /// The command.
    pub cmd: String,
    /// Resource kind the step is repeated for.
    #[serde(default)]
    pub on: Option<String>,
}

/// Questions, steps and references of a family, a principal kind or the common part.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Questions.
    #[serde(default)]
    pub questions: Vec<QuestionTpl>,
    /// Steps.
    #[serde(default)]
    pub steps: Vec<StepTpl>,
    /// Documentation links.
    #[serde(default)]
    pub references: Vec<String>,
}

/// One catalog row's guide: its family plus its own text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowGuide {
    /// Family the row shares text with.
    pub family: String,
    /// The row's own questions, steps and references.
    #[serde(flatten)]
    pub own: Section,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GuideFile {
    version: String,
    #[serde(default)]
    common: BTreeMap<String, Section>,
    #[serde(default)]
    principal: BTreeMap<String, Section>,
    #[serde(default)]
    family: BTreeMap<String, Section>,
    #[serde(default)]
    row: BTreeMap<String, RowGuide>,
}

/// Why the guide text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guides: {key}: {reason}")]
pub struct GuideError {
    /// The offending entry (dotted path).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

/// The parsed guide text. Empty for a catalog loaded without guides: alerts then carry only
/// the common and principal parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuideBook {
    /// Version of the text.
    pub version: String,
    /// Questions every alert of a cloud asks, by cloud (`aws`, `azure`).
    pub common: BTreeMap<String, Section>,
    /// By `<cloud>_<principal kind>`, with `<cloud>_other` as the fallback.
    pub principal: BTreeMap<String, Section>,
    /// Shared text by family name.
    pub family: BTreeMap<String, Section>,
    /// By catalog row id.
    pub row: BTreeMap<String, RowGuide>,
}

/// Placeholders a template may use; anything else in braces is literal text.
pub const PLACEHOLDERS: [&str; 11] = [
    "id",
    "name",
    "parent",
    "rg",
    "region",
    "account",
    "principal",
    "principal_account",
    "start",
    "end",
    "arn",
];

/// `{word}` names in a template, where word is lower-case letters and `_`.
pub fn placeholders(tpl: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = tpl;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_word(&after[..close]) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

pub(crate) fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

impl GuideBook {
    /// The guide text compiled into this build, checked against `catalog`.
    pub fn builtin(catalog: &Catalog) -> Result<GuideBook, GuideError> {
        GuideBook::from_toml(BUILTIN_GUIDES, catalog)
    }

    /// Parse and check a guide document: families exist, rows are catalog rows, placeholders
    /// are known, resource kinds are written as the renderer reads them.
    pub fn from_toml(text: &str, catalog: &Catalog) -> Result<GuideBook, GuideError> {
        let err = |key: &str, reason: String| GuideError {
            key: key.to_string(),
            reason,
        };
        let f: GuideFile = toml::from_str(text).map_err(|e| err("(document)", e.to_string()))?;
        let book = GuideBook {
            version: f.version,
            common: f.common,
            principal: f.principal,
            family: f.family,
            row: f.row,
        };
        for (id, r) in &book.row {
            if catalog.get(id).is_none() {
                return Err(err(&format!("row.{id}"), "not a catalog row id".into()));
            }
            if !book.family.contains_key(&r.family) {
                return Err(err(
                    &format!("row.{id}.family"),
                    format!("family `{}` is not defined", r.family),
                ));
            }
        }
        for (key, s) in book.all_sections() {
            check_section(&key, s).map_err(|reason| err(&key, reason))?;
        }
        Ok(book)
    }

    fn all_sections(&self) -> Vec<(String, &Section)> {
        fn named<'a>(prefix: &str, m: &'a BTreeMap<String, Section>) -> Vec<(String, &'a Section)> {
            m.iter().map(|(k, s)| (format!("{prefix}.{k}"), s)).collect()
        }
        let mut out = named("common", &self.common);
        out.extend(named("principal", &self.principal));
        out.extend(named("family", &self.family));
        out.extend(self.row.iter().map(|(k, r)| (format!("row.{k}"), &r.own)));
        out
    }

    /// The row's family section and its own, in that order; empty when the row has no entry.
    pub fn sections_of<'a>(&'a self, id: &str, _catalog: &Catalog) -> Vec<&'a Section> {
        let Some(r) = self.row.get(id) else {
            return Vec::new();
        };
        self.family.get(&r.family).into_iter().chain([&r.own]).collect()
    }

    /// What the catalog meta-test holds every row to: an entry, and from its family and its
    /// own text at least one question, one step, and a command of the row's cloud for every
    /// step. One line per problem; empty when every row is covered.
    pub fn coverage(&self, catalog: &Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        for e in &catalog.entries {
            let sections = self.sections_of(&e.id, catalog);
            if sections.is_empty() {
                problems.push(format!("{}: no guide entry", e.id));
                continue;
            }
            let questions = sections.iter().map(|s| s.questions.len()).sum::<usize>();
            let steps: Vec<&StepTpl> = sections.iter().flat_map(|s| &s.steps).collect();
            if questions == 0 {
                problems.push(format!("{}: no questions", e.id));
            }
            if steps.is_empty() {
                problems.push(format!("{}: no containment or revert steps", e.id));
            }
            let cli = match e.cloud {
                crate::event::Cloud::Aws => "aws ",
                crate::event::Cloud::Azure => "az ",
            };
            for t in steps.iter().filter(|t| !t.cmd.starts_with(cli)) {
                problems.push(format!("{}: step `{}` has no {}command", e.id, t.action, cli));
            }
        }
        problems
    }

    /// The section for a principal kind (`role`, `user`...) of a cloud, or the cloud's `other`.
    pub fn principal_section(&self, cloud: &str, kind: &str) -> Option<&Section> {
        self.principal
            .get(&format!("{cloud}_{kind}"))
            .or_else(|| self.principal.get(&format!("{cloud}_other")))
    }
}

fn check_section(_key: &str, s: &Section) -> Result<(), String> {
    let templates = s
        .questions
        .iter()
        .flat_map(|q| [Some(q.ask.as_str()), q.cmd.as_deref()])
        .chain(
            s.steps
                .iter()
                .flat_map(|t| [Some(t.action.as_str()), Some(t.cmd.as_str())]),
        )
        .flatten();
    for t in templates {
        if let Some(bad) = placeholders(t).into_iter().find(|p| !PLACEHOLDERS.contains(p)) {
            return Err(format!("unknown placeholder {{{bad}}} in `{t}`"));
        }
    }
    let kinds = s
        .questions
        .iter()
        .filter_map(|q| q.on.as_deref())
        .chain(s.steps.iter().filter_map(|t| t.on.as_deref()));
    for k in kinds {
        let ok = k == "*"
            || (!k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-:/_".contains(&b)));
        if !ok {
            return Err(format!("resource kind `{k}` must be lower case (or `*`)"));
        }
    }
    for q in &s.questions {
        if q.on.is_some() && q.cmd.is_none() {
            return Err(format!(
                "question `{}` repeats per resource but has no command",
                q.ask
            ));
        }
    }
    if s.steps
        .iter()
        .any(|t| t.cmd.trim().is_empty() || t.action.trim().is_empty())
    {
        return Err("a step without its action or command".into());
    }
    Ok(())
}
