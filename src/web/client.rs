//! Who is on the other end: the client's address, as seen through reverse proxies the settings
//! trust, and never through a header anyone else could have written.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client's address. Behind a trusted proxy it is the nearest `X-Forwarded-For` entry that
/// is not itself a trusted proxy; entries further left were written by the client and are
/// ignored, since anyone can send them. IPv4 clients of a dual-stack listener arrive as mapped
/// IPv6 addresses and are turned back into IPv4, so each keeps its own identity.
pub fn address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(hop_address)
        .collect::<Vec<_>>();
    let nearest = forwarded.into_iter().rev().find(|ip| !trusted.contains(ip));
    nearest.or(Some(peer))
}

/// One `X-Forwarded-For` entry as an address; `ip:port`, `[v6]:port` and bracketed forms are
/// accepted, anything else (such as `unknown`) is skipped.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn from(peer: &str, forwarded: Option<&str>) -> Option<IpAddr> {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:5000").parse().unwrap());
        if let Some(f) = forwarded {
            req = req.insert_header(("x-forwarded-for", f));
        }
        let trusted = ["10.0.0.5".parse().unwrap()];
        address(&req.to_http_request(), &trusted)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_direct_client_is_its_peer_address_whatever_it_claims() {
        assert_eq!(from("203.0.113.9", Some("198.51.100.1")), ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_address_the_proxy_added() {
        let claimed = "1.1.1.1, 203.0.113.9";
        assert_eq!(from("10.0.0.5", Some(claimed)), ip("203.0.113.9"));
    }

    #[test]
    fn unusable_hops_are_skipped_and_ports_and_mapped_forms_understood() {
        assert_eq!(
            from("10.0.0.5", Some("203.0.113.9, unknown")),
            ip("203.0.113.9")
        );
        assert_eq!(
            from("10.0.0.5", Some("203.0.113.9:4711")),
            ip("203.0.113.9")
        );
        assert_eq!(
            from("10.0.0.5", Some("[2001:db8::1]:443")),
            ip("2001:db8::1")
        );
        assert_eq!(
            from("10.0.0.5", Some("::ffff:203.0.113.9")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_mapped_peer_address_is_its_ipv4_address() {
        assert_eq!(from("[::ffff:203.0.113.9]", None), ip("203.0.113.9"));
        assert_eq!(
            from("[::ffff:10.0.0.5]", Some("198.51.100.7")),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_counts_as_the_client() {
        assert_eq!(from("10.0.0.5", None), ip("10.0.0.5"));
        assert_eq!(from("10.0.0.5", Some("not an address")), ip("10.0.0.5"));
    }
}
