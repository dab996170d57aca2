import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Who may see or change a worker's file; shared by every service that reaches for one.
enum WorkerAccess {
    /// Loads a worker the caller may see: the agency in custody, the worker herself, or an
    /// administrator. Anyone else gets 404 (and the attempt is logged).
    static func visible(
        _ id: UUID,
        caller: Caller,
        write: Bool,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws -> (WorkerStore.Worker, AgencyStore.Agency?) {
        guard let worker = try await WorkerStore.get(id, forUpdate: write, on: connection, logger: logger) else {
            throw RegistryError.notFound("Worker")
        }
        switch caller.principal.role {
        case .admin where !write:
            return (worker, nil)
        case .worker where !write && caller.workerUUID == id:
            return (worker, nil)
        case .agencyStaff:
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: write, on: connection, logger: logger)
            if agency.id == worker.currentAgencyID { return (worker, agency) }
        default:
            break
        }
        logger.notice(
            "worker file access refused",
            metadata: [
                "worker": "\(id.text)", "user": "\(caller.principal.userID?.text ?? "-")", "role": "\(caller.principal.role.rawValue)",
            ]
        )
        throw RegistryError.notFound("Worker")
    }
}
