import Foundation
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage

struct WorkerRoutes {
    let registry: Registry

    struct Created: Encodable, Sendable { var id: String }
    struct Roster: Encodable, Sendable { var workers: [WorkerService.RosterEntry] }
    struct Found: Encodable, Sendable { var workers: [WorkerService.Found] }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/workers", action: "workers.register") { request, context in
            let body = try await request.decodeJSON(WorkerRegistration.Input.self, context: context)
            let id = try await registry.workers.register(body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/workers", action: "workers.roster") { request, context in
            let q = request.uri.queryParameters
            let limit = try Self.int(q["limit"].map(String.init), "limit", default: 50, range: 1...500)
            let offset = try Self.int(q["offset"].map(String.init), "offset", default: 0, range: 0...1_000_000)
            let workers = try await registry.workers.roster(
                nameContains: q["q"].map(String.init),
                limit: limit,
                offset: offset,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Roster(workers: workers))
        }
        routes.post("/api/v1/workers:import", action: "workers.import") { request, context in
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: context.maxUploadSize)
            } catch is NIOTooManyBytesError {
                throw RegistryError(.tooLarge, code: "body_too_large", message: "The file is too large: split it or use `registry import-workers`.")
            }
            let records = CSV.parse(String(decoding: buffer.readableBytesView, as: UTF8.self))
            guard let header = records.first else { throw RegistryError.invalid("file", "The file is empty.", code: "missing_field") }
            guard records.count - 1 <= registry.policies.custody.importMaxRows else {
                throw RegistryError(
                    .tooLarge,
                    code: "too_many_rows",
                    message: "At most \(registry.policies.custody.importMaxRows) rows per request; use `registry import-workers` for more."
                )
            }
            let columns = try WorkerImport.columns(header.fields)
            guard let agency = context.caller.agencyUUID else { throw RegistryError.forbidden }
            let summary = try await registry.workerImport.run(
                records: Array(records.dropFirst()),
                columns: columns,
                agencyID: agency,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(summary)
        }
        routes.post("/api/v1/admin/workers/search", action: "workers.find") { request, context in
            let body = try await request.decodeJSON(WorkerService.Search.self, context: context)
            return JSONResponse(Found(workers: try await registry.workers.find(body, caller: context.caller, logger: context.logger)))
        }
        routes.get("/api/v1/workers/{id}", action: "workers.read") { request, context in
            JSONResponse(
                try await registry.workers.file(
                    try context.parameters.id("id"),
                    purpose: request.uri.queryParameters["purpose"].map(String.init),
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/workers/{id}/trainings", action: "workers.qualify") { request, context in
            let body = try await request.decodeJSON(WorkerService.TrainingInput.self, context: context)
            let id = try await registry.workers.addTraining(try context.parameters.id("id"), body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.post("/api/v1/workers/{id}/health-certificates", action: "workers.qualify") { request, context in
            let body = try await request.decodeJSON(WorkerService.HealthInput.self, context: context)
            let id = try await registry.workers.addHealthCertificate(
                try context.parameters.id("id"),
                body,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.post("/api/v1/workers/{id}/skills", action: "workers.qualify") { request, context in
            let body = try await request.decodeJSON(WorkerService.SkillInput.self, context: context)
            let id = try await registry.workers.addSkill(try context.parameters.id("id"), body, caller: context.caller, logger: context.logger)
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.put("/api/v1/workers/{id}/tenure", action: "workers.assess") { request, context in
            let body = try await request.decodeJSON(WorkerService.Assessment.self, context: context)
            try await registry.workers.assess(try context.parameters.id("id"), body, caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
    }

    static func int(_ text: String?, _ field: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw RegistryError.invalid(field, "\(field) must be \(range.lowerBound) to \(range.upperBound).")
        }
        return n
    }
}
