import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Agency staff: the roster, registering a worker, and a worker's file. Workers are addressed
/// by their UUID; the ID number only ever travels in a POST body.
struct WorkerPages {
    let kit: PageKit

    static let registerFields = ["id_number", "full_name", "sex", "phone", "home_region"]
    static let pageSize = 50

    func register(on routes: ProtectedRouter) {
        let access = routes.access
        routes.get("/agency/workers", action: "workers.roster") { request, context in
            let page = kit.scope(request, context)
            let q = page.query("q")?.trimmingWhitespace() ?? ""
            let offset = max(0, min(1_000_000, page.query("offset").flatMap(Int.init) ?? 0))
            let workers = try await page.registry.workers.roster(
                nameContains: q.isEmpty ? nil : q,
                limit: Self.pageSize + 1,
                offset: offset,
                caller: page.caller,
                logger: context.logger
            )
            var values: [String: Any] = [
                "q": q, "searched": !q.isEmpty,
                "workers": workers.prefix(Self.pageSize).map { w in
                    [
                        "id": w.id.text, "name": w.fullName, "sex": page.label("sex", w.sex), "birth_date": w.birthDate,
                        "home_region": w.homeRegion, "categories": page.list(w.categories.map { page.label("category", $0) }),
                        "status": page.label("worker_status", w.status),
                    ] as [String: Any]
                },
            ]
            if workers.count > Self.pageSize {
                values["next"] = "/agency/workers?offset=\(offset + Self.pageSize)" + (q.isEmpty ? "" : "&q=" + PageScope.queryEncode(q))
            }
            if offset > 0 {
                values["previous"] = "/agency/workers?offset=\(max(0, offset - Self.pageSize))" + (q.isEmpty ? "" : "&q=" + PageScope.queryEncode(q))
            }
            return page.render("roster", values)
        }

        routes.get("/agency/workers/new", action: "workers.register") { request, context in
            let page = kit.scope(request, context)
            return registerForm(page, form: WebForm(), error: nil)
        }

        routes.post("/agency/workers", action: "workers.register") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let input = WorkerRegistration.Input(
                idNumber: form.text("id_number"),
                fullName: form.text("full_name"),
                sex: form.text("sex"),
                phone: form.optional("phone"),
                homeRegion: form.text("home_region"),
                serviceCategories: form.all("service_categories")
            )
            do {
                let id = try await page.registry.workers.register(input, caller: page.caller, logger: context.logger)
                return page.redirect("/agency/workers/\(id.text)?notice=worker_registered")
            } catch let error as RegistryError where error.kind != .notFound {
                return registerForm(page, form: form, error: error)
            }
        }

        routes.get("/agency/workers/{id}", action: "workers.read") { request, context in
            let page = kit.scope(request, context)
            // An administrator opens a file with a stated purpose, on her own page.
            if page.caller.principal.role == .admin {
                return page.redirect("/admin/workers/\(try context.parameters.id("id", as: WorkerID.self).text)")
            }
            return try await Self.filePage(page, try context.parameters.id("id"), access: access)
        }
    }

    /// A worker's file page; with `error`, the answer to one of its buttons that did not work.
    static func filePage(_ page: PageScope, _ id: WorkerID, access: AccessPolicy, error: RegistryError? = nil) async throws -> Response {
        let file = try await page.registry.workers.file(id, caller: page.caller, logger: page.context.logger)
        var values = fileView(file, page: page)
        if values["in_custody"] as? Bool == true {
            func allowed(_ action: String) -> Bool { (try? access.authorize(page.context.principal, action)) != nil }
            // Her own account: none yet, waiting for her to activate it, or in use.
            let account = try await page.registry.accounts.workerAccountStatus(
                id,
                caller: page.caller,
                logger: page.context.logger
            )
            let state = account ?? "none"
            values["account_state"] = page.label("worker_account", state)
            values["has_phone"] = file.phone != nil
            values["can_start_account"] = allowed("workers.account") && (account == nil || account == "pending_activation")
            values["start_account_label"] = page.t.text(account == nil ? "file.start_account" : "file.resend_activation")
            values["can_send_consent"] = allowed("consents.issue_for_worker")
            values["can_place"] = allowed("engagements.place") && file.status == "active"
            values["can_file_case"] = allowed("cases.file") && file.status != "revoked"
            values["cases"] = try await CasePages.list(try await CasePages.about(id, page: page), page: page)
        }
        if let error {
            values["form_error"] = ["message": page.message(for: error)]
        }
        return page.render("worker_file", values, status: error?.kind.status ?? .ok)
    }

    func registerForm(_ page: PageScope, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: Self.registerFields + ["service_categories"], error: error)
        values["sexes"] = page.choices("sex", ["F", "M"], selected: [form.text("sex")])
        values["categories"] = page.categoryChoices(selected: Set(form.all("service_categories")))
        // Already on file elsewhere: offer to ask for the transfer with the same number, by POST.
        if error?.code == "worker_exists" { values["exists"] = ["id_number": form.text("id_number")] }
        return page.render("worker_new", values, status: error?.kind.status ?? .ok)
    }

    static func fileView(_ file: WorkerService.File, page: PageScope) -> [String: Any] {
        let mine = page.caller.principal.agencyID?.text
        let inCustody = page.context.principal.role == .agencyStaff && file.currentAgency.id == mine
        var worker: [String: Any] = [
            "id": file.id, "name": file.fullName, "id_masked": file.idNumberMasked, "sex": page.label("sex", file.sex),
            "birth_date": file.birthDate, "age": String(file.age), "home_region": file.homeRegion,
            "categories": page.list(file.serviceCategories.map { page.label("category", $0) }),
            "status": page.label("worker_status", file.status), "revoked": file.status == "revoked",
        ]
        if let phone = file.phone { worker["phone"] = phone }
        return [
            "worker": worker,
            "agency": ["id": file.currentAgency.id, "name": file.currentAgency.name],
            "in_custody": inCustody,
            "tenures": file.tenures.reversed().map { tenureView($0, page: page, currentAgency: file.currentAgency.id) },
            "trainings": file.trainings.map { q -> [String: Any] in
                let t = q.item
                var v: [String: Any] = [
                    "kind": page.label("training_kind", t.kind), "title": t.title, "issuer": t.issuer,
                    "issued_on": t.issuedOn, "valid": q.valid,
                ]
                if let c = t.category { v["category"] = page.label("category", c) }
                if let n = t.certificateNo { v["certificate_no"] = n }
                if let e = t.expiresOn { v["expires_on"] = e }
                if let h = t.hours { v["hours"] = String(h) }
                return v
            },
            "health": file.healthCertificates.map { q -> [String: Any] in
                let h = q.item
                var v: [String: Any] = [
                    "issuer": h.issuer, "issued_on": h.issuedOn, "valid_until": h.validUntil,
                    "result": page.label("health_result", h.result), "valid": q.valid,
                ]
                if let n = h.certificateNo { v["certificate_no"] = n }
                return v
            },
            "skills": file.skills.map { s -> [String: Any] in
                var v: [String: Any] = [
                    "category": page.label("category", s.category), "level": String(s.level),
                    "level_label": page.levelLabel(s.level, category: s.category), "assessed_on": s.assessedOn,
                    "assessor": s.assessor,
                ]
                if let n = s.note { v["note"] = n }
                return v
            },
            "transfers": file.transfers.map { TransferPages.view($0, page: page) },
        ]
    }

    static func tenureView(_ t: WorkerService.Tenure, page: PageScope, currentAgency: String) -> [String: Any] {
        var v: [String: Any] = [
            "agency_name": t.agencyName, "started_on": t.startedOn, "sealed": t.sealedAt != nil,
            "open": t.sealedAt == nil,
        ]
        if let e = t.endedOn { v["ended_on"] = e }
        if let s = t.sealedAt { v["sealed_at"] = PageScope.dateTime(s) }
        if let how = t.sealedHow { v["sealed_how"] = page.label("sealed_how", how) }
        if let a = t.workAbility { v["work_ability"] = a }
        if let h = t.healthStatus { v["health_status"] = h }
        if let f = t.feedbackSummary { v["feedback_summary"] = f }
        if let r = t.ethicsRating { v["ethics_rating"] = page.label("rating", String(r)) }
        if let n = t.ethicsNote { v["ethics_note"] = n }
        // Overturned on her dispute: shown struck through, with the administrator's reason.
        if let reason = t.overturnedReason { v["overturned"] = ["reason": reason, "on": t.overturnedOn ?? ""] }
        return v
    }
}
