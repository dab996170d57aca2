#!/usr/bin/env python3
"""The API contract suite against a running registry (see scripts/contract-tests.sh), in four phases:

1. positive data and state (stateful.py): short sequences per role with real data — every operation a
   role may call (Tests/access-matrix.md) must answer 2xx to that role at least once, every answer must
   match the document (status, content type, schema), what was written is read back and compared;
2. an integrator's journey (client_journey.py) through a client generated from the served document
   with openapi-python-client;
3. schemathesis once per role — administrator, agency, employer, worker, integration key — with a fixed
   seed: examples, coverage, fuzzing and stateful (inferred links) phases; after each run the caller's
   credential must still work;
4. what had to wait for the registry's own loops (the executed ban, then a reinstatement request; before
   the administrator's run), the per-role coverage of step 1, and every credential once more.

Environment: BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, SERVER_LOG, SMS_RECORD (set by scripts/with-server.sh),
CONTRACT_ST (the schemathesis executable; its virtual environment runs this script),
CONTRACT_REGISTRY (the registry binary, for `create-admin`; by default the one scripts/with-server.sh
was given), CONTRACT_SEED, CONTRACT_EXAMPLES (examples per operation for the administrator and the
agency, default 25; the other roles get more, see ROLES), CONTRACT_ROLES (which roles to fuzz, default
all), CONTRACT_SKIP (comma-separated phases to leave out: journey, fuzz). Extra arguments go to `st run`.
"""
import os
import sys
import time


def _in_venv():
    """Runs itself with the Python of schemathesis's virtual environment (jsonschema, PyYAML and the
    generated client's dependencies are there)."""
    python = os.path.join(os.path.dirname(os.environ["CONTRACT_ST"]), "python")
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    if os.path.realpath(sys.prefix) != os.path.realpath(venv):
        os.execv(python, [python, "-B", os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    _in_venv()

import datetime  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import urllib.request  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_api import AccessMatrix, Api, CheckFailed, Document, Phone  # noqa: E402
import client_journey  # noqa: E402
import stateful  # noqa: E402

CHECKS = ",".join([
    "not_a_server_error",            # no 5xx, whatever is sent
    "status_code_conformance",       # every status is one the document lists for the operation
    "content_type_conformance",      # and its content type
    "response_schema_conformance",   # bodies match their schemas (including the error shape)
    "negative_data_rejection",       # input the schema forbids is refused with a 4xx
])
# Signing out would end the session the rest of the run uses.
EXCLUDED = ["--exclude-path", "/api/v1/auth/logout"]
# Failures found, reported and accepted until fixed, each with its reason; an accepted failure that no
# run meets any more fails the suite, so it is removed when the defect is. Each run gets a copy with
# last_seen cleared and --baseline-update, which dates the entries it met.
BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis-baseline.json")
PHASES = "examples,coverage,fuzzing,stateful"

# Who is fuzzed, least powerful first: the administrator may suspend agencies and disable accounts,
# so it goes last. The administrator and the agency get every operation (what they may not call must
# answer 401/403 in the documented shape); employers, workers and integration clients get the
# operations they may call that need a credential (their refusals are the access matrix's; the
# anonymous operations answer everyone alike and are fuzzed twice already). Examples per operation:
# (default, environment variable).
ROLES = [
    ("integration", "integration", "allowed", 60),
    ("worker", "worker", "allowed", 30),
    ("employer", "employer", "allowed", 30),
    ("agency", "agency", "all", None),
    ("administrator", "admin", "all", None),
]


def log(message=""):
    print(message, flush=True)


def registry_binary():
    """The registry binary: CONTRACT_REGISTRY, else the one scripts/with-server.sh (our parent) runs."""
    if os.environ.get("CONTRACT_REGISTRY"):
        return os.environ["CONTRACT_REGISTRY"]
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
        i = next(i for i, a in enumerate(argv) if a.endswith("with-server.sh"))
        return os.path.abspath(argv[i + 1])
    except (OSError, StopIteration, IndexError):
        raise SystemExit("set CONTRACT_REGISTRY to the registry binary (it makes two more administrators with create-admin)")


def credential_works(api, world, role_name):
    """The fuzzed caller's credential still does what it did before the run."""
    caller = world[role_name]
    if caller.role == "integration":
        r = api.call(caller, "POST", "/api/v1/flags", world.ids["flag"], expect=200, what="credential check")
        if r["outcome"] != "unchanged":
            raise CheckFailed(f"the integration key's flag changed during the run: {r.json}")
    else:
        r = api.call(caller, "GET", "/api/v1/auth/me", expect=200, what="credential check")
        if r["user"]["id"] != caller.user["id"]:
            raise CheckFailed(f"{caller}'s token now belongs to {r['user']}")


def real_records(world, role_name):
    """The fuzzed caller's own records, offered for its operations' path parameters half of the time
    (the other half stays generated, mostly not found): without them nearly every operation of a
    worker or an employer is about a record it cannot guess and answers 404. The administrator and
    the agency keep generated identifiers: with real ones they would suspend agencies and disable
    accounts the other runs use."""
    ids = world.ids
    if role_name == "worker":
        return [(["getWorkersById", "getWorkersByIdReport"], {"path.id": [ids["chunmei"]]}),
                (["getTransfersById", "postTransfersByIdConsent", "postTransfersByIdReject", "postTransfersByIdCancel"],
                 {"path.id": ids["chunmei_transfers"]}),
                (["postReviewsByIdReply", "postReviewsByIdDispute"], {"path.id": ids["chunmei_reviews"]}),
                (["deleteMeConsentsById"], {"path.id": ids["chunmei_consents"]})]
    if role_name == "employer":
        return [(["getWorkersByIdReport"], {"path.id": [ids["xiaoyan"], ids["chunmei"]]}),
                (["postEngagementsByIdByEvent", "postEngagementsByIdReview"], {"path.id": ids["employer_engagements"]}),
                (["putReviewsById"], {"path.id": [ids["review"]]}),
                (["getCasesById", "postCasesByIdCommands", "postCasesByIdEvidence"], {"path.id": [ids["case"]]}),
                (["getEvidenceById"], {"path.id": ids["evidence"]})]
    if role_name == "integration":
        # Not CT-1: the credential check expects it unchanged.
        return [(["putFlagsBySourceByReference", "deleteFlagsBySourceByReference"],
                 {"path.source": [stateful.SOURCE], "path.reference": ["CT-2"]})]
    return []


def fuzz_config(world, role_name, folder):
    """A schemathesis.toml with the caller's records as dictionaries bound to path parameters."""
    lines = []
    try:
        records = real_records(world, role_name)
    except stateful.NotMade:  # an earlier step failed (and says so): fuzz with generated identifiers only
        records = []
    for i, (operations, parameters) in enumerate(records):
        bindings = []
        for j, (parameter, values) in enumerate(parameters.items()):
            name = f"records_{i}_{j}"
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
            bindings.append(f'"{parameter}" = {{ dictionary = "{name}", probability = 0.5 }}')
        lines += ["[[operations]]", f"include-operation-id = {json.dumps(operations)}", f"parameters = {{ {', '.join(bindings)} }}", ""]
    if not lines:
        return []
    path = os.path.join(folder, f"schemathesis-{role_name}.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return ["--config-file", path]


def baseline_copy(folder, role_name):
    with open(BASELINE) as f:
        baseline = json.load(f)
    for entry in baseline["entries"]:
        entry["last_seen"] = "2000-01-01"
    path = os.path.join(folder, f"baseline-{role_name}.json")
    with open(path, "w") as f:
        json.dump(baseline, f)
    return ["--baseline", path, "--baseline-update"]


def baseline_met(folder, role_name):
    """The ids of the accepted failures this run met (and of new failures, which fail the run anyway)."""
    with open(os.path.join(folder, f"baseline-{role_name}.json")) as f:
        entries = json.load(f)["entries"]
    today = datetime.date.today().isoformat()
    return {e["id"] for e in entries if e.get("last_seen") == today}


def fuzz(api, world, matrix, label, role_name, scope, examples, seed, extra, folder):
    caller = world[role_name]
    command = [os.environ["CONTRACT_ST"], *fuzz_config(world, role_name, folder), "run", api.base + "/openapi.yaml", "--url", api.base,
               "--checks", CHECKS, "--seed", seed, "--max-examples", str(examples), "--phases", PHASES, "--generation-database", "none",
               "--workers", "1",
               "--request-timeout", "30", "--no-color", "--output-truncate", "true", *baseline_copy(folder, role_name),
               "-H", f"Authorization: Bearer {caller.token}", *EXCLUDED]
    if scope == "allowed":
        secured = [op for op, (_, _, spec) in api.doc.operations.items() if spec.get("security") != []]
        logout = [op for op, (_, template, _) in api.doc.operations.items() if template == "/api/v1/auth/logout"]
        for operation in sorted(matrix.allowed[caller.role] & set(secured) - set(logout)):
            command += ["--include-operation-id", operation]
    command += extra
    shown = " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer …" for c in command[1:])
    log(f"contract tests as the {label}: {shown}")
    started = time.time()
    code = subprocess.call(command)
    log(f"contract tests as the {label}: exit {code} in {time.time() - started:.0f} s")
    return code, baseline_met(folder, role_name)


def main():
    base = os.environ["BASE_URL"]
    seed = os.environ.get("CONTRACT_SEED", "20261129")
    skip = set(filter(None, os.environ.get("CONTRACT_SKIP", "").split(",")))
    fuzz_roles = set(filter(None, os.environ.get("CONTRACT_ROLES", "").split(","))) or {label for label, *_ in ROLES}
    started = time.time()
    failed = []

    with urllib.request.urlopen(base + "/openapi.yaml", timeout=30) as r:
        document = Document(r.read().decode())
    matrix = AccessMatrix(document)
    unlisted = set(document.operations) - matrix.listed
    if matrix.unknown_routes or unlisted:
        failed.append("access matrix and document differ: routes not in the document: "
                      f"{matrix.unknown_routes}; operations not in the matrix: {sorted(unlisted)}")
    api = Api(base, document, log=log)
    phone = Phone(os.environ["SMS_RECORD"])

    log("== positive data and stateful sequences, per role")
    t = time.time()
    sequences = stateful.Sequences(api, os.environ, phone, log, registry_binary())
    world = sequences.run_all()
    log(f"== {api.calls} calls in {time.time() - t:.0f} s")

    if "journey" not in skip:
        log("== an integrator's journey through a client generated from the document (openapi-python-client)")
        t = time.time()
        try:
            client_journey.run(base, os.environ["ADMIN_PASSWORD"], phone, log)
            log(f"== journey done in {time.time() - t:.0f} s")
        except Exception as e:  # the journey's own message says which step
            failed.append(f"client journey: {type(e).__name__}: {e}")
            log(f"  ✗ client journey: {type(e).__name__}: {e}")

    baseline_seen = set()
    waited = False
    scratch = tempfile.TemporaryDirectory(prefix="contract-")
    if "fuzz" not in skip:
        extra = sys.argv[1:]
        for label, role_name, scope, examples in ROLES:
            if label not in fuzz_roles:
                continue
            if role_name == "admin":
                log("== what waited for the registry's loops (before the administrator's run)")
                sequences._run(sequences.after_the_loops)
                waited = True
            if role_name not in world.callers:
                failed.append(f"{label}: no credential to fuzz with (an earlier step failed)")
                continue
            examples = examples or int(os.environ.get("CONTRACT_EXAMPLES", "25"))
            code, met = fuzz(api, world, matrix, label, role_name, scope, examples, seed, extra, scratch.name)
            baseline_seen |= met
            if code != 0:
                failed.append(f"schemathesis as the {label}")
            try:
                credential_works(api, world, role_name)
                log(f"contract tests as the {label}: its credential still works")
            except CheckFailed as e:
                failed.append(f"{label}'s credential after its run: {e}")
                log(f"  ✗ {label}'s credential after its run: {e}")

    if not waited:
        log("== what waited for the registry's loops")
        sequences._run(sequences.after_the_loops)
    log("== coverage; every credential once more")
    for name in ("admin", "agency", "employer", "worker", "integration"):
        try:
            credential_works(api, world, name)
        except (CheckFailed, stateful.NotMade) as e:
            failed.append(f"{name}'s credential at the end: {type(e).__name__}: {e}")
    failed += sequences.failures
    failed += api.failures
    missing = api.coverage_failures(matrix, AccessMatrix.ROLES)
    failed += missing
    failed += api.stale_known_defects()
    with open(BASELINE) as f:
        accepted = json.load(f)["entries"]
    if "fuzz" not in skip and fuzz_roles == {label for label, *_ in ROLES}:
        # By operation and check: which variants a run meets (the evidence's content types) depends on
        # what the fuzzer uploaded while the case was still open.
        defects = {}
        for entry in accepted:
            defects.setdefault((entry["operation"], entry["check"]), set()).add(entry["id"])
        for (operation, check), ids in sorted(defects.items()):
            if not ids & baseline_seen:
                failed.append(f"no schemathesis run met the accepted failure any more, remove it from {os.path.basename(BASELINE)}: "
                              f"{operation} {check}")
    covered = sum(len(ops) for ops in api.successes.values())
    allowed = sum(len(matrix.allowed[r]) for r in AccessMatrix.ROLES)
    log(f"positive data: {covered} (role, operation) pairs answered 2xx; the access matrix allows {allowed}; "
        f"{len(missing)} never did")
    log(f"contract tests: {api.calls} calls of our own, {time.time() - started:.0f} s in all")
    if failed:
        log("contract tests FAILED:")
        for f in failed:
            log("  - " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
