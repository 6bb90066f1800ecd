//! The client's address behind reverse proxies (spec 15 `TRUST_PROXY`, with
//! Express's `trust proxy` semantics): per-client limits and telemetry must
//! key on the real client, not on the nginx in front of the service, and a
//! client must not be able to pick its own key by sending `X-Forwarded-For`
//! to a service that trusts nobody.
//!
//! The addresses of a request are the peer, then the `X-Forwarded-For`
//! entries from right (nearest) to left. Walking them from the peer on, the
//! client is the first address that is not trusted; if all are trusted, the
//! left-most entry.

use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// Which peers may tell us who the client is.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TrustProxy {
    /// Unset: `X-Forwarded-For` is ignored; the client is the peer.
    #[default]
    Nobody,
    /// `true`: every hop is trusted; the client is the left-most entry.
    Everyone,
    /// A number `n`: the nearest `n` hops are trusted.
    Hops(usize),
    /// A comma list of addresses, subnets and the names `loopback`,
    /// `linklocal`, `uniquelocal`.
    Networks(Vec<IpNet>),
}

/// At most this many `X-Forwarded-For` entries are looked at. Headers are
/// bounded by the HTTP server, but a chain of proxies longer than this is
/// not a deployment, and the walk must not grow with what a client sends.
const MAX_FORWARDED_HOPS: usize = 32;

fn networks(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "loopback" => &["127.0.0.1/8", "::1/128"],
        "linklocal" => &["169.254.0.0/16", "fe80::/10"],
        "uniquelocal" => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
        _ => return None,
    })
}

impl FromStr for TrustProxy {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        match raw {
            "true" => return Ok(Self::Everyone),
            "false" => return Ok(Self::Nobody),
            _ => {}
        }
        if let Ok(hops) = raw.parse::<usize>() {
            return Ok(Self::Hops(hops));
        }
        let mut list = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(names) = networks(item) {
                list.extend(names.iter().map(|n| n.parse::<IpNet>().expect("built-in network")));
            } else if let Ok(net) = item.parse::<IpNet>() {
                list.push(net);
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                list.push(IpNet::from(ip));
            } else {
                return Err(format!(
                    "must be true, a hop count, or a comma list of addresses, subnets, loopback, linklocal, uniquelocal: {item:?} is none of them"
                ));
            }
        }
        Ok(Self::Networks(list))
    }
}

/// IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`) are compared as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl TrustProxy {
    fn trusts(&self, address: IpAddr, hop: usize) -> bool {
        match self {
            Self::Nobody => false,
            Self::Everyone => true,
            Self::Hops(n) => hop < *n,
            Self::Networks(list) => list.iter().any(|net| net.contains(&address)),
        }
    }

    /// The client of a request from `peer` with these `X-Forwarded-For`
    /// header values (in header order).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if *self == Self::Nobody {
            return peer;
        }
        let nearest_first = forwarded_for
            .iter()
            .rev()
            .flat_map(|h| h.rsplit(','))
            .take(MAX_FORWARDED_HOPS);
        let mut current = peer;
        for (hop, entry) in nearest_first.enumerate() {
            if !self.trusts(current, hop) {
                return current;
            }
            match entry.trim().parse::<IpAddr>() {
                Ok(next) => current = canonical(next),
                // A malformed entry ends the chain at the last address we could read.
                Err(_) => return current,
            }
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_express_forms() {
        assert_eq!("true".parse(), Ok(TrustProxy::Everyone));
        assert_eq!("2".parse(), Ok(TrustProxy::Hops(2)));
        let TrustProxy::Networks(list) = "loopback, 10.1.2.3, 192.168.0.0/16".parse().unwrap() else {
            panic!("a list");
        };
        assert_eq!(list.len(), 4);
        assert!("10.0.0.0/33".parse::<TrustProxy>().is_err());
        assert!("nginx".parse::<TrustProxy>().is_err());
    }

    #[test]
    fn unset_ignores_forwarded_headers() {
        let client = TrustProxy::Nobody.client(ip("203.0.113.9"), &["1.2.3.4"]);
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_nearest_on() {
        let trust: TrustProxy = "uniquelocal".parse().unwrap();
        // nginx (172.18.0.5) appended the real client; the client's own claim (1.1.1.1) is left of it.
        let client = trust.client(ip("172.18.0.5"), &["1.1.1.1, 198.51.100.7"]);
        assert_eq!(client, ip("198.51.100.7"));
        // A peer that is not a trusted proxy is the client, whatever it claims.
        assert_eq!(trust.client(ip("198.51.100.7"), &["10.0.0.1"]), ip("198.51.100.7"));
        // Every hop trusted: the left-most entry.
        assert_eq!(trust.client(ip("10.0.0.2"), &["10.0.0.9", "10.0.0.3"]), ip("10.0.0.9"));
        // IPv4-mapped peers match IPv4 networks.
        assert_eq!(
            trust.client(ip("::ffff:10.0.0.2"), &["198.51.100.8"]),
            ip("198.51.100.8")
        );
    }

    #[test]
    fn hop_counts_and_everyone() {
        let header = ["192.0.2.1, 192.0.2.2, 192.0.2.3"];
        assert_eq!(TrustProxy::Hops(1).client(ip("10.0.0.1"), &header), ip("192.0.2.3"));
        assert_eq!(TrustProxy::Hops(2).client(ip("10.0.0.1"), &header), ip("192.0.2.2"));
        assert_eq!(TrustProxy::Everyone.client(ip("10.0.0.1"), &header), ip("192.0.2.1"));
        assert_eq!(
            TrustProxy::Everyone.client(ip("10.0.0.1"), &["garbage"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn long_chains_are_cut() {
        let long = vec!["10.0.0.1"; 10_000].join(",");
        let client = TrustProxy::Everyone.client(ip("10.0.0.2"), &[&long]);
        assert_eq!(client, ip("10.0.0.1"));
    }
}
