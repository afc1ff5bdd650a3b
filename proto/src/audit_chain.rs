//! The access audit's chain format: how a record's hash follows from the one before it, and what a checkpoint's
//! signature covers. Nodes build chains with it and `dancuctl audit verify` recomputes them with it, so both sides
//! share one definition.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use crate::v1::AuditCheckpoint;

pub const HASH_BYTES: usize = 32;

/// The hash before a chain's first record.
pub const GENESIS: [u8; HASH_BYTES] = [0; HASH_BYTES];

/// The chain hash after `record` (its encoded bytes, exactly as stored), given the hash before it.
pub fn next_hash(previous: &[u8], record: &[u8]) -> [u8; HASH_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(record);
    hasher.finalize().into()
}

/// The bytes a checkpoint's signature covers.
pub fn signed_message(node_id: u64, seq: u64, head_hash: &[u8]) -> Vec<u8> {
    const DOMAIN: &[u8] = b"dancu-audit-checkpoint";
    let mut message = Vec::with_capacity(DOMAIN.len() + 16 + head_hash.len());
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(&node_id.to_be_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(head_hash);
    message
}

/// A node's audit signing key (Ed25519), kept as PKCS#8 in its data dir.
pub struct SigningKey(Ed25519KeyPair);

#[derive(Debug)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit signing key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

impl SigningKey {
    /// A new key and its PKCS#8 encoding (to store).
    pub fn generate() -> Result<(SigningKey, Vec<u8>), KeyError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|e| KeyError(e.to_string()))?;
        let key = SigningKey::from_pkcs8(pkcs8.as_ref())?;
        Ok((key, pkcs8.as_ref().to_vec()))
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        Ed25519KeyPair::from_pkcs8(pkcs8).map(SigningKey).map_err(|e| KeyError(e.to_string()))
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// A signed checkpoint of `node_id`'s chain at `seq`.
    pub fn checkpoint(&self, node_id: u64, seq: u64, head_hash: &[u8], time_unix_us: i64) -> AuditCheckpoint {
        let signature = self.0.sign(&signed_message(node_id, seq, head_hash));
        AuditCheckpoint {
            node_id,
            seq,
            head_hash: head_hash.to_vec(),
            time_unix_us,
            public_key: self.public_key(),
            signature: signature.as_ref().to_vec(),
        }
    }
}

/// Whether `checkpoint` carries a valid signature by `public_key`.
pub fn signature_valid(checkpoint: &AuditCheckpoint, public_key: &[u8]) -> bool {
    let message = signed_message(checkpoint.node_id, checkpoint.seq, &checkpoint.head_hash);
    UnparsedPublicKey::new(&ED25519, public_key).verify(&message, &checkpoint.signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let head = next_hash(&GENESIS, b"record");
        let checkpoint = key.checkpoint(2, 1, &head, 7);
        assert!(signature_valid(&checkpoint, &key.public_key()));
        let moved = AuditCheckpoint { seq: 2, ..checkpoint.clone() };
        assert!(!signature_valid(&moved, &key.public_key()));
        let (other, _) = SigningKey::generate().unwrap();
        assert!(!signature_valid(&checkpoint, &other.public_key()));
    }

    #[test]
    fn each_hash_depends_on_everything_before() {
        let a = next_hash(&GENESIS, b"one");
        let b = next_hash(&a, b"two");
        assert_ne!(b, next_hash(&GENESIS, b"two"));
        assert_ne!(b, next_hash(&next_hash(&GENESIS, b"onf"), b"two"));
    }
}
