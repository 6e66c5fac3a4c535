//! Files on a [`Session`]: open, list, read (pipelined, payloads straight
//! into the caller's buffers), close.

use rxce::{ReceiveBuffer, Status};
use rxce_smb2::directory::{self, DirectoryEntry};
use rxce_smb2::file::{self, access, create_options, share_access, CreateRequest, FileId, ReadResponse};
use rxce_smb2::pipeline::ReadPipeline;
use rxce_smb2::{command, encode_request, next_in_chain, status, RequestHeader, ResponseHeader};

use super::handler::{Event, ReadData};
use super::session::{protocol, refused_path, server_status, Request, Session};

/// The output buffer asked for per QUERY_DIRECTORY.
const LIST_CHUNK: u32 = 65_536;

/// An open file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFile {
    /// The handle.
    pub file_id: FileId,
    /// Size in bytes.
    pub size: u64,
    /// True for a directory.
    pub is_directory: bool,
}

/// Where a read's payload goes: the caller's buffers.
pub trait ReadSink: Send {
    /// A buffer for `len` bytes of the file at `offset` (its capacity at
    /// least `len`). The payload is put into it by the engine.
    fn buffer(&mut self, offset: u64, len: usize) -> Box<dyn ReceiveBuffer>;

    /// `buffer` holds `len` bytes of the file at `offset`.
    ///
    /// # Errors
    ///
    /// A status that ends the read (e.g. the output file could not be
    /// written).
    fn filled(&mut self, offset: u64, buffer: Box<dyn ReceiveBuffer>, len: usize) -> Result<(), Status>;
}

/// Buffers for a [`ReadSink`]: `Vec<u8>`s handed out and taken back, so a
/// long read reuses as many as it has READs in flight.
#[derive(Debug, Default)]
pub struct ReadBuffers {
    free: Vec<Vec<u8>>,
}

impl ReadBuffers {
    /// A buffer of `len` bytes (a reused one when there is one).
    pub fn take(&mut self, len: usize) -> Box<dyn ReceiveBuffer> {
        let mut buffer = self.free.pop().unwrap_or_default();
        buffer.resize(len, 0);
        Box::new(buffer)
    }

    /// The bytes of a buffer [`take`](Self::take) handed out.
    ///
    /// # Errors
    ///
    /// STATUS_INVALID_PARAMETER for a buffer of another type.
    pub fn bytes(buffer: Box<dyn ReceiveBuffer>) -> Result<Vec<u8>, Status> {
        let any: Box<dyn std::any::Any + Send> = buffer;
        any.downcast::<Vec<u8>>()
            .map(|b| *b)
            .map_err(|_| Status::INVALID_PARAMETER.with_message("a READ buffer of another type came back"))
    }

    /// Keeps `buffer` for the next [`take`](Self::take).
    pub fn give_back(&mut self, buffer: Vec<u8>) {
        self.free.push(buffer);
    }
}

/// How a read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Bytes per READ (capped by the server's MaxReadSize); `None`: the
    /// server's MaxReadSize.
    pub read_size: Option<u32>,
    /// READs in flight at most (credits permitting).
    pub window: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            read_size: None,
            window: 4,
        }
    }
}

/// What a read did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Payload bytes read.
    pub bytes: u64,
    /// READ requests answered.
    pub reads: u64,
    /// Payload bytes the engine already held when the answer was
    /// indicated, moved from its lookahead into the caller's buffer (one
    /// copy each).
    pub from_lookahead: u64,
    /// Payload bytes read from the socket straight into the caller's
    /// buffer (no copy at all).
    pub direct: u64,
    /// Payload bytes this crate copied itself (answers that did not come
    /// through a posted buffer); 0 on the zero-copy path.
    pub copied_by_client: u64,
    /// The most READs that were in flight at once.
    pub max_in_flight: usize,
}

impl Session {
    /// Opens `path` (backslashes, no leading one; empty for the share's
    /// root) for reading; `directory` opens a directory, else a file.
    ///
    /// # Errors
    ///
    /// The server's refusal (STATUS_OBJECT_NAME_NOT_FOUND,
    /// STATUS_ACCESS_DENIED, STATUS_FILE_IS_A_DIRECTORY...) or the VC's end.
    pub async fn open_file(&mut self, path: &str, directory: bool) -> Result<OpenFile, Status> {
        let request = create(path, directory);
        let answer = self.exchange_one(request).await?;
        parse_open(&answer, path)
    }

    /// Closes an open file.
    ///
    /// # Errors
    ///
    /// The server's refusal or the VC's end.
    pub async fn close_file(&mut self, file: &OpenFile) -> Result<(), Status> {
        let id = file.file_id;
        let answer = self
            .exchange_one(Request::new(command::CLOSE, move |b| file::close_body(b, &id)))
            .await?;
        file::parse_close_response(&answer).map_err(|e| refused_path("CLOSE", "", e))?;
        Ok(())
    }

    /// Lists the directory `path`: CREATE and the first QUERY_DIRECTORY in
    /// one compound request, more QUERY_DIRECTORY until the server has no
    /// more files, then CLOSE. The `.` and `..` entries are left out.
    ///
    /// # Errors
    ///
    /// The server's refusal (e.g. STATUS_OBJECT_NAME_NOT_FOUND,
    /// STATUS_NOT_A_DIRECTORY) or the VC's end.
    pub async fn list(&mut self, path: &str) -> Result<Vec<DirectoryEntry>, Status> {
        let query = |file_id: FileId, flags: u8| {
            move |b: &mut Vec<u8>| directory::query_directory_body(b, &file_id, "*", flags, LIST_CHUNK)
        };
        let first_query = |file_id| {
            let mut request = Request::new(command::QUERY_DIRECTORY, query(file_id, directory::RESTART_SCANS));
            request.payload = LIST_CHUNK;
            request
        };
        let compound = [create(path, true), first_query(file::RELATED_FILE_ID).related()];
        let (dir, first) = if self.can_compound(&compound) {
            let answers = self.exchange(compound.into()).await?;
            (parse_open(&answers[0], path)?, answers[1].clone())
        } else {
            let dir = parse_open(&self.exchange_one(create(path, true)).await?, path)?;
            (dir, self.exchange_one(first_query(dir.file_id)).await?)
        };
        let mut entries = Vec::new();
        let mut answer = first;
        let listed = loop {
            match directory::parse_query_directory_response(&answer) {
                Ok(r) if r.header.status == status::NO_MORE_FILES => break Ok(()),
                Ok(r) => entries.extend(r.entries.into_iter().filter(|e| e.name != "." && e.name != "..")),
                Err(e) => break Err(refused_path("QUERY_DIRECTORY", path, e)),
            }
            let mut next = Request::new(command::QUERY_DIRECTORY, query(dir.file_id, 0));
            next.payload = LIST_CHUNK;
            answer = match self.exchange_one(next).await {
                Ok(answer) => answer,
                Err(status) => break Err(status),
            };
        };
        let closed = self.close_file(&dir).await;
        listed.and(closed)?;
        Ok(entries)
    }

    /// Reads the whole of `file` into the sink's buffers, with READs of up
    /// to the server's MaxReadSize pipelined as credits and the window
    /// allow; `progress` hears the bytes done after each answer.
    ///
    /// # Errors
    ///
    /// The server's refusal of a READ, the VC's end (a disconnect during a
    /// payload fails with the engine's status), a timeout, or the sink's
    /// error.
    pub async fn read_file(
        &mut self,
        file: &OpenFile,
        sink: &mut dyn ReadSink,
        options: ReadOptions,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<ReadStats, Status> {
        let max = self.server_info().max_read_size;
        let read_size = options.read_size.unwrap_or(max).clamp(1, max);
        let mut pipeline = ReadPipeline::new(file.size, read_size, options.window);
        let mut stats = ReadStats::default();
        while !pipeline.is_complete() {
            while let Some(order) = pipeline.next(&mut self.credits) {
                self.handler
                    .post(order.message_id, sink.buffer(order.offset, order.length as usize));
                let header = RequestHeader {
                    command: command::READ,
                    credit_charge: order.credit_charge,
                    credit_request: order.credit_request,
                    flags: 0,
                    message_id: order.message_id,
                    tree_id: self.tree_id,
                    session_id: self.session_id,
                };
                let id = file.file_id;
                self.send(encode_request(header, |b| {
                    file::read_body(b, &id, order.offset, order.length)
                }))
                .await?;
                stats.max_in_flight = stats.max_in_flight.max(pipeline.in_flight());
            }
            match self.next_event().await? {
                Event::ReadData(data) => self.read_data(data, &mut pipeline, sink, &mut stats)?,
                Event::Message(bytes) => self.read_message(&bytes, &mut pipeline, sink, &mut stats)?,
                Event::Disconnected(status) => return Err(self.lost(status)),
            }
            progress(pipeline.done());
        }
        Ok(stats)
    }

    /// A READ's payload is in its posted buffer.
    fn read_data(
        &mut self,
        data: ReadData,
        pipeline: &mut ReadPipeline,
        sink: &mut dyn ReadSink,
        stats: &mut ReadStats,
    ) -> Result<(), Status> {
        self.credits.grant(data.header.credits_granted);
        if let Err(status) = data.status.ok() {
            return Err(self.lost(status.clone().with_message(format!(
                "the connection ended during a READ payload ({} of it received): {}",
                data.copied,
                status.message().unwrap_or(status.text())
            ))));
        }
        let offset = pipeline
            .answered(data.header.message_id, data.copied as u64)
            .map_err(|e| Status::INVALID_NETWORK_RESPONSE.with_message(e.to_string()))?;
        stats.reads += 1;
        stats.bytes += data.copied as u64;
        stats.from_lookahead += data.from_lookahead as u64;
        stats.direct += (data.copied - data.from_lookahead.min(data.copied)) as u64;
        sink.filled(offset, data.buffer, data.copied)
    }

    /// A whole message during a read: interim answers, a refused READ, a
    /// READ whose payload came in the message, or another answer.
    fn read_message(
        &mut self,
        bytes: &[u8],
        pipeline: &mut ReadPipeline,
        sink: &mut dyn ReadSink,
        stats: &mut ReadStats,
    ) -> Result<(), Status> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (one, next) = next_in_chain(rest).map_err(|e| protocol("a READ answer", e))?;
            rest = next;
            let header = ResponseHeader::parse(one).map_err(|e| protocol("a READ answer", e))?;
            if header.command != command::READ || !pipeline.is_in_flight(header.message_id) {
                self.file_answers(one)?;
                continue;
            }
            self.credits.grant(header.credits_granted);
            if header.is_interim() {
                continue;
            }
            let posted = self.handler.unpost(header.message_id);
            let read = match ReadResponse::parse(one, one.len()) {
                Ok(read) => read,
                Err(e) => {
                    pipeline.abandon(header.message_id);
                    return Err(match e {
                        rxce_smb2::Smb2Error::ServerStatus(code) => server_status("READ", code),
                        other => protocol("READ", other),
                    });
                }
            };
            let mut buffer = posted
                .ok_or_else(|| Status::INVALID_NETWORK_RESPONSE.with_message("a READ answer whose buffer is gone"))?;
            let data = one
                .get(read.data_offset..read.data_offset + read.data_length)
                .unwrap_or_default();
            let len = copy_into(buffer.as_mut(), data);
            let offset = pipeline
                .answered(header.message_id, len as u64)
                .map_err(|e| Status::INVALID_NETWORK_RESPONSE.with_message(e.to_string()))?;
            stats.reads += 1;
            stats.bytes += len as u64;
            stats.copied_by_client += len as u64;
            sink.filled(offset, buffer, len)?;
        }
        Ok(())
    }
}

/// Copies `data` into a receive buffer, segment by segment; returns how
/// many bytes fit.
fn copy_into(buffer: &mut dyn ReceiveBuffer, data: &[u8]) -> usize {
    let mut done = 0;
    while done < data.len() {
        let segment = buffer.segment_mut(done);
        if segment.is_empty() {
            break;
        }
        let n = segment.len().min(data.len() - done);
        segment[..n].copy_from_slice(&data[done..done + n]);
        done += n;
    }
    done
}

/// A CREATE that opens `path` for reading.
fn create(path: &str, directory: bool) -> Request<'_> {
    let (desired_access, create_options) = if directory {
        (
            access::READ_DATA | access::READ_ATTRIBUTES | access::SYNCHRONIZE,
            create_options::DIRECTORY_FILE,
        )
    } else {
        (access::GENERIC_READ, create_options::NON_DIRECTORY_FILE)
    };
    Request::new(command::CREATE, move |b| {
        CreateRequest {
            name: path,
            desired_access,
            share_access: share_access::READ | share_access::WRITE | share_access::DELETE,
            create_options,
        }
        .encode_body(b)
    })
}

fn parse_open(answer: &[u8], path: &str) -> Result<OpenFile, Status> {
    let created = file::parse_create_response(answer).map_err(|e| refused_path("CREATE", path, e))?;
    Ok(OpenFile {
        file_id: created.file_id,
        size: created.end_of_file,
        is_directory: created.is_directory(),
    })
}
