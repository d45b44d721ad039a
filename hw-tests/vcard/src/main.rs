//! `nkbackup-vcard`: a virtual OpenPGP card for nkbackup's hardware tests.
//!
//! Nitrokey's OpenPGP card application (`opcard`, the code inside the
//! Nitrokey 3 firmware) runs on trussed's software platform and is attached to
//! a real `pcscd` through the vsmartcard `vpcd` reader driver: this process
//! connects to vpcd's TCP port (35963 = reader "Virtual PCD 00 00",
//! 35964 = "Virtual PCD 00 01") and is then the card "inserted" in that reader.
//!
//! Signals: SIGTERM/SIGINT pull the card and exit 0. SIGUSR1 pulls the card
//! but keeps the process (and the card's RAM state, i.e. its keys); SIGUSR2
//! inserts it again.
//!
//! FOR TESTS ONLY: keys live in RAM (or in plain files with `--state-dir`) and
//! the RNG is seeded from the serial number, so key generation is
//! reproducible per serial and not secret.

mod platform;

use std::{
    io,
    net::{Shutdown, TcpStream},
    os::fd::AsRawFd,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use iso7816::{command::CommandView, Status};

/// Reply buffer size handed to opcard; large enough for an RSA-4096 public key
/// or decipher result plus TLV overhead.
const REPLY_CAPACITY: usize = 7609;
/// Largest reassembled (chained) command we accept.
const COMMAND_CAPACITY: usize = 7609;

/// Shortest time a pulled card stays out of the reader (see `run`).
const MIN_PULL: Duration = Duration::from_millis(1200);

/// ATR of a Nitrokey 3 (T=1, historical bytes "Nitrokey").
const ATR: &[u8] = &[
    0x3B, 0x8F, 0x01, 0x80, 0x5D, 0x4E, 0x69, 0x74, 0x72, 0x6F, 0x6B, 0x65, 0x79, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

struct Args {
    host: String,
    port: u16,
    serial: [u8; 4],
    manufacturer: [u8; 2],
    state_dir: Option<PathBuf>,
    connect_timeout: Duration,
}

const USAGE: &str = "\
usage: nkbackup-vcard [--port PORT] [--serial HEX8] [--manufacturer HEX4]
                      [--state-dir DIR] [--host HOST] [--connect-timeout SECS]

  --port PORT            vpcd port: 35963 (default) = reader \"Virtual PCD 00 00\",
                         35964 = \"Virtual PCD 00 01\"
  --serial HEX8          card serial (default 0000CAFE); ident is MANUFACTURER:SERIAL
  --manufacturer HEX4    OpenPGP manufacturer id (default FFFE, the test range)
  --state-dir DIR        keep the card's flash in DIR (default: RAM, factory fresh)
  --host HOST            vpcd host (default 127.0.0.1)
  --connect-timeout SECS keep retrying to reach vpcd this long (default 10)
Logging: RUST_LOG=info (commands) or RUST_LOG=opcard=trace (APDUs).";

fn parse_hex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let s = s.trim();
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what}: expected {} hex digits, got {s:?}", 2 * N));
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        host: "127.0.0.1".into(),
        port: vpicc::DEFAULT_PORT,
        serial: [0x00, 0x00, 0xCA, 0xFE],
        manufacturer: [0xFF, 0xFE],
        state_dir: None,
        connect_timeout: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                args.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?
            }
            "--serial" => args.serial = parse_hex(&value("--serial")?, "--serial")?,
            "--manufacturer" => {
                args.manufacturer = parse_hex(&value("--manufacturer")?, "--manufacturer")?
            }
            "--state-dir" => args.state_dir = Some(value("--state-dir")?.into()),
            "--host" => args.host = value("--host")?,
            "--connect-timeout" => {
                let secs: u64 = value("--connect-timeout")?
                    .parse()
                    .map_err(|e| format!("--connect-timeout: {e}"))?;
                args.connect_timeout = Duration::from_secs(secs);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Connects to vpcd, retrying while pcscd (which hosts vpcd) comes up.
fn connect(args: &Args) -> io::Result<TcpStream> {
    let deadline = Instant::now() + args.connect_timeout;
    loop {
        match TcpStream::connect((args.host.as_str(), args.port)) {
            Ok(stream) => return Ok(stream),
            Err(err) if Instant::now() < deadline => {
                log::debug!("vpcd not reachable yet: {err}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(err),
        }
    }
}

/// Gotcha: vpcd sends the 2-byte length and the APDU body in two `send()`s, so
/// with delayed ACKs every APDU waits ~40 ms. Linux clears TCP_QUICKACK after
/// use, so it is re-armed before every read.
fn rearm_quickack(stream: &TcpStream) {
    let one: libc::c_int = 1;
    // SAFETY: valid fd owned by `stream`, pointer/size of a c_int option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!("TCP_QUICKACK: {}", io::Error::last_os_error());
    }
}

/// Glue between vpicc (raw APDUs from vpcd) and opcard (complete commands):
/// reassembles command chaining (CLA bit 0x10) and splits long responses with
/// `61xx` + GET RESPONSE when the command asked for less than the reply holds.
struct VirtualCard<C: opcard::Client> {
    card: opcard::Card<C>,
    /// Data of a chained command still being received.
    chained: Option<iso7816::Command<COMMAND_CAPACITY>>,
    /// Response bytes not yet fetched with GET RESPONSE.
    pending: Vec<u8>,
}

impl<C: opcard::Client> VirtualCard<C> {
    fn new(card: opcard::Card<C>) -> Self {
        Self { card, chained: None, pending: Vec::new() }
    }

    fn status(status: Status) -> Vec<u8> {
        let sw: [u8; 2] = status.into();
        sw.to_vec()
    }

    /// Returns at most `le` bytes of `self.pending` and the matching status word.
    fn take_pending(&mut self, le: usize) -> Vec<u8> {
        let n = le.min(self.pending.len());
        let mut out: Vec<u8> = self.pending.drain(..n).collect();
        match self.pending.len() {
            0 => out.extend_from_slice(&[0x90, 0x00]),
            // 61xx: xx more bytes available (00 = 256 or more).
            rest => out.extend_from_slice(&[0x61, rest.min(255) as u8]),
        }
        out
    }

    fn handle(&mut self, apdu: &[u8]) -> Vec<u8> {
        let command = match CommandView::try_from(apdu) {
            Ok(command) => command,
            Err(err) => {
                log::warn!("unparsable APDU {apdu:02x?}: {err:?}");
                return Self::status(Status::WrongLength);
            }
        };
        let ins: u8 = command.instruction().into();

        // GET RESPONSE: continue a long response.
        if ins == 0xC0 {
            if self.pending.is_empty() {
                return Self::status(Status::ConditionsOfUseNotSatisfied);
            }
            return self.take_pending(command.expected());
        }
        // Any other command abandons an unfetched response.
        self.pending.clear();

        // Command chaining: collect, answer 9000, execute on the last part.
        let chaining = command.class().chain().not_the_last();
        let result = match (self.chained.take(), chaining) {
            (None, false) => self.execute(command),
            (None, true) => match command.to_owned::<COMMAND_CAPACITY>() {
                Ok(first) => {
                    self.chained = Some(first);
                    return Self::status(Status::Success);
                }
                Err(_) => return Self::status(Status::WrongLength),
            },
            (Some(mut partial), more) => {
                if partial.extend_from_command_view(command).is_err() {
                    return Self::status(Status::WrongLength);
                }
                if more {
                    self.chained = Some(partial);
                    return Self::status(Status::Success);
                }
                self.execute(partial.as_view())
            }
        };

        match result {
            Ok(data) => {
                self.pending = data;
                // Le is 256 for a short "00", 65536 for an extended "0000".
                self.take_pending(command.expected())
            }
            Err(status) => Self::status(status),
        }
    }

    fn execute(&mut self, command: CommandView<'_>) -> Result<Vec<u8>, Status> {
        let mut reply = heapless::Vec::<u8, REPLY_CAPACITY>::new();
        self.card.handle(command, &mut reply)?;
        Ok(reply.to_vec())
    }
}

impl<C: opcard::Client> vpicc::VSmartCard for VirtualCard<C> {
    fn atr(&self) -> &[u8] {
        ATR
    }

    fn power_off(&mut self) {
        log::info!("power off");
        self.reset();
    }

    fn reset(&mut self) {
        log::info!("reset");
        self.chained = None;
        self.pending.clear();
        // Drops volatile state: verified PINs, selected application.
        self.card.reset();
    }

    fn execute(&mut self, msg: &[u8]) -> Vec<u8> {
        let response = self.handle(msg);
        log::trace!("APDU {msg:02x?} -> {response:02x?}");
        response
    }
}

/// What the signal thread asks of the card loop.
#[derive(Default)]
struct Control {
    /// SIGTERM/SIGINT: leave.
    stop: bool,
    /// SIGUSR1 sets (pull the card out of the reader), SIGUSR2 clears (insert).
    pulled: bool,
    /// Handle on the current vpcd socket, to interrupt a blocking read.
    socket: Option<TcpStream>,
}

type Shared = Arc<(Mutex<Control>, Condvar)>;

fn spawn_signal_thread(shared: Shared) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGUSR2])
        .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let (lock, wake) = &*shared;
            let mut control = lock.lock().expect("control lock");
            match signal {
                SIGUSR2 => control.pulled = false,
                SIGUSR1 => control.pulled = true,
                _ => control.stop = true,
            }
            if signal != SIGUSR2 {
                if let Some(socket) = control.socket.take() {
                    // Makes the card loop's blocking read fail at once.
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
            wake.notify_all();
        }
    });
    Ok(())
}

fn run(args: Args) -> Result<(), String> {
    let shared: Shared = Arc::default();
    spawn_signal_thread(shared.clone())?;

    let ident = format!(
        "{:02X}{:02X}:{:02X}{:02X}{:02X}{:02X}",
        args.manufacturer[0], args.manufacturer[1],
        args.serial[0], args.serial[1], args.serial[2], args.serial[3]
    );
    let store = platform::store_config(args.state_dir.as_deref()).map_err(|e| e.to_string())?;
    let seed = u32::from_be_bytes(args.serial);

    platform::with_client(store, seed, "opcard", |client| {
        let mut options = opcard::Options::default();
        options.manufacturer = args.manufacturer;
        options.serial = args.serial;
        // `button_available` stays true like a Nitrokey 3 (UIF data objects
        // exist); trussed's virt UI confirms user presence at once.
        let mut card = VirtualCard::new(opcard::Card::new(client, options));
        let (lock, wake) = &*shared;

        // One iteration per insertion: connect to vpcd, serve until the
        // socket ends, then stop, wait to be inserted again, or fail.
        loop {
            let stream = connect(&args).map_err(|e| {
                format!(
                    "cannot reach vpcd on {}:{} ({e}); is pcscd with vsmartcard-vpcd running?",
                    args.host, args.port
                )
            })?;
            stream.set_nodelay(true).ok();
            // Extra handles on the same socket: one to re-arm QUICKACK, one
            // for the signal thread to shut the socket down.
            let quickack = stream.try_clone().map_err(|e| e.to_string())?;
            {
                let mut control = lock.lock().expect("control lock");
                if control.stop {
                    return Ok(());
                }
                control.socket = Some(stream.try_clone().map_err(|e| e.to_string())?);
            }
            let mut connection = vpicc::Connection::from(stream);
            eprintln!(
                "nkbackup-vcard: card {ident} inserted via vpcd port {} (pid {})",
                args.port,
                std::process::id()
            );
            let err = loop {
                rearm_quickack(&quickack);
                if let Err(err) = connection.poll(&mut card) {
                    break err;
                }
            };
            drop(connection);

            let mut control = lock.lock().expect("control lock");
            control.socket = None;
            if control.stop {
                eprintln!("nkbackup-vcard: card {ident} stopped");
                return Ok(());
            }
            if !control.pulled {
                return Err(format!("vpcd connection ended: {err}"));
            }
            // Pulled: like a real card losing power, forget verified PINs.
            vpicc::VSmartCard::reset(&mut card);
            let pulled_at = Instant::now();
            eprintln!("nkbackup-vcard: card {ident} pulled (SIGUSR2 inserts it again)");
            while control.pulled && !control.stop {
                control = wake.wait(control).expect("control lock");
            }
            if control.stop {
                eprintln!("nkbackup-vcard: card {ident} stopped");
                return Ok(());
            }
            drop(control);
            // pcscd's reader thread polls presence every 400 ms. If the pull
            // broke a transmit, pcscd already marks the slot empty; a card
            // back before the next poll is then never seen again. Stay out
            // long enough for pcscd to notice the removal itself.
            std::thread::sleep(MIN_PULL.saturating_sub(pulled_at.elapsed()));
        }
    })
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("nkbackup-vcard: {err}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nkbackup-vcard: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Drive `VirtualCard` directly (no vpcd, no pcscd) to exercise the glue
/// that openpgp-card over pcscd does not: it uses extended-length APDUs with
/// this card, so neither chaining nor GET RESPONSE happens there.
#[cfg(test)]
mod tests {
    use super::*;

    fn with_card(f: impl FnOnce(&mut VirtualCard<platform::Client<'_>>)) {
        let store = platform::store_config(None).unwrap();
        platform::with_client(store, 1, "opcard", |client| {
            let mut options = opcard::Options::default();
            options.manufacturer = [0xFF, 0xFE];
            options.serial = [0, 0, 0, 1];
            let mut card = VirtualCard::new(opcard::Card::new(client, options));
            f(&mut card)
        })
    }

    fn sw(response: &[u8]) -> [u8; 2] {
        [response[response.len() - 2], response[response.len() - 1]]
    }

    const SELECT: &[u8] = &[0x00, 0xA4, 0x04, 0x00, 0x06, 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01, 0x00];

    #[test]
    fn chained_verify_is_reassembled() {
        with_card(|card| {
            assert_eq!(sw(&card.handle(SELECT)), [0x90, 0x00]);
            // VERIFY PW1 (0x82) with "123456" split over two chained APDUs.
            assert_eq!(card.handle(&[0x10, 0x20, 0x00, 0x82, 0x03, b'1', b'2', b'3']), [0x90, 0x00]);
            assert_eq!(card.handle(&[0x00, 0x20, 0x00, 0x82, 0x03, b'4', b'5', b'6']), [0x90, 0x00]);
            // VERIFY without data: 9000 = PW1 is verified.
            assert_eq!(card.handle(&[0x00, 0x20, 0x00, 0x82]), [0x90, 0x00]);
            // A wrong PIN in two parts costs one retry.
            assert_eq!(card.handle(&[0x10, 0x20, 0x00, 0x82, 0x03, b'0', b'0', b'0']), [0x90, 0x00]);
            assert_eq!(sw(&card.handle(&[0x00, 0x20, 0x00, 0x82, 0x03, b'0', b'0', b'0'])), [0x63, 0xC2]);
        })
    }

    #[test]
    fn long_response_with_get_response() {
        with_card(|card| {
            assert_eq!(sw(&card.handle(SELECT)), [0x90, 0x00]);
            let verify_pw3 = [&[0x00, 0x20, 0x00, 0x83, 0x08][..], b"12345678"].concat();
            assert_eq!(card.handle(&verify_pw3), [0x90, 0x00]);
            // GENERATE ASYMMETRIC KEY PAIR, decryption slot (B8, RSA-2048
            // after factory reset), short Le = 00 (256 bytes).
            let first = card.handle(&[0x00, 0x47, 0x80, 0x00, 0x02, 0xB8, 0x00, 0x00]);
            assert_eq!(first.len(), 256 + 2);
            assert_eq!(first[256], 0x61, "61xx: more data");
            let mut data = first[..256].to_vec();
            loop {
                let next = card.handle(&[0x00, 0xC0, 0x00, 0x00, 0x00]);
                data.extend_from_slice(&next[..next.len() - 2]);
                match sw(&next) {
                    [0x90, 0x00] => break,
                    [0x61, _] => continue,
                    other => panic!("GET RESPONSE: {other:02x?}"),
                }
            }
            // 7F49 82 len ... 81 82 01 00 <modulus> 82 03 <exponent>
            assert_eq!(&data[..3], &[0x7F, 0x49, 0x82]);
            assert_eq!(data.len(), 5 + usize::from(u16::from_be_bytes([data[3], data[4]])));
            // Reading the public key again with an extended Le returns it at once.
            let whole = card.handle(&[0x00, 0x47, 0x81, 0x00, 0x00, 0x00, 0x02, 0xB8, 0x00, 0x00, 0x00]);
            assert_eq!(sw(&whole), [0x90, 0x00]);
            assert_eq!(&whole[..whole.len() - 2], &data[..]);
        })
    }
}
