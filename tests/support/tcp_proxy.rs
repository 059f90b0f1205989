//! A loopback TCP proxy that a test can cut and restore: a network blip
//! between one instance and Redis, while others still reach it.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpProxy {
    address: SocketAddr,
    /// `true` while connections pass; every change of it to `false` ends
    /// the connections open at that moment.
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards a port of its own on 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("the proxy's address");
        let (open, _) = watch::channel(true);
        let gate = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut closed = gate.subscribe();
                if !*closed.borrow_and_update() {
                    continue; // cut: the connection is dropped at once
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = closed.wait_for(|open| !open) => {}
                    }
                });
            }
        });
        Self {
            address,
            open,
            task,
        }
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.address)
    }

    /// Ends every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
