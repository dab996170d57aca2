import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// The audit log as administrators read it: pages of entries, the names of their actors, and the
/// chain verified against the checkpoints kept outside the database.
public struct AuditService: Sendable {
    let database: Database
    let checkpoints: @Sendable () throws -> [AuditStore.Head]

    init(database: Database, checkpoints: @escaping @Sendable () throws -> [AuditStore.Head]) {
        self.database = database
        self.checkpoints = checkpoints
    }

    public func list(
        before: Int64?,
        subjectType: String?,
        subjectID: String?,
        actionPrefix: String? = nil,
        actorID: UUID? = nil,
        limit: Int,
        logger: Logger
    ) async throws -> [AuditStore.Entry] {
        try await AuditStore.list(
            before: before,
            subjectType: subjectType,
            subjectID: subjectID,
            actionPrefix: actionPrefix,
            actorID: actorID,
            limit: limit,
            database: database,
            logger: logger
        )
    }

    /// Links what is queued, then recomputes every hash and link and checks the saved checkpoints.
    public func verify(logger: Logger) async throws -> ChainVerification {
        try await AuditStore.integrateAll(database: database, logger: logger)
        return try await AuditStore.verify(database: database, checkpoints: checkpoints(), logger: logger)
    }

    /// Display names of the users and integration sources that acted in `entries`, by id.
    public func actorNames(_ entries: [AuditStore.Entry], logger: Logger) async throws -> [String: String] {
        func ids(_ kind: String) -> [UUID] {
            Array(Set(entries.filter { $0.actorKind == kind }.compactMap { $0.actorID.flatMap(UUID.init(uuidString:)) }))
        }
        return try await AuditStore.actorNames(users: ids("user"), sources: ids("integration"), database: database, logger: logger)
    }
}

/// The administrators' dashboard numbers.
public struct DashboardService: Sendable {
    let database: Database

    public func numbers(now: Date, flagsSince: Date, utcOffsetSeconds: Int, logger: Logger) async throws -> DashboardStore.Numbers {
        try await DashboardStore.numbers(
            closedStates: CaseState.allCases.filter { !$0.isOpen }.map(\.rawValue),
            now: now,
            flagsSince: flagsSince,
            utcOffsetSeconds: utcOffsetSeconds,
            database: database,
            logger: logger
        )
    }
}
