//! Hashes whose values reach the disk (cache entry names, part signatures in `.installed.cfg`,
//! develop stamps): SHA-256, fixed by its specification, where `std`'s `DefaultHasher` may change
//! with any Rust release and a new buildout would then reinstall every part and miss its cache.

use sha2::Digest;

/// SHA-256 over length-prefixed fields, so that `("ab", "c")` and `("a", "bc")` differ.
#[derive(Default)]
pub(crate) struct StableHash(sha2::Sha256);

impl StableHash {
    pub(crate) fn field(&mut self, bytes: &[u8]) -> &mut StableHash {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The first `chars` hex digits of the digest (at most 64).
    pub(crate) fn hex(self, chars: usize) -> String {
        let digest = self.0.finalize();
        let mut out: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        out.truncate(chars);
        out
    }
}

/// The first 16 hex digits of the SHA-256 of `bytes` (one field).
pub(crate) fn hex16(bytes: &[u8]) -> String {
    let mut h = StableHash::default();
    h.field(bytes);
    h.hex(16)
}

/// What buildout 0.1 (before stable hashes) wrote for `value`: `DefaultHasher`'s output, used
/// only to recognise values already on disk (`.installed.cfg`, stamps) so that upgrading does
/// not reinstall or rebuild what is unchanged. Never written.
pub(crate) fn legacy<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values (computed independently, with Python's hashlib): if one changes, every cache entry, signature and stamp on users' disks
    /// would stop matching.
    #[test]
    fn values_are_fixed() {
        let cases: [(&[&[u8]], usize, &str); 4] = [
            (&[], 64, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (&[b""], 16, "af5570f5a1810b7a"),
            (&[b"ab", b"c"], 16, "43ee655579de01ca"),
            (&[b"a", b"bc"], 16, "9a8acca1b6c6c0be"),
        ];
        for (fields, chars, expected) in cases {
            let mut h = StableHash::default();
            for field in fields {
                h.field(field);
            }
            assert_eq!(h.hex(chars), expected, "{fields:?}");
        }
        assert_eq!(hex16(b"libx.so contents"), hex16(b"libx.so contents"));
        assert_ne!(hex16(b"a"), hex16(b"b"));
    }
}
