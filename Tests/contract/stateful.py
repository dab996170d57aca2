"""The positive-data and stateful phase: short sequences per role with real data (the demo world plus
what the sequences create), each step checked against the document by `Api.call`, each read-back compared
field by field with what was sent, each action followed by a look at its effect.

Together the sequences make every operation the access matrix lets a role call answer 2xx for that role
at least once (`Api.coverage_failures` names any that never did): an API that refused everything with a
documented 400 or 409 would pass schemathesis, but not this.

What the sequences need that the API does not give: a second and third administrator (the four-eyes rule
and the objection review; only `registry create-admin` makes administrators) and the codes the registry
texts to workers' phones (read from the server log, where its log notifier delivers them).
"""
import base64
import datetime
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

import yaml

from registry_api import ROOT, Caller, CheckFailed, expect_equal, expect_true, national_id, sha256, social_credit_code

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
SOURCE = "contract-police"


def q(value):
    return urllib.parse.quote(str(value), safe="")


def by_id(items, wanted, what):
    found = [x for x in items if x.get("id") == wanted]
    if len(found) != 1:
        raise CheckFailed(f"{what}: {len(found)} entries with id {wanted} in {json.dumps(items, ensure_ascii=False)[:400]}")
    return found[0]


class NotMade(Exception):
    """A sequence needs what an earlier one should have made (and did not: it failed first)."""


class Made(dict):
    def __missing__(self, key):
        raise NotMade(key)


class World:
    """Who signs in and what the sequences made, for the later phases too."""

    def __init__(self, env):
        self.password = env["ADMIN_PASSWORD"]
        self.today = datetime.date.today()
        self.callers = Made()
        self.ids = Made()
        self.people = Made()

    def __getitem__(self, name):
        return self.callers[name]


class Sequences:
    def __init__(self, api, env, phone, log, registry_binary):
        self.api, self.env, self.phone, self.log = api, env, phone, log
        self.registry_binary = registry_binary
        self.world = World(env)
        self.failures = []
        with open(os.path.join(ROOT, "Policies", "access.yaml"), encoding="utf-8") as f:
            self.policy = yaml.safe_load(f)

    # --- plumbing ------------------------------------------------------------------------------
    def call(self, *args, **kwargs):
        return self.api.call(*args, **kwargs)

    def run_all(self):
        steps = [self.anonymous_reads, self.sign_in, self.more_administrators, self.integration_source, self.worker_file,
                 self.household_and_engagement, self.household_reviews, self.consent_and_report, self.listings_and_lookups, self.flags,
                 self.transfers, self.disputes_and_repair, self.cases, self.due_process, self.agencies_and_accounts, self.messages,
                 self.jobs_and_contacts,
                 self.sessions_and_passwords]
        for step in steps:
            self._run(step)
        return self.world

    def _run(self, step):
        started = time.time()
        calls = self.api.calls
        try:
            step()
            self.log(f"  ✓ {step.__name__.replace('_', ' ')} ({self.api.calls - calls} calls, {time.time() - started:.1f} s)")
        except CheckFailed as e:
            self.failures.append(f"{step.__name__}: {e}")
            self.log(f"  ✗ {step.__name__.replace('_', ' ')}: {e}")
        except NotMade as e:
            self.failures.append(f"{step.__name__}: not run to the end: it needs {e}, which an earlier step did not make")
            self.log(f"  ✗ {step.__name__.replace('_', ' ')}: not run to the end: it needs {e}, which an earlier step did not make")
        except Exception as e:  # a bug here
            self.failures.append(f"{step.__name__}: {type(e).__name__}: {e}")
            self.log(f"  ✗ {step.__name__.replace('_', ' ')}: {type(e).__name__}: {e}")

    def login(self, name, role, expect_role, password=None, **account):
        body = dict(account, password=password or self.world.password)
        r = self.call(Caller(name, role), "POST", "/api/v1/auth/login", body, expect=200, what="sign in")
        expect_equal(f"{name}'s role", r["user"]["role"], expect_role)
        caller = Caller(name, role, r["token"], user=r["user"], account=account, password=body["password"])
        self.world.callers[name] = caller
        return caller

    def everyone_reads(self, caller, public_key=True):
        """The operations every caller may use: health, the document, the public key."""
        for path in ("/health/live", "/health/ready"):
            expect_equal(f"{path} as {caller}", self.call(caller, "GET", path, expect=200)["status"], "ok")
        self.call(caller, "GET", "/openapi.yaml", expect=200)
        sectors = self.call(caller, "GET", "/api/v1/sectors", expect=200)
        expect_true("the sectors name the domestic categories", any(c["id"] == "nanny" for s in sectors["sectors"] for c in s["categories"]))
        if "agency" in self.world.ids:
            standing = self.call(caller, "GET", f"/api/v1/public/agencies/{self.world.ids['agency']}", expect=200)
            expect_true("an agency's public standing", standing["band"] in ("A", "B", "C", "D") and standing["placements"] >= 0)
        terms = self.call(caller, "GET", "/api/v1/commitments", expect=200)
        expect_true("the commitments in force have versions", bool(terms["agency"]["version"]) and bool(terms["staff"]["version"]))
        # The published blacklist is for everyone, as JSON and as CSV.
        self.call(caller, "GET", "/api/v1/public/blacklist?per_page=5", expect=200)
        self.call(caller, "GET", "/api/v1/public/blacklist.csv?per_page=5", expect=200)
        if public_key:
            r = self.call(caller, "GET", "/api/v1/reports/public-key", expect=200)
            expect_equal("the public key's algorithm", r["algorithm"], "Ed25519")

    # --- the sequences -------------------------------------------------------------------------
    def anonymous_reads(self):
        self.everyone_reads(None)
        text = self.call(None, "GET", "/openapi.yaml", expect=200).raw.decode()
        expect_true("/openapi.yaml is the document the suite loaded", "operationId: postAuthLogin" in text)
        # The published blacklist: the demo's barred worker, masked as policy says; the same page as CSV.
        page = self.call(None, "GET", "/api/v1/public/blacklist?per_page=10", expect=200)
        expect_true("the blacklist lists the demo's barred worker", page["total"] >= 1 and len(page["entries"]) >= 1)
        for entry in page["entries"]:
            expect_true("a published ID number is masked", re.fullmatch(r"[0-9]{6}\*{8}[0-9X]{4}", entry["id_number"]) is not None)
            expect_true("a published name is masked", "*" in entry["name"])
        expect_true("the list may be cached", "max-age" in (page.headers.get("Cache-Control") or ""))
        csv = self.call(None, "GET", "/api/v1/public/blacklist.csv?per_page=10", expect=200).raw.decode()
        expect_true("the CSV has the published columns", csv.startswith("name,id_number,sectors_zh,sectors_en,grounds_zh,grounds_en,decided_on,reference"))

    def sign_in(self):
        w = self.world
        policy_roles = {"admin": "admin", "agency": "agency_staff", "employer": "employer", "worker": "worker"}
        self.login("admin", "admin", "admin", email=self.env["ADMIN_EMAIL"])
        self.login("agency", "agency", "agency_staff", email="anxin@demo.registry.local")
        self.login("agency_b", "agency", "agency_staff", email="jinpai@demo.registry.local")
        self.login("employer", "employer", "employer", email="household@demo.registry.local")
        self.login("worker", "worker", "worker", phone="13800138003")
        w.ids["agency"] = w["agency"].user["agency_id"]
        w.ids["agency_b"] = w["agency_b"].user["agency_id"]
        w.ids["chunmei"] = w["worker"].user["worker_id"]
        w.people["chunmei"] = {"id_number": national_id("350102", "19881105", 128), "name": "王春梅"}
        for name in ("admin", "agency", "agency_b", "employer", "worker"):
            caller = w[name]
            me = self.call(caller, "GET", "/api/v1/auth/me", expect=200)
            expect_equal(f"{name}: /auth/me is the account that signed in", me["user"]["id"], caller.user["id"])
            policy_role = policy_roles[caller.role]
            expect_equal(f"{name}: the permissions are Policies/access.yaml's for {policy_role}",
                         sorted(me["permissions"]), sorted(self.policy["roles"][policy_role]))
            self.everyone_reads(caller)

    def more_administrators(self):
        """Two more administrators with `registry create-admin` (the API cannot make one): the four-eyes
        rule and the objection review need administrators who took no part."""
        for name in ("admin2", "admin3"):
            email = f"{name}@contract.registry.test"
            env = dict(os.environ, REGISTRY_ROOT=ROOT)
            result = subprocess.run([self.registry_binary, "create-admin", "--email", email, "--name", f"Contract {name}"],
                                    input=self.world.password + "\n", capture_output=True, text=True, env=env, timeout=60)
            if result.returncode != 0:
                raise CheckFailed(f"registry create-admin for {email} failed ({result.returncode}): {result.stderr[-500:]}")
            self.login(name, "admin", "admin", email=email)

    def integration_source(self):
        w, admin = self.world, self.world["admin"]
        r = self.call(admin, "POST", "/api/v1/integrations",
                      {"name": SOURCE, "kind": "police", "display_name": "Contract police", "require_signature": False}, expect=201)
        w.ids["source"] = r["id"]
        key = self.call(admin, "POST", f"/api/v1/integrations/{r['id']}/keys", {"label": "contract"}, expect=201)
        spare = self.call(admin, "POST", f"/api/v1/integrations/{r['id']}/keys", {"label": "spare"}, expect=201)
        expect_true("a key starts with rik_ and its prefix", key["key"].startswith("rik_") and key["key"].startswith(key["key_prefix"]))
        sources = self.call(admin, "GET", "/api/v1/integrations", expect=200)["sources"]
        mine = [s for s in sources if s.get("id") == r["id"]]
        expect_equal("the new source is listed once", len(mine), 1)
        listed = json.dumps(mine[0])
        expect_true("the listing shows key prefixes and never a key", key["key_prefix"] in listed and key["key"] not in listed)
        w.callers["integration"] = Caller("integration", "integration", key["key"], key_id=key["id"])
        w.callers["spare_key"] = Caller("spare_key", "integration", spare["key"], key_id=spare["id"])
        self.everyone_reads(w["integration"], public_key=False)

    def worker_file(self):
        """The agency opens a file, qualifies her, assesses her, imports a roster, starts her account."""
        w, agency = self.world, self.world["agency"]
        person = {"id_number": national_id("350102", "19900514", 246), "full_name": "赵晓燕", "sex": "F", "phone": "13912345246",
                  "home_region": "350102", "service_categories": ["nanny", "cooking"]}
        w.people["xiaoyan"] = person
        wid = self.call(agency, "POST", "/api/v1/workers", person, expect=201)["id"]
        w.ids["xiaoyan"] = wid
        f = self.call(agency, "GET", f"/api/v1/workers/{wid}", expect=200).json
        for field in ("full_name", "sex", "home_region", "service_categories"):
            expect_equal(f"the file's {field}", f[field], person[field])
        expect_equal("birth date from the ID number", f["birth_date"], "1990-05-14")
        expect_equal("the masked ID number", f["id_number_masked"], person["id_number"][:2] + "*" * 15 + person["id_number"][-1])
        expect_equal("custody", f["current_agency"]["id"], w.ids["agency"])
        roster = self.call(agency, "GET", "/api/v1/workers?q=" + q("晓燕"), expect=200)["workers"]
        expect_equal("the roster search finds her", [x["id"] for x in roster], [wid])

        training = {"kind": "certificate", "title": "育婴员证", "issuer": "人力资源和社会保障局", "category": "nanny",
                    "certificate_no": "CT-2024-7", "issued_on": "2024-05-01", "expires_on": "2029-05-01"}
        tid = self.call(agency, "POST", f"/api/v1/workers/{wid}/trainings", training, expect=201)["id"]
        health = {"issuer": "市疾病预防控制中心", "issued_on": str(w.today - datetime.timedelta(days=30)),
                  "valid_until": str(w.today + datetime.timedelta(days=300)), "result": "fit"}
        hid = self.call(agency, "POST", f"/api/v1/workers/{wid}/health-certificates", health, expect=201)["id"]
        skill = {"category": "nanny", "level": 3, "assessed_on": "2025-03-01", "assessor": "市职业技能鉴定中心"}
        sid = self.call(agency, "POST", f"/api/v1/workers/{wid}/skills", skill, expect=201)["id"]
        assessment = {"work_ability": "能独立照顾两岁以下婴儿", "ethics_rating": 5}
        self.call(agency, "PUT", f"/api/v1/workers/{wid}/tenure", assessment, expect=204)
        f = self.call(agency, "GET", f"/api/v1/workers/{wid}", expect=200).json
        t = by_id(f["trainings"], tid, "the training in her file")
        for field in ("kind", "title", "issuer", "category", "certificate_no", "issued_on", "expires_on"):
            expect_equal(f"the training's {field}", t[field], training[field])
        expect_equal("the certificate is valid", t["valid"], True)
        h = by_id(f["health_certificates"], hid, "the health certificate in her file")
        expect_equal("the health certificate's validity", (h["valid_until"], h["valid"]), (health["valid_until"], True))
        s = by_id(f["skills"], sid, "the skill in her file")
        expect_equal("the skill", (s["category"], s["level"], s["assessor"]), ("nanny", 3, skill["assessor"]))
        tenure = [x for x in f["tenures"] if not x.get("ended_on")]
        expect_equal("one open tenure with the assessment", [(x["work_ability"], x["ethics_rating"]) for x in tenure],
                     [(assessment["work_ability"], 5)])

        # A roster with two new workers and a line that is not valid.
        w.people["meiling"] = {"id_number": national_id("350103", "19850320", 362), "full_name": "林美玲", "phone": "13912345362"}
        w.people["yuzhen"] = {"id_number": national_id("350104", "19870707", 484), "full_name": "黄玉珍", "phone": "13912345484"}
        csv = ("id_number,full_name,sex,phone,home_region,service_categories\n"
               f"{w.people['meiling']['id_number']},林美玲,F,13912345362,350103,elder_care;cooking\n"
               "350102199001010000,错误号码,F,13912340000,350102,nanny\n"
               f"{w.people['yuzhen']['id_number']},黄玉珍,F,13912345484,350104,housekeeping\n").encode()
        r = self.call(agency, "POST", "/api/v1/workers:import", raw=csv, content_type="text/csv", expect=200)
        expect_equal("import counts", (r["created"], r["rejected"], r["already_registered"], r["transfer_needed"]), (2, 1, 0, 0))
        outcomes = {line["line"]: line for line in r["lines"]}
        expect_equal("per-line outcomes", [outcomes[n]["outcome"] for n in sorted(outcomes)], ["created", "rejected", "created"])
        w.ids["meiling"], w.ids["yuzhen"] = outcomes[2]["worker_id"], outcomes[4]["worker_id"]
        again = self.call(agency, "POST", "/api/v1/workers:import", raw=csv, content_type="text/csv", expect=200)
        expect_equal("a re-run creates nothing", (again["created"], again["already_registered"]), (0, 2))

        # Her own account: a code to her phone, she activates it and signs in with her phone.
        mark = self.phone.mark()
        r = self.call(agency, "POST", f"/api/v1/workers/{wid}/account", expect=201)
        expect_equal("the code went to her masked phone", r["code_sent_to"].replace("*", "")[-4:], person["phone"][-4:])
        code = self.phone.wait_for_code(person["phone"], "worker_activation_code", mark)
        self.call(None, "POST", "/api/v1/auth/activate", {"phone": person["phone"], "code": code, "password": w.password}, expect=204)
        xiaoyan = self.login("xiaoyan", "worker", "worker", phone=person["phone"])
        expect_equal("her account is her file", xiaoyan.user["worker_id"], wid)
        self.call(xiaoyan, "GET", "/api/v1/auth/me", expect=200)
        mine = self.call(xiaoyan, "GET", f"/api/v1/workers/{wid}", expect=200)
        expect_equal("she reads her own file", mine["full_name"], person["full_name"])
        a = self.call(agency, "GET", f"/api/v1/agencies/{w.ids['agency']}", expect=200)
        expect_equal("the agency reads itself", (a["id"], a["status"]), (w.ids["agency"], "approved"))

    def household_and_engagement(self):
        """A household registers; the agency places her, the household confirms and reviews, she
        replies and disputes, an administrator decides; a second placement is cancelled."""
        w, agency, employer = self.world, self.world["agency"], self.world["employer"]
        household = {"email": "household2@contract.registry.test", "phone": "13911100405", "password": w.password,
                     "household_name": "李女士家", "region_code": "350102"}
        r = self.call(None, "POST", "/api/v1/employers", household, expect=202)
        expect_equal("registration accepted", r["status"], "accepted")
        employer2 = self.login("employer2", "employer", "employer", email=household["email"])
        expect_equal("the household's name", employer2.user["display_name"], household["household_name"])
        again = self.call(None, "POST", "/api/v1/employers", household, expect=202)
        expect_equal("the same answer for an existing account", again.json, r.json)

        wid = w.ids["xiaoyan"]
        starts = str(w.today - datetime.timedelta(days=20))
        eid = self.call(agency, "POST", "/api/v1/engagements", {"worker_id": wid, "employer_email": "household@demo.registry.local",
                                                                 "category": "nanny", "starts_on": starts}, expect=201)["id"]
        w.ids["engagement"] = eid
        for who in (agency, employer, w["xiaoyan"]):
            e = [x for x in self.call(who, "GET", "/api/v1/engagements", expect=200)["engagements"] if x["id"] == eid]
            expect_equal(f"{who} sees the proposed engagement", [(x["worker_id"], x["status"], x["starts_on"]) for x in e],
                         [(wid, "proposed", starts)])
        e = self.call(employer, "POST", f"/api/v1/engagements/{eid}/confirm", expect=200)
        expect_equal("confirmed", (e["id"], e["status"]), (eid, "confirmed"))
        w.ids["employer_engagements"] = [x["id"] for x in self.call(employer, "GET", "/api/v1/engagements", expect=200)["engagements"]]
        review = {"skill_scores": {"punctuality": 5, "childcare": 4}, "ethics_scores": {"honesty": 5, "respect": 5, "reliability": 4, "care": 5},
                  "comment": "认真负责。"}
        rid = self.call(employer, "POST", f"/api/v1/engagements/{eid}/review", review, expect=201)["id"]
        w.ids["review"] = rid
        e = [x for x in self.call(employer, "GET", "/api/v1/engagements", expect=200)["engagements"] if x["id"] == eid][0]
        expect_equal("the engagement points to its review", e.get("review_id"), rid)
        edited = dict(review, skill_scores={"punctuality": 4, "childcare": 5, "cooking": 4}, comment="认真负责，做饭也好。")
        self.call(employer, "PUT", f"/api/v1/reviews/{rid}", edited, expect=204)
        xiaoyan = w["xiaoyan"]
        mine = [x for x in self.call(xiaoyan, "GET", "/api/v1/me/reviews", expect=200)["reviews"] if x["id"] == rid]
        expect_equal("she sees the edited review", [(x["skill_scores"], x["ethics_scores"], x["comment"], "edited_at" in x) for x in mine],
                     [(edited["skill_scores"], edited["ethics_scores"], edited["comment"], True)])
        self.call(xiaoyan, "POST", f"/api/v1/reviews/{rid}/reply", {"body": "谢谢您的信任。"}, expect=204)
        mine = [x for x in self.call(xiaoyan, "GET", "/api/v1/me/reviews", expect=200)["reviews"] if x["id"] == rid]
        expect_equal("her reply is on it", mine[0].get("reply"), "谢谢您的信任。")
        did = self.call(xiaoyan, "POST", f"/api/v1/reviews/{rid}/dispute", {"reason": "做饭的评分与事实不符。"}, expect=201)["id"]
        admin = w["admin"]
        open_disputes = self.call(admin, "GET", "/api/v1/disputes", expect=200)["disputes"]
        expect_equal("the dispute waits for an administrator", [(d["review_id"], d["worker_id"]) for d in open_disputes if d["id"] == did],
                     [(rid, wid)])
        self.call(admin, "POST", f"/api/v1/disputes/{did}/reject", {"note": "评分在雇主的判断范围内。"}, expect=204)
        open_disputes = self.call(admin, "GET", "/api/v1/disputes", expect=200)["disputes"]
        expect_true("a decided dispute leaves the queue", did not in [d["id"] for d in open_disputes])
        mine = [x for x in self.call(xiaoyan, "GET", "/api/v1/me/reviews", expect=200)["reviews"] if x["id"] == rid]
        expect_true("a rejected dispute does not hide the review", "hidden_at" not in mine[0])

        e2 = self.call(agency, "POST", "/api/v1/engagements", {"worker_id": wid, "employer_email": household["email"],
                                                                "category": "cooking", "starts_on": str(w.today)}, expect=201)["id"]
        # Households are real: the new household confirms only once its number proved itself by a code.
        expect_equal("not verified yet", self.call(employer2, "GET", "/api/v1/auth/me", expect=200)["phone_verified"], False)
        r = self.call(employer2, "POST", f"/api/v1/engagements/{e2}/confirm", expect=403, what="an unverified household")
        expect_equal("why", r.json["error"]["code"], "phone_not_verified")
        mark = self.phone.mark()
        sent = self.call(employer2, "POST", "/api/v1/auth/contact", {"phone": household["phone"]}, expect=202).json
        expect_equal("the code goes to her own number", sent["sent_to"], "139****0405")
        code = self.phone.wait_for_code(household["phone"], "phone_verification_code", mark)
        done = self.call(employer2, "POST", "/api/v1/auth/contact/confirm", {"code": code}, expect=200).json
        expect_equal("verified", (done["phone"], done["phone_verified"]), (household["phone"], True))
        expect_equal("verified, as /auth/me says", self.call(employer2, "GET", "/api/v1/auth/me", expect=200)["phone_verified"], True)
        e = self.call(agency, "POST", f"/api/v1/engagements/{e2}/cancel", expect=200)
        expect_equal("the agency cancels a proposal", e["status"], "cancelled")
        self.call(employer2, "POST", f"/api/v1/engagements/{e2}/confirm", expect=409, what="a cancelled proposal")

    def household_reviews(self):
        """She reviews a household after an engagement ended, reporting unpaid wages; the household
        replies and disputes; an administrator substantiates the complaint; the next placement there
        is flagged: she reads the warning and accepts, and only then can the household confirm."""
        w, agency, admin, xiaoyan, employer2 = self.world, self.world["agency"], self.world["admin"], self.world["xiaoyan"], self.world["employer2"]
        wid, household = w.ids["xiaoyan"], employer2.user["id"]
        eid = self.call(agency, "POST", "/api/v1/engagements", {"worker_id": wid, "employer_email": "household2@contract.registry.test",
                                                                 "category": "nanny", "starts_on": str(w.today - datetime.timedelta(days=40))},
                        expect=201)["id"]
        e = self.call(employer2, "POST", f"/api/v1/engagements/{eid}/confirm", expect=200).json
        expect_equal("confirmed from a verified phone", e["confirmed_via"], "verified_phone")
        self.call(xiaoyan, "POST", f"/api/v1/engagements/{eid}/household-review",
                  {"respect": 3, "pay_on_time": 1, "safety": 4, "agreed_duties": 3}, expect=409, what="a household review before the end")
        self.call(employer2, "POST", f"/api/v1/engagements/{eid}/end", expect=200)
        scores = {"respect": 3, "pay_on_time": 1, "safety": 4, "agreed_duties": 3}
        self.call(xiaoyan, "POST", f"/api/v1/engagements/{eid}/household-review", dict(scores, complaint="unpaid_wages"), expect=400,
                  what="a complaint without the account")
        self.call(xiaoyan, "POST", f"/api/v1/engagements/{eid}/household-review", dict(scores, respect=6), expect=400, what="a score of 6")
        review = self.call(xiaoyan, "POST", f"/api/v1/engagements/{eid}/household-review",
                           dict(scores, account="最后两个月的工资一直没有结清。", complaint="unpaid_wages"), expect=201).json
        expect_equal("her review, its complaint open", (review["scores"]["pay_on_time"], review["complaint_status"]), (1, "open"))
        self.call(xiaoyan, "POST", f"/api/v1/engagements/{eid}/household-review", scores, expect=409, what="a second review")
        mine = self.call(xiaoyan, "GET", "/api/v1/me/household-reviews", expect=200)["reviews"]
        expect_true("in her reviews", review["id"] in [r["id"] for r in mine])
        own = self.call(employer2, "GET", f"/api/v1/households/{household}/reviews", expect=200).json
        expect_true("the household sees it", review["id"] in [r["id"] for r in own["reviews"]] and not own["flagged"])
        self.call(agency, "GET", f"/api/v1/households/{household}/reviews", expect=404, what="an agency with no placement there now")
        self.call(employer2, "POST", f"/api/v1/household-reviews/{review['id']}/reply", {"reply": "工资已经转账，请查收。"}, expect=200)
        self.call(employer2, "POST", f"/api/v1/household-reviews/{review['id']}/dispute", {"reason": "我们按时付了工资。"}, expect=200)
        queue = self.call(admin, "GET", "/api/v1/household-reviews", expect=200)["reviews"]
        expect_true("in the administrators' queue", review["id"] in [r["id"] for r in queue])
        decided = self.call(admin, "POST", f"/api/v1/household-reviews/{review['id']}/decision",
                            {"decision": "substantiate", "note": "银行流水显示两个月未付。"}, expect=200).json
        expect_equal("substantiated", decided["complaint_status"], "substantiated")
        # The next placement with this household is flagged; she must accept it first.
        e2 = self.call(agency, "POST", "/api/v1/engagements", {"worker_id": wid, "employer_email": "household2@contract.registry.test",
                                                                "category": "cooking", "starts_on": str(w.today)}, expect=201)["id"]
        seen = self.call(agency, "GET", f"/api/v1/households/{household}/reviews", expect=200).json
        expect_equal("the agency placing there sees the flag", (seen["flagged"], seen["substantiated_complaints"]), (True, 1))
        full = self.call(admin, "GET", f"/api/v1/households/{household}/reviews", expect=200).json
        expect_true("administrators read it too", review["id"] in [r["id"] for r in full["reviews"]])
        self.call(employer2, "POST", f"/api/v1/engagements/{e2}/confirm", expect=409, what="confirming before she accepts")
        answered = self.call(xiaoyan, "POST", f"/api/v1/engagements/{e2}/warning-answer", {"accept": True}, expect=200).json
        expect_equal("she accepted, having read the warning", (answered["household_warning"], answered["worker_accepted"]), (True, True))
        self.call(employer2, "POST", f"/api/v1/engagements/{e2}/confirm", expect=200)
        self.call(employer2, "POST", f"/api/v1/engagements/{e2}/end", expect=200)

    def consent_and_report(self):
        """She issues codes (one revoked), a household redeems one and reads the report, signed; the
        signature verifies and a changed byte does not; she sees who looked."""
        w, worker, employer2 = self.world, self.world["worker"], self.world["employer2"]
        before = {c["id"] for c in self.call(worker, "GET", "/api/v1/me/consents", expect=200)["consents"]}
        issued = self.call(worker, "POST", "/api/v1/me/consents", expect=201).json
        expect_true("a code and its check path", issued["code"] and issued["check_path"].endswith(issued["code"]))
        spare = self.call(worker, "POST", "/api/v1/me/consents", expect=201).json
        self.call(worker, "DELETE", f"/api/v1/me/consents/{spare['id']}", expect=204)
        consents = {c["id"]: c for c in self.call(worker, "GET", "/api/v1/me/consents", expect=200)["consents"]}
        expect_equal("both new codes are listed", set(consents) - before, {issued["id"], spare["id"]})
        w.ids["chunmei_consents"] = sorted(consents)
        expect_true("the revoked one says so", "revoked_at" in consents[spare["id"]] and "revoked_at" not in consents[issued["id"]])
        r = self.call(employer2, "POST", "/api/v1/consents/redeem", {"code": spare["code"]}, expect=400, what="a revoked code")
        expect_equal("a revoked code is refused as a wrong one", r["error"]["code"], "invalid_code")
        r = self.call(employer2, "POST", "/api/v1/consents/redeem", {"code": issued["code"]}, expect=200)
        wid = w.ids["chunmei"]
        expect_equal("the code is hers", r["worker_id"], wid)
        report = self.call(employer2, "GET", f"/api/v1/workers/{wid}/report", expect=200).json
        expect_equal("the report's worker", (report["worker"]["id"], report["worker"]["full_name"]), (wid, "王春梅"))
        expect_equal("her province", report["worker"]["home_province"], "350000")
        signed = self.call(employer2, "GET", f"/api/v1/workers/{wid}/report?signed=true", expect=200).json
        payload = json.loads(signed["payload"])
        expect_equal("the signed payload is the report", payload["report"]["worker"]["id"], wid)
        w.ids["signed_report"] = signed
        verdict = self.call(None, "POST", "/api/v1/reports/verify", signed, expect=200)
        expect_equal("the signature verifies", (verdict["valid"], verdict.get("worker_id")), (True, wid))
        tampered = dict(signed, payload=signed["payload"].replace("王春梅", "王春兰"))
        expect_equal("a changed byte fails", self.call(None, "POST", "/api/v1/reports/verify", tampered, expect=200)["valid"], False)
        used = {c["id"]: c for c in self.call(worker, "GET", "/api/v1/me/consents", expect=200)["consents"]}[issued["id"]]
        expect_equal("she sees who used her code", used.get("used_by_name"), "李女士家")
        inquiries = self.call(worker, "GET", "/api/v1/me/inquiries", expect=200)["inquiries"]
        expect_true("she sees the household's view", any(i.get("viewer_name") == "李女士家" and i.get("consent_id") == issued["id"]
                                                         for i in inquiries))
        for reader in ("admin", "agency", "worker"):
            r = self.call(w[reader], "GET", f"/api/v1/workers/{wid}/report?purpose=audit", expect=200)
            expect_equal(f"{reader} reads the report", r["worker"]["id"], wid)
        for reader in ("admin", "agency", "employer", "worker"):
            expect_equal(f"{reader} verifies the signed report",
                         self.call(w[reader], "POST", "/api/v1/reports/verify", signed, expect=200)["valid"], True)

        # The agency has a code sent to Xiaoyan's phone; a household redeems it.
        mark = self.phone.mark()
        sent = self.call(w["agency"], "POST", f"/api/v1/workers/{w.ids['xiaoyan']}/consents", expect=201).json
        expect_true("the agency never sees the code", "code" not in sent and sent.get("sent_to"))
        code = self.phone.wait_for_code(w.people["xiaoyan"]["phone"], "consent_code", mark)
        r = self.call(employer2, "POST", "/api/v1/consents/redeem", {"code": code}, expect=200)
        expect_equal("the agency's code is hers", r["worker_id"], w.ids["xiaoyan"])

    def listings_and_lookups(self):
        w, worker = self.world, self.world["worker"]
        self.call(worker, "PUT", "/api/v1/me/availability", {"available": False}, expect=200)
        found = self.call(w["employer"], "GET", "/api/v1/listings?region=350000&category=maternity", expect=200)["workers"]
        expect_true("not listed while unavailable", w.ids["chunmei"] not in [x["id"] for x in found])
        expect_equal("listed again", self.call(worker, "PUT", "/api/v1/me/availability", {"available": True}, expect=200)["available"], True)
        for who in ("employer", "agency", "admin"):
            found = self.call(w[who], "GET", "/api/v1/listings?region=350000&category=maternity", expect=200)["workers"]
            mine = [x for x in found if x["id"] == w.ids["chunmei"]]
            expect_equal(f"{who} finds her, family name only", [(x["display_name"], x["home_province"]) for x in mine], [("王**", "350000")])
        for who in (None, w["admin"], w["agency"], w["employer"], w["worker"]):
            r = self.call(who, "POST", "/api/v1/public/ban-status", {"id_number": w.people["chunmei"]["id_number"]}, expect=200)
            expect_equal("not barred", r.json, {"revoked": False})
        # The red list: she opts in (not listed yet: the grade must be held for the policy's days),
        # employers filter by it, her agency counts it.
        red = self.call(worker, "PUT", "/api/v1/me/red-list", {"opt_in": True}, expect=200).json
        expect_true("opted in, and told what is missing", red["opt_in"] and (red["listed"] or red["missing"]))
        expect_equal("her standing reads back", self.call(worker, "GET", "/api/v1/me/red-list", expect=200)["opt_in"], True)
        self.call(w["employer"], "GET", "/api/v1/listings?sector=domestic_service&red_list=true", expect=200)
        # The agency's credit commitments: the staff member's own, and the agency's as signed.
        terms = self.call(w["agency"], "GET", "/api/v1/agency/commitments", expect=200).json
        mine = self.call(w["agency"], "POST", "/api/v1/agency/commitments",
                         {"kind": "staff", "version": terms["staff"]["version"]}, expect=200).json
        expect_true("her own commitment accepted", mine["staff"]["accepted"])
        signed = self.call(w["agency"], "POST", "/api/v1/agency/commitments",
                           {"kind": "agency", "version": terms["agency"]["version"], "representative": "王芳"}, expect=200).json
        # Signed with the application by its legal representative; signing again changes nothing.
        expect_equal("the agency's, as its representative signed it", signed["agency"]["representative"], "林建国")
        count = self.call(w["agency"], "GET", "/api/v1/agency/red-list", expect=200).json
        expect_true("the agency's count", count["workers"] >= 1 and 0 <= count["on_red_list"] <= count["workers"])
        w.ids["chunmei_reviews"] = [r["id"] for r in self.call(worker, "GET", "/api/v1/me/reviews", expect=200)["reviews"]]
        grade = self.call(worker, "GET", "/api/v1/me/grade", expect=200).json
        full = self.call(w["admin"], "GET", f"/api/v1/workers/{w.ids['chunmei']}/grade?purpose=audit", expect=200).json
        expect_equal("her grade and the administrators' computation agree", grade["grade"], full["grade"])
        self.call(w["admin"], "GET", f"/api/v1/workers/{w.ids['chunmei']}?purpose=audit", expect=200)

    def flags(self):
        """A police source sends, repeats, changes and retracts flags; she reads them in full and
        disputes one; an administrator annotates the dispute; a revoked key stops working."""
        w, source = self.world, self.world["integration"]
        flag = {"id_number": w.people["xiaoyan"]["id_number"], "reference": "CT-1", "category": "theft", "severity": 1,
                "status": "alleged", "occurred_on": "2025-06-01", "narrative": "邻居报案称丢失手机，尚在调查。"}
        r = self.call(source, "POST", "/api/v1/flags", flag, expect=201)
        expect_equal("created", r["outcome"], "created")
        flag_id = r["flag_id"]
        expect_equal("the same content changes nothing", self.call(source, "POST", "/api/v1/flags", flag, expect=200)["outcome"], "unchanged")
        r = self.call(source, "PUT", f"/api/v1/flags/{SOURCE}/CT-1", {"severity": 2}, expect=200)
        expect_equal("updated", r["outcome"], "updated")
        w.ids["flag"] = dict(flag, severity=2)
        batch = {"flags": [dict(flag, reference="CT-2", occurred_on="2025-07-01"),
                           dict(flag, reference="CT-3", category="fare_evasion")]}
        r = self.call(source, "POST", "/api/v1/flags:batch", batch, expect=200)
        expect_equal("batch counts", (r["created"], r["rejected"]), (1, 1))
        expect_equal("batch items", [(i["index"], i["outcome"]) for i in r["items"]], [(0, "created"), (1, "rejected")])
        expect_equal("retracted", self.call(source, "DELETE", f"/api/v1/flags/{SOURCE}/CT-2", expect=200)["outcome"], "retracted")
        expect_equal("still the same after all that", self.call(source, "POST", "/api/v1/flags", w.ids["flag"], expect=200)["outcome"],
                     "unchanged")
        mine = {f["id"]: f for f in self.call(w["xiaoyan"], "GET", "/api/v1/me/flags", expect=200)["flags"]}
        expect_equal("she reads her flag in full", (mine[flag_id]["severity"], mine[flag_id]["category"], mine[flag_id].get("narrative")),
                     (2, "theft", flag["narrative"]))
        expect_true("the retracted one says so", any(f["status"] == "retracted" for f in mine.values()))
        fd = self.call(w["xiaoyan"], "POST", f"/api/v1/me/flags/{flag_id}/dispute", {"reason": "手机后来在家中找到。"}, expect=201)["id"]
        admin = w["admin"]
        disputes = [d for d in self.call(admin, "GET", "/api/v1/flag-disputes", expect=200)["disputes"] if d.get("id") == fd]
        expect_equal("the flag dispute waits", [(d.get("flag_id"), d.get("reference")) for d in disputes], [(flag_id, "CT-1")])
        self.call(admin, "POST", f"/api/v1/flag-disputes/{fd}/annotate", {"note": "已记录工人的说明。"}, expect=204)
        answered = [d for d in self.call(admin, "GET", "/api/v1/flag-disputes?open=false", expect=200)["disputes"] if d.get("id") == fd]
        expect_equal("answered with the note", [d.get("note") for d in answered], ["已记录工人的说明。"])
        spare = w["spare_key"]
        self.call(admin, "DELETE", f"/api/v1/integrations/{w.ids['source']}/keys/{spare.key_id}", expect=204)
        self.call(spare, "POST", "/api/v1/flags", w.ids["flag"], expect=401, what="a revoked key")
        self.call(admin, "GET", f"/api/v1/workers/{w.ids['xiaoyan']}/grade?purpose=audit", expect=200)

    def transfers(self):
        """Custody moves by code and seal; a request is cancelled; she refuses one, consents to and
        withdraws from another in her account; an administrator records a refusal and cancels one."""
        w, old, new = self.world, self.world["agency"], self.world["agency_b"]
        meiling = w.people["meiling"]
        mark = self.phone.mark()
        r = self.call(new, "POST", "/api/v1/transfers", {"id_number": meiling["id_number"]}, expect=201)
        t = r["transfer"]
        expect_equal("requested, code sent", (t["status"], r["code_sent"]), ("requested", True))
        expect_true("the requesting agency learns neither her name nor where she is",
                    not {"worker_name", "from_agency_id", "from_agency_name"} & set(t))
        self.phone.wait_for_code(meiling["phone"], "transfer_consent_code", mark)
        mark = self.phone.mark()
        expect_equal("resent", self.call(new, "POST", f"/api/v1/transfers/{t['id']}/resend-code", expect=200)["code_sent"], True)
        code = self.phone.wait_for_code(meiling["phone"], "transfer_consent_code", mark)
        t = self.call(new, "POST", f"/api/v1/transfers/{t['id']}/consent", {"code": code}, expect=200).json
        expect_equal("consented by code", (t["status"], t.get("consent_method"), t.get("worker_name")), ("consented", "code", "林美玲"))
        seen = self.call(old, "GET", f"/api/v1/transfers/{t['id']}", expect=200).json
        expect_equal("the old agency sees it", (seen["status"], seen.get("from_agency_id")), ("consented", w.ids["agency"]))
        expect_true("and in its list", t["id"] in [x["id"] for x in self.call(old, "GET", "/api/v1/transfers?open=true", expect=200)["transfers"]])
        t = self.call(old, "POST", f"/api/v1/transfers/{t['id']}/seal",
                      {"work_ability": "擅长照顾老人", "feedback_summary": "雇主满意", "ethics_rating": 4}, expect=200).json
        expect_equal("sealed and completed", (t["status"], t.get("completed_how")), ("completed", "sealed"))
        f = self.call(new, "GET", f"/api/v1/workers/{w.ids['meiling']}", expect=200).json
        expect_equal("custody moved", f["current_agency"]["id"], w.ids["agency_b"])
        sealed = [x for x in f["tenures"] if x["agency_id"] == w.ids["agency"]]
        expect_equal("the old tenure is sealed with the final assessment", [(x.get("sealed_how"), x.get("ethics_rating")) for x in sealed],
                     [("agency", 4)])
        self.call(old, "GET", f"/api/v1/workers/{w.ids['meiling']}", expect=404, what="no longer in its custody")

        r = self.call(new, "POST", "/api/v1/transfers", {"id_number": w.people["yuzhen"]["id_number"]}, expect=201)
        t = self.call(new, "POST", f"/api/v1/transfers/{r['transfer']['id']}/cancel", {"reason": "客户取消"}, expect=200).json
        expect_equal("the requesting agency withdraws", t["status"], "cancelled")

        worker = w["worker"]
        chunmei = w.people["chunmei"]["id_number"]
        r = self.call(new, "POST", "/api/v1/transfers", {"id_number": chunmei}, expect=201)
        waiting = self.call(worker, "GET", "/api/v1/transfers?open=true", expect=200)["transfers"]
        expect_true("waiting for her answer", r["transfer"]["id"] in [x["id"] for x in waiting])
        self.call(worker, "GET", f"/api/v1/transfers/{r['transfer']['id']}", expect=200)
        t = self.call(worker, "POST", f"/api/v1/transfers/{r['transfer']['id']}/reject", {"reason": "不想换公司"}, expect=200).json
        expect_equal("she refused", t["status"], "rejected")
        w.ids.setdefault("chunmei_transfers", []).append(t["id"])
        r = self.call(new, "POST", "/api/v1/transfers", {"id_number": chunmei}, expect=201)
        t = self.call(worker, "POST", f"/api/v1/transfers/{r['transfer']['id']}/consent", {}, expect=200).json
        expect_equal("she consented in her account", (t["status"], t.get("consent_method")), ("consented", "account"))
        t = self.call(worker, "POST", f"/api/v1/transfers/{r['transfer']['id']}/cancel", {"reason": "改主意了"}, expect=200).json
        expect_equal("she withdrew her consent", t["status"], "cancelled")
        w.ids["chunmei_transfers"].append(t["id"])
        f = self.call(worker, "GET", f"/api/v1/workers/{w.ids['chunmei']}", expect=200).json
        expect_equal("she is still with her agency", f["current_agency"]["id"], w.ids["agency"])

        admin = w["admin"]
        demo_open = [x for x in self.call(admin, "GET", "/api/v1/transfers?open=true", expect=200)["transfers"]
                     if x.get("worker_name") == "张桂兰" and x["status"] == "requested"]
        expect_equal("the demo transfer awaits her", len(demo_open), 1)
        self.call(admin, "GET", f"/api/v1/transfers/{demo_open[0]['id']}", expect=200)
        t = self.call(admin, "POST", f"/api/v1/transfers/{demo_open[0]['id']}/reject", {"reason": "本人电话拒绝"}, expect=200).json
        expect_equal("an administrator records her refusal", t["status"], "rejected")
        r = self.call(new, "POST", "/api/v1/transfers", {"id_number": w.people["yuzhen"]["id_number"]}, expect=201)
        t = self.call(admin, "POST", f"/api/v1/transfers/{r['transfer']['id']}/cancel", {"reason": "重复申请"}, expect=200).json
        expect_equal("an administrator cancels", t["status"], "cancelled")

    def disputes_and_repair(self):
        """Meiling, moved from the first agency with a sealed assessment, gets her account and
        disputes it; the agency answers; an administrator decides it in the dispute queue. Xiaoyan
        applies to repair her police record on proof; an administrator approves it."""
        w, old, new, admin = self.world, self.world["agency"], self.world["agency_b"], self.world["admin"]
        meiling = w.people["meiling"]
        mark = self.phone.mark()
        self.call(new, "POST", f"/api/v1/workers/{w.ids['meiling']}/account", expect=201)
        code = self.phone.wait_for_code(meiling["phone"], "worker_activation_code", mark)
        self.call(None, "POST", "/api/v1/auth/activate", {"phone": meiling["phone"], "code": code, "password": w.password}, expect=204)
        her = self.login("meiling", "worker", "worker", phone=meiling["phone"])
        f = self.call(her, "GET", f"/api/v1/workers/{w.ids['meiling']}", expect=200).json
        sealed = [x for x in f["tenures"] if x["agency_id"] == w.ids["agency"] and x.get("sealed_how") == "agency"]
        expect_equal("her sealed tenure with the first agency", len(sealed), 1)
        tenure = sealed[0]["id"]
        did = self.call(her, "POST", f"/api/v1/me/tenures/{tenure}/dispute", {"reason": "评分没有考虑雇主的表扬。"}, expect=201)["id"]
        self.call(her, "POST", f"/api/v1/me/tenures/{tenure}/dispute", {"reason": "再次"}, expect=409, what="one open dispute")
        waiting = [d for d in self.call(old, "GET", "/api/v1/tenure-disputes", expect=200)["disputes"] if d["id"] == did]
        expect_equal("the agency that wrote it sees the dispute", [(d["tenure_id"], d["reason"]) for d in waiting],
                     [(tenure, "评分没有考虑雇主的表扬。")])
        expect_true("the new agency does not", did not in [d["id"] for d in self.call(new, "GET", "/api/v1/tenure-disputes", expect=200)["disputes"]])
        self.call(old, "POST", f"/api/v1/tenure-disputes/{did}/answer", {"statement": "评分依据考勤记录。"}, expect=204)
        queue = [d for d in self.call(admin, "GET", "/api/v1/disputes", expect=200)["tenure_disputes"] if d["id"] == did]
        expect_equal("in the administrators' queue with the agency's answer", [d.get("agency_statement") for d in queue], ["评分依据考勤记录。"])
        self.call(admin, "POST", f"/api/v1/disputes/{did}/uphold", {"note": "雇主评价与评分明显矛盾。"}, expect=204)
        mine = [d for d in self.call(her, "GET", "/api/v1/me/tenure-disputes", expect=200)["disputes"] if d["id"] == did]
        expect_equal("she reads the outcome", [(d["status"], d.get("decision_note")) for d in mine], [("upheld", "雇主评价与评分明显矛盾。")])
        f = self.call(her, "GET", f"/api/v1/workers/{w.ids['meiling']}", expect=200).json
        expect_equal("the sealed assessment stays, marked overturned",
                     [(x.get("ethics_rating"), x.get("overturned_reason")) for x in f["tenures"] if x["id"] == tenure],
                     [(4, "雇主评价与评分明显矛盾。")])

        xiaoyan, flag_id = w["xiaoyan"], None
        records = self.call(xiaoyan, "GET", "/api/v1/me/repairs", expect=200)["records"]
        theft = [r for r in records if r["category"] == "theft" and r["status"] != "retracted"]
        expect_true("her police record can be repaired on proof", bool(theft) and all(r["proof_possible"] for r in theft))
        flag_id = theft[0]["flag_id"]
        self.call(xiaoyan, "POST", f"/api/v1/me/flags/{flag_id}/repair", {"basis": "period"}, expect=422, what="the period has not passed")
        proof = self.call(xiaoyan, "POST", "/api/v1/me/repair-proofs?filename=" + q("调解书.pdf"), raw=PDF, content_type="application/pdf",
                          expect=201).json
        rid = self.call(xiaoyan, "POST", f"/api/v1/me/flags/{flag_id}/repair",
                        {"basis": "proof", "statement": "已与邻居和解并赔偿。", "proof_id": proof["id"]}, expect=201)["id"]
        self.call(xiaoyan, "GET", f"/api/v1/repair-proofs/{proof['id']}", expect=200)
        waiting = [r for r in self.call(admin, "GET", "/api/v1/repairs", expect=200)["repairs"] if r["id"] == rid]
        expect_equal("the application waits", [(r["flag_id"], r["basis"], r.get("proof_id")) for r in waiting], [(flag_id, "proof", proof["id"])])
        self.call(admin, "GET", f"/api/v1/repair-proofs/{proof['id']}", expect=200)
        self.call(admin, "POST", f"/api/v1/repairs/{rid}/approve", {"reason": "和解协议真实有效。"}, expect=204)
        decided = [r for r in self.call(admin, "GET", "/api/v1/repairs?status=decided", expect=200)["repairs"] if r["id"] == rid]
        expect_equal("decided with the reason", [(r["status"], r.get("decision_reason")) for r in decided], [("approved", "和解协议真实有效。")])
        after = [r for r in self.call(xiaoyan, "GET", "/api/v1/me/repairs", expect=200)["records"] if r["flag_id"] == flag_id]
        expect_true("repaired on a day", bool(after) and bool(after[0].get("repaired_on")))

    def cases(self):
        """A household files a case with evidence; administrators review it, ask and get more, suspend
        and lift, propose, confirm (another administrator); she objects; a third administrator rejects
        the objection; the execution loop bars her later (checked in `after_the_loops`). An agency files
        and withdraws a case of its own."""
        w, employer, admin = self.world, self.world["employer"], self.world["admin"]
        xiaoyan, wid = w["xiaoyan"], w.ids["xiaoyan"]
        cid = self.call(employer, "POST", "/api/v1/cases", {"worker_id": wid, "grounds": "theft", "statement": "家中首饰丢失。"}, expect=201)["id"]
        w.ids["case"] = cid
        c = self.call(employer, "GET", f"/api/v1/cases/{cid}", expect=200).json
        expect_equal("filed", (c["worker_id"], c["grounds"], c["state"], c["kind"]), (wid, "theft", "submitted", "revocation"))
        e1 = self.call(employer, "POST", f"/api/v1/cases/{cid}/evidence?filename=receipt.pdf&description=" + q("购买凭证"), raw=PDF,
                       content_type="application/pdf", expect=201).json
        expect_equal("the stored evidence", (e1["filename"], e1["content_type"], e1["size_bytes"], e1["sha256"]),
                     ("receipt.pdf", "application/pdf", len(PDF), sha256(PDF)))
        e2 = self.call(xiaoyan, "POST", f"/api/v1/cases/{cid}/evidence?filename=photo.png", raw=PNG, content_type="image/png", expect=201).json
        e3 = self.call(admin, "POST", f"/api/v1/cases/{cid}/evidence?filename=note.pdf", raw=PDF, content_type="application/pdf", expect=201).json
        for who, evidence, data in ((employer, e2, PNG), (xiaoyan, e1, PDF), (admin, e3, PDF)):
            got = self.call(who, "GET", f"/api/v1/evidence/{evidence['id']}", expect=200)
            expect_equal(f"{who} downloads the same bytes", sha256(got.raw), sha256(data))
        w.ids["evidence"] = [e1["id"], e2["id"], e3["id"]]
        c = self.call(xiaoyan, "GET", f"/api/v1/cases/{cid}", expect=200).json
        expect_equal("she sees the evidence list", sorted(x["id"] for x in c.get("evidence", [])), sorted([e1["id"], e2["id"], e3["id"]]))
        expect_true("the case is in the queue", cid in [x["id"] for x in self.call(admin, "GET", "/api/v1/cases", expect=200)["cases"]])

        def act(who, command, state, **extra):
            c = self.call(w[who], "POST", f"/api/v1/cases/{cid}/commands", dict({"command": command, "reason": f"{command} by {who}"}, **extra),
                          expect=200).json
            expect_equal(f"{command} by {who}", c["state"], state)
            return c

        act("admin", "start_review", "under_review")
        act("admin", "request_information", "awaiting_information")
        act("employer", "provide_information", "under_review")
        self.call(admin, "POST", f"/api/v1/cases/{cid}/suspension", {"reason": "调查期间暂停派单"}, expect=204)
        expect_equal("suspended", self.call(admin, "GET", f"/api/v1/workers/{wid}?purpose=case", expect=200)["status"], "suspended")
        self.call(admin, "POST", f"/api/v1/cases/{cid}/suspension/lift", {"reason": "无需继续暂停"}, expect=204)
        expect_equal("active again", self.call(admin, "GET", f"/api/v1/workers/{wid}?purpose=case", expect=200)["status"], "active")
        act("admin", "propose_decision", "decision_proposed", outcome="upheld")
        self.call(admin, "POST", f"/api/v1/cases/{cid}/commands", {"command": "confirm_decision", "reason": "mine"}, expect=403,
                  what="four eyes")
        c = act("admin2", "confirm_decision", "notice_period")
        expect_equal("upheld", c.get("outcome"), "upheld")
        act("xiaoyan", "object", "objection_review")
        self.call(w["admin2"], "POST", f"/api/v1/cases/{cid}/commands", {"command": "reject_objection", "reason": "x"},
                  expect=403, what="took part in the decision")
        act("admin3", "reject_objection", "final")
        w.ids["case_final_at"] = time.time()
        timeline = self.call(employer, "GET", f"/api/v1/cases/{cid}", expect=200)["timeline"]
        expect_equal("the timeline, step by step", [t.get("command") for t in timeline][-10:],
                     ["start_review", "request_information", "provide_information", "suspend", "lift_suspension", "propose_decision",
                      "confirm_decision", "start_notice", "object", "reject_objection"])

        # Each side answers the other's files: she the household's receipt, the household her photo,
        # her agency (for her) the receipt, the registry the receipt.
        for who, evidence in (("xiaoyan", e1), ("employer", e2), ("agency", e1), ("admin", e1)):
            self.call(w[who], "POST", f"/api/v1/evidence/{evidence['id']}/answers", {"body": f"{who} 的答复"}, expect=204)
        self.call(xiaoyan, "POST", f"/api/v1/evidence/{e2['id']}/answers", {"body": "自己的文件"}, expect=409, what="not one's own file")
        answers = self.call(employer, "GET", f"/api/v1/cases/{cid}", expect=200)["answers"]
        expect_equal("the answers to the receipt, by side", sorted(a["party"] for a in answers[e1["id"]]), ["registry", "worker", "worker"])

        # An agency that held a worker files a case of its own, adds evidence and withdraws it.
        agency = w["agency"]
        c2 = self.call(agency, "POST", "/api/v1/cases", {"worker_id": w.ids["meiling"], "grounds": "fraud", "statement": "伪造证书。"},
                       expect=201)["id"]
        self.call(agency, "GET", f"/api/v1/cases/{c2}", expect=200)
        e = self.call(agency, "POST", f"/api/v1/cases/{c2}/evidence?filename=cert.pdf", raw=PDF, content_type="application/pdf", expect=201).json
        self.call(agency, "GET", f"/api/v1/evidence/{e['id']}", expect=200)
        c = self.call(agency, "POST", f"/api/v1/cases/{c2}/commands", {"command": "withdraw", "reason": "证书经核实为真"}, expect=200).json
        expect_equal("withdrawn", c["state"], "withdrawn")

    def due_process(self):
        """Recusal, finding a worker and opening her file with a purpose, and a worker barred years
        ago (in the demo data) who sees her case and applies to be reinstated herself."""
        w, admin, admin2 = self.world, self.world["admin"], self.world["admin2"]
        tie = self.call(admin2, "POST", "/api/v1/admin/ties", {"worker_id": w.ids["meiling"], "description": "她曾在我家做保姆"},
                        expect=201)["id"]
        ties = self.call(admin, "GET", "/api/v1/admin/ties", expect=200)["ties"]
        expect_true("the tie is listed, and not as the reader's own", any(t["id"] == tie and not t["mine"] for t in ties))
        self.call(admin2, "POST", f"/api/v1/admin/ties/{tie}/end", {"reason": "申报有误"}, expect=204)
        self.call(admin, "POST", f"/api/v1/admin/ties/{tie}/end", {"reason": "不是我的"}, expect=404, what="another's tie")
        found = self.call(admin, "POST", "/api/v1/admin/workers/search", {"id_number": w.people["xiaoyan"]["id_number"]}, expect=200)
        expect_equal("found by ID number", [x["id"] for x in found["workers"]], [w.ids["xiaoyan"]])
        expect_true("the ID number is never echoed", w.people["xiaoyan"]["id_number"] not in json.dumps(found.json, ensure_ascii=False))
        self.call(admin, "GET", f"/api/v1/workers/{w.ids['xiaoyan']}/report", expect=400, what="no purpose")
        self.call(admin, "GET", f"/api/v1/workers/{w.ids['xiaoyan']}/report?purpose=case", expect=200)
        looked = self.call(w["xiaoyan"], "GET", "/api/v1/me/inquiries", expect=200)["inquiries"]
        expect_true("she sees the administrator's read with its purpose", any(i.get("purpose") == "case" for i in looked))
        barred = self.login("barred", "worker", "worker", phone="13800138007")
        cases = self.call(barred, "GET", "/api/v1/me/cases", expect=200)["cases"]
        expect_true("her executed ban, open for her application", cases and cases[0]["state"] == "executed" and cases[0].get("reinstatement_from"))
        banned = cases[0]["id"]
        # An administrator records a request (a court's order); two others refuse it: the ban stays.
        first = self.call(admin2, "POST", f"/api/v1/cases/{banned}/reinstatement", {"statement": "法院来函。"}, expect=201)["id"]
        for who, command, extra in (("admin", "start_review", {}), ("admin", "propose_decision", {"outcome": "rejected"}),
                                    ("admin3", "confirm_decision", {})):
            self.call(w[who], "POST", f"/api/v1/cases/{first}/commands", dict({"command": command, "reason": "示范"}, **extra), expect=200)
        expect_equal("refused", self.call(admin, "GET", f"/api/v1/cases/{first}", expect=200)["state"], "closed")
        # Then she applies herself, the policy's years after the ban.
        rid = self.call(barred, "POST", f"/api/v1/cases/{banned}/reinstatement", {"statement": "三年来无不良记录。"}, expect=201)["id"]
        c = self.call(barred, "GET", f"/api/v1/cases/{rid}", expect=200).json
        expect_equal("her application is a reinstatement case", (c["kind"], c["state"]), ("reinstatement", "submitted"))

    def after_the_loops(self, timeout=40):
        """The registry's loops (every 30 s) have had their time: the final decision about Xiaoyan,
        whose objection was rejected, is still not carried out — it waits for the notice period's
        end, days away — and the public lookup does not say she is barred."""
        w, admin = self.world, self.world["admin"]
        time.sleep(max(0, min(timeout, 35 - (time.time() - w.ids.get("case_final_at", 0)))))
        c = self.call(admin, "GET", f"/api/v1/cases/{w.ids['case']}", expect=200).json
        expect_equal("the final decision waits for the window", c["state"], "final")
        expect_true("the window's last day is ahead", c.get("notice_last_day", "") >= str(w.today))
        expect_equal("she is not barred yet", self.call(admin, "GET", f"/api/v1/workers/{w.ids['xiaoyan']}?purpose=case",
                                                        expect=200)["status"], "active")
        # The fuzzing runs just before send lookups from the same address: over the minute's limit, a
        # client waits as Retry-After says (the calendar minute's end) and asks again.
        body = {"id_number": w.people["xiaoyan"]["id_number"]}
        lookup = self.call(None, "POST", "/api/v1/public/ban-status", body, expect=(200, 429))
        if lookup.status == 429:
            wait = int(lookup.headers.get("Retry-After") or 60)
            expect_true("Retry-After is within the minute", 1 <= wait <= 60)
            time.sleep(wait + 1)
            lookup = self.call(None, "POST", "/api/v1/public/ban-status", body, expect=200)
        expect_equal("the public lookup says not barred", lookup.json, {"revoked": False})

    def agencies_and_accounts(self):
        """An agency applies and is approved, suspended and reinstated; staff are added; an account is
        disabled and can no longer sign in; the audit log tells it and its chain verifies."""
        w, admin, agency = self.world, self.world["admin"], self.world["agency"]
        # Demerit points: an administrator records a notice with its evidence; the agency reads
        # it in its file and answers; the administrator upholds it with a reason.
        notice = self.call(admin, "POST", f"/api/v1/agencies/{w.ids['agency']}/demerits",
                           {"offence": "late_sealing", "evidence": "转档同意后第九天才封存履历"}, expect=201).json
        expect_equal("a notice", (notice["state"], notice["recorded_by"]), ("notified", "administrator"))
        self.call(admin, "POST", f"/api/v1/agencies/{w.ids['agency']}/demerits",
                  {"offence": "transfer_unanswered", "evidence": "x"}, expect=400, what="an offence the registry records itself")
        self.call(admin, "POST", f"/api/v1/demerits/{notice['id']}/decision", {"uphold": True, "reason": "属实"}, expect=409,
                  what="upholding before the agency's answer")
        queued = self.call(admin, "GET", "/api/v1/demerits", expect=200)["demerits"]
        expect_true("in the administrators' queue", notice["id"] in [d["id"] for d in queued])
        own = self.call(agency, "GET", f"/api/v1/agencies/{w.ids['agency']}/demerits", expect=200).json
        expect_true("in the agency's own file", notice["id"] in [d["id"] for d in own["demerits"]])
        self.call(w["agency_b"], "GET", f"/api/v1/agencies/{w.ids['agency']}/demerits", expect=404, what="another agency's file")
        answered = self.call(agency, "POST", f"/api/v1/demerits/{notice['id']}/answer", {"answer": "系统故障，已补封存"}, expect=200).json
        expect_equal("answered", answered["state"], "answered")
        upheld = self.call(admin, "POST", f"/api/v1/demerits/{notice['id']}/decision", {"uphold": True, "reason": "封存记录显示延误"},
                           expect=200).json
        expect_equal("upheld and in force", (upheld["state"], upheld["in_force"]), ("upheld", True))
        standing = self.call(admin, "GET", f"/api/v1/agencies/{w.ids['agency']}/demerits", expect=200).json
        expect_true("its points count", standing["points"] >= 3 and standing["level"] in ("none", "warning"))
        public = self.call(None, "GET", f"/api/v1/public/agencies/{w.ids['agency']}", expect=200).json
        expect_equal("the public sees the points in force, not the notices", (public["points"], "demerits" in public),
                     (standing["points"], False))
        expect_true("and the commitment its representative signed", public["commitment"]["representative"] == "林建国")
        terms = self.call(None, "GET", "/api/v1/commitments", expect=200).json
        application = {"name": "契约测试家政有限公司", "uscc": social_credit_code("91350102MA2XK7Q5P"), "region_code": "350102",
                       "contact_name": "周敏", "contact_email": "apply@contract.registry.test", "password": w.password,
                       "representative": "陈立", "commitment_version": "0.old"}
        self.call(None, "POST", "/api/v1/agencies", application, expect=409, what="signing a commitment not in force")
        application["commitment_version"] = terms["agency"]["version"]
        r = self.call(None, "POST", "/api/v1/agencies", application, expect=201).json
        expect_equal("pending", r["status"], "pending")
        aid = r["agency_id"]
        pending = self.call(admin, "GET", "/api/v1/agencies?status=pending", expect=200)["agencies"]
        expect_true("in the pending list", aid in [a["id"] for a in pending])
        a = self.call(admin, "GET", f"/api/v1/agencies/{aid}", expect=200).json
        expect_equal("the application as sent", (a["name"], a["uscc"], a["region_code"], a["contact_name"], a["status"]),
                     (application["name"], application["uscc"], "350102", "周敏", "pending"))
        expect_equal("approved", self.call(admin, "POST", f"/api/v1/agencies/{aid}/approve", {}, expect=200)["status"], "approved")
        contact = self.login("new_agency", "agency", "agency_staff", email=application["contact_email"])
        expect_equal("the contact is its staff", contact.user["agency_id"], aid)
        # The agency's commitment came signed with the application; the contact's own is owed
        # until she accepts it, and no write is taken before.
        expect_equal("her own commitment is owed", self.call(contact, "GET", "/api/v1/auth/me", expect=200)["commitments_owed"], ["staff"])
        refused = self.call(contact, "POST", "/api/v1/workers", dict(w.people["xiaoyan"], id_number=national_id("350102", "19930101", 248),
                                                                     phone="13912345248"), expect=403, what="a write before the commitment")
        expect_equal("refused for the commitment", refused["error"]["code"], "commitment_required")
        signed = self.call(contact, "GET", "/api/v1/agency/commitments", expect=200).json
        expect_equal("the application's signature", (signed["agency"]["accepted"], signed["agency"]["representative"]), (True, "陈立"))
        self.call(contact, "POST", "/api/v1/agency/commitments", {"kind": "staff", "version": terms["staff"]["version"]}, expect=200)
        expect_equal("nothing owed", self.call(contact, "GET", "/api/v1/auth/me", expect=200)["commitments_owed"], [])
        # Points up to the case threshold open a case against it: one administrator proposes, the
        # agency objects, another administrator decides (the proposer may not).
        for offence in ("flag_not_reported", "invented_review"):
            n = self.call(admin, "POST", f"/api/v1/agencies/{aid}/demerits", {"offence": offence, "evidence": "核查记录"}, expect=201).json
            self.call(contact, "POST", f"/api/v1/demerits/{n['id']}/answer", {"answer": "我们会整改。"}, expect=200)
            self.call(admin, "POST", f"/api/v1/demerits/{n['id']}/decision", {"uphold": True, "reason": "属实"}, expect=200)
        cases = [c for c in self.call(contact, "GET", "/api/v1/agency-cases", expect=200)["cases"] if c["state"] == "open"]
        expect_equal("a case against the agency is open", len(cases), 1)
        case = cases[0]["id"]
        self.call(contact, "POST", "/api/v1/workers", dict(w.people["xiaoyan"], id_number=national_id("350102", "19930101", 248),
                                                           phone="13912345248"), expect=403, what="registering at the case level")
        expect_true("in the administrators' list", case in [c["id"] for c in self.call(admin, "GET", "/api/v1/agency-cases", expect=200)["cases"]])
        self.call(admin, "POST", f"/api/v1/agency-cases/{case}/proposal", {"proposal": "dismiss", "reason": "首次违规，责令整改。"}, expect=200)
        self.call(contact, "POST", f"/api/v1/agency-cases/{case}/objection", {"objection": "我们已经整改。"}, expect=200)
        self.call(admin, "POST", f"/api/v1/agency-cases/{case}/decision", {"confirm": True, "reason": "x"}, expect=403,
                  what="the proposer deciding")
        decided = self.call(w["admin2"], "POST", f"/api/v1/agency-cases/{case}/decision", {"confirm": True, "reason": "同意，不予处理。"},
                            expect=200).json
        expect_equal("decided by another administrator", (decided["state"], decided["outcome"]), ("decided", "dismiss"))
        self.call(agency, "POST", f"/api/v1/agencies/{w.ids['agency']}/staff",
                  {"email": "colleague@contract.registry.test", "display_name": "同事", "password": w.password}, expect=201)
        self.login("colleague", "agency", "agency_staff", email="colleague@contract.registry.test")
        uid = self.call(admin, "POST", f"/api/v1/agencies/{aid}/staff",
                        {"email": "leaver@contract.registry.test", "display_name": "离职员工", "password": w.password}, expect=201)["id"]
        leaver = self.login("leaver", "agency", "agency_staff", email="leaver@contract.registry.test")
        self.call(admin, "POST", f"/api/v1/users/{uid}/disable", {"reason": "已离职"}, expect=204)
        self.call(leaver, "GET", "/api/v1/auth/me", expect=401, what="a disabled account's session")
        self.call(None, "POST", "/api/v1/auth/login", {"email": "leaver@contract.registry.test", "password": w.password}, expect=401,
                  what="a disabled account")
        a = self.call(admin, "POST", f"/api/v1/agencies/{aid}/suspend", {"reason": "资质待复核"}, expect=200).json
        expect_equal("suspended", (a["status"], a.get("status_reason")), ("suspended", "资质待复核"))
        self.call(contact, "POST", "/api/v1/workers", dict(w.people["xiaoyan"], id_number=national_id("350102", "19930101", 248),
                                                          phone="13912345248"), expect=403, what="a suspended agency writes")
        expect_equal("reinstated", self.call(admin, "POST", f"/api/v1/agencies/{aid}/reinstate", {}, expect=200)["status"], "approved")
        listed = self.call(admin, "GET", "/api/v1/agencies", expect=200)["agencies"]
        expect_true("all agencies listed", {w.ids["agency"], w.ids["agency_b"], aid} <= {a["id"] for a in listed})
        entries = self.call(admin, "GET", f"/api/v1/audit?subject_type=agency&subject_id={aid}&limit=50", expect=200)["entries"]
        expect_true("the audit log tells the agency's story", len(entries) >= 4 and all(e["subject_id"] == aid for e in entries))
        expect_true("newest first", [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True))
        expect_equal("the chain verifies", self.call(admin, "POST", "/api/v1/audit/verify", expect=200)["intact"], True)
        metrics = self.call(admin, "GET", "/metrics", expect=200).raw.decode()
        expect_true("metrics in Prometheus text", "# TYPE" in metrics)

    def messages(self):
        """The outbox: a text the gateway refuses is a dead letter at once; an administrator sees it
        (recipient masked, no code) and sends it again, and then it reaches the phone."""
        w = self.world
        admin, xiaoyan = w["admin"], w.people["xiaoyan"]
        control = urllib.request.Request(os.environ["SMS_GATEWAY"] + "/control", method="POST",
                                         data=json.dumps({"fail": 1, "status": 422, "kind": "consent_code"}).encode())
        urllib.request.urlopen(control, timeout=5).read()
        mark = self.phone.mark()
        self.call(w["agency"], "POST", f"/api/v1/workers/{w.ids['xiaoyan']}/consents", expect=201)
        dead = []
        deadline = time.time() + 15
        while not dead and time.time() < deadline:
            overview = self.call(admin, "GET", "/api/v1/admin/messages", expect=200).json
            dead = [m for m in overview["dead"] if m["kind"] == "consent_code" and m["last_error"] == "refused_422"]
            time.sleep(0.3)
        expect_true("the refused text is a dead letter", len(dead) == 1)
        expect_equal("its recipient masked", dead[0]["recipient"], xiaoyan["phone"][:3] + "****" + xiaoyan["phone"][-4:])
        self.call(admin, "POST", f"/api/v1/admin/messages/{dead[0]['id']}/retry", expect=204)
        self.call(admin, "POST", f"/api/v1/admin/messages/{dead[0]['id']}/retry", expect=404, what="a message no longer dead")
        expect_true("sent again, it reaches her phone", bool(self.phone.wait_for_code(xiaoyan["phone"], "consent_code", mark)))

    def jobs_and_contacts(self):
        """The scheduled jobs: listed, and one run now by an administrator. Contact details: each kind
        of account sets a phone number with the code texted to it; an administrator changes a
        worker's number after an in-person check and she changes it back from her account; another
        account's number is refused."""
        w = self.world
        admin = w["admin"]
        jobs = self.call(admin, "GET", "/api/v1/admin/jobs", expect=200)["jobs"]
        expect_true("every job listed", {"flag-expiry", "grade-refresh", "audit-checkpoint"} <= {j["name"] for j in jobs})
        ran = self.call(admin, "POST", "/api/v1/admin/jobs/audit-checkpoint/run", expect=200).json
        expect_equal("the job that ran", ran["job"], "audit-checkpoint")
        self.call(admin, "POST", "/api/v1/admin/jobs/nightly/run", expect=404, what="a job that does not exist")

        def change_phone(caller, number):
            mark = self.phone.mark()
            sent = self.call(caller, "POST", "/api/v1/auth/contact", {"phone": number}, expect=202).json
            expect_equal("the code's number, masked", sent["sent_to"], number[:3] + "****" + number[-4:])
            code = self.phone.wait_for_code(number, "contact_change_code", mark)
            done = self.call(caller, "POST", "/api/v1/auth/contact/confirm", {"code": code}, expect=200).json
            expect_equal("the number now", done["phone"], number)

        for name, number in (("admin", "13911100401"), ("agency", "13911100402"), ("employer", "13911100403")):
            change_phone(w[name], number)
        self.call(w["worker"], "POST", "/api/v1/auth/contact", {"phone": "13911100402"}, expect=409, what="another account's number")
        # Xiaoyan lost her phone: an administrator checks her in person and records a new number;
        # then she moves back to her old one from her account.
        xiaoyan = w.people["xiaoyan"]
        changed = self.call(admin, "POST", f"/api/v1/workers/{w.ids['xiaoyan']}/phone",
                            {"phone": "13911100404", "reason": "本人持身份证到服务中心核验"}, expect=200).json
        expect_equal("her new number", changed["phone"], "13911100404")
        change_phone(w["xiaoyan"], xiaoyan["phone"])

    def sessions_and_passwords(self):
        """For each kind of account (throwaway ones, not the callers the fuzzing uses): a second
        session changes the password, which ends the first; the old password no longer works, the
        new one does; signing out ends a session."""
        w = self.world
        # A worker account of her own for this: Yuzhen (imported by the agency) activates hers.
        yuzhen = w.people["yuzhen"]
        mark = self.phone.mark()
        self.call(w["agency"], "POST", f"/api/v1/workers/{w.ids['yuzhen']}/account", expect=201)
        code = self.phone.wait_for_code(yuzhen["phone"], "worker_activation_code", mark)
        self.call(None, "POST", "/api/v1/auth/activate", {"phone": yuzhen["phone"], "code": code, "password": w.password}, expect=204)
        self.login("yuzhen", "worker", "worker", phone=yuzhen["phone"])
        for name in ("admin2", "colleague", "employer2", "yuzhen"):
            first = w[name]
            second = self.login(name + "-2", first.role, first.user["role"], password=first.password, **first.account)
            new_password = first.password + "-new"
            self.call(second, "POST", "/api/v1/auth/password", {"current_password": first.password, "new_password": new_password}, expect=204)
            self.call(first, "GET", "/api/v1/auth/me", expect=401, what="the other session after a password change")
            self.call(second, "GET", "/api/v1/auth/me", expect=200, what="the session that changed it")
            self.call(None, "POST", "/api/v1/auth/login", dict(first.account, password=first.password), expect=401, what="the old password")
            third = self.login(name + "-3", first.role, first.user["role"], password=new_password, **first.account)
            self.call(third, "POST", "/api/v1/auth/logout", expect=204)
            self.call(third, "GET", "/api/v1/auth/me", expect=401, what="a session after signing out")
            self.call(second, "GET", "/api/v1/auth/me", expect=200, what="another session after signing out")
