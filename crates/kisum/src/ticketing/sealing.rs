//! Secrets at rest: ChaCha20-Poly1305 (ring's AEAD) under the 32-byte `KISUM_SECRETS_KEY`,
//! a random nonce per secret, and associated data naming what the secret belongs to, so a
//! sealed value copied to another row does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// From 64 hex characters (32 bytes).
    pub fn from_hex(hex_key: &str) -> anyhow::Result<Sealer> {
        let bytes = hex::decode(hex_key.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                anyhow::anyhow!("KISUM_SECRETS_KEY must be 64 hex characters (32 bytes)")
            })?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| anyhow::anyhow!("KISUM_SECRETS_KEY is not a usable key"))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// `base64(nonce || ciphertext || tag)`.
    pub fn seal(&self, secret: &str, context: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut data = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> anyhow::Result<String> {
        let raw = STANDARD.decode(sealed)?;
        anyhow::ensure!(raw.len() > NONCE_LEN, "sealed value too short");
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into()?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| anyhow::anyhow!("the sealed value does not open with this key"))?;
        Ok(String::from_utf8(plain.to_vec())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let sealer = Sealer::from_hex(KEY).unwrap();
        let sealed = sealer.seal("nkt_live_secret", "company-a").unwrap();
        assert!(!sealed.contains("nkt_live_secret"));
        assert_ne!(
            sealed,
            sealer.seal("nkt_live_secret", "company-a").unwrap(),
            "fresh nonce"
        );
        assert_eq!(
            sealer.open(&sealed, "company-a").unwrap(),
            "nkt_live_secret"
        );
        assert!(sealer.open(&sealed, "company-b").is_err());
        let other = Sealer::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&sealed, "company-a").is_err());
        assert!(Sealer::from_hex("abc").is_err());
    }
}
