#!/usr/bin/env python3
"""A loopback stand-in for Alibaba Cloud SMS (Dysmsapi SendSms, API version 2017-05-25), for the
test suites. It checks each request as Aliyun documents it, independently of the registry's Swift
code: the signature method V3 (ACS3-HMAC-SHA256) recomputed with the AccessKey secret given on the
command line, the signed headers, the body's hash, the date (within 15 minutes), a nonce used once,
the action and version, and SendSms's parameters (PhoneNumbers, SignName, TemplateCode, and
TemplateParam a JSON object of strings of 1 to 35 characters). Accepted requests are appended to a
JSON-lines record (PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId) and answered as
Aliyun does: {"Code": "OK", "BizId": "…", "RequestId": "…", "Message": "OK"}. Refusals carry
Aliyun's codes (SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, isv.MOBILE_NUMBER_ILLEGAL, …).

It can be told to answer a code for the next N accepted requests, on the command line
(--fail-first N --fail-code isv.BUSINESS_LIMIT_CONTROL) or while it runs:

    POST /control  {"fail": 3, "code": "isv.BUSINESS_LIMIT_CONTROL"}   {"fail": 1, "code": "ServiceUnavailable", "status": 503}
    GET  /messages every accepted request, oldest first

Before it listens it checks its own signer against the fixed example of Aliyun's V3 signature
documentation, so that the stand-in cannot drift from Aliyun.

Usage: aliyun_sms.py --access-key-id ID --access-key-secret SECRET --record FILE
                     [--sign-name NAME] [--port PORT] [--ready-file FILE] [--fail-first N --fail-code CODE]
"""
import argparse
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from loopback import end_with_parent

ALGORITHM = "ACS3-HMAC-SHA256"
REQUIRED_HEADERS = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}


def encode(text):
    # RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are.
    return quote(text, safe="~", encoding="utf-8")


def canonical_request(method, path, pairs, headers, signed, payload_hash):
    query = "&".join(f"{k}={v}" for k, v in sorted((encode(k), encode(v)) for k, v in pairs))
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    return "\n".join([method, quote(unquote(path) or "/", safe="/~"), query, canonical_headers, ";".join(signed), payload_hash])


def signature(secret, request):
    string_to_sign = ALGORITHM + "\n" + hashlib.sha256(request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def check_documented_example():
    """The fixed example of Aliyun's "Request syntax and signature method V3" (RunInstances)."""
    empty = hashlib.sha256(b"").hexdigest()
    headers = {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances", "x-acs-content-sha256": empty,
               "x-acs-date": "2023-10-26T10:22:32Z", "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
               "x-acs-version": "2014-05-26"}
    request = canonical_request("POST", "/", [("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
                                              ("RegionId", "cn-shanghai")], headers, sorted(headers), empty)
    assert hashlib.sha256(request.encode()).hexdigest() == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert signature("YourAccessKeySecret", request) == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"


class Provider:
    def __init__(self, args):
        self.key_id = args.access_key_id
        self.secret = args.access_key_secret
        self.sign_name = args.sign_name
        self.record = args.record
        self.lock = threading.Lock()
        self.nonces = set()
        self.messages = []
        self.fail_left = args.fail_first
        self.fail_code = args.fail_code
        self.fail_status = 200
        self.refused = []


def handler(provider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def refuse(self, status, code, message):
            with provider.lock:
                provider.refused.append(code)
            self.answer(status, {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()})

        def do_GET(self):
            if self.path == "/messages":
                with provider.lock:
                    return self.answer(200, list(provider.messages))
            self.answer(404, {"Code": "InvalidAction.NotFound", "Message": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            if url.path == "/control":
                settings = json.loads(body or b"{}")
                with provider.lock:
                    provider.fail_left = int(settings.get("fail", 0))
                    provider.fail_code = settings.get("code", "isv.BUSINESS_LIMIT_CONTROL")
                    provider.fail_status = int(settings.get("status", 200))
                return self.answer(200, {"ok": True})
            self.send_sms(url, body)

        def send_sms(self, url, body):
            headers = {k.lower(): v for k, v in self.headers.items()}
            auth = re.fullmatch(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})",
                                headers.get("authorization", ""))
            if not auth:
                return self.refuse(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
            key_id, signed_text, given = auth.groups()
            signed = signed_text.split(";")
            if signed != sorted(signed) or not REQUIRED_HEADERS <= set(signed) or any(name not in headers for name in signed):
                return self.refuse(400, "IncompleteSignature", "The signed headers are incomplete or out of order.")
            if key_id != provider.key_id:
                return self.refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
            if headers["x-acs-action"] != "SendSms":
                return self.refuse(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            if headers["x-acs-version"] != "2017-05-25":
                return self.refuse(400, "InvalidVersion", "Specified parameter Version is not valid.")
            if headers["x-acs-content-sha256"] != hashlib.sha256(body).hexdigest():
                return self.refuse(400, "SignatureDoesNotMatch", "The body does not match x-acs-content-sha256.")
            try:
                date = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            except ValueError:
                return self.refuse(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
            if abs(time.time() - date.timestamp()) > 15 * 60:
                return self.refuse(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
            pairs = parse_qsl(url.query, keep_blank_values=True)
            request = canonical_request(self.command, url.path, pairs, headers, signed, headers["x-acs-content-sha256"])
            if not hmac.compare_digest(given, signature(provider.secret, request)):
                return self.refuse(400, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
            with provider.lock:
                nonce = headers["x-acs-signature-nonce"]
                if nonce in provider.nonces:
                    return self.refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
                provider.nonces.add(nonce)
            params = dict(pairs)
            if len(params) != len(pairs):
                return self.refuse(400, "InvalidParameter", "A parameter is given twice.")
            for name in ("PhoneNumbers", "SignName", "TemplateCode"):
                if not params.get(name):
                    return self.refuse(400, "Missing" + name, f"{name} is mandatory for this action.")
            if not re.fullmatch(r"1[3-9]\d{9}|[2-9]\d{6,19}", params["PhoneNumbers"]):
                return self.refuse(200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number")
            if provider.sign_name and params["SignName"] != provider.sign_name:
                return self.refuse(200, "isv.SMS_SIGNATURE_ILLEGAL", "The sign name is not approved.")
            if not re.fullmatch(r"SMS_\d{1,20}", params["TemplateCode"]):
                return self.refuse(200, "isv.SMS_TEMPLATE_ILLEGAL", "The template code is not approved.")
            template_param = {}
            if "TemplateParam" in params:
                try:
                    template_param = json.loads(params["TemplateParam"])
                except ValueError:
                    return self.refuse(200, "isv.INVALID_JSON_PARAM", "TemplateParam is not valid JSON.")
                if not isinstance(template_param, dict) or not all(isinstance(v, str) for v in template_param.values()):
                    return self.refuse(200, "isv.INVALID_JSON_PARAM", "TemplateParam must be an object of strings.")
                if not all(1 <= len(v) <= 35 for v in template_param.values()):
                    return self.refuse(200, "isv.PARAM_LENGTH_LIMIT", "A template variable exceeds its length.")
            with provider.lock:
                if provider.fail_left > 0:
                    provider.fail_left -= 1
                    code, status = provider.fail_code, provider.fail_status
                else:
                    code = None
            if code:
                return self.refuse(status, code, "told to refuse")
            biz_id = f"{int(time.time() * 1000)}^{uuid.uuid4().int % 10**10}"
            entry = {"PhoneNumbers": params["PhoneNumbers"], "SignName": params["SignName"], "TemplateCode": params["TemplateCode"],
                     "TemplateParam": template_param, "OutId": params.get("OutId"), "BizId": biz_id, "received_at": time.time()}
            with provider.lock:
                provider.messages.append(entry)
                with open(provider.record, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.answer(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--access-key-secret", required=True)
    parser.add_argument("--sign-name")
    parser.add_argument("--record", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    parser.add_argument("--fail-first", type=int, default=0, help="refuse this many otherwise accepted requests first")
    parser.add_argument("--fail-code", default="isv.BUSINESS_LIMIT_CONTROL", help="the code those refusals carry")
    args = parser.parse_args()
    end_with_parent()
    check_documented_example()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Provider(args)))
    port = server.server_address[1]
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(port))
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
