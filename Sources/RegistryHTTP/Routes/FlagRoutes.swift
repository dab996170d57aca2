import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Integration sources and keys (administrators), the flag feed (integration clients), and the
/// worker's own flags.
struct FlagRoutes {
    let registry: Registry

    struct KeyBody: Decodable { var label: String? }
    struct Sources: Encodable, Sendable { var sources: [FlagService.SourceView] }
    struct Batch: Decodable { var flags: [BatchItem] }

    /// One item of a batch, decoded on its own: a missing field or a wrong type rejects this
    /// item (with its reference when it has one), never the whole batch.
    struct BatchItem: Decodable {
        var input: Result<FlagSubmission.Input, RegistryError>
        var reference: String?

        private struct Reference: Decodable { var reference: String? }

        init(from decoder: any Decoder) throws {
            reference = (try? Reference(from: decoder))?.reference
            do {
                input = .success(try FlagSubmission.Input(from: decoder))
            } catch {
                input = .failure(JSONBody.problem(error, prefix: decoder.codingPath.count))
            }
        }
    }

    struct BatchResult: Encodable, Sendable {
        var created: Int
        var updated: Int
        var unchanged: Int
        var rejected: Int
        var items: [FlagService.ItemResult]
    }
    struct Own: Encodable, Sendable { var flags: [FlagService.OwnFlag] }
    struct ReasonBody: Decodable { var reason: String }
    struct Created: Encodable, Sendable { var id: String }
    struct Disputes: Encodable, Sendable { var disputes: [FlagService.FlagDispute] }
    struct NoteBody: Decodable { var note: String }

    static let timestampHeader = HTTPField.Name("X-Registry-Timestamp")!
    static let nonceHeader = HTTPField.Name("X-Registry-Nonce")!
    static let signatureHeader = HTTPField.Name("X-Registry-Signature")!

    /// The body, after checking the source's signature over the method, path, source, nonce and
    /// the body's exact bytes.
    func signedBody(_ request: Request, _ context: AppRequestContext) async throws -> (FlagService.Source, [UInt8]) {
        guard let source = context.integration else { throw RegistryError.unauthenticated }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw RegistryError(.tooLarge, code: "body_too_large", message: "The request body is too large.")
        }
        let bytes = Array(buffer.readableBytesView)
        let signed = FlagService.Signed(
            method: request.method.rawValue,
            path: request.uri.path,
            timestamp: request.headers[Self.timestampHeader],
            nonce: request.headers[Self.nonceHeader],
            signature: request.headers[Self.signatureHeader]
        )
        try await registry.flags.checkSignature(source: source, signed, body: bytes, logger: context.logger)
        return (source, bytes)
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ request: Request) throws -> T {
        try request.requireJSONContentType()
        return try JSONBody.decode(T.self, from: Data(bytes))
    }

    static func summary(_ items: [FlagService.ItemResult]) -> BatchResult {
        BatchResult(
            created: items.filter { $0.outcome == .created }.count,
            updated: items.filter { $0.outcome == .updated }.count,
            unchanged: items.filter { $0.outcome == .unchanged }.count,
            rejected: items.filter { $0.outcome == .rejected }.count,
            items: items
        )
    }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/integrations", action: "integrations.manage") { request, context in
            let body = try await request.decodeJSON(FlagService.NewSource.self, context: context)
            return JSONResponse(try await registry.flags.registerSource(body, caller: context.caller, logger: context.logger), status: .created)
        }
        routes.get("/api/v1/integrations", action: "integrations.manage") { _, context in
            JSONResponse(Sources(sources: try await registry.flags.sources(logger: context.logger)))
        }
        routes.post("/api/v1/integrations/{id}/keys", action: "integrations.manage") { request, context in
            let body = try await request.decodeJSON(KeyBody.self, context: context)
            return JSONResponse(
                try await registry.flags.issueKey(
                    sourceID: try context.parameters.uuid("id"),
                    label: body.label,
                    caller: context.caller,
                    logger: context.logger
                ),
                status: .created
            )
        }
        routes.delete("/api/v1/integrations/{id}/keys/{key}", action: "integrations.manage") { _, context in
            try await registry.flags.revokeKey(
                sourceID: try context.parameters.uuid("id"),
                keyID: try context.parameters.uuid("key"),
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }

        routes.post("/api/v1/flags", action: "flags.submit") { request, context in
            let (source, bytes) = try await signedBody(request, context)
            let item = try decode(FlagSubmission.Input.self, bytes, request)
            let result = try await registry.flags.submit([item], sourceID: source.id, caller: context.caller, logger: context.logger)
            guard let first = result.first else { throw RegistryError(.unavailable, code: "internal_error", message: "No result.") }
            if first.outcome == .rejected {
                throw RegistryError.invalid(first.field ?? "flag", first.reason ?? "The flag was rejected.", code: "flag_rejected")
            }
            return JSONResponse(first, status: first.outcome == .created ? .created : .ok)
        }
        routes.post("/api/v1/flags:batch", action: "flags.submit") { request, context in
            let (source, bytes) = try await signedBody(request, context)
            let batch = try decode(Batch.self, bytes, request)
            let results = try await registry.flags.submit(
                batch.flags.map { item in item.input.mapError { FlagService.UndecodedItem($0, reference: item.reference) } },
                sourceID: source.id,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Self.summary(results))
        }
        routes.put("/api/v1/flags/{source}/{reference}", action: "flags.submit") { request, context in
            let (source, bytes) = try await signedBody(request, context)
            guard context.parameters.get("source") == source.name, let reference = context.parameters.get("reference") else {
                throw RegistryError.notFound("Flag")
            }
            let change = try decode(FlagService.Change.self, bytes, request)
            return JSONResponse(
                try await registry.flags.change(
                    sourceID: source.id,
                    reference: reference,
                    change,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.delete("/api/v1/flags/{source}/{reference}", action: "flags.submit") { request, context in
            let (source, _) = try await signedBody(request, context)
            guard context.parameters.get("source") == source.name, let reference = context.parameters.get("reference") else {
                throw RegistryError.notFound("Flag")
            }
            return JSONResponse(
                try await registry.flags.change(
                    sourceID: source.id,
                    reference: reference,
                    .init(status: "retracted", severity: nil, expiresOn: nil),
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.get("/api/v1/flag-disputes", action: "flags.adjudicate") { request, context in
            let open = try request.flag("open", default: true)
            return JSONResponse(Disputes(disputes: try await registry.flags.disputes(openOnly: open, logger: context.logger)))
        }
        routes.post("/api/v1/flag-disputes/{id}/{decision}", action: "flags.adjudicate") { request, context in
            let body = try await request.decodeJSON(NoteBody.self, context: context)
            try await registry.flags.decideDispute(
                try context.parameters.uuid("id"),
                decision: context.parameters.get("decision") ?? "",
                note: body.note,
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
        routes.get("/api/v1/me/flags", action: "flags.read_own") { _, context in
            JSONResponse(Own(flags: try await registry.flags.ownFlags(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/me/flags/{id}/dispute", action: "flags.dispute") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            let id = try await registry.flags.dispute(
                flagID: try context.parameters.uuid("id"),
                reason: body.reason,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
    }
}
