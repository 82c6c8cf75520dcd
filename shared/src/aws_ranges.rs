//! AWS's published address ranges, to tell an instance's credentials used outside AWS.
//!
//! Design decisions:
//! - **The ranges come from the deployment, never from the binary.** AWS publishes them as
//!   `ip-ranges.json` and adds prefixes every week or so. A copy built into the detector would
//!   go stale, and every instance launched in a newer range that calls the API from its public
//!   address would look like a stolen credential, on every call, until the next release. The
//!   Terraform module fetches the file when it is applied (a Lambda layer, read once per cold
//!   start); the CLI takes `--aws-ip-ranges FILE`. Without ranges the sign is off, and the
//!   detector says so nowhere else: nothing is judged outside AWS that it cannot tell.
//! - **All of AWS, not EC2's prefixes alone.** An instance reaches the API from its public
//!   address, a NAT gateway's, or a VPC endpoint (a private address). Every prefix of the file
//!   counts (its `AMAZON` entries are a superset of the others), so a proxy or an egress
//!   service in AWS is inside, as GuardDuty's `InstanceCredentialExfiltration.OutsideAWS` has
//!   it.
//! - **Sorted, merged intervals with a binary search.** The file's ~10,000 prefixes (parsed by
//!   `ipnet`) merge to a few thousand intervals, overlapping, nested and touching ones joined;
//!   a lookup is a dozen comparisons and no allocation, done only for an instance role's call
//!   ([`instance_session`]).
//! - **Only a routable address is outside.** A private, loopback, link-local or carrier-grade
//!   NAT address is a VPC endpoint's or a network's inside; a service name (`ec2.amazonaws.com`,
//!   `AWS Internal`) is not an address. Neither says the call left AWS.
//! - **Strict when read.** A document that is neither AWS's JSON nor a list of CIDRs, or holds
//!   none, is an error naming the entry: an empty table would put every address outside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// A ranges document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangesError {
    /// Not AWS's `ip-ranges.json`.
    #[error("not AWS's ip-ranges.json: {0}")]
    Json(String),
    /// An entry that is not a CIDR.
    #[error("entry {index} (`{value}`) is not a CIDR prefix")]
    Prefix {
        /// Position of the entry, from 0.
        index: usize,
        /// The entry, cut to 64 bytes.
        value: String,
    },
    /// No prefix at all.
    #[error("no prefixes: every address would be outside AWS")]
    Empty,
}

/// AWS's address space, as merged intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsRanges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

#[derive(serde::Deserialize)]
struct IpRangesJson {
    prefixes: Vec<V4Entry>,
    #[serde(default)]
    ipv6_prefixes: Vec<V6Entry>,
}

#[derive(serde::Deserialize)]
struct V4Entry {
    ip_prefix: String,
}

#[derive(serde::Deserialize)]
struct V6Entry {
    ipv6_prefix: String,
}

impl AwsRanges {
    /// Read AWS's `ip-ranges.json`, or a list of CIDR prefixes separated by white space or
    /// commas (what an operator may keep, or a deployment writes).
    pub fn parse(text: &str) -> Result<AwsRanges, RangesError> {
        let trimmed = text.trim_start();
        let prefixes: Vec<String> = if trimmed.starts_with('{') {
            let doc: IpRangesJson =
                serde_json::from_str(trimmed).map_err(|e| RangesError::Json(e.to_string()))?;
            let v4 = doc.prefixes.into_iter().map(|p| p.ip_prefix);
            v4.chain(doc.ipv6_prefixes.into_iter().map(|p| p.ipv6_prefix))
                .collect()
        } else {
            let sep = |c: char| c.is_whitespace() || c == ',';
            trimmed
                .split(sep)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let nets = prefixes
            .iter()
            .enumerate()
            .map(|(index, p)| {
                IpNet::from_str(p.trim()).map_err(|_| RangesError::Prefix {
                    index,
                    value: crate::event::clip(p, 64),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if nets.is_empty() {
            return Err(RangesError::Empty);
        }
        let mut ranges = AwsRanges::default();
        for net in nets {
            match net {
                IpNet::V4(n) => ranges.v4.push((n.network().into(), n.broadcast().into())),
                IpNet::V6(n) => ranges.v6.push((n.network().into(), n.broadcast().into())),
            }
        }
        // The file lists a prefix once per service (an EC2 prefix is an AMAZON one too), and
        // adjacent prefixes may make no single CIDR (a /14 then a /13): one interval each.
        merge(&mut ranges.v4, |x| x.checked_add(1));
        merge(&mut ranges.v6, |x| x.checked_add(1));
        Ok(ranges)
    }

    /// Merged intervals kept: (IPv4, IPv6).
    pub fn intervals(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Whether AWS announces the address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => within(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => within(&self.v4, u32::from(v4)),
                None => within(&self.v6, u128::from(a)),
            },
        }
    }

    /// Whether a record's source address is a routable address outside AWS. A service name, an
    /// address that does not parse, or a private one is not.
    pub fn outside(&self, source: &str) -> bool {
        let Ok(ip) = IpAddr::from_str(source.trim()) else {
            return false;
        };
        routable(ip) && !self.contains(ip)
    }
}

/// Sort intervals and join those that overlap or touch (`succ`: the address after one).
fn merge<T: Ord + Copy>(v: &mut Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for &(start, end) in v.iter() {
        match out.last_mut() {
            Some(last) if succ(last.1).is_none_or(|n| start <= n) => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    *v = out;
}

fn within<T: Ord + Copy>(intervals: &[(T, T)], x: T) -> bool {
    let i = intervals.partition_point(|&(start, _)| start <= x);
    i > 0 && x <= intervals[i - 1].1
}

/// A public unicast address: not a network's inside, a loopback, a link or a multicast group.
fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => routable_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => routable_v4(v4),
            None => routable_v6(a),
        },
    }
}

fn routable_v4(a: Ipv4Addr) -> bool {
    let [x, y, ..] = a.octets();
    // 100.64.0.0/10: carrier-grade NAT, shared address space (RFC 6598).
    let shared = x == 100 && (64..128).contains(&y);
    !(a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || shared
        || x == 0
        || x >= 240)
}

fn routable_v6(a: Ipv6Addr) -> bool {
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || a.is_unique_local()
        || a.is_unicast_link_local())
}

/// Whether an assumed role's session is an EC2 instance's: the instance profile's credentials
/// are issued with the instance id as the session name (`i-` and 8 or 17 hex digits).
pub fn instance_session(session: &str) -> bool {
    let Some(hex) = session.strip_prefix("i-") else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
      "syncToken": "1788875225",
      "createDate": "2026-09-08-13-47-05",
      "prefixes": [
        {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON", "network_border_group": "ap-northeast-2"},
        {"ip_prefix": "52.4.0.0/14", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
        {"ip_prefix": "52.4.0.0/14", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"},
        {"ip_prefix": "52.8.0.0/13", "region": "us-west-1", "service": "AMAZON", "network_border_group": "us-west-1"},
        {"ip_prefix": "15.230.15.29/32", "region": "eu-central-1", "service": "AMAZON", "network_border_group": "eu-central-1"}
      ],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
      ]
    }"#;

    fn ranges() -> AwsRanges {
        AwsRanges::parse(DOC).unwrap()
    }

    #[test]
    fn addresses_in_the_published_prefixes_are_inside() {
        let r = ranges();
        for inside in [
            "52.4.0.0",
            "52.7.255.255",
            "52.15.1.2",
            "3.5.143.1",
            "15.230.15.29",
            "2600:1f18::1",
        ] {
            assert!(!r.outside(inside), "{inside} is AWS's");
        }
        // 52.4.0.0/14 and 52.8.0.0/13 are adjacent: one interval, and the duplicate adds none.
        assert_eq!(r.intervals(), (3, 1));
    }

    #[test]
    fn public_addresses_elsewhere_are_outside() {
        let r = ranges();
        for outside in [
            "45.77.10.20",
            "52.3.255.255",
            "52.16.0.0",
            "15.230.15.30",
            "2a01:4f8::1",
            "::ffff:45.77.10.20",
        ] {
            assert!(r.outside(outside), "{outside} is not AWS's");
        }
    }

    #[test]
    fn private_addresses_and_service_names_are_never_outside() {
        let r = ranges();
        for not_an_exit in [
            "10.0.3.7",
            "172.31.4.5",
            "192.168.1.1",
            "100.64.0.9",
            "127.0.0.1",
            "169.254.169.254",
            "fd00::1",
            "fe80::1",
            "ec2.amazonaws.com",
            "AWS Internal",
            "",
            "999.1.1.1",
        ] {
            assert!(!r.outside(not_an_exit), "{not_an_exit:?}");
        }
    }

    #[test]
    fn a_plain_list_of_prefixes_reads_as_the_json_does() {
        // A nested prefix (52.5.0.0/16 in 52.4.0.0/14) adds no interval.
        let list = "3.5.140.0/22, 52.4.0.0/14\n52.8.0.0/13 15.230.15.29/32\n2600:1f18::/33\n52.5.0.0/16\n";
        assert_eq!(AwsRanges::parse(list).unwrap(), ranges());
    }

    #[test]
    fn a_document_that_holds_no_ranges_is_refused_with_its_entry() {
        assert_eq!(AwsRanges::parse(" \n"), Err(RangesError::Empty));
        assert_eq!(
            AwsRanges::parse(r#"{"prefixes": [], "ipv6_prefixes": []}"#),
            Err(RangesError::Empty)
        );
        assert!(matches!(
            AwsRanges::parse(r#"{"syncToken": "1"}"#),
            Err(RangesError::Json(_))
        ));
        let err = AwsRanges::parse("52.4.0.0/14\n52.8.0.0/33").unwrap_err();
        assert_eq!(
            err,
            RangesError::Prefix {
                index: 1,
                value: "52.8.0.0/33".into()
            }
        );
        assert_eq!(err.to_string(), "entry 1 (`52.8.0.0/33`) is not a CIDR prefix");
    }

    #[test]
    fn an_instance_profile_session_is_named_after_its_instance() {
        for yes in ["i-0a1b2c3d", "i-0123456789abcdef0"] {
            assert!(instance_session(yes), "{yes}");
        }
        for no in [
            "i-0A1B2C3D",
            "i-0123",
            "i-0123456789abcdef",
            "botocore-session-1",
            "alice@example.com",
            "i-0123456789abcdefg",
        ] {
            assert!(!instance_session(no), "{no}");
        }
    }
}
