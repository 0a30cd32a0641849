//! The sandbox's listener: plain TCP whose connections can be cut from inside a handler, which
//! is how the `drop_ratio` fault loses a response.
//!
//! Each accepted connection gets a [`KillSwitch`], handed to the router as connect info
//! (`ConnectInfo<KillSwitch>`). Once flipped, every further read or write on that connection
//! fails, hyper gives the connection up and the client sees it closed with no response. A TLS
//! listener (later) wraps the same stream type.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Cuts one connection. Cloned into the request's extensions.
#[derive(Debug, Clone, Default)]
pub(crate) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    pub(crate) fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A peer address plus the switch for its connection (the listener's `Addr`).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    #[allow(dead_code)] // kept for logging and future per-peer faults
    pub(crate) addr: SocketAddr,
    pub(crate) switch: KillSwitch,
}

pub(crate) struct KillableListener(TcpListener);

impl KillableListener {
    pub(crate) fn new(inner: TcpListener) -> Self {
        KillableListener(inner)
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    // Small JSON answers: don't let Nagle add 40 ms to every response.
                    let _ = stream.set_nodelay(true);
                    let switch = KillSwitch::default();
                    let io = KillableStream {
                        inner: stream,
                        switch: switch.clone(),
                    };
                    return (io, Peer { addr, switch });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.0.local_addr()?,
            switch: KillSwitch::default(),
        })
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().switch.clone()
    }
}

/// A TCP stream that fails every operation once its switch is flipped.
pub(crate) struct KillableStream {
    inner: TcpStream,
    switch: KillSwitch,
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "sandbox fault: connection dropped",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.killed() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
