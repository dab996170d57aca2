import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Revocation cases: an employer files one with evidence; the case page shows each party what
/// the service lets her see, with the forms for her steps (administrators: one per allowed
/// command; the worker: her objection; the requester: withdrawing); the administrators' queue.
/// The service and its state machine decide; refusals (four eyes, illegal steps) are shown inline.
struct CasePages {
    let kit: PageKit

    static let fileFields = ["grounds", "statement", "evidence"]

    func register(on routes: ProtectedRouter) {
        routes.get("/employer/workers/{id}/case/new", action: "cases.file") { request, context in
            let page = kit.scope(request, context)
            return try await fileForm(page, workerID: try context.parameters.id("id"), form: WebForm(), error: nil)
        }

        routes.post("/employer/workers/{id}/case", action: "cases.file") { request, context in
            let page = kit.scope(request, context)
            let workerID = try context.parameters.id("id", as: WorkerID.self)
            let form: WebForm
            do {
                form = try await WebForm.read(request, context: context, limit: Self.uploadLimit(page))
            } catch let error as RegistryError where error.kind == .tooLarge {
                // Nothing was read, so nothing is done: the form again, with the reason.
                return try await fileForm(page, workerID: workerID, form: WebForm(), error: error)
            }
            try page.verifyCSRF(form)
            let uploads = form.files["evidence"] ?? []
            let caseID: CaseID
            do {
                try Self.check(uploads, page: page, required: true)
                caseID = try await page.registry.cases.file(
                    .init(workerId: workerID.uuid, grounds: form.text("grounds"), statement: form.text("statement")),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.code != "csrf_failed" && error.kind != .notFound {
                return try await fileForm(page, workerID: workerID, form: form, error: error)
            }
            do {
                for upload in uploads { try await Self.add(upload, to: caseID, page: page) }
            } catch let error as RegistryError where error.kind != .notFound {
                // The case is filed; what failed is shown next to the evidence form on its page.
                return try await casePage(page, caseID, evidenceError: error)
            }
            return page.redirect("/cases/\(caseID.text)?notice=case_filed")
        }

        routes.get("/cases/{id}", action: "cases.read") { request, context in
            let page = kit.scope(request, context)
            return try await casePage(page, try context.parameters.id("id"))
        }

        routes.post("/cases/{id}/commands", action: "cases.act") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: CaseID.self)
            let command = form.text("command")
            do {
                _ = try await page.registry.cases.act(
                    id,
                    .init(command: command, reason: form.text("reason"), outcome: form.optional("outcome")),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound {
                return try await casePage(page, id, failed: (command, form, error))
            }
            return page.redirect("/cases/\(id.text)?notice=case_acted")
        }

        routes.post("/cases/{id}/evidence", action: "cases.evidence") { request, context in
            let page = kit.scope(request, context)
            let id = try context.parameters.id("id", as: CaseID.self)
            let form: WebForm
            do {
                // Only a party of the open case, with room left, gets its upload read at all.
                try await page.registry.cases.mayAddEvidence(id, contentType: "", declaredLength: nil, caller: page.caller, logger: context.logger)
                form = try await WebForm.read(request, context: context, limit: Self.uploadLimit(page))
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await casePage(page, id, evidenceError: error)
            }
            try page.verifyCSRF(form)
            do {
                let uploads = form.files["evidence"] ?? []
                try Self.check(uploads, page: page, required: true)
                for upload in uploads { try await Self.add(upload, to: id, page: page) }
            } catch let error as RegistryError where error.kind != .notFound {
                return try await casePage(page, id, evidenceError: error)
            }
            return page.redirect("/cases/\(id.text)?notice=case_evidence_added#evidence")
        }

        for (path, notice) in [("suspension", "case_suspended"), ("suspension/lift", "case_suspension_lifted")] {
            routes.post("/cases/{id}/\(path)", action: "cases.suspend") { request, context in
                let page = kit.scope(request, context)
                let form = try await page.form()
                let id = try context.parameters.id("id", as: CaseID.self)
                do {
                    if path == "suspension" {
                        try await page.registry.cases.suspend(id, reason: form.text("reason"), caller: page.caller, logger: context.logger)
                    } else {
                        try await page.registry.cases.liftSuspension(id, reason: form.text("reason"), caller: page.caller, logger: context.logger)
                    }
                } catch let error as RegistryError where error.kind != .notFound {
                    return try await casePage(page, id, failed: ("suspension", form, error))
                }
                return page.redirect("/cases/\(id.text)?notice=\(notice)")
            }
        }

        routes.get("/admin/cases", action: "cases.queue") { request, context in
            let page = kit.scope(request, context)
            let queue = try await page.registry.cases.queue(logger: context.logger)
            return page.render(
                "admin_cases",
                [
                    "cases": queue.map { item -> [String: Any] in
                        [
                            "id": item.id, "state": item.state, "state_label": page.label("case_state", item.state),
                            "grounds": Self.groundsLabel(item.grounds, page: page), "reinstatement": item.kind == "reinstatement",
                            "created_at": PageScope.dateTime(item.createdAt), "updated_at": PageScope.dateTime(item.updatedAt),
                            "age": page.t.text("cases.age_days", ["days": String(item.ageDays)]),
                        ]
                    }
                ]
            )
        }
    }

    // MARK: Evidence

    /// A page form carries several files: room for a few of the largest the policy allows.
    static func uploadLimit(_ page: PageScope) -> Int {
        page.registry.policies.revocation.evidenceMaxBytes * 3 + 256 * 1024
    }

    /// The policy's size and type limits, checked before anything is filed (the service checks again).
    static func check(_ uploads: [WebForm.Upload], page: PageScope, required: Bool) throws {
        let policy = page.registry.policies.revocation
        if required && uploads.isEmpty {
            throw RegistryError.invalid("evidence", "Choose at least one file.", code: "missing_field")
        }
        guard uploads.count <= policy.evidencePerCase else {
            throw RegistryError(.conflict, code: "evidence_limit", message: "A case holds at most \(policy.evidencePerCase) files.")
        }
        for upload in uploads {
            guard upload.bytes.count <= policy.evidenceMaxBytes else {
                throw RegistryError(
                    .tooLarge,
                    code: "evidence_too_large",
                    message: "Evidence files are at most \(policy.evidenceMaxBytes / 1_048_576) MB."
                )
            }
            let declared = declaredType(upload)
            guard policy.evidenceTypes.contains(declared), sniff(upload.bytes) == declared else {
                throw RegistryError(
                    .unsupportedMediaType,
                    code: "evidence_type",
                    message: "Evidence must be one of: \(policy.evidenceTypes.joined(separator: ", "))."
                )
            }
        }
    }

    static func declaredType(_ upload: WebForm.Upload) -> String {
        upload.contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// What the file's first bytes say it is (as the service checks).
    static func sniff(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: Array("%PDF-".utf8)) { return "application/pdf" }
        return nil
    }

    static func add(_ upload: WebForm.Upload, to caseID: CaseID, page: PageScope) async throws {
        _ = try await page.registry.cases.addEvidence(
            caseID,
            filename: upload.filename,
            contentType: declaredType(upload),
            bytes: upload.bytes,
            description: nil,
            caller: page.caller,
            logger: page.context.logger
        )
    }

    // MARK: Pages

    func fileForm(_ page: PageScope, workerID: WorkerID, form: WebForm, error: RegistryError?) async throws -> Response {
        let policy = page.registry.policies.revocation
        var values = page.formValues(form, fields: Self.fileFields, error: error)
        if let error, error.field == nil, error.code.hasPrefix("evidence_") || error.code == "body_too_large" {
            // About the files: shown next to the file field.
            values["e"] = ["evidence": page.message(for: error)]
            values["form_error"] = ["message": page.t.text("form.check_field"), "field": "evidence"]
        }
        let chosen = form.text("grounds")
        values["grounds_choices"] = policy.grounds.keys.sorted().map { key -> [String: Any] in
            ["value": key, "label": Self.groundsLabel(key, page: page), "selected": key == chosen]
        }
        values["worker_id"] = workerID.text
        if let engagements = try? await page.registry.engagements.list(caller: page.caller, logger: page.context.logger),
            let e = engagements.first(where: { $0.workerID == workerID.uuid })
        {
            values["worker_name"] = e.workerName
        }
        values["evidence_hint"] = Self.evidenceHint(page)
        values["statement_max"] = "10000"
        return page.render("case_new", values, status: error?.kind.status ?? .ok)
    }

    static func evidenceHint(_ page: PageScope) -> String {
        let policy = page.registry.policies.revocation
        return page.t.text("cases.evidence_hint", ["max": String(policy.evidenceMaxBytes / 1_048_576)])
    }

    static func groundsLabel(_ key: String, page: PageScope) -> String {
        guard let ground = page.registry.policies.revocation.grounds[key] else { return key }
        return page.language == .zh ? ground.zh : ground.en
    }

    /// The case as this caller may see it, with the forms for her steps. `failed` re-displays a
    /// refused step (its form, what was typed and why); `evidenceError` a refused upload.
    func casePage(
        _ page: PageScope,
        _ id: CaseID,
        failed: (command: String, form: WebForm, error: RegistryError)? = nil,
        evidenceError: RegistryError? = nil
    ) async throws -> Response {
        let view = try await page.registry.cases.get(id, caller: page.caller, logger: page.context.logger)
        let role = page.caller.principal.role
        let failedMessage = failed.map { page.message(for: $0.error) }
        var values: [String: Any] = ["case": Self.caseView(view, page: page)]
        let open = CaseState(rawValue: view.state)?.isOpen ?? false
        // Whose forms: the service decides again on every step.
        let actor: CaseCommand.Actor? =
            switch role {
            case .admin: .administrator
            case .worker: .worker
            case .employer, .agencyStaff: view.evidence != nil ? .requester : nil
            default: nil
            }
        if let actor {
            values["commands"] = view.allowed.compactMap(CaseCommand.init(rawValue:)).filter { $0.actors.contains(actor) }.map { c -> [String: Any] in
                var item: [String: Any] = [
                    "command": c.rawValue, "label": page.label("case_command", c.rawValue),
                    "hint": page.t.has("case_command_hint.\(c.rawValue)") ? page.t.text("case_command_hint.\(c.rawValue)") : "",
                    "is_propose": c == .proposeDecision, "danger": c == .confirmDecision || c == .rejectObjection,
                    "outcomes": page.choices("case_outcome", CaseOutcome.allCases.map(\.rawValue), selected: []),
                ]
                if let failed, failed.command == c.rawValue {
                    item["error"] = failedMessage
                    item["typed"] = failed.form.text("reason")
                    item["outcomes"] = page.choices("case_outcome", CaseOutcome.allCases.map(\.rawValue), selected: [failed.form.text("outcome")])
                }
                return item
            }
            values["is_objection"] = actor == .worker
            values["has_commands"] = !((values["commands"] as? [[String: Any]]) ?? []).isEmpty
        }
        if let failed, let failedMessage {
            values["form_error"] = ["message": failedMessage, "field": "form-\(failed.command)"]
        }
        if open && view.evidence != nil {
            var evidence: [String: Any] = ["hint": Self.evidenceHint(page)]
            if let evidenceError {
                let message = page.message(for: evidenceError)
                evidence["error"] = message
                values["form_error"] = ["message": message, "field": "evidence"]
            }
            values["add_evidence"] = evidence
        }
        if role == .admin && open {
            var suspension: [String: Any] = [:]
            if let failed, failed.command == "suspension" {
                suspension["error"] = failedMessage
                suspension["typed"] = failed.form.text("reason")
            }
            values["suspension"] = suspension
        }
        let status = failed?.error.kind.status ?? evidenceError?.kind.status ?? .ok
        return page.render("case", values, status: status)
    }

    static func caseView(_ v: CaseService.View, page: PageScope) -> [String: Any] {
        var item: [String: Any] = [
            "id": v.id, "state": v.state, "state_label": page.label("case_state", v.state), "grounds": groundsLabel(v.grounds, page: page),
            "reinstatement": v.kind == "reinstatement", "created_at": PageScope.dateTime(v.createdAt), "worker_id": v.workerId,
            "in_notice": v.state == CaseState.noticePeriod.rawValue,
        ]
        if let o = v.outcome { item["outcome"] = page.label("case_outcome", o) }
        if let o = v.proposedOutcome { item["proposed"] = page.label("case_outcome", o) }
        if let s = v.statement { item["statement"] = s }
        if let n = v.noticeEndsAt { item["notice_ends"] = PageScope.dateTime(n) }
        if let o = v.objection { item["objection"] = o }
        if let evidence = v.evidence {
            item["show_evidence"] = true
            item["evidence"] = evidence.map { e -> [String: Any] in
                var row: [String: Any] = [
                    "id": e.id, "filename": e.filename, "type": e.contentType,
                    "size": page.t.text("cases.size_kb", ["kb": String(max(1, (e.sizeBytes + 1023) / 1024))]),
                    "sha": String(e.sha256.prefix(12)), "uploaded_at": PageScope.dateTime(e.uploadedAt),
                ]
                if let d = e.description { row["description"] = d }
                return row
            }
        }
        if let timeline = v.timeline {
            item["show_timeline"] = true
            item["timeline"] = timeline.map { e -> [String: Any] in
                [
                    "at": PageScope.dateTime(e.occurredAt), "command": page.label("case_command", e.command),
                    "from": page.label("case_state", e.fromState), "to": page.label("case_state", e.toState),
                    "actor": page.label("case_actor", e.actorKind), "reason": e.reason,
                ]
            }
        }
        return item
    }

    /// Cases for a list on a home page (the worker's, the employer's): ids from one query, each
    /// shown as the service lets this caller see it.
    static func list(_ ids: [CaseID], page: PageScope) async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        for id in ids {
            guard let v = try? await page.registry.cases.get(id, caller: page.caller, logger: page.context.logger) else { continue }
            items.append(caseView(v, page: page))
        }
        return items
    }

    /// The latest cases about a worker (ids only).
    static func about(_ workerID: WorkerID, page: PageScope) async throws -> [CaseID] {
        try await page.registry.cases.recent(aboutWorker: workerID, logger: page.context.logger)
    }

    /// The latest cases a user filed (ids only).
    static func filed(by user: UserID, page: PageScope) async throws -> [CaseID] {
        try await page.registry.cases.recent(filedBy: user, logger: page.context.logger)
    }
}
