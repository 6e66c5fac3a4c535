"""An SMB-over-QUIC peer on aioquic, an independent QUIC implementation, for
rxce's interop tests (crates/rxce/tests/quic_interop.rs).

    python smb_server.py --cert CERT.pem --key KEY.pem [--mode echo|negotiate]
                         [--response FILE] [--host 127.0.0.1] [--port 0]

Listens with ALPN "smb" and prints "port N" once bound. Every stream
carries direct-TCP-framed messages (0x00 and a 24-bit big-endian length).
echo: every complete message goes back as one message. negotiate: every
complete message is answered with the bytes of --response (an SMB2
NEGOTIATE response), its MessageId set to the request's. The stream is
finished when the client finishes its side.
"""

import argparse
import asyncio
import struct
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived


def frame(payload):
    return b"\x00" + len(payload).to_bytes(3, "big") + payload


class SmbPeer(QuicConnectionProtocol):
    mode = "echo"
    response = b""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = {}

    def quic_event_received(self, event):
        if not isinstance(event, StreamDataReceived):
            return
        buf = self.buffers.setdefault(event.stream_id, bytearray())
        buf.extend(event.data)
        while len(buf) >= 4:
            if buf[0] != 0:
                self._quic.close(error_code=1, reason_phrase="bad frame")
                self.transmit()
                return
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                break
            message = bytes(buf[4 : 4 + length])
            del buf[: 4 + length]
            self._quic.send_stream_data(event.stream_id, frame(self.answer(message)))
        if event.end_stream:
            self._quic.send_stream_data(event.stream_id, b"", end_stream=True)
        self.transmit()

    def answer(self, message):
        if self.mode == "echo":
            return message
        reply = bytearray(self.response)
        if len(message) >= 32 and len(reply) >= 32:
            reply[24:32] = message[24:32]  # MessageId
        return bytes(reply)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=["echo", "negotiate"], default="echo")
    parser.add_argument("--response")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    SmbPeer.mode = args.mode
    if args.response:
        with open(args.response, "rb") as f:
            SmbPeer.response = f.read()
    config = QuicConfiguration(is_client=False, alpn_protocols=["smb"], idle_timeout=30.0)
    config.load_cert_chain(args.cert, args.key)
    server = await serve(args.host, args.port, configuration=config, create_protocol=SmbPeer)
    port = server._transport.get_extra_info("sockname")[1]
    print(f"port {port}", flush=True)
    # Until the test kills us, or stdin closes.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
