import Foundation
import HTTPTypes
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Administrators: the audit log, newest first, a page at a time (keyset paging on the event id,
/// as `GET /api/v1/audit`), filtered by action, actor and subject; and verifying the hash chain
/// as `POST /api/v1/audit/verify` does. Each event shows its time, actor, action, subject and
/// shortened hash; its details are never shown (free text that could hold anything).
struct AuditPages {
    let kit: PageKit

    static let pageSize = 50
    /// The subject types the services write (offered in the filter; others still filter by link).
    static let subjectTypes = ["agency", "case", "engagement", "flag", "integration_source", "review", "session", "transfer", "user", "worker"]
    static let filterFields = ["action", "actor", "subject_type", "subject_id"]
    /// `AuditService.verify`'s reasons, by a fragment of their text, as translation keys.
    static let reasons: [(fragment: String, key: String)] = [
        ("is missing", "missing"), ("previous hash", "previous"), ("content was changed", "content"), ("link hash", "link"),
        ("differs from the checkpoint", "checkpoint"), ("chain ends at", "beyond"), ("neither chained nor queued", "orphan"),
    ]

    struct Filter: Equatable {
        var action: String?
        var actor: UUID?
        var subjectType: String?
        var subjectID: String?
        var before: Int64?

        var isEmpty: Bool { action == nil && actor == nil && subjectType == nil && subjectID == nil }

        /// The filter as a query string for links (without `before`), ending in `&` when not empty.
        var query: String {
            var parts: [String] = []
            if let action { parts.append("action=" + PageScope.queryEncode(action)) }
            if let actor { parts.append("actor=" + actor.text) }
            if let subjectType { parts.append("subject_type=" + PageScope.queryEncode(subjectType)) }
            if let subjectID { parts.append("subject_id=" + PageScope.queryEncode(subjectID)) }
            return parts.map { $0 + "&" }.joined()
        }
    }

    /// The filter typed in the form (a GET query); a malformed value is an error on its field.
    static func filter(_ form: WebForm, before: String?) throws -> Filter {
        var filter = Filter()
        if let action = form.optional("action")?.lowercased() {
            guard action.count <= 80, action.first?.isLetter == true,
                action.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_" || $0 == ".") })
            else { throw RegistryError.invalid("action", "An action is lower-case letters, _ and dots.") }
            filter.action = action
        }
        if let actor = form.optional("actor") {
            guard let id = UUID(uuidString: actor) else { throw RegistryError.invalid("actor", "The actor is an account id.") }
            filter.actor = id
        }
        if let type = form.optional("subject_type") {
            guard PageScope.isKeyName(type) else { throw RegistryError.invalid("subject_type", "Unknown subject type.") }
            filter.subjectType = type
        }
        if let subject = form.optional("subject_id") {
            guard let id = UUID(uuidString: subject) else { throw RegistryError.invalid("subject_id", "The subject is an id.") }
            filter.subjectID = id.text
        }
        if let before, !before.isEmpty {
            guard let value = Int64(before), value > 0 else { throw RegistryError.invalid("before", "Must be a positive event id.") }
            filter.before = value
        }
        return filter
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/audit", action: "audit.read") { request, context in
            try await log(kit.scope(request, context), verification: nil)
        }

        // The same two steps as POST /api/v1/audit/verify: chain what is queued, then recompute
        // every link and check the saved checkpoints.
        routes.post("/admin/audit/verify", action: "audit.verify") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            let result = try await page.registry.audit.verify(logger: context.logger)
            return try await log(page, verification: result)
        }
    }

    /// One page of the log under the query's filter, with the verification result when there is one.
    func log(_ page: PageScope, verification: ChainVerification?) async throws -> Response {
        var typed = WebForm()
        for field in Self.filterFields {
            if let value = page.query(field) { typed.append(field, value) }
        }
        var values: [String: Any]
        var entries: [AuditService.Entry] = []
        var status = HTTPResponse.Status.ok
        do {
            let filter = try Self.filter(typed, before: page.query("before"))
            entries = try await page.registry.audit.list(
                before: filter.before,
                subjectType: filter.subjectType,
                subjectID: filter.subjectID,
                actionPrefix: filter.action,
                actorID: filter.actor,
                limit: Self.pageSize,
                logger: page.context.logger
            )
            values = page.formValues(typed, fields: Self.filterFields)
            values["filtered"] = !filter.isEmpty
            if entries.count == Self.pageSize, let last = entries.last {
                values["older"] = "/admin/audit?\(filter.query)before=\(last.id)"
            }
            if filter.before != nil {
                values["newest"] = "/admin/audit" + (filter.query.isEmpty ? "" : "?" + String(filter.query.dropLast()))
            }
        } catch let error as RegistryError where error.kind == .badRequest {
            values = page.formValues(typed, fields: Self.filterFields, error: error)
            values["filtered"] = true
            status = error.kind.status
        }
        let chosen = typed.text("subject_type")
        var types = Self.subjectTypes
        if PageScope.isKeyName(chosen), !types.contains(chosen) { types.append(chosen) }
        values["subject_types"] = page.choices("audit_subject", types, selected: [chosen])
        values["entries"] = try await Self.entryViews(entries, page: page)
        if let verification { values["verification"] = Self.verificationView(verification, page: page) }
        return page.render("admin_audit", values, status: status)
    }

    // MARK: Views

    /// The events as the page shows them, with the actors' names (one query per kind of actor).
    static func entryViews(_ entries: [AuditService.Entry], page: PageScope) async throws -> [[String: Any]] {
        let names = try await actorNames(entries, page: page)
        let iso = ISO8601DateFormatter()
        return entries.map { e -> [String: Any] in
            var view: [String: Any] = [
                "id": String(e.id), "at": dateTime(e.occurredAt), "iso": iso.string(from: e.occurredAt),
                "actor": actorText(e, names: names, page: page), "action": e.action,
                "action_href": "/admin/audit?action=" + PageScope.queryEncode(e.action),
                "subject_type": page.label("audit_subject", e.subjectType),
                "chained": e.hash != nil, "seq": e.seq.map { String($0) } ?? "", "hash": e.hash ?? "",
                "hash_short": e.hash.map { String($0.prefix(12)) } ?? "",
            ]
            // Links only where there is something to link to (an absent key renders nothing).
            if e.actorKind != "system", let actor = e.actorID {
                view["actor_href"] = "/admin/audit?actor=" + PageScope.queryEncode(actor)
            }
            if let subject = e.subjectID {
                if UUID(uuidString: subject) != nil {
                    view["subject_short"] = String(subject.prefix(8))
                    view["subject_href"] =
                        "/admin/audit?subject_type=\(PageScope.queryEncode(e.subjectType))&subject_id=\(PageScope.queryEncode(subject))"
                    switch e.subjectType {
                    case "case": view["object_href"] = "/cases/\(subject)"
                    case "agency": view["object_href"] = "/admin/agencies/\(subject)"
                    case "worker": view["object_href"] = "/agency/workers/\(subject)"
                    default: break
                    }
                }
            }
            return view
        }
    }

    /// Who acted: the account's display name and role, the source's name, or the registry itself.
    static func actorText(_ e: AuditService.Entry, names: [String: String], page: PageScope) -> String {
        switch e.actorKind {
        case "user":
            let name = e.actorID.flatMap { names[$0] } ?? page.t.text("audit.unknown_actor")
            return e.actorRole.map { "\(name) · \(page.label("roles", $0))" } ?? name
        case "integration":
            let name = e.actorID.flatMap { names[$0] } ?? page.t.text("audit.unknown_actor")
            return "\(name) · \(page.label("roles", "integration"))"
        default:
            return e.actorRole == "anonymous" ? page.t.text("audit.actor_anonymous") : page.t.text("audit.actor_system")
        }
    }

    static func actorNames(_ entries: [AuditService.Entry], page: PageScope) async throws -> [String: String] {
        try await page.registry.audit.actorNames(entries, logger: page.context.logger)
    }

    static func verificationView(_ v: ChainVerification, page: PageScope) -> [String: Any] {
        switch v {
        case .intact(let count, let head):
            return [
                "intact": true, "message": page.t.text("audit.intact", ["count": String(count)]),
                "head": head, "head_short": String(head.prefix(16)),
            ]
        case .broken(let seq, let event, let reason):
            let message: String
            if seq > 0 && event > 0 {
                message = page.t.text("audit.broken", ["seq": String(seq), "event": String(event)])
            } else if seq > 0 {
                message = page.t.text("audit.broken_link", ["seq": String(seq)])
            } else {
                message = page.t.text("audit.broken_event", ["event": String(event)])
            }
            return ["intact": false, "message": message, "reason": reasonText(reason, page: page)]
        }
    }

    static func reasonText(_ reason: String, page: PageScope) -> String {
        for (fragment, key) in reasons where reason.contains(fragment) { return page.t.text("audit_reason.\(key)") }
        return reason
    }

    /// A time in China Standard Time, to the second (the audit trail's resolution).
    static func dateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }
}
