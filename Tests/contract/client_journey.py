"""An integrator's journey through a client generated from the served document.

openapi-python-client (pinned in requirements.txt) generates a Python package from /openapi.yaml into
a temporary folder; the journey then uses only its generated functions, named after the operationIds
(postAuthLogin -> post_auth_login), and its models: an agency signs in, registers a worker, records a
skill and reads her file back; a household registers and signs in, the agency has a consent code sent
to the worker's phone, the household redeems it, reads her report and a signed copy, and anyone can
verify the signature. Every answer must have the documented success status and parse into the
documented model — a document the generated client cannot use, or a server that answers differently
from it, fails here.
"""
import datetime
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from registry_api import CheckFailed, national_id

PACKAGE = "registry_client"


def generate(base, folder):
    document = os.path.join(folder, "openapi.yaml")
    with urllib.request.urlopen(base + "/openapi.yaml", timeout=30) as r, open(document, "wb") as f:
        f.write(r.read())
    config = os.path.join(folder, "config.yaml")
    with open(config, "w") as f:
        f.write(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = os.path.join(os.path.dirname(sys.executable), "openapi-python-client")
    result = subprocess.run([generator, "generate", "--path", document, "--config", config, "--meta", "none",
                             "--output-path", os.path.join(folder, PACKAGE)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise CheckFailed(f"openapi-python-client failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def operation(name):
    """The generated module of an operation, found by its operationId's snake-case name."""
    api = importlib.import_module(f"{PACKAGE}.api")
    for tag in sorted(os.listdir(os.path.dirname(api.__file__))):
        if os.path.exists(os.path.join(os.path.dirname(api.__file__), tag, name + ".py")):
            return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")
    raise CheckFailed(f"the generated client has no operation {name}")


def expect(what, response, status, model):
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, model):
        raise CheckFailed(f"{what}: expected {status} parsed as {model.__name__}, got {response.status_code} "
                          f"{type(parsed).__name__}: {response.content[:400]!r}")
    return parsed


def equal(what, actual, wanted):
    if actual != wanted:
        raise CheckFailed(f"{what}: expected {wanted!r}, got {actual!r}")


def run(base, password, phone, log):
    folder = tempfile.mkdtemp(prefix="contract-client-")
    try:
        generate(base, folder)
        sys.path.insert(0, folder)
        try:
            journey(base, password, phone, log)
        finally:
            sys.path.remove(folder)
            for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
                del sys.modules[name]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def journey(base, password, phone, log):
    client = importlib.import_module(PACKAGE)
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = client.Client(base_url=base, timeout=30)

    # The agency signs in and registers a worker.
    r = operation("post_auth_login").sync_detailed(client=anonymous,
                                                   body=models.LoginRequest(email="anxin@demo.registry.local", password=password))
    login = expect("post_auth_login (agency)", r, 200, models.LoginResponse)
    agency = client.AuthenticatedClient(base_url=base, token=login.token, timeout=30)
    me = expect("get_auth_me", operation("get_auth_me").sync_detailed(client=agency), 200, models.Me)
    equal("the agency's role", str(me.user.role), "agency_staff")
    person = dict(id_number=national_id("350102", "19820202", 266), full_name="郑丽华", sex="F", home_region="350102",
                  phone="13912345266")
    r = operation("post_workers").sync_detailed(client=agency, body=models.WorkerRegistration(
        service_categories=["elder_care", "cooking"], **person))
    worker_id = expect("post_workers", r, 201, models.PostWorkersResponse201).id
    r = operation("post_workers_by_id_skills").sync_detailed(id=worker_id, client=agency, body=models.PostWorkersByIdSkillsBody(
        category="elder_care", level=4, assessed_on=datetime.date(2025, 9, 1), assessor="市职业技能鉴定中心"))
    skill_id = expect("post_workers_by_id_skills", r, 201, models.PostWorkersByIdSkillsResponse201).id
    file = expect("get_workers_by_id", operation("get_workers_by_id").sync_detailed(id=worker_id, client=agency), 200, models.WorkerFile)
    equal("her name", file.full_name, person["full_name"])
    equal("her birth date", file.birth_date, datetime.date(1982, 2, 2))
    equal("her categories", [str(c) for c in file.service_categories], ["elder_care", "cooking"])
    equal("the skill", [(s.id, s.level, s.category) for s in file.skills], [(skill_id, 4, "elder_care")])
    log(f"  ✓ the agency signed in, registered {person['full_name']} and read her file back")

    # A household registers and signs in; the agency has a consent code sent to her phone.
    household = dict(email="journey@contract.registry.test", household_name="陈先生家", region_code="350102")
    r = operation("post_employers").sync_detailed(client=anonymous, body=models.PostEmployersBody(password=password, **household))
    expect("post_employers", r, 202, models.PostEmployersResponse202)
    r = operation("post_auth_login").sync_detailed(client=anonymous, body=models.LoginRequest(email=household["email"], password=password))
    employer = client.AuthenticatedClient(base_url=base, token=expect("post_auth_login (household)", r, 200, models.LoginResponse).token,
                                          timeout=30)
    mark = phone.mark()
    r = operation("post_workers_by_id_consents").sync_detailed(id=worker_id, client=agency)
    sent = expect("post_workers_by_id_consents", r, 201, models.ConsentIssued)
    if not isinstance(sent.code, client.types.Unset):
        raise CheckFailed("the agency was shown the consent code")
    code = phone.wait_for_code(person["phone"], "consent_code", mark)

    # The household redeems it and reads her report, plain and signed; the signature verifies.
    r = operation("post_consents_redeem").sync_detailed(client=employer, body=models.PostConsentsRedeemBody(code=code))
    equal("the code is hers", expect("post_consents_redeem", r, 200, models.PostConsentsRedeemResponse200).worker_id, worker_id)
    report_op = operation("get_workers_by_id_report")
    report = expect("get_workers_by_id_report", report_op.sync_detailed(id=worker_id, client=employer), 200, models.Report)
    equal("the report's name", report.worker.full_name, person["full_name"])
    equal("the report's skills", [(s.category, s.level) for s in report.skills], [("elder_care", 4)])
    signed = expect("get_workers_by_id_report signed", report_op.sync_detailed(id=worker_id, client=employer, signed=True), 200,
                    models.SignedReport)
    r = operation("post_reports_verify").sync_detailed(client=anonymous, body=signed)
    verdict = expect("post_reports_verify", r, 200, models.PostReportsVerifyResponse200)
    equal("the signature verifies", (verdict.valid, verdict.worker_id), (True, str(worker_id)))
    log("  ✓ a household registered, redeemed the code the agency had sent her, read her report and verified a signed copy")
