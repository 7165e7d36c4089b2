//! Which addresses the gateway's requests for a management-API tenant may reach. Its
//! URLs (IdP metadata, an OpenID Connect provider) are typed by an account admin, and the
//! answers (a refused save, a Test SSO's result) say why a request failed: unchecked, they
//! would let that admin map and probe the operator's internal network (SSRF). Unless the
//! operator allows private networks (`allow_private_idp_urls`), such requests go to public
//! addresses only: the URL's own address ([`public_host`]), every address its name resolves
//! to ([`resolve_public_only`]), and each redirect or endpoint a document names (checked by
//! the caller with [`public_host`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

/// Why a request goes nowhere near an address (the same words whichever step found it).
pub const NOT_PUBLIC: &str = "not a public address: the IdP URLs of the management API \
    and the console reach only public addresses (allow_private_idp_urls)";

/// Whether `url`'s host may be reached: a name (its addresses are the resolver's to check)
/// or a public address literal.
pub fn public_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(_)) => true,
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        None => false,
    }
}

/// `builder` resolving names to their public addresses only when `public_only`; a name
/// with none then fails with [`NOT_PUBLIC`].
pub fn restrict(builder: reqwest::ClientBuilder, public_only: bool) -> reqwest::ClientBuilder {
    if public_only {
        builder.dns_resolver(Arc::new(PublicResolver))
    } else {
        builder
    }
}

/// A client of IdP calls and the address rule it keeps: the operator's tenants' reach any
/// address; the management API's keep to public ones (their client [`restrict`]ed, each
/// URL checked with [`Guarded::allows`]) unless the operator allows others.
#[derive(Debug, Clone)]
pub struct Guarded {
    /// The client.
    pub client: reqwest::Client,
    /// Whether only public addresses may be reached.
    pub public_only: bool,
}

impl Guarded {
    /// Whether `url` may be called: any, or one of a public host.
    pub fn allows(&self, url: &Url) -> bool {
        !self.public_only || public_host(url)
    }
}

/// Resolves a name to its public addresses only; a name with none is an error.
struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(NOT_PUBLIC.into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is a globally reachable unicast address: not loopback, private (RFC 1918,
/// RFC 4193), link-local, shared (RFC 6598), unspecified, broadcast, multicast,
/// documentation, benchmarking or reserved, nor an IPv4-mapped form of one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
                    || (first & 0xffc0) == 0xfec0
                    || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                    || (first == 0x0064 && v6.segments()[1] == 0xff9b))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_reachable_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "20.190.128.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }
}
