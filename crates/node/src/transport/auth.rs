//! Peer authentication with a shared cluster secret.
//!
//! Every peer connection opens with a mutual challenge and response inside the hello (see
//! [`super::frame`]): the dialer sends a fresh random nonce; the listener answers with its own
//! nonce and a proof, `HMAC-SHA256(secret, "listener" | from | to | dialer nonce | listener
//! nonce)`; the dialer checks it and sends its own proof with the tag `"dialer"`; the listener
//! checks that and only then serves requests. Each side thus proves it knows the secret without
//! sending it, and a recorded exchange is useless later because the other side's nonce is new
//! every time. The ids are in the proof, so a proof made for one pair of nodes is worthless for
//! another.
//!
//! A node started without `--cluster-secret-file` uses the empty secret, so nodes that all lack
//! one still talk (as before this module), while a node with a secret and one without refuse
//! each other: a process that does not know the secret cannot join, vote or append. The
//! exchange authenticates; it does not encrypt (that is TLS's job).
//!
//! Invariants: the secret is never logged (its `Debug` is redacted) and never sent; proofs are
//! compared in constant time.

use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::frame::Hello;

/// Shortest secret accepted, in bytes: 128 bits.
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest secret file read, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;
pub use super::frame::{Nonce, Proof, NONCE_BYTES, PROOF_BYTES};

/// Which side of the connection a proof speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The node that dialed.
    Dialer,
    /// The node that accepted.
    Listener,
}

/// What a node proves its peers with: the cluster secret, or the empty one.
#[derive(Clone, Default)]
pub struct PeerAuth {
    secret: Vec<u8>,
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.is_enabled() {
            "<secret redacted>"
        } else {
            "<no secret>"
        };
        f.debug_tuple("PeerAuth").field(&state).finish()
    }
}

impl PeerAuth {
    /// No secret: talks only to peers that have none either.
    pub fn none() -> PeerAuth {
        PeerAuth::default()
    }

    /// A secret given as bytes; at least [`MIN_SECRET_BYTES`] long.
    pub fn from_secret(secret: &[u8]) -> Result<PeerAuth, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the cluster secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                secret.len()
            ));
        }
        Ok(PeerAuth {
            secret: secret.to_vec(),
        })
    }

    /// The secret in the file at `path`, without trailing whitespace (a final newline is not
    /// part of it). Errors name the file and the reason.
    pub fn load(path: &Path) -> io::Result<PeerAuth> {
        let bad = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cluster secret file {}: {why}", path.display()),
            )
        };
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        if bytes.len() > MAX_SECRET_BYTES {
            return Err(bad(format!("longer than {MAX_SECRET_BYTES} bytes")));
        }
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        PeerAuth::from_secret(&bytes[..end]).map_err(bad)
    }

    /// True if a secret was configured.
    pub fn is_enabled(&self) -> bool {
        !self.secret.is_empty()
    }

    /// A fresh random nonce.
    pub fn nonce() -> io::Result<Nonce> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(io::Error::other)?;
        Ok(nonce)
    }

    /// `side`'s proof for the connection `hello` with the two nonces.
    pub fn proof(&self, side: Side, hello: &Hello, listener_nonce: &Nonce) -> Proof {
        let tag: &[u8] = match side {
            Side::Dialer => b"raftkv peer dialer",
            Side::Listener => b"raftkv peer listener",
        };
        hmac_sha256(
            &self.secret,
            &[
                tag,
                &hello.from.to_le_bytes(),
                &hello.to.to_le_bytes(),
                &hello.nonce,
                listener_nonce,
            ],
        )
    }

    /// True if `proof` is `side`'s proof for this connection (compared in constant time).
    pub fn verify(&self, side: Side, hello: &Hello, listener_nonce: &Nonce, proof: &Proof) -> bool {
        let expected = self.proof(side, hello, listener_nonce);
        expected
            .iter()
            .zip(proof)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Proof {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn hello() -> Hello {
        Hello {
            from: 1,
            to: 2,
            nonce: [7; NONCE_BYTES],
        }
    }

    #[test]
    fn only_the_same_secret_side_and_connection_verify() {
        let a = PeerAuth::from_secret(b"0123456789abcdef").unwrap();
        let b = PeerAuth::from_secret(b"0123456789abcdeX").unwrap();
        let ln = [9; NONCE_BYTES];
        let proof = a.proof(Side::Dialer, &hello(), &ln);
        assert!(a.verify(Side::Dialer, &hello(), &ln, &proof));
        assert!(
            !b.verify(Side::Dialer, &hello(), &ln, &proof),
            "other secret"
        );
        assert!(!PeerAuth::none().verify(Side::Dialer, &hello(), &ln, &proof));
        assert!(
            !a.verify(Side::Listener, &hello(), &ln, &proof),
            "other side"
        );
        assert!(!a.verify(Side::Dialer, &hello(), &[8; NONCE_BYTES], &proof));
        let other_pair = Hello { to: 3, ..hello() };
        assert!(!a.verify(Side::Dialer, &other_pair, &ln, &proof));
        // Without secrets on both sides, proofs still match (clusters that have none).
        let none = PeerAuth::none();
        let p = none.proof(Side::Listener, &hello(), &ln);
        assert!(none.verify(Side::Listener, &hello(), &ln, &p));
    }

    #[test]
    fn secrets_load_from_files_and_short_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "0123456789abcdef\n").unwrap();
        let auth = PeerAuth::load(&path).unwrap();
        assert_eq!(auth.secret, b"0123456789abcdef");
        assert!(!format!("{auth:?}").contains("0123"), "never shown");
        std::fs::write(&path, "short\n").unwrap();
        let err = PeerAuth::load(&path).unwrap_err().to_string();
        assert!(err.contains("at least 16 bytes"), "{err}");
        let err = PeerAuth::load(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster secret file"), "{err}");
    }
}
