//! The session driver: a thin async layer that moves the requests of
//! `rxce_smb2`'s state machines onto a VC and the answers back.
//!
//! One [`Session`] is one engine connection with one VC to a server, one
//! SMB2 session on it (anonymous or guest) and one tree. Every request
//! takes its message id and credits from a [`Credits`] window, so nothing is
//! ever sent beyond the server's grant; every answer (interim ones too)
//! returns credits to it. Every wait ends: by the answer, by the VC's end,
//! or by the session's timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rxce::{
    Address, Connection, ConnectionInformation, Engine, NoEvents, SendOptions, Status, TaAddress, Transport,
    TransportAddress, Vc,
};
use rxce_smb2::credits::Credits;
use rxce_smb2::ntlmssp::{self, Logon};
use rxce_smb2::session::{self as msg, session_flag, share_flag};
use rxce_smb2::{
    capability, command, dialect, next_in_chain, parse_negotiate_response, security_mode, status, Compound,
    NegotiateRequest, RequestHeader, ResponseHeader, Smb2Error,
};
use tokio::sync::mpsc;

use super::handler::{Event, SessionHandler};
use super::url::{SmbTransport, SmbUrl};

/// The credits a session asks to hold: enough for a window of 8 MiB reads.
const CREDIT_TARGET: u16 = 512;
/// The workstation name sent in the NTLMSSP AUTHENTICATE message.
const WORKSTATION: &str = "RXCE";

/// How a [`Session`] connects and logs on.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Who logs on (default: anonymous).
    pub logon: Logon,
    /// The longest wait for the connection or any answer (default 30 s).
    pub timeout: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            logon: Logon::Anonymous,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the server said at NEGOTIATE and SESSION_SETUP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerInfo {
    /// The dialect chosen.
    pub dialect: u16,
    /// `MaxReadSize`.
    pub max_read_size: u32,
    /// `Capabilities`.
    pub capabilities: u32,
    /// `SessionFlags` of the session (guest, null).
    pub session_flags: u16,
    /// True when the logon was anonymous (Samba marks such sessions with
    /// no flag at all).
    pub anonymous: bool,
}

impl ServerInfo {
    /// `anonymous`, `guest` or `user`: what the session is.
    pub fn session_kind(&self) -> &'static str {
        if self.anonymous || self.session_flags & session_flag::IS_NULL != 0 {
            "anonymous"
        } else if self.session_flags & session_flag::IS_GUEST != 0 {
            "guest"
        } else {
            "user"
        }
    }
}

/// Writes a request's body.
pub(crate) type BodyWriter<'a> = Box<dyn FnOnce(&mut Vec<u8>) + Send + 'a>;

/// One request of an exchange: what [`Session::exchange`] sends.
pub(crate) struct Request<'a> {
    pub(crate) command: u16,
    /// Payload bytes the request moves (its credit charge under LARGE_MTU).
    pub(crate) payload: u32,
    pub(crate) related: bool,
    pub(crate) body: BodyWriter<'a>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(command: u16, body: impl FnOnce(&mut Vec<u8>) + Send + 'a) -> Request<'a> {
        Request {
            command,
            payload: 0,
            related: false,
            body: Box::new(body),
        }
    }

    pub(crate) fn related(mut self) -> Request<'a> {
        self.related = true;
        self
    }
}

/// An SMB2 session on one VC, with one tree connected.
pub struct Session {
    transport: Transport,
    _address: Address,
    connection: Connection,
    pub(crate) vc: Vc,
    pub(crate) handler: Arc<SessionHandler>,
    pub(crate) events: mpsc::UnboundedReceiver<Event>,
    pub(crate) credits: Credits,
    pub(crate) session_id: u64,
    pub(crate) tree_id: u32,
    pub(crate) timeout: Duration,
    /// Answers that arrived while another was awaited.
    arrived: HashMap<u64, Vec<u8>>,
    info: ServerInfo,
    /// The VC's end, once seen: every later wait fails with it.
    gone: Option<Status>,
}

impl Session {
    /// Connects to the server of `url` over its transport, negotiates,
    /// logs on as `options.logon` and connects to the share.
    ///
    /// # Errors
    ///
    /// The connection's failure, the server's refusal with its status
    /// (STATUS_LOGON_FAILURE, STATUS_BAD_NETWORK_NAME...), STATUS_NOT_SUPPORTED
    /// for a server that requires signing or encryption, or
    /// STATUS_INVALID_NETWORK_RESPONSE for an answer that breaks SMB2.
    pub async fn open(engine: &Engine, url: &SmbUrl, options: &SessionOptions) -> Result<Session, Status> {
        let transport = engine.build_transport(url.transport.provider(), 0)?;
        let built = Self::build(transport.clone(), url, options).await;
        if built.is_err() {
            let _ = transport.tear_down().await;
        }
        built
    }

    async fn build(transport: Transport, url: &SmbUrl, options: &SessionOptions) -> Result<Session, Status> {
        let local = TransportAddress::new(TaAddress::Ip(if url.host.is_ipv6() {
            "[::]:0".parse().expect("literal")
        } else {
            "0.0.0.0:0".parse().expect("literal")
        }));
        let address = transport.build_address(local, Arc::new(NoEvents))?;
        let mut remote = TransportAddress::new(url.host.entry(url.port()));
        if url.transport == SmbTransport::Netbt {
            remote.entries.push(TaAddress::NetBios {
                name: *url.host.default_called_name().as_bytes(),
            });
        }
        let (handler, events) = SessionHandler::new();
        let connect = address.build_connection(ConnectionInformation::to(remote), handler.clone());
        let (connection, vc) = tokio::time::timeout(options.timeout, connect)
            .await
            .map_err(|_| Status::IO_TIMEOUT.with_message(format!("connecting to {}", url.server())))??;
        let mut session = Session {
            transport,
            _address: address,
            connection,
            vc,
            handler,
            events,
            credits: Credits::new(CREDIT_TARGET),
            session_id: 0,
            tree_id: 0,
            timeout: options.timeout,
            arrived: HashMap::new(),
            info: ServerInfo {
                dialect: 0,
                max_read_size: 0,
                capabilities: 0,
                session_flags: 0,
                anonymous: options.logon == Logon::Anonymous,
            },
            gone: None,
        };
        session.negotiate().await?;
        session.session_setup(&options.logon).await?;
        session.tree_connect(&url.unc_share()).await?;
        Ok(session)
    }

    /// What the server said at NEGOTIATE and SESSION_SETUP.
    pub fn server_info(&self) -> ServerInfo {
        self.info
    }

    async fn negotiate(&mut self) -> Result<(), Status> {
        let taken = self.credits.take(0).expect("a fresh window holds one credit");
        let request = NegotiateRequest {
            message_id: taken.message_id,
            ..NegotiateRequest::default()
        };
        let bytes = request.encode().map_err(|e| protocol("NEGOTIATE", e))?;
        self.send(bytes).await?;
        let answer = self.wait(taken.message_id).await?;
        let negotiated = parse_negotiate_response(&answer).map_err(|e| refused("NEGOTIATE", e))?;
        if negotiated.security_mode & security_mode::SIGNING_REQUIRED != 0 {
            return Err(Status::NOT_SUPPORTED.with_message(
                "the server requires signing (SecurityMode SIGNING_REQUIRED): \
                 anonymous and guest sessions cannot sign",
            ));
        }
        self.credits.set_large_mtu(
            negotiated.dialect != dialect::SMB2_0_2 && negotiated.capabilities & capability::LARGE_MTU != 0,
        );
        self.info.dialect = negotiated.dialect;
        self.info.max_read_size = negotiated.max_read_size.max(1);
        self.info.capabilities = negotiated.capabilities;
        Ok(())
    }

    async fn session_setup(&mut self, logon: &Logon) -> Result<(), Status> {
        let first = self.setup_round(ntlmssp::negotiate_message()).await?;
        self.session_id = first.header.session_id;
        let last = if first.header.status == status::MORE_PROCESSING_REQUIRED {
            let challenge = ntlmssp::parse_challenge(&first.security_blob).map_err(|e| protocol("SESSION_SETUP", e))?;
            let token = ntlmssp::authenticate_message(&challenge, logon, WORKSTATION);
            self.setup_round(token).await?
        } else {
            first
        };
        if last.header.status != status::SUCCESS {
            return Err(server_status("SESSION_SETUP", last.header.status));
        }
        if last.session_flags & session_flag::ENCRYPT_DATA != 0 {
            return Err(Status::NOT_SUPPORTED.with_message(
                "the server requires encryption for this session (SESSION_FLAG_ENCRYPT_DATA): \
                 anonymous and guest sessions cannot encrypt",
            ));
        }
        self.info.session_flags = last.session_flags;
        Ok(())
    }

    async fn setup_round(&mut self, token: Vec<u8>) -> Result<msg::SessionSetupResponse, Status> {
        let mode = security_mode::SIGNING_ENABLED as u8;
        let request = Request::new(command::SESSION_SETUP, move |b| {
            msg::session_setup_body(b, mode, &token)
        });
        let answer = self.exchange_one(request).await?;
        msg::parse_session_setup_response(&answer).map_err(|e| refused("SESSION_SETUP", e))
    }

    async fn tree_connect(&mut self, unc: &str) -> Result<(), Status> {
        let request = Request::new(command::TREE_CONNECT, |b| msg::tree_connect_body(b, unc));
        let answer = self.exchange_one(request).await?;
        let tree = msg::parse_tree_connect_response(&answer).map_err(|e| refused_path("TREE_CONNECT", unc, e))?;
        if tree.share_flags & share_flag::ENCRYPT_DATA != 0 {
            return Err(Status::NOT_SUPPORTED.with_message(format!(
                "the share {unc} requires encryption (SHAREFLAG_ENCRYPT_DATA): \
                 anonymous and guest sessions cannot encrypt"
            )));
        }
        self.tree_id = tree.header.tree_id;
        Ok(())
    }

    /// Sends `requests` as one compound transport message (one request
    /// alone when there is one) and returns their answers in order.
    pub(crate) async fn exchange(&mut self, requests: Vec<Request<'_>>) -> Result<Vec<Vec<u8>>, Status> {
        let mut compound = Compound::new();
        let mut ids = Vec::with_capacity(requests.len());
        for request in requests {
            let charge = self.credits.charge(request.payload);
            let Some(taken) = self.credits.take(charge) else {
                return Err(Status::INSUFFICIENT_RESOURCES.with_message(format!(
                    "no credit left for {} (the server granted too few)",
                    command::name(request.command)
                )));
            };
            let header = RequestHeader {
                command: request.command,
                credit_charge: taken.credit_charge,
                credit_request: taken.credit_request,
                flags: 0,
                message_id: taken.message_id,
                tree_id: self.tree_id,
                session_id: self.session_id,
            };
            compound.push(header, request.related, request.body);
            ids.push(taken.message_id);
        }
        self.send(compound.into_bytes()).await?;
        let mut answers = Vec::with_capacity(ids.len());
        for id in ids {
            answers.push(self.wait(id).await?);
        }
        Ok(answers)
    }

    /// [`exchange`](Self::exchange) of one request.
    pub(crate) async fn exchange_one(&mut self, request: Request<'_>) -> Result<Vec<u8>, Status> {
        let mut answers = self.exchange(vec![request]).await?;
        Ok(answers.pop().unwrap_or_default())
    }

    pub(crate) async fn send(&mut self, bytes: Vec<u8>) -> Result<(), Status> {
        if let Some(gone) = &self.gone {
            return Err(gone.clone());
        }
        self.vc.send(bytes, SendOptions::empty()).await.map(|_| ())
    }

    /// Waits for the final answer to `message_id`, banking the credits of
    /// every answer that comes meanwhile.
    async fn wait(&mut self, message_id: u64) -> Result<Vec<u8>, Status> {
        loop {
            if let Some(answer) = self.arrived.remove(&message_id) {
                return Ok(answer);
            }
            match self.next_event().await? {
                Event::Message(bytes) => self.file_answers(&bytes)?,
                Event::ReadData(read) => {
                    return Err(Status::INVALID_NETWORK_RESPONSE.with_message(format!(
                        "a READ answer (message id {}) while waiting for message id {message_id}",
                        read.header.message_id
                    )))
                }
                Event::Disconnected(status) => return Err(self.lost(status)),
            }
        }
    }

    /// The next event, within the session's timeout.
    pub(crate) async fn next_event(&mut self) -> Result<Event, Status> {
        if let Some(gone) = &self.gone {
            return Err(gone.clone());
        }
        match tokio::time::timeout(self.timeout, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(self.lost(Status::CONNECTION_DISCONNECTED.with_message("the VC's handler is gone"))),
            Err(_) => {
                Err(Status::IO_TIMEOUT.with_message(format!("no answer from the server within {:?}", self.timeout)))
            }
        }
    }

    /// Records the VC's end; every later wait fails with it.
    pub(crate) fn lost(&mut self, status: Status) -> Status {
        let status = self.gone.get_or_insert(status).clone();
        status
    }

    /// Splits a transport message into its answers: banks their credits and
    /// keeps the final ones by message id.
    pub(crate) fn file_answers(&mut self, bytes: &[u8]) -> Result<(), Status> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (one, next) = next_in_chain(rest).map_err(|e| protocol("a compound answer", e))?;
            let header = ResponseHeader::parse(one).map_err(|e| protocol("an answer", e))?;
            self.credits.grant(header.credits_granted);
            if !header.is_interim() {
                self.arrived.insert(header.message_id, one.to_vec());
            }
            rest = next;
        }
        Ok(())
    }

    /// Closes the tree and the session (one compound: TREE_DISCONNECT,
    /// LOGOFF) and tears the connection down. Errors of the goodbye are
    /// returned after the tear-down.
    pub async fn close(mut self) -> Result<(), Status> {
        let goodbye = if self.gone.is_none() {
            self.goodbye().await
        } else {
            Ok(())
        };
        let torn = self.connection.tear_down().await;
        let _ = self.transport.tear_down().await;
        goodbye.and(torn)
    }

    async fn goodbye(&mut self) -> Result<(), Status> {
        let requests = || {
            [
                Request::new(command::TREE_DISCONNECT, msg::empty_body),
                Request::new(command::LOGOFF, msg::empty_body),
            ]
        };
        let answers = if self.can_compound(&requests()) {
            self.exchange(requests().into()).await?
        } else {
            let mut answers = Vec::new();
            for request in requests() {
                answers.push(self.exchange_one(request).await?);
            }
            answers
        };
        msg::parse_empty_response(&answers[0], command::TREE_DISCONNECT).map_err(|e| refused("TREE_DISCONNECT", e))?;
        msg::parse_empty_response(&answers[1], command::LOGOFF).map_err(|e| refused("LOGOFF", e))?;
        Ok(())
    }

    /// True when the credits held cover every request of a compound (a
    /// server that grants few credits gets the requests one by one).
    pub(crate) fn can_compound(&self, requests: &[Request<'_>]) -> bool {
        let cost: u32 = requests
            .iter()
            .map(|r| u32::from(self.credits.charge(r.payload).max(1)))
            .sum();
        cost <= self.credits.balance()
    }
}

/// The status of a server's refusal, named.
pub(crate) fn server_status(what: &str, code: u32) -> Status {
    let name = status::name(code).unwrap_or("an unknown status");
    Status::from_code(code).with_message(format!("the server refused {what} ({name})"))
}

/// The status for a parse failure: the server's own status when it refused,
/// STATUS_INVALID_NETWORK_RESPONSE for a malformed answer.
pub(crate) fn refused(what: &str, error: Smb2Error) -> Status {
    match error {
        Smb2Error::ServerStatus(code) => server_status(what, code),
        other => protocol(what, other),
    }
}

/// [`refused`] naming the path the request was about.
pub(crate) fn refused_path(what: &str, path: &str, error: Smb2Error) -> Status {
    refused(&format!("{what} of \"{path}\""), error)
}

/// STATUS_INVALID_NETWORK_RESPONSE for an answer that breaks SMB2.
pub(crate) fn protocol(what: &str, error: Smb2Error) -> Status {
    Status::INVALID_NETWORK_RESPONSE.with_message(format!("bad answer to {what}: {error}"))
}
