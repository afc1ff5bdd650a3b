//! `host:port` addresses as operators write them.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest DNS name, in bytes (RFC 1035).
const HOSTNAME_BYTES_MAX: usize = 253;

/// Why `addr` is not a usable `host:port`, or `None` if it is.
pub(super) fn address_problem(addr: &str) -> Option<String> {
    let Some((host, port_text)) = addr.rsplit_once(':') else {
        return Some(format!("invalid address {addr:?}: expected host:port"));
    };
    if !is_port(port_text) {
        return Some(format!("invalid address {addr:?}: port must be a number from 1 to 65535"));
    }
    if !is_host(host) {
        return Some(format!(
            "invalid address {addr:?}: host must be a hostname, an IPv4 address or a bracketed IPv6 address"
        ));
    }
    None
}

fn is_port(text: &str) -> bool {
    // `u16::from_str` alone would accept "+80".
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok_and(|port| port != 0)
}

fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok();
    }
    if host.is_empty() || host.len() > HOSTNAME_BYTES_MAX {
        return false;
    }
    let labels_ok = host
        .split('.')
        .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // A name made only of numbers is meant as an IPv4 address, so it must be one.
    let looks_numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    labels_ok && (!looks_numeric || host.parse::<Ipv4Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostnames_and_ip_addresses() {
        for addr in ["127.0.0.1:7101", "dc-north-1.dancu.internal:7100", "localhost:1", "[::1]:65535", "node_2:80"] {
            assert_eq!(address_problem(addr), None, "{addr}");
        }
    }

    #[test]
    fn rejects_what_cannot_be_dialled() {
        let cases = [
            ("localhost", "expected host:port"),
            ("localhost:0", "port must be"),
            ("localhost:65536", "port must be"),
            ("localhost:+80", "port must be"),
            ("localhost:", "port must be"),
            (":7100", "host must be"),
            ("::1:7100", "host must be"),
            ("[::g]:7100", "host must be"),
            ("bad host:7100", "host must be"),
            ("999.0.0.1:7100", "host must be"),
            ("a..b:7100", "host must be"),
        ];
        for (addr, expected) in cases {
            let problem = address_problem(addr).unwrap_or_default();
            assert!(problem.contains(expected), "{addr}: {problem}");
        }
    }
}
