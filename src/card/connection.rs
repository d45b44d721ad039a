//! One PC/SC connection to a card: the transport under `openpgp-card`.
//!
//! nkbackup connects itself (rather than through `card-backend-pcsc`) to
//! choose how the connection ends:
//!
//! * **No PIN presented** (`card list`, `card enroll`, reading keys):
//!   disconnect with `SCARD_LEAVE_CARD`. The card keeps its state, so a
//!   program sharing it (GnuPG's scdaemon with `pcsc-shared`) goes on
//!   without noticing that nkbackup was there.
//! * **A PIN presented** (VERIFY, a PIN change or reset, or a pinpad
//!   entry; any other program's commands could use the verified state
//!   while the card stays powered): disconnect with `SCARD_RESET_CARD`, so
//!   the verified PIN does not outlive nkbackup's use of it. The next
//!   command of a sharing program then fails once and has to select the
//!   application again; that is the price of not leaving an unlocked card
//!   behind.
//!
//! A card that another program reset meanwhile is reconnected (without a
//! second reset) and the application selected again.
//!
//! PIN entry on the reader's pinpad uses PC/SC part 10
//! `FEATURE_VERIFY_PIN_DIRECT`: the reader collects the PIN and sends
//! VERIFY itself.

use card_backend::{CardBackend, CardCaps, CardTransaction, PinType, SmartcardError};

/// PC/SC part 10 feature tag: the reader verifies a PIN on its pinpad.
const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
/// Bound of the reader's feature list answer (each feature is 6 bytes).
const FEATURE_ANSWER_MAX: usize = 1024;
/// The longest PIN a pinpad is asked to collect when the reader does not
/// say (a length most pinpad readers accept).
const PINPAD_MAX_PIN: u8 = 15;

/// OpenPGP card instructions that present or change a PIN (VERIFY with a
/// PIN, CHANGE REFERENCE DATA, RESET RETRY COUNTER) or end the
/// application (TERMINATE DF, ACTIVATE FILE).
const PIN_INSTRUCTIONS: [u8; 4] = [0x24, 0x2C, 0xE6, 0x44];
const VERIFY: u8 = 0x20;

/// A connected card and how to leave it.
pub(crate) struct Connection {
    card: Option<pcsc::Card>,
    mode: pcsc::ShareMode,
    reader: String,
    /// `FEATURE_VERIFY_PIN_DIRECT`'s control code, if the reader has one.
    verify_pin_direct: Option<u32>,
    /// A PIN was presented on this connection: reset the card on
    /// disconnect.
    pin_presented: bool,
}

impl Connection {
    /// Takes over `card`, connected to `reader` in `mode`, and asks the
    /// reader for its pinpad feature.
    pub(crate) fn new(reader: &str, mode: pcsc::ShareMode, card: pcsc::Card) -> Self {
        let mut c = Connection {
            card: Some(card),
            mode,
            reader: reader.to_owned(),
            verify_pin_direct: None,
            pin_presented: false,
        };
        c.verify_pin_direct = c.card.as_ref().and_then(verify_pin_direct);
        c
    }
}

/// The reader's `FEATURE_VERIFY_PIN_DIRECT` control code, from its answer
/// to `CM_IOCTL_GET_FEATURE_REQUEST` (a list of tag, length 4, big-endian
/// control code).
fn verify_pin_direct(card: &pcsc::Card) -> Option<u32> {
    let mut buf = vec![0u8; FEATURE_ANSWER_MAX];
    let answer = card.control(pcsc::ctl_code(3400), &[], &mut buf).ok()?;
    feature(answer, FEATURE_VERIFY_PIN_DIRECT)
}

/// The control code of feature `tag` in a feature list.
fn feature(mut list: &[u8], tag: u8) -> Option<u32> {
    while let [t, len, rest @ ..] = list {
        let len = usize::from(*len);
        let value = rest.get(..len)?;
        if *t == tag {
            return value.try_into().ok().map(u32::from_be_bytes);
        }
        list = &rest[len..];
    }
    None
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Some(card) = self.card.take() else {
            return;
        };
        let how = if self.pin_presented {
            pcsc::Disposition::ResetCard
        } else {
            pcsc::Disposition::LeaveCard
        };
        // A failed disconnect hands the card back; dropping it then
        // disconnects with a reset, which is the safe side.
        let _ = card.disconnect(how);
    }
}

impl From<Connection> for Box<dyn CardBackend + Send + Sync> {
    fn from(c: Connection) -> Self {
        Box::new(c)
    }
}

impl CardBackend for Connection {
    fn limit_card_caps(&self, card_caps: CardCaps) -> CardCaps {
        card_caps
    }

    fn transaction(
        &mut self,
        reselect_application: Option<&[u8]>,
    ) -> Result<Box<dyn CardTransaction + Send + Sync + '_>, SmartcardError> {
        let Connection {
            card,
            mode,
            reader,
            verify_pin_direct,
            pin_presented,
        } = self;
        let mut card = card
            .as_mut()
            .ok_or_else(|| SmartcardError::CardNotFound(reader.clone()))?;
        let mut was_reset = false;
        let tx = loop {
            match card.transaction2() {
                Ok(tx) => break tx,
                Err((c, pcsc::Error::ResetCard)) if !was_reset => {
                    // Another program reset the card: connect again
                    // without resetting it a second time. (`card` is
                    // handed back by the failed attempt.)
                    was_reset = true;
                    card = c;
                    card.reconnect(*mode, pcsc::Protocols::ANY, pcsc::Disposition::LeaveCard)
                        .map_err(|e| SmartcardError::Error(format!("reconnecting: {e}")))?;
                }
                Err((_, e)) => return Err(SmartcardError::Error(e.to_string())),
            }
        };
        let mut t = Transaction {
            tx,
            verify_pin_direct: *verify_pin_direct,
            pin_presented,
            was_reset,
        };
        if was_reset && let Some(app) = reselect_application {
            let answer = t.select(app)?;
            if !answer.ends_with(&[0x90, 0x00]) {
                return Err(SmartcardError::Error(format!(
                    "selecting the application again after a reset: status {answer:02X?}"
                )));
            }
        }
        Ok(Box::new(t))
    }
}

/// One PC/SC transaction on a [`Connection`].
struct Transaction<'a> {
    tx: pcsc::Transaction<'a>,
    verify_pin_direct: Option<u32>,
    pin_presented: &'a mut bool,
    was_reset: bool,
}

/// Whether the command APDU `cmd` presents or changes a PIN (a VERIFY
/// without data, 4 or 5 bytes, only asks whether the PIN is verified).
fn presents_pin(cmd: &[u8]) -> bool {
    match cmd {
        [_, VERIFY, ..] => cmd.len() > 5,
        [_, ins, ..] => PIN_INSTRUCTIONS.contains(ins),
        _ => false,
    }
}

impl CardTransaction for Transaction<'_> {
    fn transmit(&mut self, cmd: &[u8], buf_size: usize) -> Result<Vec<u8>, SmartcardError> {
        if presents_pin(cmd) {
            *self.pin_presented = true;
        }
        let mut buf = vec![0u8; buf_size.max(2)];
        let answer = self.tx.transmit(cmd, &mut buf).map_err(|e| match e {
            pcsc::Error::NotTransacted => SmartcardError::NotTransacted,
            e => SmartcardError::Error(format!("transmit: {e}")),
        })?;
        Ok(answer.to_vec())
    }

    fn feature_pinpad_verify(&self) -> bool {
        self.verify_pin_direct.is_some()
    }

    fn feature_pinpad_modify(&self) -> bool {
        // nkbackup never changes a PIN on a pinpad.
        false
    }

    fn pinpad_verify(
        &mut self,
        pin: PinType,
        card_caps: &Option<CardCaps>,
    ) -> Result<Vec<u8>, SmartcardError> {
        let code = self
            .verify_pin_direct
            .ok_or_else(|| SmartcardError::Error("the reader has no pinpad".into()))?;
        let (min, card_max) = match (pin, card_caps) {
            (PinType::Admin, Some(c)) => (8, c.pw3_max_len()),
            (_, Some(c)) => (6, c.pw1_max_len()),
            (_, None) => return Err(SmartcardError::Error("card capabilities unknown".into())),
        };
        *self.pin_presented = true;
        let request = pin_verify_structure(pin.id(), min, card_max.min(PINPAD_MAX_PIN));
        let mut buf = vec![0u8; 256];
        let answer = self
            .tx
            .control(code.into(), &request, &mut buf)
            .map_err(|e| SmartcardError::Error(format!("pinpad entry: {e}")))?;
        Ok(answer.to_vec())
    }

    fn pinpad_modify(
        &mut self,
        _pin: PinType,
        _card_caps: &Option<CardCaps>,
    ) -> Result<Vec<u8>, SmartcardError> {
        Err(SmartcardError::Error(
            "nkbackup does not change PINs on a pinpad".into(),
        ))
    }

    fn was_reset(&self) -> bool {
        self.was_reset
    }
}

/// PC/SC part 10 `PIN_VERIFY_STRUCTURE` for an OpenPGP VERIFY of PIN
/// `reference` (0x81, 0x82, 0x83), the PIN `min..=max` ASCII digits long,
/// sent as it is typed (no padding, no length field).
fn pin_verify_structure(reference: u8, min: u8, max: u8) -> Vec<u8> {
    // The APDU the reader completes with the PIN: VERIFY, Lc set by the
    // reader.
    let apdu = [0x00, VERIFY, 0x00, reference, 0x00];
    let mut s = vec![
        0x00, // bTimerOut: the reader's default
        0x00, // bTimerOut2: the reader's default
        0x82, // bmFormatString: ASCII, PIN left-justified in bytes
        0x00, // bmPINBlockString: PIN length not fixed
        0x00, // bmPINLengthFormat: no PIN length field
        max,  // wPINMaxExtraDigit, low byte: longest PIN
        min,  // wPINMaxExtraDigit, high byte: shortest PIN
        0x07, // bEntryValidationCondition: max size, key press or timeout
        0x01, // bNumberMessage: one prompt
        0x04, // wLangId, low byte: 0x0409, English (US)
        0x09, // wLangId, high byte
        0x00, // bMsgIndex
        0x00, 0x00, 0x00, // bTeoPrologue: no T=1 prologue
    ];
    s.extend((apdu.len() as u32).to_le_bytes()); // ulDataLength
    s.extend(apdu);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_commands_are_told_from_reads() {
        assert!(presents_pin(&[0x00, 0x20, 0x00, 0x82, 0x06, b'1']));
        assert!(!presents_pin(&[0x00, 0x20, 0x00, 0x82, 0x00]));
        assert!(!presents_pin(&[0x00, 0x20, 0x00, 0x82]));
        assert!(presents_pin(&[0x00, 0x24, 0x00, 0x81, 0x0C]));
        assert!(presents_pin(&[0x00, 0x2C, 0x02, 0x81]));
        assert!(!presents_pin(&[0x00, 0xCA, 0x00, 0x6E, 0x00]));
        assert!(!presents_pin(&[0x00, 0x2A, 0x80, 0x86, 0x00]));
        assert!(!presents_pin(&[]));
    }

    #[test]
    fn feature_list_is_read_within_bounds() {
        let list = [0x07, 4, 0, 0, 0, 1, 0x06, 4, 0x42, 0x33, 0x00, 0x06];
        assert_eq!(feature(&list, 0x06), Some(0x4233_0006));
        assert_eq!(feature(&list, 0x12), None);
        // A length past the end, or a value of the wrong size, is no feature.
        assert_eq!(feature(&[0x06, 9, 1, 2], 0x06), None);
        assert_eq!(feature(&[0x06, 2, 1, 2], 0x06), None);
        assert_eq!(feature(&[0x06], 0x06), None);
    }

    #[test]
    fn pin_verify_structure_is_laid_out_as_part_10_says() {
        let s = pin_verify_structure(0x82, 6, 15);
        assert_eq!(s.len(), 15 + 4 + 5);
        assert_eq!(&s[5..7], &[15, 6]);
        assert_eq!(&s[15..19], &5u32.to_le_bytes());
        assert_eq!(&s[19..], &[0x00, 0x20, 0x00, 0x82, 0x00]);
    }
}
