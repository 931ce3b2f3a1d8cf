//! Network fixtures: a TCP relay in front of the database that a test can cut and restore, and
//! a listener that only counts who connects to it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// How the database goes away.
#[derive(Debug, Clone, Copy)]
pub enum Outage {
    /// Connections are refused (the host is up, the database is not listening).
    Refused,
    /// Connections are accepted and closed at once (a proxy or a database that is not ready);
    /// each one is counted, so a test can tell waiting from spinning.
    HungUp,
}

/// A TCP relay to `target` on a fixed loopback port. `cut` closes every relayed connection
/// and turns new ones away; `restore` relays again on the same port, so the app's database URL
/// stays valid.
pub struct CuttableRelay {
    addr: SocketAddr,
    target: SocketAddr,
    accepting: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    hang_up: AtomicBool,
    hung_up: AtomicUsize,
    links: Mutex<Vec<AbortHandle>>,
}

impl CuttableRelay {
    pub async fn start(target: SocketAddr) -> CuttableRelay {
        let listener = listen("127.0.0.1:0".parse().unwrap());
        let relay = CuttableRelay {
            addr: listener.local_addr().unwrap(),
            target,
            accepting: Mutex::new(None),
            shared: Arc::default(),
        };
        relay.accept_on(listener);
        relay
    }

    /// `url` (a PostgreSQL URL) pointed at the relay instead of the database itself.
    pub fn url_through(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }

    /// The database goes away: open connections are closed, new ones turned away.
    pub fn cut(&self, how: Outage) {
        match how {
            Outage::Refused => {
                if let Some(accepting) = self.accepting.lock().unwrap().take() {
                    accepting.abort();
                }
            }
            Outage::HungUp => self.shared.hang_up.store(true, Ordering::SeqCst),
        }
        for link in self.shared.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// The database is back on the same address.
    pub fn restore(&self) {
        self.shared.hang_up.store(false, Ordering::SeqCst);
        if self.accepting.lock().unwrap().is_none() {
            self.accept_on(listen(self.addr));
        }
    }

    /// Connections turned away while hung up.
    pub fn hung_up(&self) -> usize {
        self.shared.hung_up.load(Ordering::SeqCst)
    }

    fn accept_on(&self, listener: TcpListener) {
        let (target, shared) = (self.target, self.shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.hang_up.load(Ordering::SeqCst) {
                    shared.hung_up.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let link = tokio::spawn(relay(client, target));
                shared.links.lock().unwrap().push(link.abort_handle());
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }
}

impl Drop for CuttableRelay {
    fn drop(&mut self) {
        self.cut(Outage::Refused);
    }
}

/// Binds with SO_REUSEADDR, so the port can be taken again right after a cut.
fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(128).unwrap()
}

async fn relay(mut client: TcpStream, target: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// A loopback listener that accepts, counts and closes connections: where a redirect or a
/// rebound name would lead, so a test can prove nobody went there.
pub struct CountingListener {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CountingListener {
    pub async fn start() -> CountingListener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        CountingListener {
            port,
            accepted,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for CountingListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
