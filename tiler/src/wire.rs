//! The protobuf wire format, as much of it as a vector tile needs: varints and field headers.

/// Wire type of a varint field.
pub const VARINT: u8 = 0;
/// Wire type of an 8-byte field.
pub const FIXED64: u8 = 1;
/// Wire type of a length-delimited field (strings, messages, packed repeated numbers).
pub const LEN: u8 = 2;

/// Appends `v` as a base-128 varint.
pub fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        // Truncation intended: the low seven bits, with the continuation bit set.
        #[allow(clippy::cast_possible_truncation)]
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    #[allow(clippy::cast_possible_truncation)]
    buf.push(v as u8);
}

/// The length of `v` as a varint.
pub fn varint_len(v: u64) -> usize {
    // One byte per started group of seven bits, and one for zero.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a field's key: its number and wire type.
pub fn key(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(buf, u64::from(field) << 3 | u64::from(wire_type));
}

/// Appends a varint field.
pub fn varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    key(buf, field, VARINT);
    varint(buf, v);
}

/// The length of a varint field of number under 16 (one byte of key) holding `v`.
pub fn varint_field_len(v: u64) -> usize {
    1 + varint_len(v)
}

/// The length of a length-delimited field of number under 16 holding `len` bytes.
pub fn bytes_field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Appends a length-delimited field holding `bytes`.
pub fn bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(buf, field, LEN);
    varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// ZigZag: small negative and positive numbers both as small unsigned ones.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_encoding() {
        for (v, bytes) in [(0_u64, &[0_u8][..]), (1, &[1]), (127, &[127]), (128, &[0x80, 1]), (300, &[0xac, 0x02])] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(buf, bytes, "{v}");
            assert_eq!(varint_len(v), bytes.len(), "{v}");
        }
        let mut buf = Vec::new();
        varint(&mut buf, u64::MAX);
        assert_eq!((buf.len(), varint_len(u64::MAX)), (10, 10));
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }
}
