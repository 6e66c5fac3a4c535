//! Unix-domain stream sockets for `unix:` endpoints: `rxce serve`'s
//! listeners and the bench's raw connections and both-ends-rxce transfers.
//!
//! Paths work on every Unix system; abstract names (`unix:@NAME`) exist on
//! Linux and Android only and are refused elsewhere with
//! STATUS_NOT_SUPPORTED (so is the bench's `unix` scenario, which uses
//! them). On Windows tokio has no Unix-domain stream sockets: [`Listener`]
//! and [`Connection`] are empty types there and [`listen`] and [`connect`]
//! refuse with STATUS_NOT_SUPPORTED, as the engine's `unix` transport does.

pub use os::{accept, connect, endpoint, listen, split, Connection, Listener};

/// Whether abstract names exist here (the bench and the soak name their own
/// `unix` peers with them).
pub const ABSTRACT_NAMES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Refuses an abstract name where the OS has none.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_abstract_names(name: &crate::endpoint::UnixName) -> rxce::Status {
    rxce::Status::NOT_SUPPORTED.with_message(format!("unix:{name}: abstract socket names exist on Linux only"))
}

#[cfg(unix)]
mod os {
    use std::io;
    use std::sync::Arc;

    use rxce::provider::{Stream, UnixEndpoint};
    use rxce::{Status, TaAddress, TransportAddress};
    use tokio::io::{AsyncRead, AsyncWrite};

    use crate::endpoint::UnixName;

    /// A listening Unix-domain socket.
    pub type Listener = tokio::net::UnixListener;
    /// A connected Unix-domain socket.
    pub type Connection = tokio::net::UnixStream;

    /// The std socket address of a path or an abstract name.
    fn address(name: &UnixName) -> Result<std::os::unix::net::SocketAddr, Status> {
        let failed = |e: io::Error| Status::from_io(e, format!("unix:{name}"));
        match name {
            UnixName::Path(path) => std::os::unix::net::SocketAddr::from_pathname(path).map_err(failed),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            UnixName::Abstract(abstract_name) => {
                #[cfg(target_os = "android")]
                use std::os::android::net::SocketAddrExt;
                #[cfg(target_os = "linux")]
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name).map_err(failed)
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            UnixName::Abstract(_) => Err(super::no_abstract_names(name)),
        }
    }

    /// A listener on a path or an abstract name.
    pub fn listen(name: &UnixName) -> Result<Listener, Status> {
        let failed = |e: io::Error| Status::from_io(e, format!("listening on unix:{name}"));
        let listener = std::os::unix::net::UnixListener::bind_addr(&address(name)?).map_err(failed)?;
        listener.set_nonblocking(true).map_err(failed)?;
        Listener::from_std(listener).map_err(failed)
    }

    /// The next connection `listener` accepts.
    pub async fn accept(listener: &Listener) -> io::Result<Connection> {
        Ok(listener.accept().await?.0)
    }

    /// A connection to a path or an abstract name.
    pub async fn connect(name: &UnixName) -> Result<Connection, Status> {
        let failed = |e: io::Error| Status::from_io(e, format!("connecting to unix:{name}"));
        let stream = std::os::unix::net::UnixStream::connect_addr(&address(name)?).map_err(failed)?;
        stream.set_nonblocking(true).map_err(failed)?;
        Connection::from_std(stream).map_err(failed)
    }

    /// The connection's read and write halves, borrowed.
    pub fn split(connection: &mut Connection) -> (impl AsyncRead + Unpin + '_, impl AsyncWrite + Unpin + '_) {
        connection.split()
    }

    /// The connection as an engine stream (an accepted one: its peer has
    /// no name).
    pub fn endpoint(connection: Connection) -> Arc<dyn Stream> {
        Arc::new(UnixEndpoint::new(
            connection,
            TransportAddress::new(TaAddress::Unix(Vec::new())),
        ))
    }
}

#[cfg(not(unix))]
mod os {
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use rxce::provider::Stream;
    use rxce::Status;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use crate::endpoint::UnixName;

    /// No Unix-domain listener here: a value cannot exist.
    pub enum Listener {}
    /// No Unix-domain connection here: a value cannot exist.
    pub enum Connection {}

    fn not_offered(name: &UnixName) -> Status {
        match name {
            UnixName::Abstract(_) => super::no_abstract_names(name),
            UnixName::Path(_) => Status::NOT_SUPPORTED.with_message(format!(
                "unix:{name}: Unix-domain sockets are not offered on this OS (tokio has no Unix-domain stream sockets here)"
            )),
        }
    }

    /// Refused: see the module docs.
    pub fn listen(name: &UnixName) -> Result<Listener, Status> {
        Err(not_offered(name))
    }

    /// Never called: there is no listener.
    pub async fn accept(listener: &Listener) -> io::Result<Connection> {
        match *listener {}
    }

    /// Refused: see the module docs.
    pub async fn connect(name: &UnixName) -> Result<Connection, Status> {
        Err(not_offered(name))
    }

    /// Never called: there is no connection.
    pub fn split(connection: &mut Connection) -> (tokio::io::Empty, tokio::io::Sink) {
        match *connection {}
    }

    /// Never called: there is no connection.
    pub fn endpoint(connection: Connection) -> Arc<dyn Stream> {
        match connection {}
    }

    impl AsyncRead for Connection {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }

    impl AsyncWrite for Connection {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
            match *self {}
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }
}
