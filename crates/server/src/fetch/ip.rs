//! Which IP addresses an outbound fetch may connect to.
//!
//! SPEC §3 / ARCHITECTURE "Outbound HTTP": connect only to public unicast
//! addresses. The ranges come from the IANA IPv4 and IPv6 Special-Purpose
//! Address Registries (RFC 6890 and its updates); a range marked there as
//! globally reachable but of no use for serving documents (anycast relays,
//! AS112, ORCHID, …) is refused as local policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address a fetch may connect to.
///
/// Addresses that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the embedded
/// address. Pure function; see the table test below.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// Whether a fetch under the given loopback setting may connect to `ip`:
/// public unicast always; loopback (`127.0.0.0/8`, `::1`) only when
/// `allow_loopback` (tests and `--dev`). Nothing else is ever allowed.
pub fn is_allowed_ip(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public_ip(ip) || (allow_loopback && ip.is_loopback())
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

/// IPv4 ranges that are not public unicast (IANA IPv4 Special-Purpose
/// Address Registry, plus multicast and the reserved class E).
const V4_DENY: &[([u8; 4], u32, &str)] = &[
    (
        [0, 0, 0, 0],
        8,
        "\"this network\" (RFC 791), includes 0.0.0.0",
    ),
    ([10, 0, 0, 0], 8, "private-use (RFC 1918)"),
    (
        [100, 64, 0, 0],
        10,
        "shared address space / CGNAT (RFC 6598)",
    ),
    ([127, 0, 0, 0], 8, "loopback (RFC 1122)"),
    (
        [169, 254, 0, 0],
        16,
        "link-local, includes cloud metadata 169.254.169.254 (RFC 3927)",
    ),
    ([172, 16, 0, 0], 12, "private-use (RFC 1918)"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments (RFC 6890)"),
    ([192, 0, 2, 0], 24, "documentation TEST-NET-1 (RFC 5737)"),
    ([192, 31, 196, 0], 24, "AS112-v4 (RFC 7535), policy"),
    ([192, 52, 193, 0], 24, "AMT (RFC 7450), policy"),
    (
        [192, 88, 99, 0],
        24,
        "deprecated 6to4 relay anycast (RFC 7526)",
    ),
    ([192, 168, 0, 0], 16, "private-use (RFC 1918)"),
    (
        [192, 175, 48, 0],
        24,
        "direct delegation AS112 (RFC 7534), policy",
    ),
    ([198, 18, 0, 0], 15, "benchmarking (RFC 2544)"),
    ([198, 51, 100, 0], 24, "documentation TEST-NET-2 (RFC 5737)"),
    ([203, 0, 113, 0], 24, "documentation TEST-NET-3 (RFC 5737)"),
    ([224, 0, 0, 0], 4, "multicast (RFC 5771)"),
    (
        [240, 0, 0, 0],
        4,
        "reserved (RFC 1112), includes broadcast 255.255.255.255",
    ),
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !V4_DENY
        .iter()
        .any(|(net, prefix, _)| in_v4(ip, *net, *prefix))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

/// The IPv4 address in the low 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

/// IPv6 ranges inside global unicast `2000::/3` that are still not public
/// (IANA IPv6 Special-Purpose Address Registry).
const V6_DENY: &[([u16; 8], u32, &str)] = &[
    // Includes Teredo 2001::/32 (RFC 4380), benchmarking 2001:2::/48
    // (RFC 5180), ORCHIDv2 2001:20::/28 (RFC 7343) and the anycast and
    // AS112 assignments: nothing that should serve a document.
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (RFC 2928)",
    ),
    (
        [0x2001, 0x0db8, 0, 0, 0, 0, 0, 0],
        32,
        "documentation (RFC 3849)",
    ),
    (
        [0x3fff, 0, 0, 0, 0, 0, 0, 0],
        20,
        "documentation (RFC 9637)",
    ),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "SRv6 SIDs (RFC 9602)"),
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2): the socket would reach
    // the IPv4 address, so judge that.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the translator
    // forwards to the embedded IPv4 address.
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return is_public_v4(low_v4(ip));
    }
    // 6to4 2002::/16 (RFC 3056): bits 16..48 are an IPv4 address.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let v4 = Ipv4Addr::from(((u128::from(ip) >> 80) & 0xffff_ffff) as u32);
        return is_public_v4(v4);
    }
    // Everything outside global unicast 2000::/3 (RFC 4291 §2.4) is not
    // public: ::, ::1, IPv4-compatible ::a.b.c.d, local-use NAT64
    // 64:ff9b:1::/48, discard-only 100::/64, unique-local fc00::/7,
    // link-local fe80::/10, site-local fec0::/10, multicast ff00::/8.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return false;
    }
    !V6_DENY
        .iter()
        .any(|(net, prefix, _)| in_v6(ip, *net, *prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        let table: &[(&str, bool)] = &[
            // Public IPv4.
            ("1.1.1.1", true),
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            ("100.63.255.255", true),
            ("100.128.0.0", true),
            ("172.15.255.255", true),
            ("172.32.0.0", true),
            ("192.0.1.1", true),
            ("192.169.0.1", true),
            ("198.17.255.255", true),
            ("198.20.0.0", true),
            ("223.255.255.255", true),
            // Non-public IPv4.
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("10.0.0.1", false),
            ("10.255.255.255", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("127.0.0.1", false),
            ("127.1.2.3", false),
            ("169.254.169.254", false),
            ("169.254.0.1", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.0.0.1", false),
            ("192.0.0.170", false),
            ("192.0.2.1", false),
            ("192.88.99.1", false),
            ("192.168.1.1", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            // Public IPv6.
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:80b::200e", true),
            ("2001:4860:4860::8888", true),
            ("2001:200::1", true),
            // Non-public IPv6.
            ("::", false),
            ("::1", false),
            ("::127.0.0.1", false),
            ("::8.8.8.8", false),
            ("100::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            ("ff0e::1", false),
            ("2001::1", false),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
            ("2001:2::1", false),
            ("2001:db8::1", false),
            ("3fff::1", false),
            ("5f00::1", false),
            ("64:ff9b:1::1", false),
            // Embedded IPv4: judged by the IPv4 address.
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            ("2002:7f00:1::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:0808:0808::1", true),
        ];
        for (addr, public) in table {
            assert_eq!(is_public_ip(ip(addr)), *public, "{addr}");
        }
    }

    #[test]
    fn loopback_allowed_only_when_enabled() {
        assert!(!is_allowed_ip(ip("127.0.0.1"), false));
        assert!(is_allowed_ip(ip("127.0.0.1"), true));
        assert!(is_allowed_ip(ip("::1"), true));
        assert!(is_allowed_ip(ip("8.8.8.8"), false));
        for other in [
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "169.254.169.254",
            "fe80::1",
            "192.168.0.1",
        ] {
            assert!(!is_allowed_ip(ip(other), true), "{other}");
        }
    }
}
