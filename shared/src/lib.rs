//! # t1578-core: the pure scoring core of the T1578 detector
//!
//! Detects MITRE ATT&CK T1578 (Modify Cloud Compute Infrastructure) in AWS CloudTrail and Azure
//! Activity Log records. No async runtime, no cloud SDK: the AWS Lambda, the Azure Function and
//! the `t1578` CLI all wrap this crate with their own adapters.
//!
//! ## Design decisions
//! - **Normalize once, at the edge** ([`normalize`](mod@normalize)). Every input shape becomes one
//!   [`ComputeEvent`]; parsing is lenient (any key casing, numbers as strings, JSON inside
//!   strings, unknown keys) and a bad record is a typed [`NormalizeError`], never a panic or a
//!   failed batch. The normalizers read any [`json::Json`] tree: `serde_json::Value`, or, for a
//!   JSON line, a tree of only the fields read whose strings are slices of the line (the same
//!   event, checked by tests and a differential fuzz target, without an allocation per field).
//! - **The catalog is data** ([`catalog`], `catalog/t1578.toml`): operation, request
//!   condition, type, points, ATT&CK sub-technique, fixtures. Rows are validated when loaded.
//! - **Two profiles** ([`engine`]). `seed-kql` reproduces the Sentinel rule the project started
//!   from, quirks included: `has_any` term matching, Start *and* Success rows counted,
//!   `extensions/write` typed CREATE_OR_MODIFY because `case()` tests `/write` first, grouping
//!   by (caller, IP, resource group/region, subscription/account). `default` counts an Azure
//!   operation once across its Start/Accept/Success records, groups per principal (within the
//!   AWS account; across an Entra ID identity's subscriptions) so rotating IPs, regions,
//!   resource groups or subscriptions cannot split the count, uses the
//!   extended catalog with sequence boosts, ignores AWS service callers, and alerts at once on
//!   single-event criticals (shares, public snapshots, exports, SAS URLs).
//! - **Bounded, idempotent windows** ([`window`]). One window per state key holds at most
//!   [`window::MAX_UNITS`] (record, resource) units: exact below that, saturating above it with
//!   counts flagged as lower bounds. Re-applying an event changes nothing; events out of order
//!   inside the window give the same result. Encoded state stays under 16 KiB. The state also
//!   remembers up to [`window::MAX_SEEN`] of the principal's networks for the unfamiliar-IP rule,
//!   which is why it can outlive the window (its expiry covers both).
//! - **Tuning is a validated document, and risk rules are conservative** ([`tuning`],
//!   [`schedule`]). Allowlists key on the stable principal, never on user agents. Change windows
//!   are local schedules in bundled IANA zones; outside a declared window events gain points,
//!   and only inside one can an IaC user agent lower them, because a user agent is whatever the
//!   caller sends. Point rules that depend only on the event (windows, IaC) are applied when it is
//!   scored; the one that depends on history (unfamiliar IP) when it enters its window.
//! - **The alert is an OCSF Detection Finding** ([`alert`]), described by the committed
//!   `schema/alert.schema.json`; `finding_info.uid` is the deterministic dedup key.
//! - **Every alert says what to do next** ([`guide`]): questions, containment and revert steps
//!   with their CLI commands, and hunting queries, filled in from the alert. The text is data
//!   (`catalog/guides.toml`); values from logs are quoted per shell and query dialect.
//! - **Ports and one pipeline** ([`ports`], [`pipeline`]). `StateStore` (load; save if the
//!   version is unchanged) and `AlertSink` are small traits; [`pipeline::process_batch`] does one
//!   load and one conditional save per key, retries conflicts with jittered backoff, and keeps
//!   decided alerts in an outbox saved with the window ([`outbox`]), published once by the
//!   writer that claimed them. [`delivery`] is the edge contract: per record Done, Retry or
//!   Park(reason), which each platform maps to its own retry and dead-letter mechanism.
//! - **Attacker-controlled strings stay data**: state keys are SHA-256 hashes of a JSON array of
//!   their parts; strings are length-capped ([`event::clip`]); alerts are serialized by serde.
#![deny(missing_docs)]

pub mod alert;
pub mod aws_ranges;
pub mod baseline;
pub mod catalog;
pub mod decision;
pub mod delivery;
pub mod engine;
pub mod event;
pub mod eventpattern;
pub mod finding;
pub mod guide;
pub mod incident;
pub mod json;
pub mod kql;
pub mod memory;
pub mod normalize;
pub mod outbox;
pub mod own;
pub mod pipeline;
pub mod ports;
pub mod prefilter;
pub mod profile;
pub mod schedule;
pub mod settings;
pub mod sigma;
pub mod source;
pub mod tuning;
pub mod window;

pub use alert::{Alert, Tier};
pub use catalog::{Catalog, Entry, OpType};
pub use engine::{Engine, Profile, ProfileName, StateKey};
pub use event::{Cloud, ComputeEvent, Phase, Principal, PrincipalKind};
pub use normalize::{normalize, NormalizeError};
pub use pipeline::{process_batch, process_scored, BatchReport, PipelineOptions};
pub use ports::{AlertSink, StateStore};
