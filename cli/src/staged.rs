//! A reader that takes its input from the kernel in large reads into a buffer aligned to 64
//! bytes, and hands it on from there.
//!
//! Why: the kernel copies a pipe's or the page cache's data with `rep movsb`, which on the
//! machine measured ran 3 to 5 times slower when the destination is misaligned to the
//! source, and a heap buffer starts 16 bytes into its allocation (BENCHMARKS, "Aligned
//! reads"). The reader's own copy out of the staging buffer costs less than it saves. A pipe
//! also gets a larger buffer, so each read hands over more than 64 KiB.

use std::io::Read;

/// Staging buffer size: one read from the kernel.
const STAGE: usize = 1 << 20;
/// Alignment of the reads from the kernel: of the staging buffer's start here, and of the
/// block reader's reads relative to their file offsets (`input::block_lines`).
pub const ALIGN: usize = 64;

/// Index of the first byte of `buf` (read through its start, which a vector with capacity has
/// even when empty) at an address aligned to [`ALIGN`]; `buf` needs `ALIGN` spare bytes.
pub fn aligned_start(buf: &[u8]) -> usize {
    buf.as_ptr().align_offset(ALIGN).min(ALIGN)
}

/// A reader staged through an aligned buffer. See the module doc.
pub struct Staged<R> {
    inner: R,
    buf: Vec<u8>,
    /// Where the aligned part of `buf` starts.
    pad: usize,
    /// Bytes of the staged part handed on, and staged.
    pos: usize,
    end: usize,
}

impl<R: Read> Staged<R> {
    /// Stage `inner`.
    pub fn new(inner: R) -> Staged<R> {
        let buf = vec![0u8; STAGE + ALIGN];
        let pad = aligned_start(&buf);
        Staged {
            inner,
            buf,
            pad,
            pos: 0,
            end: 0,
        }
    }

    /// The address every read from `inner` lands at.
    #[cfg(test)]
    fn stage_address(&self) -> usize {
        self.buf[self.pad..].as_ptr() as usize
    }
}

impl<R: Read> Read for Staged<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pos == self.end {
            let got = self.inner.read(&mut self.buf[self.pad..self.pad + STAGE])?;
            (self.pos, self.end) = (0, got);
        }
        let n = out.len().min(self.end - self.pos);
        let from = self.pad + self.pos;
        out[..n].copy_from_slice(&self.buf[from..from + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Pipe buffer size asked for standard input, when it is a pipe.
const PIPE: usize = 1 << 20;

/// Ask for a larger buffer on `fd` if it is a pipe; anything else, or a refusal (a system
/// limit below it), leaves it as it is: the input is read the same, only in smaller pieces.
pub fn widen_pipe(fd: impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes in pieces of the given sizes, in turn.
    struct Pieces<'a>(&'a [u8], Vec<usize>, usize);

    impl Read for Pieces<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let want = self.1[self.2 % self.1.len()];
            self.2 += 1;
            let n = want.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn hands_on_every_byte_in_order_whatever_the_piece_sizes() {
        let data: Vec<u8> = (0..3 * STAGE + 12_345).map(|i| (i * 31 % 251) as u8).collect();
        for (inner, outer) in [
            (vec![STAGE], vec![8 << 10]),
            (vec![65_536, 1, 4_095], vec![1 << 20, 3, 100_000]),
            (vec![7], vec![STAGE * 2]),
        ] {
            let mut r = Staged::new(Pieces(&data, inner, 0));
            assert_eq!(r.stage_address() % ALIGN, 0);
            let mut got = Vec::new();
            let mut k = 0;
            loop {
                let mut out = vec![0u8; outer[k % outer.len()]];
                k += 1;
                let n = r.read(&mut out).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&out[..n]);
            }
            assert!(got == data, "bytes lost, doubled or moved");
        }
    }
}
