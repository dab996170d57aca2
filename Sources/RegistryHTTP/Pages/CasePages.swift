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
        // A household that engaged her, or the agency that holds her (from her file), files a case.
        for side in ["employer", "agency"] {
            routes.get("/\(side)/workers/{id}/case/new", action: "cases.file") { request, context in
                let page = kit.scope(request, context)
                return try await fileForm(page, workerID: try context.parameters.id("id"), form: WebForm(), error: nil)
            }

            routes.post("/\(side)/workers/{id}/case", action: "cases.file") { request, context in
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
                    for upload in uploads { _ = try await Self.add(upload, to: caseID, page: page) }
                } catch let error as RegistryError where error.kind != .notFound {
                    // The case is filed; what failed is shown next to the evidence form on its page.
                    return try await casePage(page, caseID, evidenceError: error)
                }
                return page.redirect("/cases/\(caseID.text)?notice=case_filed")
            }
        }

        routes.get("/cases/{id}", action: "cases.read") { request, context in
            let page = kit.scope(request, context)
            return try await casePage(page, try context.parameters.id("id"))
        }

        routes.post("/cases/{id}/commands", action: "cases.act") { request, context in
            let page = kit.scope(request, context)
            let id = try context.parameters.id("id", as: CaseID.self)
            // An objection or appeal entered for her may carry her letter or signed consent.
            let form = try await WebForm.read(request, context: context, limit: Self.uploadLimit(page))
            try page.verifyCSRF(form)
            let command = form.text("command")
            do {
                var evidenceID: String?
                if let file = (form.files["letter"] ?? []).first {
                    try Self.check([file], page: page, required: true)
                    evidenceID = try await Self.add(file, to: id, party: "worker", page: page).id
                }
                _ = try await page.registry.cases.act(
                    id,
                    .init(
                        command: command,
                        reason: form.text("reason"),
                        outcome: form.optional("outcome"),
                        channel: form.optional("channel"),
                        evidenceId: evidenceID
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound {
                return try await casePage(page, id, failed: (command, form, error))
            }
            return page.redirect("/cases/\(id.text)?notice=case_acted")
        }

        routes.post("/cases/{id}/evidence/{evidence}/answer", action: "cases.evidence") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: CaseID.self)
            let evidence = try context.parameters.uuid("evidence")
            do {
                try await page.registry.cases.answerEvidence(evidence, body: form.text("body"), caller: page.caller, logger: context.logger)
            } catch let error as RegistryError where error.kind != .notFound {
                return try await casePage(page, id, failed: ("answer-\(evidence.text)", form, error))
            }
            return page.redirect("/cases/\(id.text)?notice=case_answered#evidence")
        }

        routes.post("/cases/{id}/reinstatement", action: "cases.reinstate") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: CaseID.self)
            let created: CaseID
            do {
                created = try await page.registry.cases.fileReinstatement(
                    bannedCase: id,
                    statement: form.text("statement"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound {
                return try await casePage(page, id, failed: ("reinstatement", form, error))
            }
            return page.redirect("/cases/\(created.text)?notice=case_filed")
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
                let party = form.optional("party")
                for upload in uploads { _ = try await Self.add(upload, to: id, party: party, page: page) }
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
        guard uploads.count <= policy.evidencePerParty else {
            throw RegistryError(
                .conflict,
                code: "evidence_limit",
                message: "Each side of a case files at most \(policy.evidencePerParty) files, and yours has."
            )
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

    @discardableResult
    static func add(_ upload: WebForm.Upload, to caseID: CaseID, party: String? = nil, page: PageScope) async throws -> CaseService.EvidenceItem {
        try await page.registry.cases.addEvidence(
            caseID,
            filename: upload.filename,
            contentType: declaredType(upload),
            bytes: upload.bytes,
            description: nil,
            party: page.caller.principal.role == .admin ? party : nil,
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
        let agency = page.caller.principal.role == .agencyStaff
        values["side"] = agency ? "agency" : "employer"
        values["from_agency"] = agency
        if agency {
            // Her file, as the agency in custody reads it (404 for any other agency).
            values["worker_name"] = try await page.registry.workers.file(workerID, caller: page.caller, logger: page.context.logger).fullName
        } else if let engagements = try? await page.registry.engagements.list(caller: page.caller, logger: page.context.logger),
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

    /// The case as this caller may see it, with the forms for the steps the service lets her take
    /// now. `failed` re-displays a refused step (its form, what was typed and why); a refused step
    /// whose form is not offered is shown as an alert; `evidenceError` a refused upload.
    func casePage(
        _ page: PageScope,
        _ id: CaseID,
        failed: (command: String, form: WebForm, error: RegistryError)? = nil,
        evidenceError: RegistryError? = nil
    ) async throws -> Response {
        let view = try await page.registry.cases.get(id, caller: page.caller, logger: page.context.logger)
        let failedMessage = failed.map { page.message(for: $0.error) }
        var values: [String: Any] = ["case": Self.caseView(view, page: page)]
        let viewer = CaseCommand.Actor(rawValue: view.viewer)
        let offered = view.allowed.compactMap(CaseCommand.init(rawValue:))
        values["commands"] = offered.map { c -> [String: Any] in
            let submission = c == .object || c == .appeal
            var item: [String: Any] = [
                "command": c.rawValue, "label": page.label("case_command", c.rawValue),
                "hint": page.t.has("case_command_hint.\(c.rawValue)") ? page.t.text("case_command_hint.\(c.rawValue)") : "",
                "is_propose": c == .proposeDecision,
                "danger": [.confirmDecision, .rejectObjection, .rejectAppeal].contains(c),
                "outcomes": page.choices("case_outcome", CaseOutcome.allCases.map(\.rawValue), selected: []),
                "is_submission": submission, "by_her": submission && viewer == .worker,
                "by_admin": submission && viewer == .administrator, "by_agency": submission && viewer == .custodian,
                "channels": page.choices("submission_channel", ["in_person", "letter"], selected: []),
                "multipart": submission && viewer != .worker,
                "reason_label": submission ? page.t.text(c == .object ? "cases.object_reason" : "cases.appeal_reason") : page.t.text("cases.reason"),
            ]
            if let failed, failed.command == c.rawValue {
                item["error"] = failedMessage
                item["typed"] = failed.form.text("reason")
                item["outcomes"] = page.choices("case_outcome", CaseOutcome.allCases.map(\.rawValue), selected: [failed.form.text("outcome")])
                item["channels"] = page.choices("submission_channel", ["in_person", "letter"], selected: [failed.form.text("channel")])
            }
            return item
        }
        values["is_objection"] = viewer == .worker && offered.contains(.object)
        values["is_appeal"] = viewer == .worker && offered.contains(.appeal)
        values["has_commands"] = !offered.isEmpty
        if let failed, let failedMessage {
            let shown =
                offered.map(\.rawValue).contains(failed.command) || failed.command == "suspension" || failed.command.hasPrefix("answer-")
                || failed.command == "reinstatement"
            values["form_error"] = ["message": failedMessage, "field": shown ? "form-\(failed.command)" : "step-refused"]
            if !shown { values["step_refused"] = ["id": "step-refused", "message": failedMessage] }
        }
        let party = [.administrator, .requester, .worker].contains(viewer)
        if party && (CaseState(rawValue: view.state)?.isOpen == true || view.appealUntil != nil) && viewer != nil {
            var evidence: [String: Any] = ["hint": Self.evidenceHint(page), "for_admin": viewer == .administrator]
            if viewer == .administrator { evidence["parties"] = page.choices("evidence_party", ["registry", "worker"], selected: ["registry"]) }
            if let evidenceError {
                let message = page.message(for: evidenceError)
                evidence["error"] = message
                values["form_error"] = ["message": message, "field": "evidence"]
            }
            values["add_evidence"] = evidence
        }
        if viewer == .administrator && CaseState(rawValue: view.state)?.isBeforeExecution == true {
            var suspension: [String: Any] = ["in_force": view.suspended]
            if let failed, failed.command == "suspension" {
                suspension["error"] = failedMessage
                suspension["typed"] = failed.form.text("reason")
            }
            values["suspension"] = suspension
        }
        // Her own application to be reinstated, once the policy's years have passed; an
        // administrator may record one at any time.
        if let from = view.reinstatementFrom, view.kind == CaseKind.revocation.rawValue {
            let today = CivilDate.today(page.registry.clock.now)
            let open = viewer == .administrator || (viewer == .worker && (CivilDate(iso: from).map { today >= $0 } ?? false))
            if viewer == .worker || viewer == .administrator {
                var form: [String: Any] = [
                    "open": open, "admin": viewer == .administrator,
                    "intro": page.t.text("cases.reinstatement_intro", ["from": from]),
                ]
                if let failed, failed.command == "reinstatement" {
                    form["error"] = failedMessage
                    form["typed"] = failed.form.text("statement")
                }
                values["reinstatement"] = form
            }
        }
        if var item = values["case"] as? [String: Any], let evidence = item["evidence"] as? [[String: Any]] {
            // Each side answers the other side's files while the case takes them.
            let mine: String? =
                switch viewer {
                case .requester: "requester"
                case .worker: "worker"
                case .administrator: "registry"
                default: nil
                }
            item["evidence"] = evidence.map { e -> [String: Any] in
                var e = e
                if let mine, values["add_evidence"] != nil, (e["party"] as? String) != mine {
                    var answer: [String: Any] = ["id": e["id"] ?? ""]
                    if let failed, failed.command == "answer-\(e["id"] as? String ?? "")" {
                        answer["error"] = failedMessage
                        answer["typed"] = failed.form.text("body")
                    }
                    e["answer_form"] = answer
                }
                return e
            }
            values["case"] = item
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
        if let o = v.objection { item["objection"] = submissionView(o, page: page) }
        if let a = v.appeal { item["appeal"] = submissionView(a, page: page) }
        if let d = v.noticeLastDay { item["notice_last_day"] = d }
        if let e = v.executedAt { item["executed_at"] = PageScope.dateTime(e) }
        if let u = v.appealUntil { item["appeal_until"] = u }
        item["suspended"] = v.suspended
        if let r = v.suspensionReason { item["suspension_reason"] = r }
        item["awaits_window"] =
            v.state == CaseState.final.rawValue || v.state == CaseState.objectionReview.rawValue
            || v.state == CaseState.noticePeriod.rawValue
        if let excluded = v.excluded, !excluded.isEmpty {
            item["has_excluded"] = true
            item["excluded"] = excluded.map { x -> [String: Any] in
                [
                    "name": x.name, "reasons": x.reasons.joined(separator: "; "),
                    "scope": page.t.text(x.fromEveryStep ? "cases.excluded_every" : "cases.excluded_some"),
                ]
            }
        }
        if let evidence = v.evidence {
            item["show_evidence"] = true
            item["evidence"] = evidence.map { e -> [String: Any] in
                var row: [String: Any] = [
                    "id": e.id, "filename": e.filename, "type": e.contentType,
                    "size": page.t.text("cases.size_kb", ["kb": String(max(1, (e.sizeBytes + 1023) / 1024))]),
                    "sha": String(e.sha256.prefix(12)), "uploaded_at": PageScope.dateTime(e.uploadedAt),
                ]
                if let d = e.description { row["description"] = d }
                row["party"] = e.party
                row["party_label"] = page.label("evidence_party", e.party)
                row["has_answers"] = !(v.answers?[e.id] ?? []).isEmpty
                row["answers"] = (v.answers?[e.id] ?? []).map { a -> [String: Any] in
                    ["party": page.label("evidence_party", a.party), "body": a.body, "at": PageScope.dateTime(a.answeredAt)]
                }
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

    static func submissionView(_ s: CaseService.SubmissionView, page: PageScope) -> [String: Any] {
        var out: [String: Any] = ["text": s.text, "channel": page.label("submission_channel", s.channel)]
        if let o = s.outcome { out["outcome"] = page.label("submission_outcome", o) }
        if let at = s.at { out["at"] = PageScope.dateTime(at) }
        if let by = s.enteredByName ?? s.enteredBy { out["entered_by"] = by }
        return out
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
