//! A TCP relay in front of a real server that passes a budget of bytes
//! from the server to its clients, then closes every connection and stops
//! listening: a network that fails in the middle of a download.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A running relay; it stops listening when dropped.
pub struct CutProxy {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    cut: Arc<AtomicBool>,
}

impl CutProxy {
    /// Relays to `target` until `budget` bytes went from it to clients.
    pub fn start(target: SocketAddr, budget: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let c = cut.clone();
        std::thread::spawn(move || {
            while !c.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(target) else {
                            continue;
                        };
                        relay(client, server, c.clone(), sent.clone(), budget);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        CutProxy { port, cut }
    }

    /// The URL to give a client.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the budget was spent and the connections cut.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

fn relay(
    client: TcpStream,
    server: TcpStream,
    cut: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    budget: u64,
) {
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    // Client to server: unmetered.
    let up_cut = cut.clone();
    std::thread::spawn(move || pump(c2, s2, up_cut, None, 0));
    std::thread::spawn(move || pump(server, client, cut, Some(sent), budget));
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    cut: Arc<AtomicBool>,
    sent: Option<Arc<AtomicU64>>,
    budget: u64,
) {
    from.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = vec![0u8; 16 << 10];
    loop {
        if cut.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => break,
        };
        let mut n = n;
        if let Some(sent) = &sent {
            let before = sent.fetch_add(n as u64, Ordering::SeqCst);
            if before + n as u64 >= budget {
                n = budget.saturating_sub(before) as usize;
                cut.store(true, Ordering::SeqCst);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
