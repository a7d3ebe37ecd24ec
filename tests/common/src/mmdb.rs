//! A tiny MaxMind DB (MMDB v2) writer for tests: IPv4 networks mapped to
//! country codes, in the format GeoLite2-Country uses
//! (`{"country": {"iso_code": "DE"}}`), so the real reader is tested on a
//! real file without downloading one.

use std::net::Ipv4Addr;

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(usize),
    Data(usize),
}

fn string(out: &mut Vec<u8>, text: &str) {
    assert!(text.len() < 29, "short strings only");
    out.push((2 << 5) | text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

fn map(out: &mut Vec<u8>, pairs: usize) {
    out.push((7 << 5) | pairs as u8);
}

fn uint16(out: &mut Vec<u8>, value: u16) {
    out.push((5 << 5) | 2);
    out.extend_from_slice(&value.to_be_bytes());
}

/// The bytes of a database mapping each `(network, prefix length)` to a
/// country code.
pub fn country_db(networks: &[(Ipv4Addr, u8, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty; 2]];
    for (network, prefix, iso) in networks {
        let offset = data.len();
        map(&mut data, 1);
        string(&mut data, "country");
        map(&mut data, 1);
        string(&mut data, "iso_code");
        string(&mut data, iso);
        let bits = u32::from(*network);
        let mut node = 0;
        for depth in 0..*prefix {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == *prefix {
                nodes[node][bit] = Record::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Record::Node(next) => next,
                    _ => {
                        nodes.push([Record::Empty; 2]);
                        nodes[node][bit] = Record::Node(nodes.len() - 1);
                        nodes.len() - 1
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for pair in &nodes {
        for record in pair {
            let value = match record {
                Record::Empty => count,
                Record::Node(next) => *next,
                Record::Data(offset) => count + 16 + offset,
            } as u32;
            out.extend_from_slice(&value.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    map(&mut out, 9);
    string(&mut out, "binary_format_major_version");
    uint16(&mut out, 2);
    string(&mut out, "binary_format_minor_version");
    uint16(&mut out, 0);
    string(&mut out, "build_epoch");
    out.extend_from_slice(&[8, 2]);
    out.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    string(&mut out, "database_type");
    string(&mut out, "kurz-Test-Country");
    string(&mut out, "description");
    map(&mut out, 1);
    string(&mut out, "en");
    string(&mut out, "kurz test countries");
    string(&mut out, "ip_version");
    uint16(&mut out, 4);
    string(&mut out, "languages");
    out.extend_from_slice(&[1, 4]);
    string(&mut out, "en");
    string(&mut out, "node_count");
    out.push((6 << 5) | 4);
    out.extend_from_slice(&(count as u32).to_be_bytes());
    string(&mut out, "record_size");
    uint16(&mut out, 24);
    out
}
