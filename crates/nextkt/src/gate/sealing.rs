//! What a ticket's code unlocks offline. A ticket code is 256 random bits; from it a device
//! derives the code's lookup hash (where the bundle files the ticket, and how the revocation
//! list names it) and the key that opens the ticket's attendee data. Without the code
//! neither can be computed, so a lost device's bundle leaks nothing readable.
//!
//! - lookup hash: base64url(SHA-256(`nextkt-gate-v1/lookup:` + code)[..16])
//! - attendee key: SHA-256(`nextkt-gate-v1/key:` + code)
//! - sealed data: base64url(nonce(12) ‖ ChaCha20-Poly1305(key, nonce, json, aad = lookup hash))

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

fn derive(label: &str, code: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(label.as_bytes());
    hash.update(code.as_bytes());
    hash.finalize().into()
}

/// Where the bundle files a code, and how the revocation list names it.
pub fn lookup_hash(code: &str) -> String {
    URL_SAFE_NO_PAD.encode(&derive("nextkt-gate-v1/lookup:", code)[..16])
}

fn key(code: &str) -> LessSafeKey {
    let key = derive("nextkt-gate-v1/key:", code);
    // A 32-byte key is always the right length for ChaCha20-Poly1305.
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).expect("32-byte key"))
}

/// Encrypts `data` so that only a holder of `code` can read it.
pub fn seal(code: &str, data: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let mut sealed = data.to_vec();
    let aad = lookup_hash(code);
    key(code)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut sealed,
        )
        .expect("plaintext within ChaCha20-Poly1305 limits");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(out)
}

/// Opens what [`seal`] made with the same code; `None` for any other code or tampering.
pub fn open(code: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut rest = rest.to_vec();
    let aad = lookup_hash(code);
    let plain = key(code)
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut rest)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_code_opens_what_it_sealed() {
        let sealed = seal("code-a", b"Ada Lovelace");
        assert_eq!(
            open("code-a", &sealed).as_deref(),
            Some(&b"Ada Lovelace"[..])
        );
        assert_eq!(open("code-b", &sealed), None);
        let mut tampered = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(open("code-a", &URL_SAFE_NO_PAD.encode(tampered)), None);
        assert_ne!(lookup_hash("code-a"), lookup_hash("code-b"));
        assert_eq!(lookup_hash("code-a").len(), 22);
    }
}
