#!/usr/bin/env python3
"""A recording SMS gateway on loopback, speaking the registry's provider-neutral protocol (README,
"Messages"), for the test suites: it checks each request's HMAC-SHA256 signature and timestamp,
drops a repeat of a request id (409, as a real gateway must), and appends every accepted message to a
JSON-lines record that the suites read as the person would read her phone. It can be told to fail
(a status for the next N requests), to answer slowly, or to accept again:

    POST /control  {"fail": 5, "status": 503}   {"fail": 1, "status": 422, "kind": "consent_code"}
                   {"delay": 2.5}   {"fail": 0, "delay": 0}
    GET  /messages                               every accepted message, oldest first
    GET  /repeats                                the request ids answered 409 as repeats, in order

Started again on an existing record, it remembers what the record holds: a repeat of a message
accepted before the restart is still dropped, as a provider's dedupe survives its own restarts.

Usage: sms_gateway.py --secret SECRET --record FILE [--port PORT] [--ready-file FILE] [--fail-first N]
Prints the port it listens on (and writes it to --ready-file) once it accepts connections.
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import end_with_parent

PATH = "/v1/messages"


class Gateway:
    def __init__(self, secret, record):
        self.secret = secret.encode()
        self.record = record
        self.lock = threading.Lock()
        self.seen = set()
        self.messages = []
        self.fail_left = 0
        self.fail_status = 503
        self.fail_kind = None
        self.delay = 0.0
        self.rejected = 0
        self.repeats = []
        try:
            with open(record, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        entry = json.loads(line)
                        self.seen.add(entry["id"])
                        self.messages.append(entry)
        except FileNotFoundError:
            pass


def handler(gateway):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle's algorithm holds the body
        # for the client's delayed ACK (about 40 ms per request on Linux).
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self):
            if self.path == "/messages":
                with gateway.lock:
                    return self.answer(200, list(gateway.messages))
            if self.path == "/repeats":
                with gateway.lock:
                    return self.answer(200, list(gateway.repeats))
            self.answer(404, {"error": "not found"})

        def do_POST(self):
            raw = self.body()
            if self.path == "/control":
                settings = json.loads(raw or b"{}")
                with gateway.lock:
                    if "fail" in settings:
                        gateway.fail_left = int(settings["fail"])
                        gateway.fail_status = int(settings.get("status", 503))
                        gateway.fail_kind = settings.get("kind")
                    if "delay" in settings:
                        gateway.delay = float(settings["delay"])
                return self.answer(200, {"ok": True})
            if self.path != PATH:
                return self.answer(404, {"error": "not found"})
            timestamp = self.headers.get("X-Registry-Timestamp", "")
            request_id = self.headers.get("X-Registry-Request-Id", "")
            signature = self.headers.get("X-Registry-Signature", "")
            expected = "sha256=" + hmac.new(gateway.secret, f"POST\n{PATH}\n{timestamp}\n".encode() + raw, hashlib.sha256).hexdigest()
            if not (timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300 and hmac.compare_digest(signature, expected)
                    and request_id and self.headers.get("X-Registry-Key-Id")):
                with gateway.lock:
                    gateway.rejected += 1
                return self.answer(401, {"error": "bad signature"})
            message = json.loads(raw)
            if message.get("id") != request_id or not message.get("to") or not message.get("text"):
                return self.answer(422, {"error": "incomplete message"})
            with gateway.lock:
                delay = gateway.delay
                failing = gateway.fail_left > 0 and gateway.fail_kind in (None, message.get("kind"))
                if failing:
                    gateway.fail_left -= 1
                    status = gateway.fail_status
            if delay:
                time.sleep(delay)
            if failing:
                return self.answer(status, {"error": "told to fail"})
            with gateway.lock:
                if request_id in gateway.seen:
                    gateway.repeats.append(request_id)
                    return self.answer(409, {"error": "duplicate", "message_id": request_id})
                gateway.seen.add(request_id)
                entry = {"id": request_id, "to": message["to"], "kind": message.get("kind"), "text": message["text"],
                         "received_at": time.time()}
                gateway.messages.append(entry)
                with open(gateway.record, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.answer(200, {"message_id": "gw-" + request_id})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 503 to this many message requests first")
    args = parser.parse_args()
    end_with_parent()
    gateway = Gateway(args.secret, args.record)
    gateway.fail_left = args.fail_first
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(gateway))
    port = server.server_address[1]
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(port))
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
