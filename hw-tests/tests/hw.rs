//! Hardware tests: nkbackup against OpenPGP cards over a real pcscd.
//!
//! Built only with `--features hw-tests`; `hw-tests/run.sh` starts pcscd and
//! two virtual cards (Nitrokey's opcard on trussed) and runs these. Without
//! the card environment every test FAILS with the reason (CI must never
//! skip them silently).
//!
//! Environment:
//! * `NKB_HW_CARD0_IDENT`, `NKB_HW_CARD1_IDENT`: the cards (card 1 only for
//!   the two-card and import scenarios).
//! * `NKB_HW_CARDS_SH`: `hw-tests/scripts/cards.sh`, to pull/insert virtual
//!   cards. Without it (a physical token) the pull scenarios ask nothing and
//!   are skipped with a message.
//! * `NKB_HW_PIN` / `NKB_HW_ADMIN_PIN`: PINs (default 123456 / 12345678).
//! * `NKB_HW_DESTRUCTIVE_IDENT`: a physical card's ident that may be
//!   changed (keys generated/imported, wrong PINs presented). Virtual cards
//!   (`FFFE:…`) always may; any other card is used non-destructively: its
//!   existing decryption key, the correct PIN only.

#[path = "../../tests/common/mod.rs"]
mod common;

mod support;

mod busy;
mod erasure;
mod escrow;
mod gnupg;
mod groups;
mod kdf;
mod keys;
mod migration;
mod pinentry_dialog;
mod pins;
mod provisioning;
mod signing;
mod stanzas;
mod tokens;
