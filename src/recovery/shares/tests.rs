//! Tests of splitting, share text and combining.

use super::*;
use secrecy::ExposeSecret;

/// All subsets of `0..n` with `k` elements.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

fn pick(shares: &[Share], idx: &[usize]) -> Vec<Share> {
    idx.iter().map(|&i| shares[i].clone()).collect()
}

#[test]
fn every_k_subset_rebuilds_the_key() {
    for (k, n) in [(2, 2), (2, 3), (3, 5), (4, 6)] {
        let key = RecoveryKey::generate();
        let shares = split(&key, k, n).unwrap();
        assert_eq!(shares.len(), n);
        for (i, s) in shares.iter().enumerate() {
            assert_eq!(usize::from(s.index()), i + 1);
            assert_eq!(usize::from(s.threshold()), k);
            assert_eq!(s.key_id(), key.key_id());
        }
        for size in k..=n {
            for subset in subsets(n, size) {
                let mut picked = pick(&shares, &subset);
                assert_eq!(
                    combine_shares(&picked).unwrap(),
                    key,
                    "{k}-of-{n} {subset:?}"
                );
                picked.reverse();
                assert_eq!(
                    combine_shares(&picked).unwrap(),
                    key,
                    "{k}-of-{n} {subset:?} reversed"
                );
            }
        }
        // Also through the printed text.
        let texts: Vec<String> = shares
            .iter()
            .map(|s| s.to_text().expose_secret().to_string())
            .collect();
        assert_eq!(combine_text_typed(&texts[n - k..]).unwrap(), key);
    }
}

/// A fixed 2-of-3 split of the RFC 7748 Alice key (the Matrix test key
/// `EsTc LW2K …`), made with this code and kept as the format's own
/// test vector (also shown in docs/RECOVERY-KEY-FORMAT.md): if the share
/// format ever changes, this breaks.
const FORMAT_VECTOR: [&str; 3] = [
    "nkbs1-k2-i1 Gd7T xeHk gFiu HPc1 iRdS kxmM vZF9 ACmi mDGi 9mSi 31pc wGU1 hGqX cTLW CLf1",
    "nkbs1-k2-i2 Gd7T xeHk gFk9 QCHV tyb4 fkNW KUvZ deni nGkr Ji7V YJbr NXXd 5s3F nSEJ 8aac",
    "nkbs1-k2-i3 Gd7T xeHk gFjg rRAz i9Pw uZ4R SswD VW3q ydVz NDp1 gHMj hKVy npFm Lcwq PLX4",
];

#[test]
fn format_vector_combines_to_the_alice_key() {
    let alice =
        RecoveryKey::from_encoded("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d")
            .unwrap();
    assert_eq!(alice.key_id().to_string(), "300c9c9603b92a4b");
    for pair in subsets(3, 2) {
        let texts: Vec<&str> = pair.iter().map(|&i| FORMAT_VECTOR[i]).collect();
        assert_eq!(combine_text_typed(&texts).unwrap(), alice, "{pair:?}");
    }
    for (i, text) in FORMAT_VECTOR.iter().enumerate() {
        let share = Share::parse_typed(text).unwrap();
        assert_eq!(usize::from(share.index()), i + 1);
        assert_eq!(share.threshold(), 2);
        assert_eq!(share.key_id(), alice.key_id());
        assert_eq!(share.to_text().expose_secret(), *text);
    }
}

#[test]
fn k_minus_one_shares_are_too_few() {
    let key = RecoveryKey::generate();
    let shares = split(&key, 3, 5).unwrap();
    for subset in subsets(5, 2) {
        assert_eq!(
            combine_shares(&pick(&shares, &subset)).unwrap_err(),
            RecoveryError::TooFewShares { needed: 3, got: 2 }
        );
    }
    let err = combine_shares(&shares[..1]).unwrap_err();
    assert_eq!(err, RecoveryError::TooFewShares { needed: 3, got: 1 });
    assert!(err.to_string().contains("needs 3 shares, got 1"), "{err}");
    assert_eq!(combine_shares(&[]).unwrap_err(), RecoveryError::NoShares);
}

#[test]
fn forged_share_with_valid_checksum_is_caught_by_key_id() {
    let key = RecoveryKey::generate();
    let shares = split(&key, 3, 5).unwrap();
    // A forger who knows the public header (key id, K) but not the value
    // makes a share with a correct checksum.
    for forged_index in [4u8, 5] {
        let mut value = Zeroizing::new([0u8; 32]);
        crate::util::fill_random(value.as_mut());
        let forged = Share {
            threshold: 3,
            index: forged_index,
            key_id: key.key_id(),
            value,
        };
        // Its text passes the checksum…
        let reparsed = Share::parse_typed(forged.to_text().expose_secret()).unwrap();
        // …but K-1 genuine shares plus it do not give the key.
        let mut set = pick(&shares, &[0, 1]);
        set.push(reparsed);
        assert_eq!(
            combine_shares(&set).unwrap_err(),
            RecoveryError::CombinedKeyMismatch
        );
    }
    // A real share from a *different split* of the same key is also
    // well formed and also caught.
    let other_split = split(&key, 3, 5).unwrap();
    let mut set = pick(&shares, &[0, 1]);
    set.push(other_split[2].clone());
    assert_eq!(
        combine_shares(&set).unwrap_err(),
        RecoveryError::CombinedKeyMismatch
    );
}

#[test]
fn typo_in_share_is_detected() {
    let key = RecoveryKey::generate();
    let shares = split(&key, 2, 3).unwrap();
    let text = shares[1].to_text().expose_secret().to_string();
    assert!(text.starts_with("nkbs1-k2-i2 "), "{text}");
    assert_eq!(Share::parse_typed(&text).unwrap().index(), 2);

    // Every single-character change of the body is caught.
    let chars: Vec<char> = text.chars().collect();
    let body_start = text.find(' ').unwrap() + 1;
    for pos in body_start..chars.len() {
        if chars[pos] == ' ' {
            continue;
        }
        let mut typo = chars.clone();
        typo[pos] = if chars[pos] == 'z' { 'y' } else { 'z' };
        let typed: String = typo.into_iter().collect();
        match Share::parse_typed(&typed) {
            Err(RecoveryError::ShareChecksum | RecoveryError::ShareWrongLength { .. }) => {}
            other => panic!("typo at {pos}: {other:?}"),
        }
    }
    // Changing K or the index in the header is caught by the checksum.
    for bad in [
        text.replacen("-k2-", "-k3-", 1),
        text.replacen("-i2 ", "-i3 ", 1),
    ] {
        assert_eq!(
            Share::parse_typed(&bad).unwrap_err(),
            RecoveryError::ShareChecksum
        );
    }

    // combine_text names the share.
    let typo = text.replacen("-i2 ", "-i3 ", 1);
    let texts = [shares[0].to_text().expose_secret().to_string(), typo];
    let err = combine_text_typed(&texts).unwrap_err();
    assert_eq!(
        err,
        RecoveryError::InShare {
            number: 2,
            source: Box::new(RecoveryError::ShareChecksum)
        }
    );
    assert!(err.to_string().starts_with("share #2: "), "{err}");
    assert!(err.to_string().contains("mistyped"), "{err}");
}

#[test]
fn share_parse_errors_are_distinct() {
    let key = RecoveryKey::generate();
    let text = split(&key, 2, 2).unwrap()[0]
        .to_text()
        .expose_secret()
        .to_string();
    // Whitespace is free, header case-insensitive.
    let relaxed = format!(
        "  {}\n",
        text.replace(' ', "\n  ").replacen("nkbs1", "NKBS1", 1)
    );
    assert_eq!(Share::parse_typed(&relaxed).unwrap().index(), 1);

    assert_eq!(
        Share::parse_typed(&text.replacen("nkbs1", "EsTc", 1)).unwrap_err(),
        RecoveryError::ShareWrongPrefix
    );
    assert!(matches!(
        Share::parse_typed(&text.replacen("nkbs1", "nkbs2", 1)).unwrap_err(),
        RecoveryError::ShareMalformedHeader { .. }
    ));
    assert!(matches!(
        Share::parse_typed(&text.replacen("-k2-", "-k1-", 1)).unwrap_err(),
        RecoveryError::ShareMalformedHeader { .. }
    ));
    assert!(matches!(
        Share::parse_typed(&text.replacen("-i1", "-i0", 1)).unwrap_err(),
        RecoveryError::ShareMalformedHeader { .. }
    ));
    // "nkbs1-k2-i1 " is 12 characters; put an 'l' as the 14th.
    let mut chars: Vec<char> = text.chars().collect();
    chars[13] = 'l';
    let typed: String = chars.into_iter().collect();
    assert_eq!(
        Share::parse_typed(&typed).unwrap_err(),
        RecoveryError::ShareInvalidCharacter {
            character: 'l',
            position: 14
        }
    );
    // A missing group (a full one from the middle: dropping the last,
    // possibly 1-character group may still leave 44 bytes).
    let groups: Vec<&str> = text.split(' ').collect();
    let short = [&groups[..3], &groups[4..]].concat().join(" ");
    assert!(matches!(
        Share::parse_typed(&short).unwrap_err(),
        RecoveryError::ShareWrongLength { expected: 44, .. }
    ));
}

#[test]
fn shares_of_two_different_keys_are_rejected() {
    let a = RecoveryKey::generate();
    let b = RecoveryKey::generate();
    let sa = split(&a, 2, 3).unwrap();
    let sb = split(&b, 2, 3).unwrap();
    let err = combine_shares(&[sa[0].clone(), sb[1].clone()]).unwrap_err();
    assert_eq!(
        err,
        RecoveryError::MixedKeys {
            number: 2,
            expected: a.key_id(),
            found: b.key_id()
        }
    );
    let msg = err.to_string();
    assert!(msg.contains(&b.key_id().to_string()), "{msg}");
}

#[test]
fn mismatching_thresholds_and_duplicates_are_rejected() {
    let key = RecoveryKey::generate();
    let two = split(&key, 2, 3).unwrap();
    let three = split(&key, 3, 3).unwrap();
    assert_eq!(
        combine_shares(&[two[0].clone(), three[1].clone(), three[2].clone()]).unwrap_err(),
        RecoveryError::MismatchedThresholds {
            number: 2,
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        combine_shares(&[two[0].clone(), two[1].clone(), two[0].clone()]).unwrap_err(),
        RecoveryError::DuplicateShare {
            index: 1,
            first: 1,
            second: 3
        }
    );
}

#[test]
fn split_validates_parameters() {
    let key = RecoveryKey::generate();
    for (k, n) in [(1, 3), (0, 0), (4, 3), (2, 256), (300, 300)] {
        assert_eq!(
            split_key(&key, k, n).unwrap_err(),
            RecoveryError::InvalidSplit {
                threshold: k,
                count: n
            }
        );
    }
    let max = split(&key, 255, 255).unwrap();
    assert_eq!(max.len(), 255);
    assert_eq!(max[254].index(), 255);
    assert_eq!(combine_shares(&max).unwrap(), key);
}

#[test]
fn splitting_is_randomised() {
    let key = RecoveryKey::from_bytes(&[7u8; 32]);
    let shares = split(&key, 2, 2).unwrap();
    // The same key split twice gives unrelated shares.
    let again = split(&key, 2, 2).unwrap();
    assert_ne!(shares[0].value.as_ref(), again[0].value.as_ref());
    assert_ne!(shares[0].value.as_ref(), key.secret_bytes());
}

#[test]
fn debug_and_errors_show_no_share_value() {
    let key = RecoveryKey::from_bytes(&[0x5Au8; 32]);
    let shares = split(&key, 2, 3).unwrap();
    for s in &shares {
        let text = s.to_text().expose_secret().to_string();
        let shown = format!("{s:?} {s:#?} {shares:?}");
        assert!(shown.contains(&format!("i{} of k2", s.index())), "{shown}");
        assert!(shown.contains(&key.key_id().to_string()));
        assert!(!shown.contains(&hex::encode(s.value.as_ref())), "{shown}");
        for group in text.split(' ').skip(1) {
            assert!(!shown.contains(group), "{shown} shows {group}");
        }
        // An error about this share doesn't echo it either.
        let bad = text.replacen("-k2-", "-k3-", 1);
        let err = Share::parse_typed(&bad).unwrap_err();
        let msg = format!("{err} {err:?}");
        for group in text.split(' ').skip(1) {
            assert!(!msg.contains(group), "{msg}");
        }
    }
}
