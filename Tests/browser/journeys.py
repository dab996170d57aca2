#!/usr/bin/env python3
"""Browser journeys through the registry's pages, in headless Chromium.

Started by scripts/browser-tests.sh with a running server:
  BASE_URL        the server, e.g. http://127.0.0.1:41234
  SERVER_LOG      its log
  SMS_RECORD      the recording SMS gateway's record (the texts the registry sent)
  ADMIN_EMAIL, ADMIN_PASSWORD   the demo administrator
  REGISTRY_BIN, REGISTRY_DATA_DIR, REGISTRY_ROOT   the server's binary and data, for CLI commands
  ARTIFACTS       where screenshots and page sources of failures go
`-k TEXT` runs only the journeys whose name, or function name, contains TEXT.
"""

import datetime
import json
import os
import struct
import subprocess
import sys
import time
import traceback
import urllib.request
import zlib

from selenium.webdriver.common.keys import Keys

import support
from support import DESKTOP, PHONE, Browser

BASE = os.environ["BASE_URL"]
LOG = os.environ["SERVER_LOG"]
SMS_RECORD = os.environ["SMS_RECORD"]
ADMIN = (os.environ.get("ADMIN_EMAIL", "admin@demo.registry.local"), os.environ["ADMIN_PASSWORD"])
ARTIFACTS = os.environ.get("ARTIFACTS", os.path.join(support.ROOT, ".build", "browser-artifacts"))


# --- Steps ------------------------------------------------------------------------------------

def sign_in(b, email, password, keyboard=False):
    b.open("/signin")
    if keyboard:
        # Only the keyboard: type, Tab to the password, Enter submits.
        b.driver.execute_script("window.__leaving = true")
        b.find("#account").send_keys(email, Keys.TAB)
        b.driver.switch_to.active_element.send_keys(password, Keys.ENTER)
        b.wait_for_new_page("signing in by keyboard")
        b.arrived()
    else:
        b.fill("account", email)
        b.fill("password", password)
        b.submit("form[action='/signin']")
    assert b.path() != "/signin", "sign-in failed: " + b.body()[:500]


def switch_language(b, language):
    """The remembered switch in the header; every later page is in that language."""
    b.language = language
    b.click("a.lang")


def sign_out(b):
    b.submit("form.signout")
    b.expect_notice("signed_out")


def apply_agency(b, agency):
    b.open("/")
    b.click("a[href='/apply']")
    for name in ("name", "uscc", "region_code", "representative", "contact_name", "contact_phone", "contact_email", "password"):
        b.fill(name, agency[name])
    # The agency's credit commitment is shown in the page's language, for its legal representative to sign.
    assert len(b.find("form[action='/apply'] blockquote").text) > 40, "no commitment text on the application"
    b.submit("form[action='/apply']")
    b.expect_text(b.t("apply_done.received"))
    b.expect_text(agency["contact_email"])


def new_agency(label):
    n = support.tag()
    return {"name": "%s家政服务中心 %s" % (label, n), "uscc": support.uscc(), "region_code": "320102",
            "representative": "法人 " + n, "contact_name": "联系人 " + n, "contact_phone": support.phone(),
            "contact_email": "agency-%s-%s@example.cn" % (label.lower(), n), "password": "agency password " + n}


def accept_own_commitment(b, then="/agency"):
    """At her first sign-in a staff member is led to the credit commitments: the agency's is shown
    signed (it came with the application), and she accepts her own before anything else."""
    assert b.path().startswith("/agency/commitments"), b.path()
    b.expect_notice("commitment_required")
    assert b.finds("form[action='/agency/commitments'] input[name='kind'][value='agency']") == [], "the agency's is not signed"
    b.submit("form.inline-form[action='/agency/commitments']")
    b.expect_notice("commitment_accepted")
    b.open(then)


def approve(b, agency):
    sign_in(b, *ADMIN)
    assert b.path() == "/admin", b.path()
    b.click("main a[href='/admin/agencies?status=pending']")
    b.click("main a[href^='/admin/agencies/']:not([href*='?'])[data-x], main .card h3 a") if False else None
    links = [a for a in b.finds("main .card h3 a") if a.text == agency["name"]]
    assert links, "%s is not among the pending agencies" % agency["name"]
    b.click("main .card h3 a[href='%s']" % links[0].get_attribute("href")[len(BASE):])
    b.expect_text(agency["uscc"])
    b.click("button[name='decision'][value='approve']")
    b.expect_notice("agency_approve")
    b.expect_text(b.t("agency_status.approved"))
    sign_out(b)


def new_worker():
    n = support.tag()
    return {"id_number": support.id_number(), "full_name": "测试 王秀" + n, "phone": support.phone(), "home_region": "320102",
            "categories": ["nanny", "elder_care"]}


def register_worker(b, worker):
    b.click("nav a[href='/agency/workers/new']")
    b.fill("id_number", worker["id_number"])
    b.fill("full_name", worker["full_name"])
    b.choose("sex", "F")
    b.fill("phone", worker["phone"])
    b.fill("home_region", worker["home_region"])
    for category in worker["categories"]:
        b.choose("service_categories", category)
    b.submit("form[action='/agency/workers']")
    b.expect_notice("worker_registered")
    assert b.path().startswith("/agency/workers/"), b.path()
    assert worker["id_number"] not in b.driver.current_url
    b.expect_text(worker["full_name"], where="h1")
    masked = b.find("#id-masked").text
    assert masked == worker["id_number"][:2] + "*" * 15 + worker["id_number"][-1:], masked
    assert worker["id_number"] not in b.driver.page_source, "the full ID number is on the file page"
    worker["path"] = b.path().split("?")[0]


def find_in_roster(b, worker):
    b.click("nav a[href='/agency/workers']")
    b.fill("q", worker["full_name"][-6:], form="form.search")
    b.submit("form.search")
    links = [a for a in b.finds("main .card a") if a.text == worker["full_name"]]
    assert len(links) == 1, "roster search for %s found %d" % (worker["full_name"], len(links))
    b.click("main .card a[href='%s']" % worker["path"])
    assert b.path() == worker["path"]


def record_skill(b, level="5", category="nanny"):
    b.click("main a[href$='/skills/new']")
    b.select("category", category)
    b.select("level", level)
    b.date("assessed_on", support.day(-1))
    b.fill("assessor", "市职业技能鉴定中心")
    b.submit("main form")
    b.expect_notice("skill_added")
    skills = b.find("section[aria-labelledby='skills']").text
    assert b.t("sector_level.%s.%s" % (category, level)) in skills and b.t("category." + category) in skills, skills


def record_health(b):
    b.click("main a[href$='/health-certificates/new']")
    b.fill("issuer", "市疾病预防控制中心")
    b.fill("certificate_no", "JK-" + support.tag())
    b.date("issued_on", support.day(-30))
    b.date("valid_until", support.day(335))
    b.select("result", "fit")
    b.submit("main form")
    b.expect_notice("health_added")
    health = b.find("section[aria-labelledby='health']").text
    assert "市疾病预防控制中心" in health and b.t("file.valid") in health and support.day(335) in health, health


def record_expired_certificate(b):
    b.click("main a[href$='/trainings/new']")
    b.choose("kind", "certificate")
    b.fill("title", "育婴员证")
    b.fill("issuer", "人力资源和社会保障局")
    b.select("category", "nanny")
    b.date("issued_on", support.day(-800))
    b.date("expires_on", support.day(-5))
    b.fill("hours", "40")
    b.submit("main form")
    b.expect_notice("training_added")
    trainings = b.find("section[aria-labelledby='trainings']").text
    assert "育婴员证" in trainings and b.t("file.expired") in trainings, trainings


def record_assessment(b):
    b.click("main a[href$='/tenure']")
    b.fill("work_ability", "能独立照护婴幼儿")
    b.select("ethics_rating", "4")
    b.submit("main form")
    b.expect_notice("tenure_assessed")
    b.expect_text("能独立照护婴幼儿", where="section[aria-labelledby='tenures']")


def request_transfer(b, worker, agency):
    b.click("nav a[href='/agency/transfers']")
    b.click("main a[href='/agency/transfers/new']")
    b.fill("id_number", worker["id_number"])
    b.submit("form[action='/agency/transfers']")
    b.expect_notice("transfer_requested")
    assert worker["id_number"] not in b.driver.current_url
    b.expect_text(b.t("transfer_status.requested"))
    code = support.consent_code(SMS_RECORD, worker["phone"], agency["name"])
    b.fill("code", code, form="form[action$='/consent']")
    b.submit("form[action$='/consent']")
    b.expect_notice("transfer_consented")
    b.expect_text(b.t("transfer_status.consented"))


def seal_outgoing(b, worker):
    b.click("nav a[href='/agency/transfers']")
    outgoing = b.find("section[aria-labelledby='outgoing']")
    assert worker["full_name"] in outgoing.text, outgoing.text
    b.click("section[aria-labelledby='outgoing'] .card a")
    b.fill("work_ability", "照护细致，雇主满意", form="form[action$='/seal']")
    b.fill("feedback_summary", "三位雇主均给予好评", form="form[action$='/seal']")
    b.select("ethics_rating", "5", form="form[action$='/seal']")
    b.submit("form[action$='/seal']")
    b.expect_notice("transfer_sealed")
    b.expect_text(b.t("transfer_status.completed"))


def check_moved_file(b, worker, old_agency, new_agency):
    b.click("nav a[href='/agency/workers']")
    b.click("main .card a[href='%s']" % worker["path"])
    assert b.find("#current-agency").text == new_agency["name"]
    tenures = b.finds("section[aria-labelledby='tenures'] li.card")
    assert len(tenures) == 2, [t.text for t in tenures]
    current, sealed = tenures[0].text, tenures[1].text
    assert new_agency["name"] in current and b.t("file.open") in current, current
    assert old_agency["name"] in sealed and b.t("file.sealed") in sealed and "照护细致，雇主满意" in sealed, sealed
    assert b.t("rating.5") in sealed, sealed
    # The qualifications recorded by the first agency stay on the file.
    assert b.t("sector_level.nanny.5") in b.find("section[aria-labelledby='skills']").text


# --- Journeys ---------------------------------------------------------------------------------

def custody_journey(b, keyboard=False):
    """Apply → approve → register → roster → qualifications → transfer → seal → history."""
    first, second = new_agency("Anxin"), new_agency("Jinpai")
    apply_agency(b, first)
    apply_agency(b, second)
    approve(b, first)
    approve(b, second)

    sign_in(b, first["contact_email"], first["password"], keyboard=keyboard)
    accept_own_commitment(b)
    assert b.path() == "/agency", b.path()
    b.expect_text(first["name"], where="h1")
    worker = new_worker()
    register_worker(b, worker)
    find_in_roster(b, worker)
    record_skill(b)
    record_health(b)
    if b.language == "zh-CN":
        record_expired_certificate(b)
        record_assessment(b)
    else:
        import_roster(b, known=worker, upload=True)
        b.click("nav a[href='/agency/workers']")
        b.click("main .card a[href='%s']" % worker["path"])
    sign_out(b)

    sign_in(b, second["contact_email"], second["password"])
    accept_own_commitment(b)
    request_transfer(b, worker, second)
    sign_out(b)

    sign_in(b, first["contact_email"], first["password"])
    seal_outgoing(b, worker)
    sign_out(b)

    sign_in(b, second["contact_email"], second["password"])
    check_moved_file(b, worker, first, second)


def journey_zh_phone(b):
    """The whole custody journey in Chinese on a 360 px phone, signing in by keyboard."""
    b.open("/")
    b.expect_text(b.t("home.intro"))
    custody_journey(b, keyboard=True)


def journey_en_desktop(b):
    """The whole custody journey in English on a desktop, after switching from Chinese."""
    b.language = "zh-CN"
    b.open("/")
    switch_language(b, "en")
    assert b.path() == "/", b.path()
    b.expect_text(b.t("home.intro"))
    custody_journey(b)


def journey_errors_en_phone(b):
    """Wrong input: inline errors keeping what was typed; a form without its token is refused."""
    b.language = "zh-CN"
    b.open("/signin")
    switch_language(b, "en")
    assert b.path() == "/signin", b.path()
    # Anonymous: a page that needs sign-in leads to the sign-in page, and back after it.
    b.open("/agency/workers")
    assert b.path().startswith("/signin?next="), b.path()
    agency = new_agency("Errors")
    apply_agency(b, agency)
    # The application form keeps what was typed when one field is wrong.
    b.click("a[href='/signin']")
    b.open("/apply")
    bad = new_agency("Errors")
    bad["uscc"] = bad["uscc"][:-1] + ("0" if bad["uscc"][-1] != "0" else "1")
    for name in ("name", "uscc", "region_code", "representative", "contact_name", "contact_phone", "contact_email", "password"):
        b.fill(name, bad[name])
    b.submit("form[action='/apply']")
    assert b.field_error("uscc") == b.t("errors.uscc_checksum"), b.field_error("uscc")
    assert b.value("name") == bad["name"] and b.value("contact_email") == bad["contact_email"]
    assert b.value("password") == "", "the password was sent back"
    assert b.find("#uscc").get_attribute("aria-invalid") == "true"

    approve(b, agency)
    b.open("/agency/workers")
    assert b.path().startswith("/signin?next=")
    b.fill("account", agency["contact_email"])
    b.fill("password", agency["password"])
    b.submit("form[action='/signin']")
    accept_own_commitment(b, then="/agency/workers")
    assert b.path() == "/agency/workers", b.path()

    worker = new_worker()
    wrong_id = worker["id_number"][:-1] + ("1" if worker["id_number"][-1] != "1" else "2")
    b.click("nav a[href='/agency/workers/new']")
    b.fill("id_number", wrong_id)
    b.fill("full_name", worker["full_name"])
    b.choose("sex", "F")
    b.fill("home_region", "320102")
    b.choose("service_categories", "elder_care")
    b.submit("form[action='/agency/workers']")
    assert b.field_error("id_number") == b.t("errors.id_number_checksum"), b.field_error("id_number")
    b.expect_text(b.t("form.error_title"), where=".error-summary")
    assert b.value("id_number") == wrong_id and b.value("full_name") == worker["full_name"]
    assert b.checked("sex", "F") and b.checked("service_categories", "elder_care")
    assert not b.checked("service_categories", "nanny")

    # The same form with its CSRF token removed is refused, and nothing is registered.
    b.fill("id_number", worker["id_number"])
    b.driver.execute_script("document.querySelector(\"form[action='/agency/workers'] input[name='csrf_token']\").remove()")
    b.submit("form[action='/agency/workers']")
    b.expect_text(b.t("errors.csrf_failed"))
    b.expect_text(b.t("error.title"), where="h1")
    b.click("nav a[href='/agency/workers']")
    b.expect_text(b.t("roster.empty"))

    # A skill without a level is refused next to the level, keeping the rest.
    b.click("nav a[href='/agency/workers/new']")
    b.fill("id_number", worker["id_number"])
    b.fill("full_name", worker["full_name"])
    b.choose("sex", "F")
    b.fill("home_region", "320102")
    b.choose("service_categories", "nanny")
    b.submit("form[action='/agency/workers']")
    b.expect_notice("worker_registered")
    b.click("main a[href$='/skills/new']")
    b.select("category", "cooking")
    b.fill("assessor", "Assessor <b>")
    b.submit("main form")
    assert b.field_error("level"), "no error next to the level"
    assert b.value("assessor") == "Assessor <b>"
    assert b.find("select[name='category'] option:checked").get_attribute("value") == "cooking"

    # A roster pasted as text: a result for every line; the worker above is not registered twice.
    import_roster(b, known=worker, upload=False)


def import_roster(b, known, upload):
    """A roster with a new worker, a wrong line and one already on the roster: a result for
    every line. `upload` sends it as a file (multipart), else pasted into the text box."""
    fresh = new_worker()
    wrong = new_worker()
    wrong["id_number"] = wrong["id_number"][:-1] + ("1" if wrong["id_number"][-1] != "1" else "2")
    lines = ["id_number,full_name,sex,phone,home_region,service_categories"] + [
        "%s,%s,F,%s,320102,nanny;cooking" % (w["id_number"], w["full_name"], w["phone"]) for w in (fresh, wrong, known)]
    b.click("nav a[href='/agency/import']")
    if upload:
        path = os.path.join(ARTIFACTS, "roster-%s.csv" % support.tag())
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("\ufeff" + "\r\n".join(lines) + "\r\n")  # as spreadsheet programs write it
        b.find("input[name='file']").send_keys(path)
        b.submit("form[action='/agency/import']")
        os.remove(path)
    else:
        b.fill("csv", "\n".join(lines))
        b.submit("form[action='/agency/import']")
    counts = {k: b.find("#count-" + k).text for k in ("created", "already", "transfer", "rejected")}
    assert counts == {"created": "1", "already": "1", "transfer": "0", "rejected": "1"}, counts
    rows = [r.text for r in b.finds("main table tbody tr")]
    assert len(rows) == 3 and b.t("import_outcome.rejected") in rows[1], rows
    assert b.t("import.problem", field=b.t("field.id_number")) in rows[1], rows
    assert b.t("import_outcome.already_registered") in rows[2], rows
    b.click("main table tbody tr:first-child a")
    b.expect_text(fresh["full_name"], where="h1")
    b.expect_text(b.t("category.cooking"))


def journey_admin_zh_desktop(b):
    """Administrators in Chinese: rejecting needs a reason; suspending and reinstating."""
    agency = new_agency("Admin")
    apply_agency(b, agency)
    sign_in(b, *ADMIN)
    b.click("main a[href='/admin/agencies?status=pending']")
    link = [a for a in b.finds("main .card h3 a") if a.text == agency["name"]][0]
    b.click("main .card h3 a[href='%s']" % link.get_attribute("href")[len(BASE):])
    b.click("button[name='decision'][value='reject']")
    assert b.field_error("reason"), "rejecting without a reason was not refused inline"
    b.click("button[name='decision'][value='approve']")
    b.expect_notice("agency_approve")
    b.fill("reason", "资质复核中")
    b.click("button[name='decision'][value='suspend']")
    b.expect_notice("agency_suspend")
    b.expect_text("资质复核中")
    b.click("button[name='decision'][value='reinstate']")
    b.expect_notice("agency_reinstate")
    b.click("main .crumbs a")
    b.expect_text(agency["name"])


# --- Employers and workers (demo data) --------------------------------------------------------

DEMO_EMPLOYER = "household@demo.registry.local"
DEMO_WORKER_PHONE = "13800138003"
DEMO_WORKER_NAME = "王春梅"
DEMO_HOUSEHOLD = "张先生家"


def journey_consent_zh_phone(b):
    """Demo data at 360 px in Chinese: the worker issues a consent code, the employer enters it at
    /check and reads her report (one step in English), and the worker sees who checked her."""
    password = ADMIN[1]  # every demo account has the demo password
    sign_in(b, DEMO_WORKER_PHONE, password)
    assert b.path() == "/worker", b.path()
    b.expect_text(DEMO_WORKER_NAME, where="h1")
    b.expect_text(b.t("worker_home.grade"))
    b.submit("form[action='/worker/consents']")
    code = b.find("#issued-code").text.strip()
    assert len(code) == 8, code
    b.expect_text(b.t("worker_home.issued_once"))
    assert b.find("#issued-link").get_attribute("href").endswith("/check?code=" + code)
    sign_out(b)

    sign_in(b, DEMO_EMPLOYER, password)
    assert b.path() == "/employer", b.path()
    b.expect_text(DEMO_WORKER_NAME)
    b.click("nav a[href='/check']")
    b.fill("code", code.lower())
    b.submit("form[action='/check']")
    assert b.path().startswith("/employer/workers/") and b.path().endswith("/report"), b.path()
    b.expect_text(DEMO_WORKER_NAME, where="h1")
    b.expect_text(b.t("report.good_standing"))
    b.expect_text(b.t("report.reasons") if b.finds("#grade-letter") else b.t("report.no_grade"))
    b.expect_text("照顾产妇和宝宝非常细心")
    b.expect_text("谢谢张先生一家的信任")
    b.expect_text(b.t("sector_level.maternity.4"))  # her maternity skill, as the demo data records it
    # One step in English: the same report, switched with the header link.
    switch_language(b, "en")
    b.expect_text(b.t("report.title"), where="h1")
    b.expect_text(b.t("report.reviews"))
    b.expect_text(b.t("report.good_standing"))
    switch_language(b, "zh-CN")
    sign_out(b)

    sign_in(b, DEMO_WORKER_PHONE, password)
    assert b.path() == "/worker", b.path()
    inquiries = "section[aria-labelledby='inquiries']"
    b.expect_text(DEMO_HOUSEHOLD, where=inquiries)
    # The demo household also employs her, so the service records the view under the engagement.
    b.expect_text(b.t("inquiry_purpose.engagement"), where=inquiries)
    b.expect_text(b.t("consent_state.in_use"), where="section[aria-labelledby='consents']")


# --- Revocation cases (demo data) -------------------------------------------------------------

def small_png(path):
    """A real 1x1 PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def small_pdf(path):
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def registry_cli(*arguments, stdin=None):
    """Runs the registry CLI against the running server's data folder."""
    env = dict(os.environ)
    env.setdefault("REGISTRY_ROOT", support.ROOT)
    binary = os.environ.get("REGISTRY_BIN") or os.path.join(support.ROOT, ".build", "debug", "registry")
    assert os.environ.get("REGISTRY_DATA_DIR"), "REGISTRY_DATA_DIR (the server's data folder) is not set"
    return subprocess.run([binary] + list(arguments), input=stdin, env=env, capture_output=True, text=True, timeout=120)


def create_admin(email, password, name="第二位管理员"):
    """Another administrator, with the CLI against the running server's data folder."""
    done = registry_cli("create-admin", "--email", email, "--name", name, stdin=password + "\n")
    assert done.returncode == 0, "create-admin failed: %s %s" % (done.stdout, done.stderr[-2000:])


def demo_worker_id_number():
    """王春梅's ID number, as DemoData.demoID("350102", "19881105", 128) makes it (GB 11643)."""
    body = "350102" + "19881105" + "%03d" % 128
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, support.ID_WEIGHTS)) % 11]


def ban_status(id_number):
    """The public lookup, over plain HTTP (no browser, no session)."""
    request = urllib.request.Request(BASE + "/api/v1/public/ban-status", method="POST",
                                     data=json.dumps({"id_number": id_number}).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode())


def wait_for_case_state(b, case_path, state, timeout=45, every=2):
    """Reloads the case page every `every` seconds until #case-state shows `state`."""
    wanted = b.t("case_state." + state)
    deadline = time.time() + timeout
    while True:
        b.open(case_path)
        shown = b.find("#case-state").text
        if wanted in shown:
            return
        if time.time() >= deadline:
            raise AssertionError("case %s still shows %r after %d s, expected %r" % (case_path, shown, timeout, wanted))
        time.sleep(every)


def case_step(b, command, reason, outcome=None):
    form = "#form-" + command
    if outcome:
        b.choose("outcome", outcome, form=form)
    b.fill("reason", reason, form=form)
    b.submit(form)


def journey_case_zh_phone(b):
    """Demo data at 360 px in Chinese: the household files a case against 王春梅 with a photo and a
    PDF; an administrator starts the review and proposes to uphold it, and is refused when she tries
    to confirm it herself (four eyes); a second administrator confirms; the worker objects; the
    second administrator is not offered the objection's review (she took part in the decision), a
    third one rejects it; the decision is final but waits for the notice period: the case-deadlines
    job run now leaves it, the public lookup says not barred; run as of the day after the window it
    executes the ban; her page and the public lookup show the ban, and `registry audit verify`
    finds the audit chain intact."""
    password = ADMIN[1]
    second = ("case-admin-%s@demo.registry.local" % support.tag(), password + "-second")
    create_admin(*second)
    third = ("case-admin-%s@demo.registry.local" % support.tag(), password + "-third")
    create_admin(*third, name="第三位管理员")
    png = os.path.join(ARTIFACTS, "photo-%s.png" % support.tag())
    pdf = os.path.join(ARTIFACTS, "police-%s.pdf" % support.tag())
    small_png(png)
    small_pdf(pdf)
    try:
        sign_in(b, DEMO_EMPLOYER, password)
        assert b.path() == "/employer", b.path()
        b.click("main .engagement a[href$='/case/new']")
        b.expect_text(DEMO_WORKER_NAME, where="h1")
        b.submit("main form")  # nothing chosen: refused inline, nothing filed
        assert b.field_error("grounds") or b.field_error("evidence"), "an empty case form was not refused inline"
        b.select("grounds", "theft")
        b.fill("statement", "家中首饰丢失，监控显示她进入过卧室。")
        b.find("main form input[name='evidence']").send_keys(png + "\n" + pdf)
        b.submit("main form")
        b.expect_notice("case_filed")
        case_path = b.path().split("?")[0]
        assert case_path.startswith("/cases/"), case_path
        b.expect_text(b.t("case_state.submitted"), where="#case-state")
        links = [a.get_attribute("href") for a in b.finds(".evidence-list a")]
        assert len(links) == 2 and all("/api/v1/evidence/" in h for h in links), links
        b.expect_text(os.path.basename(png))
        b.expect_text(os.path.basename(pdf))
        sign_out(b)

        sign_in(b, *ADMIN)
        b.click("nav a[href='/admin/cases']")
        b.click("main .case-queue a[href='%s']" % case_path)
        case_step(b, "start_review", "受理，开始审查")
        b.expect_notice("case_acted")
        b.expect_text(b.t("case_state.under_review"), where="#case-state")
        case_step(b, "propose_decision", "监控与报案回执相互印证", outcome="upheld")
        b.expect_text(b.t("case_state.decision_proposed"), where="#case-state")
        # Four eyes: the administrator who proposed is not offered the confirmation; the case
        # page names who stands aside from which step, and why.
        assert not b.finds("#form-confirm_decision"), "the proposer was offered the confirmation"
        b.expect_text(b.t("cases.excluded_title"))
        sign_out(b)

        sign_in(b, *second)
        b.open(case_path)
        case_step(b, "confirm_decision", "复核同意")
        b.expect_notice("case_acted")
        b.expect_text(b.t("case_state.notice_period"), where="#case-state")
        b.expect_text(b.t("cases.window_rule"), where="#case-window-rule")
        last_day = b.find("#case-notice-last-day").text.strip()
        sign_out(b)

        sign_in(b, DEMO_WORKER_PHONE, password)
        assert b.path() == "/worker", b.path()
        b.click("main .case-list a[href='%s']" % case_path)
        b.expect_text(b.t("cases.object_title"))
        case_step(b, "object", "我没有拿过首饰，那天我只是进去打扫。")
        b.expect_notice("case_acted")
        b.expect_text(b.t("case_state.objection_review"), where="#case-state")
        b.expect_text("我没有拿过首饰", where="#case-objection")
        sign_out(b)

        # The administrator who confirmed the decision is not offered the objection's review.
        sign_in(b, *second)
        b.open(case_path)
        assert not b.finds("#form-reject_objection"), "an administrator who took part was offered the review"
        sign_out(b)

        # A third administrator, who took no part in the decision, rejects the objection: the
        # decision is final, but nothing is carried out before the notice period has ended.
        sign_in(b, *third)
        b.open(case_path)
        case_step(b, "reject_objection", "监控与报案回执足以认定，异议不成立")
        b.expect_notice("case_acted")
        b.expect_text(b.t("case_state.final"), where="#case-state")
        b.expect_text(b.t("cases.window_rule"), where="#case-window-rule")
        # The case-deadlines job, run now, leaves it waiting; the public lookup says not barred.
        done = registry_cli("jobs", "run", "case-deadlines")
        assert done.returncode == 0, "jobs run failed: %s %s" % (done.stdout, done.stderr[-2000:])
        b.open(case_path)
        b.expect_text(b.t("case_state.final"), where="#case-state")
        assert ban_status(demo_worker_id_number()) == {"revoked": False}
        # The day after the window's last day, the same job carries the decision out.
        after = (datetime.date.fromisoformat(last_day) + datetime.timedelta(days=1)).isoformat()
        done = registry_cli("jobs", "run", "case-deadlines", "--as-of", after)
        assert done.returncode == 0, "jobs run --as-of failed: %s %s" % (done.stdout, done.stderr[-2000:])
        wait_for_case_state(b, case_path, "executed", timeout=10)
        sign_out(b)

        # (a) Her own page shows the ban.
        sign_in(b, DEMO_WORKER_PHONE, password)
        assert b.path() == "/worker", b.path()
        b.expect_text(b.t("report.revoked"), where="#standing")
        sign_out(b)

        # (b) The public lookup answers revoked.
        answer = ban_status(demo_worker_id_number())
        assert answer == {"revoked": True}, "ban-status answered %r" % (answer,)

        # (c) The audit chain is intact (the CLI chains pending rows first).
        done = registry_cli("audit", "verify")
        assert done.returncode == 0, "audit verify failed (%d): %s %s" % (done.returncode, done.stdout, done.stderr[-2000:])
        assert "intact" in done.stdout, done.stdout
    finally:
        for path in (png, pdf):
            if os.path.exists(path):
                os.remove(path)


# --- The consent code's QR link (demo data) -----------------------------------------------------

def journey_qr_en_desktop(b):
    """Demo data in English on a desktop: the worker issues a code and sees its QR code with the
    link as text; the employer opens that link signed out, signs in, and lands on the check form
    with the code filled in; checking it shows the report."""
    password = ADMIN[1]  # every demo account has the demo password
    b.language = "zh-CN"
    b.open("/")
    switch_language(b, "en")
    sign_in(b, DEMO_WORKER_PHONE, password)
    assert b.path() == "/worker", b.path()
    b.submit("form[action='/worker/consents']")
    code = b.find("#issued-code").text.strip()
    assert len(code) == 8, code
    link = b.find("#issued-link").text.strip()
    assert link == BASE + "/check?code=" + code, link
    qr = b.find("svg#issued-qr")
    assert qr.get_attribute("role") == "img"
    assert qr.get_attribute("shape-rendering") == "crispEdges"
    assert b.find("#issued-qr-title").get_attribute("textContent") == b.t("worker_home.qr_title", link=link)
    assert len(b.finds("svg#issued-qr path")) == 1
    assert qr.size["width"] >= 120 and qr.size["height"] == qr.size["width"], qr.size
    b.expect_text(b.t("worker_home.qr_caption"))
    sign_out(b)

    # The employer's phone opens the link: sign in first, then back to the form, code filled in.
    b.driver.get(link)
    b.arrived()
    assert b.path().startswith("/signin?next="), b.path()
    b.fill("account", DEMO_EMPLOYER)
    b.fill("password", password)
    b.submit("form[action='/signin']")
    assert b.path() == "/check?code=" + code, b.path()
    assert b.value("code", form="form[action='/check']") == code
    b.expect_text(b.t("check.prefilled"))
    b.submit("form[action='/check']")
    assert b.path().startswith("/employer/workers/") and b.path().endswith("/report"), b.path()
    b.expect_text(DEMO_WORKER_NAME, where="h1")
    sign_out(b)


# --- Administrators' tools (demo data) --------------------------------------------------------

def api_post(path, body, key):
    """A JSON POST with an integration's API key (no browser); returns the HTTP status."""
    request = urllib.request.Request(BASE + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def journey_admin_tools_en_phone(b):
    """The demo administrator in English at 360 px: the dashboard's SVG charts; a new integration
    source (a wrong name refused inline first), its first API key shown once and never again, the
    key working and then revoked after confirming; the audit log filtered by action, and verifying
    its hash chain."""
    b.language = "zh-CN"
    b.open("/signin")
    switch_language(b, "en")
    sign_in(b, *ADMIN)
    assert b.path() == "/admin", b.path()

    # The dashboard: every chart is an SVG image with a title.
    b.click("main a#dashboard-link")
    assert b.path() == "/admin/dashboard", b.path()
    titles = b.chart_titles()
    assert len(titles) >= 4 and all(titles), titles
    assert b.t("dashboard.grades") in titles, titles

    # A source: a wrong name is refused next to the field, keeping what was typed.
    b.click("nav a[href='/admin/integrations']")
    b.expect_text(b.t("integrations.title"), where="h1")
    n = support.tag()
    name, display = "js-police-" + n, "Journey police " + n
    b.fill("source_name", "Bad Name!", form="#create-source")
    b.fill("display_name", display, form="#create-source")
    b.select("kind", "police", form="#create-source")
    b.submit("#create-source")
    assert b.field_error("source_name") == b.t("errors.fields.source_name"), b.field_error("source_name")
    assert b.value("display_name", form="#create-source") == display
    assert b.value("source_name", form="#create-source") == "Bad Name!"
    b.fill("source_name", name, form="#create-source")
    b.submit("#create-source")
    b.expect_text(b.t("integrations.secret_title"), where="h1")
    secret = b.find("#issued-secret").text.strip()
    assert len(secret) >= 40, secret
    b.expect_text(b.t("integrations.secret_once"))

    # Its first key, shown once with the warning; never in the address.
    b.fill("label", "nightly import", form="#first-key")
    b.submit("#first-key")
    b.expect_text(b.t("integrations.key_title"), where="h1")
    key = b.find("#issued-key").text.strip()
    assert key.startswith("rik_") and len(key) > 30, key
    b.expect_text(b.t("integrations.key_once"))
    assert key not in b.driver.current_url and secret not in b.driver.current_url
    assert api_post("/api/v1/flags:batch", {"flags": []}, key) == 200, "the new key was not accepted"

    # Back on the list: only the key's first characters, neither secret.
    b.click("main a.button[href^='/admin/integrations']")
    assert key not in b.driver.page_source and secret not in b.driver.page_source, "a secret was shown again"
    cards = [c for c in b.finds("main li.source") if name in c.text]
    assert len(cards) == 1, [c.text for c in b.finds("main li.source")]
    assert key[:10] + "…" in cards[0].text and "nightly import" in cards[0].text, cards[0].text
    revoke = cards[0].find_element("css selector", "a.revoke-link").get_attribute("href")[len(BASE):]

    # Revoking asks first; then the key is refused.
    b.click("main a[href='%s']" % revoke)
    b.expect_text(b.t("integrations.revoke_title"), where="h1")
    b.expect_text(key[:10])
    b.submit("#revoke-key")
    b.expect_notice("key_revoked")
    card = [c for c in b.finds("main li.source") if name in c.text][0]
    assert b.t("integrations.key_revoked") in card.text, card.text
    assert not card.find_elements("css selector", "a.revoke-link")
    assert api_post("/api/v1/flags:batch", {"flags": []}, key) == 401, "the revoked key was accepted"
    with open(LOG, encoding="utf-8", errors="replace") as f:
        logged = f.read()
    assert key not in logged and secret not in logged, "a secret is in the server log"

    # The audit log: newest first, filtered by action; then the chain verified.
    b.click("nav a[href='/admin/audit']")
    b.expect_text(b.t("audit.title"), where="h1")
    actions = [a.text for a in b.finds("main .audit-action")]
    assert "integration.key_revoked" in actions[:5], actions[:10]
    b.find("details.audit-filter summary").click()
    b.fill("action", "integration.", form="#audit-filter")
    b.submit("#audit-filter")
    actions = [a.text for a in b.finds("main .audit-action")]
    assert actions and all(a.startswith("integration.") for a in actions), actions
    assert actions[:3] == ["integration.key_revoked", "integration.key_issued", "integration.source_registered"], actions
    assert name not in b.driver.current_url
    b.submit("#verify-chain")
    message = b.find("#verify-message").text
    before, after = b.t("audit.intact").split("{count}")
    assert message.startswith(before) and message.endswith(after), message
    assert int(message[len(before):len(message) - len(after)]) > 0, message
    b.expect_text(b.t("audit.head"), where="#verification")


# --- Placements, and the worker's own records (demo data) ------------------------------------

DEMO_JINPAI = "jinpai@demo.registry.local"
DEMO_PLACED_WORKER = "杨小红"  # with 金牌 in the demo data, active, never barred by another journey


def report_flag(b, id_number):
    """An administrator registers a police source and issues its first key in the browser; the
    source's system then reports a record about the worker over the API. Returns the source's
    name as pages show it."""
    sign_in(b, *ADMIN)
    b.click("nav a[href='/admin/integrations']")
    n = support.tag()
    display = "派出所 %s" % n
    b.fill("source_name", "js-place-police-" + n, form="#create-source")
    b.fill("display_name", display, form="#create-source")
    b.select("kind", "police", form="#create-source")
    b.submit("#create-source")
    b.submit("#first-key")
    key = b.find("#issued-key").text.strip()
    sign_out(b)
    status = api_post("/api/v1/flags", {
        "id_number": id_number, "reference": "JP-" + n, "category": "fraud", "severity": 1, "status": "alleged",
        "occurred_on": support.day(-40), "narrative": "接群众举报，涉嫌电信诈骗，尚在核查。"}, key)
    assert status in (200, 201), "the record was not accepted (HTTP %d)" % status
    return display


def journey_placement_zh_phone(b):
    """Demo data at 360 px in Chinese: 金牌's staff open 杨小红's file, send her a consent code and
    place her with the demo household (an unregistered household is refused inline first); the
    household confirms the placement on /employer and 金牌 sees it in progress. A police source
    reports a record about 王春梅: she reads it in full in her records on /worker and disputes it
    (an empty reason is refused next to the field)."""
    password = ADMIN[1]  # every demo account has the demo password
    source = report_flag(b, demo_worker_id_number())

    # The agency: her file, a consent code to her phone, the placement form.
    sign_in(b, DEMO_JINPAI, password)
    assert b.path() == "/agency", b.path()
    b.click("main a[href='/agency/placements']")
    b.expect_text(b.t("placements.title"), where="h1")
    b.click("nav a[href='/agency/workers']")
    b.fill("q", DEMO_PLACED_WORKER, form="form.search")
    b.submit("form.search")
    links = [a.get_attribute("href")[len(BASE):] for a in b.finds("main .card a") if a.text == DEMO_PLACED_WORKER]
    assert len(links) == 1, "roster search for %s found %d" % (DEMO_PLACED_WORKER, len(links))
    b.click("main .card a[href='%s']" % links[0])
    b.expect_text(DEMO_PLACED_WORKER, where="h1")
    b.submit("#send-consent")
    b.expect_notice("consent_sent")
    b.click("#place-worker")
    b.expect_text(b.t("placement_new.title"), where="h1")
    assert b.value("starts_on"), "no start date proposed"
    b.fill("employer", "nobody-%s@example.cn" % support.tag())
    b.select("category", "housekeeping")
    b.submit("#place-form")
    assert b.field_error("employer") == b.t("errors.no_employer"), b.field_error("employer")
    assert b.find("#employer").get_attribute("aria-invalid") == "true"
    assert b.find("select[name='category'] option:checked").get_attribute("value") == "housekeeping"
    b.fill("employer", DEMO_EMPLOYER)
    b.submit("#place-form")
    b.expect_notice("placement_proposed")
    cards = [c for c in b.finds("section[aria-labelledby='open-placements'] li.placement")
             if DEMO_PLACED_WORKER in c.text and b.t("placement_status.proposed") in c.text]
    assert len(cards) == 1, [c.text for c in b.finds("li.placement")]
    assert DEMO_HOUSEHOLD in cards[0].text and b.t("category.housekeeping") in cards[0].text, cards[0].text
    placement = cards[0].get_attribute("id")[len("placement-"):]
    assert b.finds("form[action='/agency/placements/%s/cancel']" % placement), "a proposed placement cannot be cancelled"
    sign_out(b)

    # The household confirms it.
    sign_in(b, DEMO_EMPLOYER, password)
    assert b.path() == "/employer", b.path()
    card = "#engagement-" + placement
    b.expect_text(DEMO_PLACED_WORKER, where=card)
    b.expect_text(b.t("engagement_status.proposed"), where=card)
    b.submit("form[action='/employer/engagements/%s/confirm']" % placement)
    b.expect_notice("engagement_confirmed")
    b.expect_text(b.t("engagement_status.confirmed"), where=card)
    sign_out(b)

    # The agency sees it in progress; now it can only be ended.
    sign_in(b, DEMO_JINPAI, password)
    b.click("nav a[href='/agency/placements']")
    b.expect_text(b.t("placement_status.confirmed"), where="#placement-" + placement)
    assert b.finds("form[action='/agency/placements/%s/end']" % placement)
    assert not b.finds("form[action='/agency/placements/%s/cancel']" % placement)
    sign_out(b)

    # The worker reads the record in full and disputes it.
    sign_in(b, DEMO_WORKER_PHONE, password)
    assert b.path() == "/worker", b.path()
    flags = "section[aria-labelledby='flags']"
    b.expect_text(b.t("worker_home.flags"), where=flags)
    found = [c.get_attribute("id") for c in b.finds(flags + " li.own-flag") if source in c.text]
    assert len(found) == 1, [c.text for c in b.finds(flags + " li.own-flag")]
    card = "#" + found[0]
    flag = found[0][len("flag-"):]
    b.expect_text(b.t("flag_category.fraud"), where=card)
    b.expect_text("接群众举报，涉嫌电信诈骗，尚在核查。", where=card)  # the source's own words: hers to read
    summary = b.find(card + " details summary")
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    b.submit(card + " form")  # no reason yet
    assert b.field_error("flag-dispute-" + flag), "an empty dispute was not refused inline"
    b.fill("reason", "我从未涉及此事，可以提供派出所的证明。", form=card + " form")
    b.submit(card + " form")
    b.expect_notice("flag_disputed")
    b.expect_text(b.t("flag_dispute_status.open"), where=card)
    assert not b.finds(card + " form"), "the record can still be disputed while a dispute is open"
    sign_out(b)


def demo_barred_id():
    """赵淑芬's ID number, as DemoData registers her before she is barred."""
    body = "110105" + "19780704" + "716"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, support.ID_WEIGHTS)) % 11]


def journey_public_lists_zh_phone(b):
    """A household without an account, at 360 px in Chinese: from the home page it asks whether a
    worker is barred (yes for the demo's barred worker, with the way to the list; no for another,
    with what a "no" does not mean), reads the published blacklist (masked), and in English too.
    Then the demo employer searches workers for hire (the red list filter, then all), and the demo
    worker opts in to the red list and is told what keeps her off it."""
    b.open("/")
    b.click("main a[href='/lookup']")
    b.fill("id_number", demo_barred_id())
    b.submit("form[action='/lookup']")
    b.expect_text(b.t("lookup.yes_title"))
    b.expect_no_text(demo_barred_id())
    b.click("main a[href='/blacklist']")
    b.expect_text("赵*芬")
    b.expect_no_text("赵淑芬")
    b.expect_text(demo_barred_id()[:6] + "********" + demo_barred_id()[-4:])
    assert "RC-" in b.find("main ul.cards").text, b.find("main").text
    switch_language(b, "en")
    b.expect_text(b.t("blacklist.title"), where="h1")
    b.expect_text("Domestic service")
    b.open("/lookup")
    b.fill("id_number", support.id_number())
    b.submit("form[action='/lookup']")
    b.expect_text(b.t("lookup.no_title"))
    b.expect_text(b.t("lookup.no_limits"))
    switch_language(b, "zh-CN")

    password = ADMIN[1]
    sign_in(b, DEMO_EMPLOYER, password)
    b.open("/employer")
    b.click("main a[href='/employer/hire']")
    b.select("sector", "domestic_service")
    b.find("#red_list").click()
    b.submit("form[action='/employer/hire']")
    b.expect_text(b.t("hire.none"))
    b.find("#red_list").click()
    b.submit("form[action='/employer/hire']")
    # Who is listed depends on what the journeys before this one did (availability, placements):
    # whoever is, is shown by family name only.
    b.expect_text(b.t("hire.results"))
    for card in b.finds("main ul.cards li"):
        assert "**" in card.text, card.text
    sign_out(b)

    sign_in(b, DEMO_WORKER_PHONE, password)
    b.submit("form[action='/worker/red-list']")
    b.expect_notice("red_list_in")
    b.expect_text(b.t("red_list.opted_in_not_listed"))
    b.expect_text(b.t("red_list.missing_grade_not_held"))
    b.submit("form[action='/worker/red-list']")
    b.expect_notice("red_list_out")
    sign_out(b)


def journey_demerits_en_desktop(b):
    """An agency held to account, in English: an administrator records a notice of demerit points
    with its evidence (an empty one is refused next to the field); the agency reads it on
    /agency/demerits and answers; the administrator upholds it from the queue with a reason; anyone
    sees the agency's band and points on its public page, and never the evidence."""
    b.language = "zh-CN"
    b.open("/")
    switch_language(b, "en")
    agency = new_agency("Demerit")
    apply_agency(b, agency)
    approve(b, agency)
    evidence = "Sealed %s days after the worker consented (notice %s)" % (9, support.tag())

    sign_in(b, *ADMIN)
    b.open("/admin/agencies?status=approved")
    link = [a for a in b.finds("main .card h3 a") if a.text == agency["name"]][0]
    b.click("main .card h3 a[href='%s']" % link.get_attribute("href")[len(BASE):])
    b.click("#agency-demerits-link")
    file_path = b.path().split("?")[0]
    agency_id = file_path.split("/")[3]
    record = "form[action='%s']" % file_path
    b.select("offence", "late_sealing", form=record)
    b.submit(record)
    assert b.field_error("evidence"), "a notice without evidence was not refused inline"
    b.fill("evidence", evidence, form=record)
    b.submit(record)
    b.expect_notice("demerit_recorded")
    b.expect_text(evidence, where="li.demerit")
    sign_out(b)

    sign_in(b, agency["contact_email"], agency["password"])
    accept_own_commitment(b)
    b.click("#demerits-link")
    b.expect_text(evidence, where="li.demerit")
    b.expect_text(b.t("demerits.state_notified"), where="li.demerit")
    b.fill("answer", "The system was down that week; sealed as soon as it was back.", form="form.answer-form")
    b.submit("form.answer-form")
    b.expect_notice("demerit_answered")
    b.expect_text(b.t("demerits.state_answered"), where="li.demerit")
    sign_out(b)

    sign_in(b, *ADMIN)
    b.click("#demerits-link")
    b.click("main .card h3 a[href^='%s']" % file_path)
    b.fill("reason", "The sealing log shows nine days; the outage lasted one.", form="form.decision-form")
    b.click("form.decision-form button[name='decision'][value='uphold']")
    b.expect_notice("demerit_upheld")
    assert b.find("#points-in-force").text == "3", b.find("#points-in-force").text
    sign_out(b)

    b.open("/agencies/" + agency_id)
    assert b.find("#agency-band").text == "B", b.find("#agency-band").text
    assert b.find("#agency-points").text == "3", b.find("#agency-points").text
    assert evidence not in b.driver.page_source, "the public page shows the notice's evidence"


DEMO_ANXIN = "anxin@demo.registry.local"


def place_worker(b, worker, employer, category):
    """安心's staff place `worker` (registered by 安心) with the household of `employer` (its e-mail
    or phone): the id of the proposed placement."""
    sign_in(b, DEMO_ANXIN, ADMIN[1])
    b.open(worker["path"])
    b.click("#place-worker")
    b.fill("employer", employer)
    b.select("category", category)
    b.submit("#place-form")
    b.expect_notice("placement_proposed")
    cards = [c for c in b.finds("section[aria-labelledby='open-placements'] li.placement")
             if worker["full_name"] in c.text and b.t("category." + category) in c.text
             and b.t("placement_status.proposed") in c.text]
    assert len(cards) == 1, [c.text for c in b.finds("li.placement")]
    placement = cards[0].get_attribute("id")[len("placement-"):]
    sign_out(b)
    return placement


def worker_with_account(b):
    """A new worker of 安心's, with her own account: 安心 registers her and starts her account, the
    code goes to her phone, and she sets her password on /activate."""
    worker = new_worker()
    worker["password"] = "worker password %s" % support.tag()
    sign_in(b, DEMO_ANXIN, ADMIN[1])
    register_worker(b, worker)
    b.submit("#start-account")
    sign_out(b)
    b.open("/activate")
    b.fill("phone", worker["phone"])
    b.fill("code", support.texted_code(SMS_RECORD, worker["phone"], "worker_activation_code"))
    b.fill("password", worker["password"])
    b.submit("form[action='/activate']")
    assert b.path().startswith("/signin"), b.path()
    return worker


def household_review_card(b, account):
    """The CSS selector of the one household review on the page that tells `account`."""
    cards = [c.get_attribute("id") for c in b.finds("li.household-review") if account in c.text]
    assert len(cards) == 1, [c.text for c in b.finds("li.household-review")]
    return "#" + cards[0]


def journey_households_zh_phone(b):
    """Households are real, and workers review them, at 360 px in Chinese. 安心 registers a worker
    who activates her own account; a new household registers with its phone number and 安心 places
    her there; the household cannot confirm until it verifies its number with the code texted to
    it, then confirms, reviews her and ends the placement. She reviews the household, reporting
    unpaid wages; the household replies; an administrator
    substantiates the complaint. The next placement there is flagged: she reads the warning in
    plain words and accepts, and only then does the household confirm. Its report of her says how
    each review's engagement was confirmed."""
    tag = support.tag()
    household = {"household_name": "周%s家" % tag, "phone": "176%s01" % tag, "email": "zhou-%s@example.cn" % tag,
                 "region_code": "350102", "password": "zhou household %s" % tag}
    account = "最后两个月的工资一直拖着没有结清（%s）。" % tag

    worker = worker_with_account(b)

    b.open("/employer/register")
    for name, value in household.items():
        b.fill(name, value)
    b.submit("form[action='/employer/register']")
    b.expect_notice("employer_registered")
    sign_in(b, household["email"], household["password"])
    assert b.path() == "/employer", b.path()
    b.expect_text(b.t("contact.verify_needed"), where="#verify-phone-notice")
    sign_out(b)

    placement = place_worker(b, worker, household["phone"], "nanny")

    # Not verified yet: confirming leads to the verification, with the reason.
    sign_in(b, household["email"], household["password"])
    b.submit("form[action='/employer/engagements/%s/confirm']" % placement)
    assert b.path().split("?")[0] == "/account/contact", b.path()
    b.expect_text(b.t("contact.verify_needed"), where="p.notice")
    assert b.find("#phone-state").text == b.t("contact.unverified"), b.find("#phone-state").text
    b.click("#verify-phone")
    b.expect_text(b.t("contact.verify_sent"), where="p.notice")
    b.fill("code", support.texted_code(SMS_RECORD, household["phone"], "phone_verification_code"), form="form[action='/account/contact/confirm']")
    b.submit("form[action='/account/contact/confirm']")
    b.expect_text(b.t("contact.verified_notice"), where="p.notice")
    assert b.find("#phone-state").text == b.t("contact.verified"), b.find("#phone-state").text
    assert not b.finds("#verify-phone"), "a verified number is offered verification again"
    b.open("/employer")
    assert not b.finds("#verify-phone-notice"), "the household is still asked to verify"
    b.submit("form[action='/employer/engagements/%s/confirm']" % placement)
    b.expect_notice("engagement_confirmed")
    # It reviews her (the review the report will say was confirmed from a verified phone).
    b.click("#engagement-%s a[href$='/review']" % placement)
    form = "form[action='/employer/engagements/%s/review']" % placement
    for name in [e.get_attribute("name") for e in b.finds(form + " select")]:
        b.select(name, "4", form=form)
    b.fill("comment", "做事认真（%s）。" % tag, form=form)
    b.submit(form)
    b.expect_notice("review_saved")
    b.submit("form[action='/employer/engagements/%s/end']" % placement)
    b.expect_notice("engagement_ended")
    sign_out(b)

    # She reviews the household.
    sign_in(b, worker["phone"], worker["password"])
    b.click("#households-link")
    card = "#review-" + placement
    b.expect_text(household["household_name"], where=card)
    form = card + " form"
    for name, value in (("respect", "3"), ("pay_on_time", "1"), ("safety", "4"), ("agreed_duties", "3")):
        b.choose(name, value, form=form)
    b.fill("account", account, form=form)
    b.select("complaint", "unpaid_wages", form=form)
    b.submit(form)
    b.expect_notice("household_reviewed")
    b.expect_text(account, where="li.household-review")
    sign_out(b)

    # The household replies.
    sign_in(b, household["email"], household["password"])
    b.click("#household-reviews-link")
    review = household_review_card(b, account)
    b.fill("text", "工资已于上周全部转账，请查收。", form=review + " form[action$='/reply']")
    b.submit(review + " form[action$='/reply']")
    b.expect_notice("household_replied")
    b.expect_text("工资已于上周全部转账", where=review)
    sign_out(b)

    # An administrator substantiates the complaint.
    sign_in(b, *ADMIN)
    b.click("#household-reviews-link")
    review = household_review_card(b, account)
    b.fill("note", "银行流水显示两个月工资至今未付。", form=review + " form")
    b.click(review + " form button[name='decision'][value='substantiate']")
    b.expect_notice("household_review_decided")
    sign_out(b)

    # The next placement there is flagged: she reads the warning and accepts it.
    flagged = place_worker(b, worker, household["email"], "elder_care")
    sign_in(b, worker["phone"], worker["password"])
    b.click("#households-link")
    warning = "#warning-" + flagged
    b.expect_text(b.t("households.worker_warning"), where=warning)
    b.expect_text(household["household_name"], where=warning)
    b.click(warning + " button[value='accept']")
    b.expect_notice("placement_accepted")
    sign_out(b)

    # The household confirms, and reads in her report how each review's engagement was confirmed.
    sign_in(b, household["email"], household["password"])
    b.submit("form[action='/employer/engagements/%s/confirm']" % flagged)
    b.expect_notice("engagement_confirmed")
    b.click("#engagement-%s a[href$='/report']" % flagged)
    b.expect_text(worker["full_name"], where="h1")
    confirmations = [p.text for p in b.finds("li.review p.confirmation")]
    before_date = b.t("report.confirmed_verified_phone").split("{date}")[0]
    assert confirmations and all(c.startswith(before_date) for c in confirmations), confirmations


JOURNEYS = [
    ("custody journey, zh-CN, 360 px", PHONE, "zh-CN", journey_zh_phone),
    ("custody journey, English, desktop", DESKTOP, "en", journey_en_desktop),
    ("inline errors and CSRF, English, 360 px", PHONE, "en", journey_errors_en_phone),
    ("agency decisions, zh-CN, desktop", DESKTOP, "zh-CN", journey_admin_zh_desktop),
    ("consent check by an employer, zh-CN, 360 px", PHONE, "zh-CN", journey_consent_zh_phone),
    ("revocation case, zh-CN, 360 px", PHONE, "zh-CN", journey_case_zh_phone),
    ("consent qr link, English, desktop", DESKTOP, "en", journey_qr_en_desktop),
    ("administrators' tools, English, 360 px", PHONE, "en", journey_admin_tools_en_phone),
    ("placement and her records, zh-CN, 360 px", PHONE, "zh-CN", journey_placement_zh_phone),
    ("public lists, the lookup and the red list, zh-CN, 360 px", PHONE, "zh-CN", journey_public_lists_zh_phone),
    ("demerit points and the agency's public page, English, desktop", DESKTOP, "en", journey_demerits_en_desktop),
    ("verified households and workers' reviews of them, zh-CN, 360 px", PHONE, "zh-CN", journey_households_zh_phone),
]


def server_alive():
    try:
        urllib.request.urlopen(BASE + "/health/live", timeout=3)
        return True
    except Exception:
        return False


def main(argv):
    only = argv[argv.index("-k") + 1] if "-k" in argv else None
    os.makedirs(ARTIFACTS, exist_ok=True)
    passed, failed = 0, 0
    begun = time.time()
    for name, size, language, journey in JOURNEYS:
        if only and only not in name and only not in journey.__name__:
            continue
        started = time.time()
        # The browser asks for Chinese; the English journeys switch with the language link.
        b = Browser(BASE, size, "zh-CN")
        b.language = language
        try:
            journey(b)
            passed += 1
            print("ok    %-45s %5.1fs" % (name, time.time() - started), flush=True)
        except Exception:
            failed += 1
            slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
            shot = os.path.join(ARTIFACTS, slug + ".png")
            try:
                b.screenshot(shot)
            except Exception as e:  # the browser itself may be gone
                shot = "(no screenshot: %s)" % e
            print("FAIL  %-45s %5.1fs  at %s\n      screenshot: %s" % (name, time.time() - started, b.path(), shot), flush=True)
            traceback.print_exc()
            if not server_alive():
                print("      the server is not answering: see the end of its log (SERVER_LOG)", flush=True)
                break
        finally:
            b.close()
    print("browser journeys took %.0f s" % (time.time() - begun))
    print("browser: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
