//! A key item's plaintext: a stock age identity file.
//!
//! ```text
//! # nkbackup period key
//! # class: logs
//! # period: 20261126T000000Z-7d
//! # public key: age1…
//! AGE-SECRET-KEY-1…
//! ```
//!
//! `age -d -i period-key.txt backup.age` reads it as it is (age ignores
//! `#` lines). nkbackup also checks the comment lines, so that an item
//! moved to another class or period is refused, and that the secret key's
//! public half is the one the key item and the backup name.

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// The plaintext of the key item of `class`, `period` holding `key`.
pub fn encode(class: &str, period: &str, key: &age::x25519::Identity) -> Zeroizing<Vec<u8>> {
    let secret = key.to_string();
    Zeroizing::new(
        format!(
            "# nkbackup period key\n# class: {class}\n# period: {period}\n# public key: {}\n{}\n",
            key.to_public(),
            secret.expose_secret()
        )
        .into_bytes(),
    )
}

/// The period key in `plain`, checked to be the key of `class`, `period`
/// with public key `public`.
pub fn decode(
    plain: &[u8],
    class: &str,
    period: &str,
    public: &str,
) -> Result<age::x25519::Identity, String> {
    let text = std::str::from_utf8(plain).map_err(|_| "it is not UTF-8 text".to_string())?;
    let mut lines = text.lines();
    let expect = [
        "# nkbackup period key".to_string(),
        format!("# class: {class}"),
        format!("# period: {period}"),
        format!("# public key: {public}"),
    ];
    for e in &expect {
        if lines.next() != Some(e.as_str()) {
            return Err(format!(
                "it is not the period key of {class}/{period} (its comment lines differ: moved between classes or periods?)"
            ));
        }
    }
    let secret = Zeroizing::new(lines.next().unwrap_or_default().to_owned());
    if lines.next().is_some() {
        return Err("it holds more than one key".into());
    }
    let key: age::x25519::Identity = secret
        .parse()
        .map_err(|_| "its key line is not an AGE-SECRET-KEY-1".to_string())?;
    if key.to_public().to_string() != public {
        return Err("its secret key does not belong to its public key".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = age::x25519::Identity::generate();
        let public = k.to_public().to_string();
        let p = encode("logs", "20261126T000000Z-7d", &k);
        let back = decode(&p, "logs", "20261126T000000Z-7d", &public).unwrap();
        assert_eq!(back.to_public().to_string(), public);
        assert!(decode(&p, "db", "20261126T000000Z-7d", &public).is_err());
        assert!(decode(&p, "logs", "20261203T000000Z-7d", &public).is_err());
        let other = age::x25519::Identity::generate().to_public().to_string();
        assert!(decode(&p, "logs", "20261126T000000Z-7d", &other).is_err());
    }
}
