//! What one client sends: a seeded sequence of SETs and GETs, encoded straight into RESP.
//!
//! Each request is a GET with probability `read_ratio`, otherwise a SET of a fixed value of
//! `value_size` bytes; the key is `key:{n:012}` with `n` from the [`KeyGen`]. Commands are
//! written as RESP arrays of bulk strings, the form every Redis server accepts, directly into
//! the connection's output buffer (no per-command allocation beyond the buffer's growth).

use std::io::Write;

use bytes::{BufMut, BytesMut};

use super::keys::{KeyGen, Rng};

/// Which command a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `GET key`.
    Get,
    /// `SET key value`.
    Set,
}

/// One client's request generator.
pub struct Workload {
    keys: KeyGen,
    rng: Rng,
    read_ratio: f64,
    value: Vec<u8>,
    key: Vec<u8>,
}

impl Workload {
    /// A generator for one client; `seed` fixes its sequence.
    pub fn new(keys: KeyGen, seed: u64, read_ratio: f64, value_size: usize) -> Workload {
        Workload {
            keys,
            rng: Rng::new(seed),
            read_ratio,
            value: vec![b'x'; value_size],
            key: Vec::with_capacity(16),
        }
    }

    /// Append the next request to `out` and say which command it is.
    pub fn next_into(&mut self, out: &mut BytesMut) -> Op {
        let op = if self.rng.unit() < self.read_ratio {
            Op::Get
        } else {
            Op::Set
        };
        let n = self.keys.next(&mut self.rng);
        self.key.clear();
        write!(self.key, "key:{n:012}").expect("writing to a Vec cannot fail");
        match op {
            Op::Get => {
                out.put_slice(b"*2\r\n$3\r\nGET\r\n");
                put_bulk(out, &self.key);
            }
            Op::Set => {
                out.put_slice(b"*3\r\n$3\r\nSET\r\n");
                put_bulk(out, &self.key);
                put_bulk(out, &self.value);
            }
        }
        op
    }
}

fn put_bulk(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u8(b'$');
    out.put_slice(bytes.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::keys::KeyDistribution;

    #[test]
    fn encodes_set_and_get_as_resp_arrays() {
        let keys = KeyGen::new(KeyDistribution::Uniform, 1);
        let mut out = BytesMut::new();
        assert_eq!(
            Workload::new(keys.clone(), 1, 0.0, 3).next_into(&mut out),
            Op::Set
        );
        assert_eq!(
            &out[..],
            b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$3\r\nxxx\r\n"
        );
        out.clear();
        assert_eq!(Workload::new(keys, 1, 1.0, 3).next_into(&mut out), Op::Get);
        assert_eq!(&out[..], b"*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000000\r\n");
    }

    #[test]
    fn read_ratio_is_honoured() {
        let keys = KeyGen::new(KeyDistribution::Uniform, 1000);
        let mut w = Workload::new(keys, 4, 0.25, 10);
        let mut out = BytesMut::new();
        let gets = (0..40_000)
            .filter(|_| w.next_into(&mut out) == Op::Get)
            .count();
        assert!(
            (9_000..11_000).contains(&gets),
            "{gets} GETs of 40,000 at 0.25"
        );
    }
}
