"""What the contract suite's own checks share: the served OpenAPI document, one HTTP call checked
against it, who may call what (Tests/access-matrix.md), and the demo world's helpers (valid ID numbers
and credit codes, the text messages the registry sends, read from the recording SMS gateway's record).

Every call made through `Api.call` is checked against the document: the status must be listed for the
operation, the content type must be the documented one, and a JSON body must match the response schema
(JSON Schema 2020-12 with formats). A 2xx is recorded as a success of the caller's role for the operation;
`Api.coverage_failures` then names, per role, every operation the access matrix lets the role call that
never succeeded.
"""
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import referencing
import referencing.jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
METHODS = ("get", "post", "put", "delete", "patch")
DOC_URI = "urn:registry-openapi"

# Differences between the served document and the server that are known and reported, each with what
# it is. A matching mismatch is printed as known instead of failing; one that no longer happens fails
# the run, so the entry is removed once the document or the server is fixed.
KNOWN_DEFECTS: dict = {}   # (operationId, what) -> reason; empty: every mismatch fails the run


class CheckFailed(Exception):
    """A call did not answer what the sequence needs; the sequence cannot go on."""


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.json = None
        if self.content_type == "application/json" and raw:
            try:
                self.json = json.loads(raw)
            except ValueError:
                self.json = None

    def __getitem__(self, key):
        if not isinstance(self.json, dict) or key not in self.json:
            raise CheckFailed(f"the answer ({self.status}) has no {key!r}: {self.text(300)}")
        return self.json[key]

    def get(self, key, default=None):
        return self.json.get(key, default) if isinstance(self.json, dict) else default

    def text(self, limit=600):
        body = self.raw.decode("utf-8", "replace")
        return body if len(body) <= limit else body[:limit] + "…"


class Caller:
    """Someone who sends requests: a role, and a bearer token (a session token or an integration key)."""

    def __init__(self, name, role, token=None, **extra):
        self.name, self.role, self.token = name, role, token
        self.__dict__.update(extra)

    def __repr__(self):
        return f"{self.name} ({self.role})"


class Document:
    """The OpenAPI document as served: operations by method and path, and a schema validator."""

    def __init__(self, text):
        self.data = yaml.safe_load(text)
        self.operations = {}          # operationId -> (METHOD, template, operation)
        self._templates = []          # (regex, literal length, METHOD, operationId)
        for template, item in self.data["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                self.operations[operation["operationId"]] = (method.upper(), template, operation)
                self._templates.append((re.compile(pattern), len(re.sub(r"\{[^/]+?\}", "", template)), method.upper(),
                                        operation["operationId"]))
        resource = referencing.Resource.from_contents(self.data, default_specification=referencing.jsonschema.DRAFT202012)
        self._registry = referencing.Registry().with_resource(DOC_URI, resource)

    def operation_for(self, method, path):
        """The operationId a concrete request goes to (the most literal matching template)."""
        path = urllib.parse.urlsplit(path).path
        matches = [(literal, op) for pattern, literal, m, op in self._templates if m == method and pattern.match(path)]
        return max(matches)[1] if matches else None

    def label(self, operation_id):
        method, template, _ = self.operations[operation_id]
        return f"{method} {template} ({operation_id})"

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.pointer(node["$ref"])
        return node

    def pointer(self, ref):
        node = self.data
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def response_spec(self, operation_id, status):
        responses = self.operations[operation_id][2].get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                return key, self._resolve(responses[key])
        return None, None

    def schema_errors(self, operation_id, status_key, media_type, instance):
        method, template, _ = self.operations[operation_id]
        escaped = template.replace("~", "~0").replace("/", "~1")
        pointer = f"#/paths/{escaped}/{method.lower()}/responses/{status_key}"
        response = self.operations[operation_id][2]["responses"][status_key]
        if "$ref" in response:
            pointer = response["$ref"]
        pointer += "/content/" + media_type.replace("~", "~0").replace("/", "~1") + "/schema"
        validator = jsonschema.Draft202012Validator({"$ref": DOC_URI + pointer}, registry=self._registry,
                                                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message}" for e in validator.iter_errors(instance)]


class AccessMatrix:
    """Tests/access-matrix.md: which roles may call which route. A role may call a route when its
    cell (or its "other_" cell) is anything but 401 or 403 — 400, 404, 409 mean "you may, but not
    like this"."""

    ROLES = ("anonymous", "admin", "agency", "employer", "worker", "integration")

    def __init__(self, document, path=os.path.join(ROOT, "Tests", "access-matrix.md")):
        self.allowed = {role: set() for role in self.ROLES}
        self.listed = set()
        self.unknown_routes = []
        header = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if not line.startswith("|") or len(cells) < 3:
                    continue
                if cells[0] == "Route":
                    header = cells
                    continue
                if header is None or set(cells[0]) <= set("-"):
                    continue
                route = cells[0].strip("`")
                method, template = route.split(" ", 1)
                operation = next((op for op, (m, t, _) in document.operations.items() if m == method and t == template), None)
                if operation is None:
                    self.unknown_routes.append(route)
                    continue
                self.listed.add(operation)
                row = dict(zip(header, cells))
                for role in self.ROLES:
                    statuses = {row.get(role), row.get("other_" + role)} - {None}
                    if statuses - {"401", "403"}:
                        self.allowed[role].add(operation)


class Api:
    def __init__(self, base, document, log=print):
        self.base = base.rstrip("/")
        self.doc = document
        self.log = log
        self.successes = {}           # role -> {operationId: first successful call}
        self.failures = []            # mismatches with the document (the call itself went on)
        self.known_seen = set()
        self.calls = 0

    # --- one call ------------------------------------------------------------------------------
    def call(self, caller, method, path, body=None, *, raw=None, content_type=None, headers=None, expect=None, what=""):
        """Sends one request as `caller` and checks the answer against the document. `expect`: the
        status (or statuses) the sequence needs; anything else raises CheckFailed."""
        data = raw
        request_headers = {"Accept": "*/*"}
        if body is not None:
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        if content_type:
            request_headers["Content-Type"] = content_type
        if caller is not None and caller.token:
            request_headers["Authorization"] = f"Bearer {caller.token}"
        request_headers.update(headers or {})
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=request_headers)
        self.calls += 1
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                response = Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            response = Response(e.code, e.headers, e.read())
        operation = self.doc.operation_for(method, path)
        who = caller.name if caller else "anonymous"
        described = f"{method} {path} as {who}" + (f" ({what})" if what else "")
        if operation is None:
            self._mismatch(None, "undocumented", f"{described}: no operation in the document matches the request")
        else:
            self._check(operation, response, described, body if body is not None else (raw[:80] if raw else None))
            if 200 <= response.status < 300:
                # A request without credentials is an anonymous one, whoever's account it signs in to.
                roles = {caller.role if caller else "anonymous"} | ({"anonymous"} if caller is None or not caller.token else set())
                for role in roles:
                    self.successes.setdefault(role, {}).setdefault(operation, described)
        if expect is not None:
            wanted = (expect,) if isinstance(expect, int) else tuple(expect)
            if response.status not in wanted:
                raise CheckFailed(f"{described}: expected {' or '.join(map(str, wanted))}, got {response.status}\n"
                                  f"      request body: {_short(body if body is not None else raw)}\n"
                                  f"      response: {response.text()}")
        return response

    def _check(self, operation, response, described, sent):
        status_key, spec = self.doc.response_spec(operation, response.status)
        if spec is None:
            self._mismatch(operation, f"status {response.status}",
                           f"{described}: status {response.status} is not documented for {self.doc.label(operation)}\n"
                           f"      request body: {_short(sent)}\n      response: {response.text()}")
            return
        content = spec.get("content")
        if not content:
            if response.raw:
                self._mismatch(operation, "body", f"{described}: {response.status} documents no body but got {response.text(200)}")
            return
        if response.content_type not in content:
            self._mismatch(operation, f"content-type {response.status}",
                           f"{described}: {response.status} answered Content-Type {response.content_type or '(none)'}, "
                           f"the document says {', '.join(content)}")
            return
        if response.content_type == "application/json":
            if response.json is None:
                self._mismatch(operation, "json", f"{described}: the body is not JSON: {response.text(200)}")
                return
            errors = self.doc.schema_errors(operation, status_key, response.content_type, response.json)
            if errors:
                self._mismatch(operation, f"schema {response.status}",
                               f"{described}: the {response.status} body does not match its schema:\n        "
                               + "\n        ".join(errors[:8]) + f"\n      response: {response.text()}")

    def _mismatch(self, operation, kind, message):
        key = (operation, kind)
        if key in KNOWN_DEFECTS:
            if key not in self.known_seen:
                self.log(f"  known defect, reported: {message.splitlines()[0]}")
            self.known_seen.add(key)
            return
        self.failures.append(message)
        self.log("  MISMATCH " + message)

    # --- results ---------------------------------------------------------------------------------
    def coverage_failures(self, matrix, roles):
        missing = []
        for role in roles:
            done = self.successes.get(role, {})
            for operation in sorted(matrix.allowed[role] - set(done), key=self.doc.label):
                missing.append(f"{role}: {self.doc.label(operation)} never answered 2xx")
        return missing

    def stale_known_defects(self):
        return [f"known defect no longer seen (remove it from KNOWN_DEFECTS): {k}: {v}"
                for k, v in KNOWN_DEFECTS.items() if k not in self.known_seen]


def _short(body, limit=300):
    if body is None:
        return "(none)"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def expect_equal(what, actual, expected):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def expect_true(what, condition):
    if not condition:
        raise CheckFailed(what)


# --- the demo world's helpers -------------------------------------------------------------------

def national_id(region, birth, serial):
    """A valid ID number (GB 11643): region, birth date YYYYMMDD, serial (even: a woman), check character."""
    body = f"{region}{birth}{serial:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def social_credit_code(first17):
    """A unified social credit code (GB 32100-2015) with its check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total, weight = 0, 1
    for c in first17:
        total += alphabet.index(c) * weight
        weight = weight * 3 % 31
    return first17 + alphabet[(31 - total % 31) % 31]


class Phone:
    """Text messages to a phone. The registry texts through the recording SMS gateway that
    scripts/with-server.sh starts (Tests/support/sms_gateway.py), which keeps every message it accepts
    in a JSON-lines record; the suite reads them there, as the person would on her phone."""

    CODE = re.compile(r"(?:码为?|code(?: is)? )([0-9A-Z]{4,12})")

    def __init__(self, record):
        self.record = record

    def messages(self):
        try:
            with open(self.record, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def mark(self):
        return len(self.messages())

    def wait_for_code(self, phone, template, since, timeout=8.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = None
            for message in self.messages()[since:]:
                if message["to"] == phone and message["kind"] == template:
                    match = self.CODE.search(message["text"])
                    if match:
                        found = match.group(1)
            if found:
                return found
            time.sleep(0.2)
        raise CheckFailed(f"no {template} text to {phone[:3]}****{phone[-4:]} reached the SMS gateway within {timeout:.0f} s")


def sha256(data):
    return hashlib.sha256(data).hexdigest()
