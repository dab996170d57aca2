#!/usr/bin/env python3
"""A recording SMTP relay on loopback (aiosmtpd, Debian's python3-aiosmtpd) for the test suites.

It offers STARTTLS with a self-signed certificate for 127.0.0.1 made at start (its path is written to
--cert-file, for REGISTRY_SMTP_CA_FILE), requires STARTTLS before anything else and TLS before AUTH,
accepts one user and password (AUTH PLAIN and LOGIN, or only the mechanisms given), and appends what
happens to a JSON-lines record:

    {"event": "auth", "mechanism": "PLAIN", "user": "...", "ok": true, "tls": true}
    {"event": "mail", "from": "...", "tls": true}
    {"event": "message", "from": "...", "to": [...], "data": "<raw message>", "tls": true, "user": "...", "queue_id": "Q1"}

It can answer the next N messages with a failure at the end of DATA (--fail-first N --fail-code 451),
run without TLS at all (--no-tls: no STARTTLS offered, AUTH allowed in the clear, as a relay that
lost its certificate would), speak TLS from the first byte (--implicit-tls, as on port 465), accept
connections and never answer (--silent, a hung relay), or inject replies behind its STARTTLS answer
(--inject, CVE-2011-0411; what the client then sends in the clear is recorded as "plaintext").

Usage: smtp_server.py --record FILE --user USER --password PASSWORD [--port PORT] [--ready-file FILE]
                      [--cert-file FILE] [--fail-first N] [--fail-code CODE] [--no-tls] [--implicit-tls] [--silent] [--inject]
                      [--mechanisms PLAIN,LOGIN]
Prints the port it listens on (and writes it to --ready-file) once it accepts connections.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import tempfile
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Relay:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.fail_left = args.fail_first
        self.accepted = 0

    def tls(self, session):
        return session.ssl is not None or self.args.implicit_tls

    def write(self, entry):
        with self.lock, open(self.args.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.args.user.encode()
              and auth_data.password == self.args.password.encode())
        user = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else None
        self.write({"event": "auth", "mechanism": mechanism, "user": user, "ok": ok, "tls": self.tls(session)})
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.write({"event": "mail", "from": address, "tls": self.tls(session)})
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            code = self.args.fail_code
            return f"{code} {code // 100}.3.0 told to fail"
        self.accepted += 1
        queue_id = f"Q{self.accepted}"
        login = session.auth_data
        self.write({
            "event": "message", "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "data": envelope.original_content.decode("utf-8", errors="replace"), "tls": self.tls(session),
            "user": login.login.decode() if isinstance(login, LoginPassword) else None, "queue_id": queue_id,
        })
        return f"250 2.0.0 Ok: queued as {queue_id}"


class Injector(asyncio.Protocol):
    """A relay that answers STARTTLS and, in the same write, replies no one has asked for yet: the
    STARTTLS command injection (CVE-2011-0411). Whatever the client sends after it in the clear is recorded."""

    def __init__(self, relay):
        self.relay = relay
        self.buffer = b""
        self.after_starttls = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 relay.test ESMTP\r\n")

    def data_received(self, data):
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            if self.after_starttls:
                self.relay.write({"event": "plaintext", "line": line.decode(errors="replace")})
            elif line.upper().startswith(b"EHLO"):
                self.transport.write(b"250-relay.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
            elif line.upper() == b"STARTTLS":
                self.after_starttls = True
                self.transport.write(b"220 go ahead\r\n250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n")
            else:
                self.transport.write(b"503 bad sequence\r\n")


def self_signed(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key, "-out", cert,
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


async def serve(args):
    relay = Relay(args)
    folder = tempfile.mkdtemp(prefix="smtp-relay-")
    tls_context = None
    if not args.no_tls:
        cert, tls_context = self_signed(folder)
        if args.cert_file:
            with open(args.cert_file + ".tmp", "w") as f:
                f.write(cert)
            os.replace(args.cert_file + ".tmp", args.cert_file)
    excluded = [m for m in ("PLAIN", "LOGIN") if m not in args.mechanisms.upper().split(",")]

    starttls = not args.no_tls and not args.implicit_tls

    def factory():
        return SMTP(relay, hostname="relay.test", tls_context=tls_context if starttls else None, require_starttls=starttls,
                    auth_require_tls=starttls, authenticator=relay.authenticate,
                    auth_exclude_mechanism=excluded, decode_data=False)

    if args.silent:
        factory = asyncio.Protocol  # accepts, never answers
    elif args.inject:
        factory = lambda: Injector(relay)  # noqa: E731
    server = await asyncio.get_running_loop().create_server(
        factory, "127.0.0.1", args.port, ssl=tls_context if args.implicit_tls else None)
    port = server.sockets[0].getsockname()[1]
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(port, flush=True)
    parent = os.getppid()
    async with server:
        while os.getppid() == parent:  # the test process is gone: so is the relay
            await asyncio.sleep(1)


def main():
    # A test process can hand its blocked signals down to us (Swift's test runner blocks SIGTERM
    # in its threads): unblock them, so that the test's terminate() ends the relay.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    parser.add_argument("--cert-file", help="where to write the path of the relay's certificate (PEM)")
    parser.add_argument("--fail-first", type=int, default=0, help="answer this many messages with --fail-code first")
    parser.add_argument("--fail-code", type=int, default=451)
    parser.add_argument("--no-tls", action="store_true", help="offer no STARTTLS; AUTH in the clear")
    parser.add_argument("--mechanisms", default="PLAIN,LOGIN", help="the AUTH mechanisms offered")
    parser.add_argument("--silent", action="store_true", help="accept connections and never answer (a hung relay)")
    parser.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (smtps, port 465) instead of STARTTLS")
    parser.add_argument("--inject", action="store_true", help="answer STARTTLS with replies injected behind its 220")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
