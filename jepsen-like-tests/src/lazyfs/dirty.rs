//! The unsynced bytes of one file: non-overlapping extents over the backing file, in offset order.
//!
//! Writes are merged with the extents they overlap or touch, so a file written sequentially (a WAL, an SST being
//! built) is one growing extent: an append costs its own length (amortized), not the length of what came before.

use std::collections::BTreeMap;

/// Bytes written to one file since it was last synced. Memory is exactly these bytes (plus `Vec` slack).
#[derive(Debug, Default)]
pub struct DirtyFile {
    /// Extent start offset → its bytes. Invariant: extents neither overlap nor touch.
    extents: BTreeMap<u64, Vec<u8>>,
    /// Sum of the extents' lengths.
    bytes: u64,
}

impl DirtyFile {
    /// Whether nothing is waiting to be synced.
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty()
    }

    /// Unsynced bytes held (overwrites of unsynced bytes count once).
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// One past the last unsynced byte, if any: the file's size as seen through the mount is at least this.
    pub fn end(&self) -> Option<u64> {
        self.extents.last_key_value().map(|(start, data)| start + data.len() as u64)
    }

    /// The extents, in offset order, as they must be written to the backing file on sync.
    pub fn extents(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.extents.iter().map(|(start, data)| (*start, data.as_slice()))
    }

    /// Forgets every unsynced byte (after a sync wrote them, or at a crash) and returns how many there were.
    pub fn clear(&mut self) -> u64 {
        let dropped = self.bytes;
        self.extents.clear();
        self.bytes = 0;
        dropped
    }

    /// Records `data` written at `offset`.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        if self.overwrite_inside(offset, data) {
            return;
        }
        let (start, mut merged) = self.take_left_neighbour(offset, data.len());
        merged.extend_from_slice(data);
        self.absorb_right(end, &mut merged);
        self.bytes += merged.len() as u64;
        self.extents.insert(start, merged);
        self.check_invariant_cheap();
    }

    /// Drops unsynced bytes at and beyond `size` (the file was truncated to `size`).
    pub fn truncate(&mut self, size: u64) {
        let beyond: Vec<u64> = self.extents.range(size..).map(|(start, _)| *start).collect();
        for start in beyond {
            if let Some(data) = self.extents.remove(&start) {
                self.bytes -= data.len() as u64;
            }
        }
        if let Some((start, data)) = self.extents.range_mut(..size).next_back() {
            let keep = (size - start).min(data.len() as u64);
            self.bytes -= data.len() as u64 - keep;
            data.truncate(keep as usize);
        }
    }

    /// Copies the unsynced bytes that fall inside `[offset, offset + buf.len())` over `buf`.
    pub fn overlay(&self, offset: u64, buf: &mut [u8]) {
        let end = offset + buf.len() as u64;
        for (&start, data) in self.extents.range(..end).rev() {
            let data_end = start + data.len() as u64;
            if data_end <= offset {
                // Extents are sorted and disjoint: every earlier one ends before this one starts.
                break;
            }
            let from = start.max(offset);
            let to = data_end.min(end);
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - start) as usize..(to - start) as usize]);
        }
    }

    /// The common overwrite (a page rewritten inside one extent) is done in place; returns whether it applied.
    fn overwrite_inside(&mut self, offset: u64, data: &[u8]) -> bool {
        let Some((start, extent)) = self.extents.range_mut(..=offset).next_back() else {
            return false;
        };
        let from = (offset - start) as usize;
        if from + data.len() > extent.len() {
            return false;
        }
        extent[from..from + data.len()].copy_from_slice(data);
        true
    }

    /// Removes the extent that starts before `offset` and reaches it (overlaps or touches), cut at `offset`, so the
    /// new bytes extend it; otherwise starts a new extent at `offset`.
    fn take_left_neighbour(&mut self, offset: u64, len: usize) -> (u64, Vec<u8>) {
        let neighbour = self
            .extents
            .range(..offset)
            .next_back()
            .filter(|(start, data)| *start + data.len() as u64 >= offset)
            .map(|(start, _)| *start);
        let Some(start) = neighbour else {
            return (offset, Vec::with_capacity(len));
        };
        let Some(mut data) = self.extents.remove(&start) else {
            return (offset, Vec::with_capacity(len));
        };
        self.bytes -= data.len() as u64;
        data.truncate((offset - start) as usize);
        (start, data)
    }

    /// Removes the extents that start inside `[.., end]` (the new bytes cover or touch them), appending the part of
    /// the last one that reaches past `end`.
    fn absorb_right(&mut self, end: u64, merged: &mut Vec<u8>) {
        let merged_start = end - merged.len() as u64;
        let covered: Vec<u64> = self.extents.range(merged_start..=end).map(|(start, _)| *start).collect();
        for start in covered {
            let Some(data) = self.extents.remove(&start) else { continue };
            self.bytes -= data.len() as u64;
            let data_end = start + data.len() as u64;
            if data_end > end {
                merged.extend_from_slice(&data[(end - start) as usize..]);
            }
        }
    }

    /// O(1) part of the invariant, kept in release builds: the byte count covers at least the last extent.
    fn check_invariant_cheap(&self) {
        let last = self.extents.last_key_value().map_or(0, |(_, data)| data.len() as u64);
        assert!(self.bytes >= last, "dirty byte count {} below the last extent's {last}", self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// A file model with one `Option<u8>` per byte: `Some` where an unsynced byte was written.
    #[derive(Default)]
    struct Model {
        bytes: Vec<Option<u8>>,
    }

    impl Model {
        fn write(&mut self, offset: u64, data: &[u8]) {
            let end = offset as usize + data.len();
            if self.bytes.len() < end {
                self.bytes.resize(end, None);
            }
            for (idx, byte) in data.iter().enumerate() {
                self.bytes[offset as usize + idx] = Some(*byte);
            }
        }

        fn truncate(&mut self, size: u64) {
            self.bytes.truncate(size as usize);
        }
    }

    enum Op {
        Write(u64, Vec<u8>),
        Truncate(u64),
    }

    /// Applies `ops` to a [`DirtyFile`] and to the byte model, then checks every observable: byte count, end,
    /// every overlay window, and the extents' invariant (disjoint, not touching, none empty).
    fn check(ops: &[Op], context: &str) {
        let mut dirty = DirtyFile::default();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Write(offset, data) => {
                    dirty.write(*offset, data);
                    model.write(*offset, data);
                }
                Op::Truncate(size) => {
                    dirty.truncate(*size);
                    model.truncate(*size);
                }
            }
        }
        let expected_bytes = model.bytes.iter().filter(|byte| byte.is_some()).count() as u64;
        assert_eq!(dirty.bytes(), expected_bytes, "{context}: byte count");
        let expected_end = model.bytes.iter().rposition(Option::is_some).map(|idx| idx as u64 + 1);
        assert_eq!(dirty.end(), expected_end, "{context}: end");
        let mut previous_end = None;
        for (start, data) in dirty.extents() {
            assert!(!data.is_empty(), "{context}: empty extent at {start}");
            assert!(previous_end.is_none_or(|end| end < start), "{context}: extents touch at {start}");
            previous_end = Some(start + data.len() as u64);
        }
        let mut window = vec![0xEE; model.bytes.len() + 3];
        dirty.overlay(0, &mut window);
        for (idx, got) in window.iter().enumerate() {
            let expected = model.bytes.get(idx).copied().flatten().unwrap_or(0xEE);
            assert_eq!(*got, expected, "{context}: byte {idx}");
        }
    }

    fn write(offset: u64, data: &[u8]) -> Op {
        Op::Write(offset, data.to_vec())
    }

    #[test]
    fn known_shapes() {
        check(&[], "nothing");
        check(&[write(0, b"abc"), write(3, b"def")], "append merges");
        check(&[write(3, b"def"), write(0, b"abc")], "prepend merges");
        check(&[write(0, b"abcdef"), write(2, b"XY")], "overwrite inside");
        check(&[write(10, b"aa"), write(0, b"bb")], "disjoint");
        check(&[write(0, b"aa"), write(4, b"bb"), write(8, b"cc"), write(1, b"0123456")], "span three");
        check(&[write(5, b"hello"), write(0, b"")], "empty write");
        check(&[write(0, b"abcdef"), Op::Truncate(3)], "truncate inside");
        check(&[write(0, b"ab"), write(5, b"cd"), Op::Truncate(5)], "truncate at an extent start");
        check(&[write(0, b"ab"), Op::Truncate(10), write(20, b"x")], "truncate beyond");
    }

    #[test]
    fn random_histories_match_the_byte_model() {
        let seed: u64 = std::env::var("DANCU_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(0x1a2f5);
        println!("seed {seed} (rerun with DANCU_SEED={seed})");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for history in 0..300 {
            let n_ops = rng.random_range(1..40);
            let ops: Vec<Op> = (0..n_ops)
                .map(|_| {
                    if rng.random_ratio(1, 10) {
                        return Op::Truncate(rng.random_range(0..200));
                    }
                    let len = rng.random_range(0..40);
                    Op::Write(rng.random_range(0..200), (0..len).map(|_| rng.random()).collect())
                })
                .collect();
            check(&ops, &format!("seed {seed} history {history}"));
        }
    }
}
