//! The codecs' public faces return the crate's error: malformed input is
//! `Error::Malformed` (or `Error::ObjectKey`) of kind Integrity, never a
//! type of their own and never a panic.

use nkbackup::{Error, ErrorKind};

#[test]
fn codecs_refuse_with_the_crates_error() {
    let e = nkbackup::format::pax::parse(b"99 path=x\n").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Malformed {
                what: "pax header",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::Integrity);

    let mut r = nkbackup::format::tar::TarReader::new(&[1u8; 512][..]);
    let e = r.next_entry().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Malformed {
                what: "tar stream",
                ..
            }
        ),
        "{e}"
    );

    let long = format!("age-encryption.org/v1\n{}", "-> X\n".repeat(5000));
    let e = nkbackup::format::age_header::read_prefix(&mut long.as_bytes()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Malformed {
                what: "age header",
                ..
            }
        ),
        "{e}"
    );

    let e = nkbackup::storage::ObjectKey::new("../outside").unwrap_err();
    assert!(matches!(e, Error::ObjectKey(_)), "{e}");
    assert_eq!(e.kind(), ErrorKind::Integrity);

    let e = nkbackup::recovery::RecoveryKey::from_encoded("EsT not a key").unwrap_err();
    assert!(matches!(e, Error::Recovery(_)), "{e}");
    let e = nkbackup::retention::Period::parse("3 weeks").unwrap_err();
    assert!(matches!(e, Error::Retention(_)), "{e}");
}
