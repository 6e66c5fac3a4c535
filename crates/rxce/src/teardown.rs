//! The tear-down walk, one for every level of the object tree: an object
//! is closed for good (no child can be added from then on) and its
//! in-flight connect attempts cancelled; its children are torn down, each
//! by the same walk; then the object stops what it runs itself and leaves
//! its parent's list. A parent never leaves a child running, and never
//! waits for a VC whose callback waits for the caller (decision 21).
//!
//! [`stop_now`] is the same walk without waiting for anything, for an
//! engine whose last handle went away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::address::AddressShared;
use crate::connection::ConnectionShared;
use crate::status::Status;
use crate::transport::TransportShared;
use crate::vc::VcShared;

/// One object of the tree.
pub(crate) enum Object {
    Transport(Arc<TransportShared>),
    Address(Arc<AddressShared>),
    Connection(Arc<ConnectionShared>),
    Vc(Arc<VcShared>),
}

impl Object {
    /// Closes the object for good and cancels its connect attempts; its
    /// children, or INVALID_HANDLE when it was torn down already.
    fn close(&self) -> Result<Vec<Object>, Status> {
        let gone = |what: &str| Status::INVALID_HANDLE.with_message(format!("the {what} was already torn down"));
        match self {
            Object::Transport(transport) => {
                let addresses = transport.addresses.close().ok_or_else(|| gone("transport"))?;
                transport.cancel.cancel();
                Ok(addresses.into_iter().map(Object::Address).collect())
            }
            Object::Address(address) => {
                let connections = address.connections.close().ok_or_else(|| gone("address"))?;
                address.cancel_attempts();
                let borrowed = address.borrowed_vcs.close().unwrap_or_default();
                Ok(connections
                    .into_iter()
                    .map(Object::Connection)
                    .chain(borrowed.into_iter().map(Object::Vc))
                    .collect())
            }
            Object::Connection(connection) => {
                let vcs = connection.vcs.close().ok_or_else(|| gone("connection"))?;
                connection.cancel.cancel();
                Ok(vcs.into_iter().map(Object::Vc).collect())
            }
            Object::Vc(_) => Ok(Vec::new()),
        }
    }

    /// Once the children are gone: stops what the object runs itself and
    /// takes it off its parent's list.
    async fn finish(&self) {
        match self {
            Object::Transport(transport) => {
                transport.engine.transports.remove(transport.id);
                tracing::debug!(transport = transport.id, name = %transport.name, "transport torn down");
            }
            Object::Address(address) => {
                if let Some(datagram) = &address.datagram {
                    datagram.close(address.id).await;
                }
                address.transport.addresses.remove(address.id);
                tracing::debug!(address = address.id, "address torn down");
            }
            Object::Connection(connection) => {
                connection.address.connections.remove(connection.id);
                tracing::debug!(connection = connection.id, "connection torn down");
            }
            Object::Vc(_) => {}
        }
    }
}

/// Tears `object` down with its whole subtree (the client's call).
pub(crate) async fn tear_down(object: Object) -> Result<(), Status> {
    if let Object::Vc(vc) = &object {
        return vc.tear_down().await;
    }
    let children = object.close()?;
    for child in children {
        tear_down_child(child).await;
    }
    object.finish().await;
    Ok(())
}

/// A parent's tear-down of one child: a child torn down on its own
/// meanwhile is fine, and a VC whose callback waits for the caller is torn
/// down without waiting for it.
fn tear_down_child(child: Object) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        match child {
            Object::Vc(vc) => vc.tear_down_for_parent().await,
            other => {
                let _ = tear_down(other).await;
            }
        }
    })
}

/// Tears `object` down with its subtree without waiting for anything:
/// sockets close and queued sends are cancelled at once.
pub(crate) fn stop_now(object: Object) {
    let Ok(children) = object.close() else {
        return;
    };
    for child in children {
        stop_now(child);
    }
    match &object {
        Object::Address(address) => {
            if let Some(datagram) = &address.datagram {
                datagram.stop_now();
            }
        }
        Object::Vc(vc) => vc.stop_now(),
        Object::Transport(_) | Object::Connection(_) => {}
    }
}
