import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Reading and verifying the audit log (administrators).
struct AuditRoutes {
    let registry: Registry

    struct Page: Codable, Sendable {
        var entries: [AuditService.Entry]
        var nextBefore: Int64?

        enum CodingKeys: String, CodingKey {
            case entries
            case nextBefore = "next_before"
        }
    }

    struct Verification: Codable, Sendable {
        var intact: Bool
        var count: Int?
        var head: String?
        var brokenSeq: Int64?
        var brokenEventId: Int64?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case intact, count, head, reason
            case brokenSeq = "broken_seq"
            case brokenEventId = "broken_event_id"
        }
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/audit", action: "audit.read") { request, context in
            let query = request.uri.queryParameters
            var before: Int64?
            if let text = query["before"] {
                guard let value = Int64(String(text)), value > 0 else { throw RegistryError.invalid("before", "Must be a positive event id.") }
                before = value
            }
            var limit = 50
            if let text = query["limit"] {
                guard let value = Int(String(text)), (1...500).contains(value) else { throw RegistryError.invalid("limit", "Must be 1 to 500.") }
                limit = value
            }
            let subjectType = query["subject_type"].map(String.init)
            let subjectID = query["subject_id"].map(String.init)
            let entries = try await registry.audit.list(
                before: before,
                subjectType: subjectType,
                subjectID: subjectID,
                limit: limit,
                logger: context.logger
            )
            return JSONResponse(Page(entries: entries, nextBefore: entries.count == limit ? entries.last?.id : nil))
        }

        routes.post("/api/v1/audit/verify", action: "audit.verify") { _, context in
            let result = try await registry.audit.verify(logger: context.logger)
            switch result {
            case .intact(let count, let head):
                return JSONResponse(Verification(intact: true, count: count, head: head))
            case .broken(let seq, let event, let reason):
                return JSONResponse(Verification(intact: false, brokenSeq: seq, brokenEventId: event, reason: reason))
            }
        }
    }
}
