//! Table checksums (ACPI 6.5 section 5.2.6: "the entire table, including
//! the checksum field, must add to zero").

/// The 8-bit wrapping sum of `bytes`.
pub fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

/// The checksum byte that makes `bytes` sum to zero, assuming the checksum
/// field inside `bytes` currently holds zero.
pub fn compute(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(sum(bytes))
}

/// Recomputes the checksum stored at `checksum_offset` so that `bytes`
/// sums to zero. Does nothing if the offset is outside `bytes`.
pub fn fix(bytes: &mut [u8], checksum_offset: usize) {
    if let Some(slot) = bytes.get_mut(checksum_offset) {
        *slot = 0;
        let value = compute(bytes);
        bytes[checksum_offset] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_table_sums_to_zero() {
        let mut t = [1u8, 2, 0, 250, 7];
        fix(&mut t, 2);
        assert_eq!(sum(&t), 0);
        assert_eq!(t[2], (256 - (260 % 256)) as u8);
    }

    #[test]
    fn fix_ignores_out_of_range_offset() {
        let mut t = [1u8, 2];
        fix(&mut t, 9);
        assert_eq!(t, [1, 2]);
    }
}
