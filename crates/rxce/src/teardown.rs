//! The tear-down walk, one for every level of the object tree: an object
//! is closed for good (no child can be added from then on) and its
//! in-flight connect attempts cancelled; its children are torn down, each
//! by the same walk; then the object stops what it runs itself and leaves
//! its parent's list. A parent never leaves a child running, and never
//! waits for a VC whose callback waits for the caller (decision 21).
//!
//! [`stop_now`] is the same walk without waiting for anything, for an
//! engine whose last handle went away.

use std::sync::Arc;

use crate::address::AddressShared;
use crate::connection::ConnectionShared;
use crate::registry::Closed;
use crate::status::Status;
use crate::transport::TransportShared;
use crate::vc::VcShared;

/// One object of the tree above the VCs (a VC's own tear-down is
/// [`VcShared::tear_down`], which the walk calls for each VC).
pub(crate) enum Object {
    Transport(Arc<TransportShared>),
    Address(Arc<AddressShared>),
    Connection(Arc<ConnectionShared>),
}

/// What a closed object leaves to tear down.
struct Orphans {
    /// Addresses, connections: torn down by the same walk.
    objects: Vec<Object>,
    /// VCs: torn down by their parent's rule (decision 21).
    vcs: Closed<VcShared>,
}

impl Object {
    /// Closes the object for good and cancels its connect attempts; its
    /// children, or INVALID_HANDLE when it was torn down already.
    fn close(&self) -> Result<Orphans, Status> {
        let gone = |what: &str| Status::INVALID_HANDLE.with_message(format!("the {what} was already torn down"));
        Ok(match self {
            Object::Transport(transport) => {
                let addresses = transport.addresses.close().ok_or_else(|| gone("transport"))?;
                Orphans {
                    objects: addresses.into_iter().map(Object::Address).collect(),
                    vcs: Closed::default(),
                }
            }
            Object::Address(address) => {
                let connections = address.connections.close().ok_or_else(|| gone("address"))?;
                address.cancel_attempts();
                Orphans {
                    objects: connections.into_iter().map(Object::Connection).collect(),
                    vcs: address.borrowed_vcs.close().unwrap_or_default(),
                }
            }
            Object::Connection(connection) => {
                let vcs = connection.vcs.close().ok_or_else(|| gone("connection"))?;
                connection.address.cancel_attempts_of(connection.id);
                connection.cancel_rebuilds();
                Orphans {
                    objects: Vec::new(),
                    vcs,
                }
            }
        })
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
                // Rebuilds of lost VCs report about them: none after this.
                connection.stop_rebuilds().await;
                connection.address.connections.remove(connection.id);
                tracing::debug!(connection = connection.id, "connection torn down");
            }
        }
    }
}

/// Tears `object` down with its whole subtree (the client's call).
pub(crate) async fn tear_down(object: Object) -> Result<(), Status> {
    let orphans = object.close()?;
    for child in orphans.objects {
        // A child torn down on its own meanwhile is fine.
        let _ = Box::pin(tear_down(child)).await;
    }
    for vc in orphans.vcs {
        // A VC whose callback waits for the caller is torn down without
        // waiting for it.
        vc.tear_down_for_parent().await;
    }
    object.finish().await;
    Ok(())
}

/// Tears `object` down with its subtree without waiting for anything:
/// sockets close and queued sends are cancelled at once.
pub(crate) fn stop_now(object: Object) {
    let Ok(orphans) = object.close() else {
        return;
    };
    for child in orphans.objects {
        stop_now(child);
    }
    for vc in orphans.vcs {
        vc.stop_now();
    }
    if let Object::Address(address) = &object {
        if let Some(datagram) = &address.datagram {
            datagram.stop_now();
        }
    }
}
