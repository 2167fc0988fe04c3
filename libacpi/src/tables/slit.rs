//! System Locality Information Table (ACPI 6.5 section 5.2.17, Table 5.73).

use super::Table;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

/// Relative distance of a locality to itself.
const LOCAL_DISTANCE: u8 = 10;

/// The SLIT: an N x N matrix of relative distances between proximity domains.
#[derive(Clone, Copy, Debug)]
pub struct Slit<'a> {
    /// Number of system localities (proximity domains), N.
    pub localities: usize,
    /// Row-major N x N distances; entry `i * N + j` is the distance from
    /// locality `i` to `j`. The diagonal must be 10, other entries must be
    /// above 10 (255 = unreachable); 0-9 are reserved.
    pub distances: &'a [u8],
}

impl Table for Slit<'_> {
    fn signature(&self) -> Signature {
        Signature::SLIT
    }

    fn length(&self) -> usize {
        HEADER_LENGTH + 8 + self.distances.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let invalid = |reason| Err(Error::InvalidField { signature: Signature::SLIT, reason });
        if self.localities.checked_mul(self.localities) != Some(self.distances.len()) {
            return invalid("distance matrix is not localities x localities");
        }
        for (index, &d) in self.distances.iter().enumerate() {
            let on_diagonal = index / self.localities == index % self.localities;
            if on_diagonal && d != LOCAL_DISTANCE {
                return invalid("distance of a locality to itself must be 10");
            }
            if !on_diagonal && d <= LOCAL_DISTANCE {
                return invalid("distance between localities must be above 10");
            }
        }
        write_table(out, Signature::SLIT, 1, ids, |w| {
            w.u64(self.localities as u64);
            w.bytes(self.distances);
            Ok(())
        })
    }
}
