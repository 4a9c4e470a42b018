//! The disk model of the power-cut VFS: a file's flushed bytes and its unflushed changes, the
//! changes cut into 512-byte sector pieces, how a cut decides which pieces landed (lost, torn
//! prefix, reordered, all of them at a process death), and the rewrite of a real file to what landed. Pure data, no SQLite.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::{CutReport, Landing};

/// The granularity of a torn write.
const SECTOR: u64 = 512;

/// One change to a file that reached the page cache.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// The file was created (it did not exist when it was opened).
    Create,
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    Truncate(u64),
    /// Deleted without a directory sync.
    Delete,
}

/// A file as the disk holds it, and what the page cache holds beyond that.
#[derive(Debug, Default)]
pub(super) struct FileModel {
    /// The flushed content; `None` when the file does not exist durably.
    pub(super) disk: Option<Vec<u8>>,
    /// Changes since the last flush, in order.
    pub(super) pending: Vec<Op>,
}

impl FileModel {
    /// `xSync` returned: the page cache is on the disk.
    pub(super) fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for piece in pieces(&pending) {
            apply(&mut self.disk, &piece.kind, None);
        }
    }

    /// The file's directory was synced: whether a file exists at the path, and which one, is
    /// on the disk as of the last creation or deletion; the data written since that creation
    /// is not (it is still in the page cache).
    pub(super) fn directory_synced(&mut self) {
        let last = self
            .pending
            .iter()
            .rposition(|op| matches!(op, Op::Create | Op::Delete));
        if let Some(last) = last {
            self.disk = match self.pending[last] {
                Op::Create => Some(Vec::new()),
                _ => None,
            };
            self.pending.drain(..=last);
        }
    }
}

/// One piece of an unflushed change: a write is cut at sector boundaries.
struct Piece<'a> {
    /// Index of the change in the page cache.
    op: usize,
    /// Which file at this path the piece belongs to: 0 for the one on the disk, n for the
    /// n-th created in the page cache. Data written to a file whose creation did not land is
    /// lost with it; it never lands in an older file that the cut brought back.
    inode: usize,
    kind: PieceKind<'a>,
}

enum PieceKind<'a> {
    Create,
    Write { offset: u64, data: &'a [u8] },
    Truncate(u64),
    Delete,
}

fn pieces(pending: &[Op]) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut inode = 0;
    for (i, op) in pending.iter().enumerate() {
        match op {
            Op::Create => {
                inode += 1;
                out.push(Piece {
                    op: i,
                    inode,
                    kind: PieceKind::Create,
                })
            }
            Op::Delete => out.push(Piece {
                op: i,
                inode,
                kind: PieceKind::Delete,
            }),
            Op::Truncate(n) => out.push(Piece {
                op: i,
                inode,
                kind: PieceKind::Truncate(*n),
            }),
            Op::Write { offset, data } => {
                let mut at = 0usize;
                while at < data.len() {
                    let pos = offset + at as u64;
                    let to_boundary = (SECTOR - pos % SECTOR) as usize;
                    let len = to_boundary.min(data.len() - at);
                    out.push(Piece {
                        op: i,
                        inode,
                        kind: PieceKind::Write {
                            offset: pos,
                            data: &data[at..at + len],
                        },
                    });
                    at += len;
                }
            }
        }
    }
    out
}

/// Applies the flushed changes to a disk image. `garbage` fills holes (None: zeros, as the
/// live file reads them).
fn apply(file: &mut Option<Vec<u8>>, kind: &PieceKind<'_>, garbage: Option<&mut fastrand::Rng>) {
    match kind {
        PieceKind::Create => *file = Some(Vec::new()),
        PieceKind::Delete => *file = None,
        PieceKind::Truncate(n) => {
            if let Some(f) = file {
                f.resize(*n as usize, 0);
            }
        }
        PieceKind::Write { offset, data } => {
            if let Some(f) = file {
                let start = *offset as usize;
                grow(f, start, garbage);
                let end = start + data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[start..end].copy_from_slice(data);
            }
        }
    }
}

/// Grows `f` to `len` bytes, with garbage or zeros.
fn grow(f: &mut Vec<u8>, len: usize, garbage: Option<&mut fastrand::Rng>) {
    if f.len() >= len {
        return;
    }
    match garbage {
        Some(rng) => {
            let from = f.len();
            f.resize(len, 0);
            rng.fill(&mut f[from..]);
        }
        None => f.resize(len, 0),
    }
}

/// What a file holds after the cut.
pub(super) fn land(
    rng: &mut fastrand::Rng,
    landing: Landing,
    model: &FileModel,
    report: &mut CutReport,
) -> Option<Vec<u8>> {
    let pieces = pieces(&model.pending);
    let keep: Vec<bool> = match landing {
        Landing::Lost => vec![false; pieces.len()],
        Landing::ProcessDeath => vec![true; pieces.len()],
        Landing::TornPrefix => {
            let k = rng.usize(..=pieces.len());
            (0..pieces.len()).map(|i| i < k).collect()
        }
        Landing::Reordered => {
            let structural = pieces
                .iter()
                .filter(|p| !matches!(p.kind, PieceKind::Write { .. }))
                .count();
            let mut structural_kept = rng.usize(..=structural);
            pieces
                .iter()
                .map(|p| match p.kind {
                    PieceKind::Write { .. } => rng.bool(),
                    _ if structural_kept > 0 => {
                        structural_kept -= 1;
                        true
                    }
                    _ => {
                        structural_kept = 0;
                        false
                    }
                })
                .collect()
        }
    };
    // Per write call: how many of its sectors landed, of how many.
    let mut per_op: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut file = model.disk.clone();
    // The file now at the path (see [`Piece::inode`]).
    let mut inode = 0;
    for (piece, kept) in pieces.iter().zip(&keep) {
        let here = piece.inode == inode && file.is_some();
        match piece.kind {
            PieceKind::Write { offset, data } => {
                let e = per_op.entry(piece.op).or_default();
                e.1 += 1;
                if *kept && here {
                    e.0 += 1;
                    // The page cache reads a hole as zeros; a disk may hold garbage there.
                    let garbage = (landing != Landing::ProcessDeath).then_some(&mut *rng);
                    apply(&mut file, &piece.kind, garbage);
                } else if here && landing == Landing::Reordered && rng.u8(..4) == 0 {
                    // The size grew, the data did not arrive.
                    if let Some(f) = &mut file {
                        grow(f, (offset as usize) + data.len(), Some(rng));
                    }
                }
            }
            PieceKind::Create if *kept => {
                inode = piece.inode;
                apply(&mut file, &piece.kind, None);
            }
            // A deletion that did not land leaves the file as it was: it comes back.
            PieceKind::Delete if !*kept && file.is_some() => report.deletions_undone += 1,
            PieceKind::Delete if *kept => apply(&mut file, &piece.kind, None),
            PieceKind::Truncate(_) if *kept && here => apply(&mut file, &piece.kind, None),
            _ => {}
        }
    }
    for (landed, of) in per_op.values() {
        report.writes_unflushed += 1;
        if landed == of {
            report.writes_landed += 1;
        } else if *landed > 0 {
            report.writes_torn += 1;
        }
    }
    file
}

/// Rewrites the real file at `path` to `after`. Only the ranges the page cache touched and
/// what lies past the flushed end can differ from the live file, so only they are written (a
/// whole file when it was created or deleted in between).
pub(super) fn write_back(path: &Path, model: &FileModel, after: &Option<Vec<u8>>) {
    let pending = &model.pending;
    let Some(bytes) = after else {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", path.display()),
        }
        return;
    };
    let whole = !path.exists()
        || model.disk.is_none()
        || pending
            .iter()
            .any(|op| matches!(op, Op::Create | Op::Delete));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    if whole {
        ranges.push((0, bytes.len()));
    } else {
        for op in pending {
            match op {
                Op::Write { offset, data } => {
                    ranges.push((*offset as usize, *offset as usize + data.len()))
                }
                Op::Truncate(n) => ranges.push((*n as usize, bytes.len())),
                Op::Create | Op::Delete => {}
            }
        }
        // Past the flushed end: holes and growth filled with garbage.
        let flushed = model.disk.as_ref().map_or(0, Vec::len);
        ranges.push((flushed, bytes.len()));
    }
    f.set_len(bytes.len() as u64).unwrap();
    for (start, end) in ranges {
        let end = end.min(bytes.len());
        if start >= end {
            continue;
        }
        f.seek(SeekFrom::Start(start as u64)).unwrap();
        f.write_all(&bytes[start..end]).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(offset: u64, len: usize) -> Op {
        Op::Write {
            offset,
            data: (0..len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn a_write_is_cut_at_sector_boundaries_and_a_torn_one_is_counted() {
        let pending = [write(500, 1_100)];
        let spans: Vec<(u64, usize)> = pieces(&pending)
            .iter()
            .map(|p| match p.kind {
                PieceKind::Write { offset, data } => (offset, data.len()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(spans, [(500, 12), (512, 512), (1_024, 512), (1_536, 64)]);

        // Some prefix of four pieces lands: whole, torn or lost, never anything else.
        let model = FileModel {
            disk: Some(vec![0xAA; 2_048]),
            pending: pending.to_vec(),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let mut torn = 0;
        for _ in 0..200 {
            let mut report = CutReport::new(Landing::TornPrefix);
            let after = land(&mut rng, Landing::TornPrefix, &model, &mut report).unwrap();
            assert_eq!(after.len(), 2_048, "the write was inside the flushed file");
            let new = |at: usize| after[at] == ((at - 500) as u8);
            let landed = (500..1_600).take_while(|&at| new(at)).count();
            assert!(
                [0, 12, 524, 1_036, 1_100].contains(&landed),
                "{landed} bytes landed: not a sector boundary"
            );
            assert!(after[500 + landed..1_600].iter().all(|&b| b == 0xAA));
            assert_eq!(report.writes_unflushed, 1);
            torn += report.writes_torn;
        }
        assert!(torn > 0);
    }

    #[test]
    fn a_process_death_keeps_every_change_in_order_and_holes_read_as_zeros() {
        let model = FileModel {
            disk: Some(vec![1; 512]),
            pending: vec![write(1_024, 600), Op::Truncate(1_300), write(0, 10)],
        };
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..50 {
            let mut report = CutReport::new(Landing::ProcessDeath);
            let after = land(&mut rng, Landing::ProcessDeath, &model, &mut report).unwrap();
            let mut expected = vec![1u8; 512];
            expected.resize(1_024, 0);
            expected.extend((0..276).map(|i| i as u8));
            expected[..10].copy_from_slice(&(0..10).collect::<Vec<u8>>());
            assert_eq!(after, expected);
            assert_eq!(
                (
                    report.writes_unflushed,
                    report.writes_landed,
                    report.writes_torn
                ),
                (2, 2, 0)
            );
        }
        // A file deleted and created again: the new one, with its data.
        let model = FileModel {
            disk: Some(vec![1; 512]),
            pending: vec![Op::Delete, Op::Create, write(0, 100)],
        };
        let mut report = CutReport::new(Landing::ProcessDeath);
        let after = land(&mut rng, Landing::ProcessDeath, &model, &mut report);
        assert_eq!(after, Some((0..100).collect::<Vec<u8>>()));
        assert_eq!(report.deletions_undone, 0);
    }

    #[test]
    fn data_of_a_file_whose_creation_did_not_land_does_not_reach_the_old_one() {
        let model = FileModel {
            disk: Some(vec![1; 512]),
            pending: vec![Op::Delete, Op::Create, write(0, 512)],
        };
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..200 {
            let mut report = CutReport::new(Landing::Reordered);
            let after = land(&mut rng, Landing::Reordered, &model, &mut report);
            if report.deletions_undone == 1 {
                // The old file came back, without a byte of the new one's data.
                assert_eq!(after, Some(vec![1; 512]));
            } else {
                // Deleted, or the new file: empty, with its data, or grown with garbage.
                assert!(after.is_none_or(|f| f.len() == 512 || f.is_empty()));
            }
        }
    }
}
