import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Revocation cases.
struct CaseRoutes {
    let registry: Registry

    struct Created: Encodable, Sendable { var id: String }
    struct Queue: Encodable, Sendable { var cases: [CaseService.QueueItem] }
    struct ReasonBody: Decodable { var reason: String }
    struct StatementBody: Decodable { var statement: String }
    struct AnswerBody: Decodable { var body: String }
    struct Ties: Encodable, Sendable { var ties: [CaseService.TieView] }
    struct Mine: Encodable, Sendable { var cases: [CaseService.View] }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/cases", action: "cases.file") { request, context in
            let body = try await request.decodeJSON(CaseService.Filing.self, context: context)
            let id = try await registry.cases.file(body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/cases", action: "cases.queue") { _, context in
            JSONResponse(Queue(cases: try await registry.cases.queue(logger: context.logger)))
        }
        routes.get("/api/v1/me/cases", action: "cases.read_own") { _, context in
            guard let worker = context.caller.principal.workerID else { throw RegistryError.forbidden }
            var cases: [CaseService.View] = []
            for id in try await registry.cases.recent(aboutWorker: worker, logger: context.logger) {
                cases.append(try await registry.cases.get(id, caller: context.caller, logger: context.logger))
            }
            return JSONResponse(Mine(cases: cases))
        }
        routes.get("/api/v1/cases/{id}", action: "cases.read") { _, context in
            JSONResponse(try await registry.cases.get(try context.parameters.id("id"), caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/cases/{id}/commands", action: "cases.act") { request, context in
            let body = try await request.decodeJSON(CaseService.Command.self, context: context)
            return JSONResponse(try await registry.cases.act(try context.parameters.id("id"), body, caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/cases/{id}/evidence", action: "cases.evidence") { request, context in
            let caseID = try context.parameters.id("id", as: CaseID.self)
            let contentType = request.headers[.contentType] ?? ""
            // The case, the caller, the room left and the declared type and length are checked
            // before the body is read; then the body streams to a temporary file while it is hashed.
            try await registry.cases.mayAddEvidence(
                caseID,
                contentType: contentType,
                declaredLength: request.headers[.contentLength].flatMap { Int($0) },
                party: request.uri.queryParameters["party"].map(String.init),
                caller: context.caller,
                logger: context.logger
            )
            let sink = try EvidenceSink(limit: registry.policies.revocation.evidenceMaxBytes)
            for try await buffer in request.body {
                try buffer.withUnsafeReadableBytes { try sink.append($0) }
            }
            let q = request.uri.queryParameters
            let item = try await registry.cases.addEvidence(
                caseID.uuid,
                filename: q["filename"].map(String.init) ?? "",
                contentType: contentType,
                upload: try sink.finish(),
                description: q["description"].map(String.init),
                party: q["party"].map(String.init),
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(item, status: .created)
        }
        routes.get("/api/v1/evidence/{id}", action: "cases.read") { _, context in
            let file = try await registry.cases.evidence(try context.parameters.uuid("id"), caller: context.caller, logger: context.logger)
            return Response.attachment(filename: file.filename, contentType: file.contentType, bytes: file.bytes, fallback: "evidence")
        }
        routes.post("/api/v1/evidence/{id}/answers", action: "cases.evidence") { request, context in
            let body = try await request.decodeJSON(AnswerBody.self, context: context)
            try await registry.cases.answerEvidence(
                try context.parameters.uuid("id"),
                body: body.body,
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
        routes.get("/api/v1/admin/ties", action: "ties.declare") { _, context in
            JSONResponse(Ties(ties: try await registry.cases.ties(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/admin/ties", action: "ties.declare") { request, context in
            let body = try await request.decodeJSON(CaseService.TieDeclaration.self, context: context)
            let id = try await registry.cases.declareTie(body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.post("/api/v1/admin/ties/{id}/end", action: "ties.declare") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            try await registry.cases.endTie(try context.parameters.uuid("id"), reason: body.reason, caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
        routes.post("/api/v1/cases/{id}/suspension", action: "cases.suspend") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            try await registry.cases.suspend(try context.parameters.id("id"), reason: body.reason, caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
        routes.post("/api/v1/cases/{id}/suspension/lift", action: "cases.suspend") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            try await registry.cases.liftSuspension(
                try context.parameters.id("id"),
                reason: body.reason,
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
        routes.post("/api/v1/cases/{id}/reinstatement", action: "cases.reinstate") { request, context in
            let body = try await request.decodeJSON(StatementBody.self, context: context)
            let id = try await registry.cases.fileReinstatement(
                bannedCase: try context.parameters.id("id"),
                statement: body.statement,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
    }
}

extension Response {
    /// A stored file as a download: its name as plain ASCII and, exactly, as RFC 5987 UTF-8.
    static func attachment(filename: String, contentType: String, bytes: [UInt8], fallback: String) -> Response {
        let ascii = filename.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 32 ? String($0) : "_" }.joined()
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? fallback
        return Response(
            status: .ok,
            headers: [
                .contentType: contentType,
                .contentDisposition: "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}
