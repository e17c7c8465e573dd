//! Who a bucket belongs to: a client address for reads (IPv4 per address, IPv6 per /64, the block one
//! subscriber usually holds), the ingest credential for writes. A credential is kept as a fingerprint under
//! a per-process key, never as the secret.

use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::auth::Credential;

/// The client a bucket belongs to under a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4(u32),
    /// The first 64 bits of an IPv6 address: one bucket per /64.
    V6Net(u64),
    /// The fingerprint of the ingest credential that authenticated a write.
    Credential(u64),
}

impl Client {
    /// The client at `address`.
    pub fn address(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(v4) => Client::V4(v4.to_bits()),
            IpAddr::V6(v6) => Client::V6Net((v6.to_bits() >> 64) as u64),
        }
    }

    /// The client holding `credential`, fingerprinted with `keys`.
    pub fn credential(credential: &Credential<'_>, keys: &impl BuildHasher) -> Self {
        let fingerprint = match credential {
            Credential::Bearer(token) => keys.hash_one(("bearer", token)),
            Credential::Basic(pair) => keys.hash_one(("basic", pair.as_str())),
        };
        Client::Credential(fingerprint)
    }
}

/// How a refusal names the client: its own address (or /64), or the credential without showing it.
impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Client::V4(bits) => write!(f, "client {}", std::net::Ipv4Addr::from_bits(*bits)),
            Client::V6Net(net) => write!(
                f,
                "client network {}/64",
                std::net::Ipv6Addr::from_bits(u128::from(*net) << 64)
            ),
            Client::Credential(_) => f.write_str("this ingest credential"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::RandomState;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::address(a), Client::address(b));
        assert_ne!(Client::address(a), Client::address(c));
        assert_eq!(
            Client::address(a).to_string(),
            "client network 2001:db8:1:2::/64"
        );
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let plain: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(Client::address(mapped), Client::address(plain));
        assert_eq!(Client::address(plain).to_string(), "client 127.0.0.2");
        assert_ne!(
            Client::address("127.0.0.1".parse().unwrap()),
            Client::address(plain)
        );
    }

    #[test]
    fn credentials_are_told_apart_without_being_shown() {
        let keys = RandomState::new();
        let a = Client::credential(&Credential::Bearer("a"), &keys);
        assert_eq!(a, Client::credential(&Credential::Bearer("a"), &keys));
        assert_ne!(a, Client::credential(&Credential::Bearer("b"), &keys));
        assert_ne!(a, Client::credential(&Credential::Basic("a".into()), &keys));
        assert_eq!(a.to_string(), "this ingest credential");
    }
}
