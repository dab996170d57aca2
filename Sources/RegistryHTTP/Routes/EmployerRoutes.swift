import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Employers, worker accounts, consent, the report, engagements, reviews and the public lookup.
struct EmployerRoutes {
    let registry: Registry

    struct Created: Encodable, Sendable { var id: String }
    struct Sent: Encodable, Sendable { var codeSentTo: String }
    struct ActivateBody: Decodable {
        var phone: String
        var code: String
        var password: String
    }
    struct CodeBody: Decodable { var code: String }
    struct AvailabilityBody: Decodable { var available: Bool }
    struct Availability: Encodable, Sendable { var available: Bool }
    struct ReplyBody: Decodable { var body: String }
    struct ReasonBody: Decodable { var reason: String }
    struct NoteBody: Decodable { var note: String }
    struct IDBody: Decodable {
        var idNumber: String
        enum CodingKeys: String, CodingKey { case idNumber = "id_number" }
    }
    struct BanStatus: Encodable, Sendable { var revoked: Bool }
    struct PublicKey: Encodable, Sendable {
        var algorithm: String
        var publicKey: String
    }
    struct Consents: Encodable, Sendable { var consents: [ConsentService.Consent] }
    struct Engagements: Encodable, Sendable { var engagements: [EngagementService.Engagement] }
    struct Reviews: Encodable, Sendable { var reviews: [EngagementService.Review] }
    /// The administrators' one dispute queue: reviews, and tenure assessments (`TenureDisputeService`).
    struct Disputes: Encodable, Sendable {
        var disputes: [EngagementService.Dispute]
        var tenureDisputes: [TenureDisputeService.Dispute]
    }
    struct Inquiries: Encodable, Sendable { var inquiries: [ReportService.Inquiry] }
    struct Listings: Encodable, Sendable {
        var workers: [ReportService.Listing]
        var limit: Int
        var offset: Int
    }

    func register(on routes: ProtectedRouter) {
        // Accounts
        routes.post("/api/v1/employers", action: "employers.register") { request, context in
            let body = try await request.decodeJSON(AccountService.EmployerRegistration.self, context: context)
            let answer = try await registry.accounts.register(
                body,
                caller: context.caller,
                clientAddress: context.clientAddress,
                logger: context.logger
            )
            return JSONResponse(answer, status: .accepted)
        }
        routes.post("/api/v1/workers/{id}/account", action: "workers.account") { _, context in
            let sent = try await registry.accounts.startWorkerAccount(
                try context.parameters.id("id"),
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Sent(codeSentTo: sent), status: .created)
        }
        routes.post("/api/v1/auth/activate", action: "auth.activate") { request, context in
            let body = try await request.decodeJSON(ActivateBody.self, context: context)
            try await registry.accounts.activateWorker(
                phone: body.phone,
                code: body.code,
                password: body.password,
                throttle: registry.policies.authentication,
                clientAddress: context.clientAddress,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
        routes.put("/api/v1/me/availability", action: "availability.set") { request, context in
            let body = try await request.decodeJSON(AvailabilityBody.self, context: context)
            try await registry.accounts.setAvailable(body.available, caller: context.caller, logger: context.logger)
            return JSONResponse(Availability(available: body.available))
        }

        // Consent
        routes.post("/api/v1/me/consents", action: "consents.issue") { _, context in
            JSONResponse(try await registry.consents.issue(caller: context.caller, logger: context.logger), status: .created)
        }
        routes.get("/api/v1/me/consents", action: "consents.read") { _, context in
            JSONResponse(Consents(consents: try await registry.consents.list(caller: context.caller, logger: context.logger)))
        }
        routes.delete("/api/v1/me/consents/{id}", action: "consents.revoke") { _, context in
            try await registry.consents.revoke(try context.parameters.uuid("id"), caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
        routes.post("/api/v1/workers/{id}/consents", action: "consents.issue_for_worker") { _, context in
            JSONResponse(
                try await registry.consents.issueByAgency(
                    try context.parameters.id("id"),
                    caller: context.caller,
                    logger: context.logger
                ),
                status: .created
            )
        }
        routes.post("/api/v1/consents/redeem", action: "consents.redeem") { request, context in
            let body = try await request.decodeJSON(CodeBody.self, context: context)
            return JSONResponse(
                try await registry.consents.redeem(
                    code: body.code,
                    caller: context.caller,
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
            )
        }

        // The report
        routes.get("/api/v1/workers/{id}/report", action: "reports.read") { request, context in
            let report = try await registry.reports.report(
                try context.parameters.id("id"),
                purpose: request.uri.queryParameters["purpose"].map(String.init),
                caller: context.caller,
                logger: context.logger
            )
            if try request.flag("signed", default: false) {
                return try JSONResponse(try registry.reports.sign(report)).response(from: request, context: context)
            }
            return try JSONResponse(report).response(from: request, context: context)
        }
        routes.post("/api/v1/reports/verify", action: "reports.verify") { request, context in
            let document = try await request.decodeJSON(ReportService.SignedReport.self, context: context)
            guard document.algorithm == "Ed25519" else {
                throw RegistryError.invalid("algorithm", "Reports are signed with Ed25519.", code: "unsupported_algorithm")
            }
            return JSONResponse(registry.reports.verify(document))
        }
        routes.get("/api/v1/reports/public-key", action: "reports.verify") { _, _ in
            JSONResponse(PublicKey(algorithm: "Ed25519", publicKey: registry.reports.publicKey))
        }
        routes.get("/api/v1/me/inquiries", action: "inquiries.read") { _, context in
            JSONResponse(Inquiries(inquiries: try await registry.reports.inquiries(caller: context.caller, logger: context.logger)))
        }
        routes.get("/api/v1/listings", action: "workers.search") { request, context in
            let q = request.uri.queryParameters
            let limit = try WorkerRoutes.int(q["limit"].map(String.init), "limit", default: 20, range: 1...registry.policies.reports.searchPageMax)
            let offset = try WorkerRoutes.int(
                q["offset"].map(String.init),
                "offset",
                default: 0,
                range: 0...registry.policies.reports.searchOffsetMax
            )
            let minLevel = try q["min_level"].map { try WorkerRoutes.int(String($0), "min_level", default: 1, range: 1...5) }
            let redList = try q["red_list"].map { value -> Bool in
                guard let b = Bool(String(value)) else { throw RegistryError.invalid("red_list", "red_list is true or false.") }
                return b
            }
            let found = try await registry.reports.searchAvailable(
                .init(
                    region: q["region"].map(String.init),
                    category: q["category"].map(String.init),
                    minLevel: minLevel,
                    minGrade: q["min_grade"].map(String.init),
                    limit: limit,
                    offset: offset,
                    sector: q["sector"].map(String.init),
                    redListOnly: redList ?? false
                ),
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Listings(workers: found, limit: limit, offset: offset))
        }
        routes.post("/api/v1/public/ban-status", action: "public.ban_status") { request, context in
            let body = try await request.decodeJSON(IDBody.self, context: context)
            let revoked = try await registry.reports.banStatus(idNumber: body.idNumber, clientAddress: context.clientAddress, logger: context.logger)
            return JSONResponse(BanStatus(revoked: revoked))
        }

        // Engagements and reviews
        routes.post("/api/v1/engagements", action: "engagements.place") { request, context in
            let body = try await request.decodeJSON(EngagementService.Placement.self, context: context)
            let id = try await registry.engagements.place(body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/engagements", action: "engagements.read") { _, context in
            JSONResponse(Engagements(engagements: try await registry.engagements.list(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/engagements/{id}/{event}", action: "engagements.update") { _, context in
            guard let event = context.parameters.get("event"), ["confirm", "cancel", "end"].contains(event) else {
                throw RegistryError.notFound("Resource")
            }
            return JSONResponse(
                try await registry.engagements.transition(
                    try context.parameters.uuid("id"),
                    event,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/engagements/{id}/review", action: "reviews.write") { request, context in
            let body = try await request.decodeJSON(EngagementService.ReviewInput.self, context: context)
            let id = try await registry.engagements.review(
                engagement: try context.parameters.uuid("id"),
                body,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.put("/api/v1/reviews/{id}", action: "reviews.write") { request, context in
            let body = try await request.decodeJSON(EngagementService.ReviewInput.self, context: context)
            try await registry.engagements.editReview(try context.parameters.uuid("id"), body, caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
        routes.get("/api/v1/me/reviews", action: "reviews.read_own") { _, context in
            guard let worker = context.caller.principal.workerID else { throw RegistryError.forbidden }
            let reviews = try await registry.engagements.reviews(about: worker, caller: context.caller, logger: context.logger)
            return JSONResponse(Reviews(reviews: reviews))
        }
        routes.post("/api/v1/reviews/{id}/reply", action: "reviews.reply") { request, context in
            let body = try await request.decodeJSON(ReplyBody.self, context: context)
            try await registry.engagements.reply(try context.parameters.uuid("id"), body: body.body, caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
        routes.post("/api/v1/reviews/{id}/dispute", action: "reviews.dispute") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            let id = try await registry.engagements.dispute(
                try context.parameters.uuid("id"),
                reason: body.reason,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/disputes", action: "disputes.decide") { _, context in
            JSONResponse(
                Disputes(
                    disputes: try await registry.engagements.openDisputes(logger: context.logger),
                    tenureDisputes: try await registry.tenureDisputes.open(logger: context.logger)
                )
            )
        }
        routes.post("/api/v1/disputes/{id}/{decision}", action: "disputes.decide") { request, context in
            guard let decision = context.parameters.get("decision"), ["uphold", "reject"].contains(decision) else {
                throw RegistryError.notFound("Resource")
            }
            let body = try await request.decodeJSON(NoteBody.self, context: context)
            let id = try context.parameters.uuid("id")
            // One queue: the id names a review dispute or a tenure dispute.
            if try await registry.tenureDisputes.isTenureDispute(id, logger: context.logger) {
                try await registry.tenureDisputes.decide(
                    id,
                    uphold: decision == "uphold",
                    note: body.note,
                    caller: context.caller,
                    logger: context.logger
                )
            } else {
                try await registry.engagements.decideDispute(
                    id,
                    uphold: decision == "uphold",
                    note: body.note,
                    caller: context.caller,
                    logger: context.logger
                )
            }
            return Response(status: .noContent)
        }
    }
}
