//! The Redis key layout (version 2), written out independently of the
//! crate, so tests check the layout itself: data written by one release
//! must be found by the next.

/// Redis Cluster's key hash (CRC-16/XMODEM).
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

const SHARDS: usize = 64;

/// `<prefix>:{<tag>}:` of the shard `id` belongs to.
fn shard_base(prefix: &str, id: &str) -> String {
    let shard = usize::from(crc16(id.as_bytes())) % SHARDS;
    let tag = (0u32..)
        .map(|n| format!("v{shard}.{n}"))
        .find(|tag| usize::from(crc16(tag.as_bytes()) % 16384) / (16384 / SHARDS) == shard)
        .unwrap();
    format!("{prefix}:{{{tag}}}:")
}

/// The shard key of `id` ending in `suffix`: `j`, `r`, `c`, `cm` or `x`.
pub fn shard_key(prefix: &str, id: &str, suffix: &str) -> String {
    format!("{}{suffix}", shard_base(prefix, id))
}

/// A live family's hash.
pub fn family_key(prefix: &str, family: &str) -> String {
    format!("{}f:{family}", shard_base(prefix, family))
}
