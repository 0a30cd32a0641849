//! A [`RowState`] in `ENCODED` bytes, for the row index's temporary file (`rowstore`).
//!
//! Invariants: `RowState::default()` encodes as all zeros and all zeros decodes to it (a page
//! never written reads as default states); `decode(encode(s)) == s` for every state.

use super::{OutcomeStatus, RowState};

/// Bytes per encoded row state.
pub const ENCODED: usize = 64;

const FLAGS: usize = 56;
const STATUS: usize = 57;

impl RowState {
    /// Writes the state into `out` (`ENCODED` bytes), little-endian.
    pub fn encode(&self, out: &mut [u8]) {
        let words = [
            self.attempts,
            self.sessions,
            self.throttled,
            self.last_intent.0,
            self.last_intent.1,
            self.kv_version,
        ];
        for (i, w) in words.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        let offsets = [
            self.intent_at,
            self.report_at,
            self.confirmed_at,
            self.delivery_at,
        ];
        for (i, o) in offsets.iter().enumerate() {
            out[24 + i * 8..32 + i * 8].copy_from_slice(&o.to_le_bytes());
        }
        let flags = [
            self.intent_sealed,
            self.open,
            self.lost,
            self.ambiguous,
            self.confirmed_last,
            self.delivered,
        ];
        out[FLAGS] = flags
            .iter()
            .enumerate()
            .fold(0, |acc, (i, f)| acc | (u8::from(*f) << i));
        out[STATUS] = match self.final_status {
            None => 0,
            Some(OutcomeStatus::Succeeded) => 1,
            Some(OutcomeStatus::Failed) => 2,
            Some(OutcomeStatus::Uncertain) => 3,
            Some(OutcomeStatus::Retry) => 4,
        };
        out[STATUS + 1..ENCODED].fill(0);
    }

    /// Reads a state written by [`RowState::encode`].
    pub fn decode(b: &[u8]) -> RowState {
        let word = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        let offset =
            |i: usize| u64::from_le_bytes(b[24 + i * 8..32 + i * 8].try_into().expect("8 bytes"));
        let flag = |i: u8| b[FLAGS] & (1 << i) != 0;
        RowState {
            attempts: word(0),
            sessions: word(1),
            throttled: word(2),
            last_intent: (word(3), word(4)),
            kv_version: word(5),
            intent_at: offset(0),
            report_at: offset(1),
            confirmed_at: offset(2),
            delivery_at: offset(3),
            intent_sealed: flag(0),
            open: flag(1),
            lost: flag(2),
            ambiguous: flag(3),
            confirmed_last: flag(4),
            delivered: flag(5),
            final_status: match b[STATUS] {
                1 => Some(OutcomeStatus::Succeeded),
                2 => Some(OutcomeStatus::Failed),
                3 => Some(OutcomeStatus::Uncertain),
                4 => Some(OutcomeStatus::Retry),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_default_is_all_zeros() {
        let mut bytes = [0xffu8; ENCODED];
        RowState::default().encode(&mut bytes);
        assert_eq!(bytes, [0u8; ENCODED]);
        assert_eq!(RowState::decode(&[0u8; ENCODED]), RowState::default());
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(words in proptest::array::uniform6(any::<u32>()),
                                 offsets in proptest::array::uniform4(any::<u64>()),
                                 flags in any::<u8>(), status in 0u8..5) {
            let mut bytes = [0u8; ENCODED];
            for (i, w) in words.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            for (i, o) in offsets.iter().enumerate() {
                bytes[24 + i * 8..32 + i * 8].copy_from_slice(&o.to_le_bytes());
            }
            bytes[FLAGS] = flags & 0b11_1111;
            bytes[STATUS] = status;
            let state = RowState::decode(&bytes);
            let mut again = [0u8; ENCODED];
            state.encode(&mut again);
            prop_assert_eq!(again, bytes);
            prop_assert_eq!(RowState::decode(&again), state);
        }
    }
}
