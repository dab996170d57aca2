import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Bulk registration of an agency's roster from CSV. Every row is validated; valid rows are
/// inserted set-based per batch (one statement for workers, tenures and audit rows); rows
/// whose ID already has a file are reported, never duplicated, so re-running a file is a no-op.
public struct WorkerImport: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: CustodyPolicy
    let flags: FlagService
    let sectors: SectorPolicy

    public static let header = ["id_number", "full_name", "sex", "phone", "home_region", "service_categories"]

    public enum Outcome: String, Sendable, Codable {
        case created
        case alreadyRegistered = "already_registered"
        case transferNeeded = "transfer_needed"
        case rejected
    }

    public struct LineResult: Sendable, Codable, Equatable {
        public var line: Int
        public var outcome: Outcome
        public var reason: String?
        public var field: String?
        public var workerId: String?
    }

    public struct Summary: Sendable, Codable {
        public var created = 0
        public var alreadyRegistered = 0
        public var transferNeeded = 0
        public var rejected = 0
        public var lines: [LineResult] = []

        mutating func add(_ r: LineResult, keepLine: Bool) {
            switch r.outcome {
            case .created: created += 1
            case .alreadyRegistered: alreadyRegistered += 1
            case .transferNeeded: transferNeeded += 1
            case .rejected: rejected += 1
            }
            if keepLine || r.outcome != .created { lines.append(r) }
        }
    }

    struct Valid {
        var line: Int
        var registration: WorkerRegistration
        var blind: [UInt8]
    }

    /// Checks the header; returns the column order.
    public static func columns(_ header: [String]) throws(RegistryError) -> [String: Int] {
        let names = header.map { $0.trimmingWhitespace().lowercased() }
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() { index[name] = i }
        let missing = Self.header.filter { index[$0] == nil && $0 != "phone" }
        guard missing.isEmpty else {
            throw .invalid(
                "file",
                "The first line must name the columns: \(Self.header.joined(separator: ",")). Missing: \(missing.joined(separator: ", ")).",
                code: "bad_header"
            )
        }
        return index
    }

    /// Imports records (after the header) for an agency. `progress` is called after each batch.
    public func run(
        records: [CSV.Record],
        columns: [String: Int],
        agencyID: UUID,
        caller: Caller,
        keepAllLines: Bool = true,
        logger: Logger,
        progress: (@Sendable (Int) -> Void)? = nil
    ) async throws -> Summary {
        var summary = Summary()
        let today = clock.today
        var seen: [[UInt8]: Int] = [:]
        var batch: [Valid] = []
        var done = 0
        func field(_ r: CSV.Record, _ name: String) -> String {
            guard let i = columns[name], i < r.fields.count else { return "" }
            return r.fields[i]
        }
        for record in records {
            let input = WorkerRegistration.Input(
                idNumber: field(record, "id_number"),
                fullName: field(record, "full_name"),
                sex: field(record, "sex"),
                phone: field(record, "phone"),
                homeRegion: field(record, "home_region"),
                serviceCategories: field(record, "service_categories").split(whereSeparator: { $0 == ";" || $0 == "|" }).map(String.init)
            )
            switch Self.validate(input, today: today, ages: policy.ages, sectors: sectors) {
            case .failure(let error):
                summary.add(LineResult(line: record.line, outcome: .rejected, reason: error.message, field: error.field), keepLine: keepAllLines)
            case .success(let registration):
                let blind = keys.blindIndex(registration.nationalID)
                if let first = seen[blind] {
                    summary.add(
                        LineResult(
                            line: record.line,
                            outcome: .rejected,
                            reason: "The same ID number is already on line \(first).",
                            field: "id_number"
                        ),
                        keepLine: keepAllLines
                    )
                } else {
                    seen[blind] = record.line
                    batch.append(Valid(line: record.line, registration: registration, blind: blind))
                }
            }
            if batch.count == 1000 {
                for r in try await insert(batch, agencyID: agencyID, today: today, caller: caller, logger: logger) {
                    summary.add(r, keepLine: keepAllLines)
                }
                done += batch.count
                batch.removeAll(keepingCapacity: true)
                progress?(done)
            }
        }
        if !batch.isEmpty {
            for r in try await insert(batch, agencyID: agencyID, today: today, caller: caller, logger: logger) {
                summary.add(r, keepLine: keepAllLines)
            }
            done += batch.count
            progress?(done)
        }
        summary.lines.sort { $0.line < $1.line }
        return summary
    }

    static func validate(
        _ input: WorkerRegistration.Input,
        today: CivilDate,
        ages: ClosedRange<Int>,
        sectors: SectorPolicy
    ) -> Result<WorkerRegistration, RegistryError> {
        Result { () throws(RegistryError) in try WorkerRegistration(input, today: today, ages: ages, sectors: sectors) }
    }

    func insert(_ batch: [Valid], agencyID: UUID, today: CivilDate, caller: Caller, logger: Logger) async throws -> [LineResult] {
        // Ids chosen here, so that each sealed ID number is bound to its row.
        let lines = batch.map { valid in
            let id = UUID()
            let r = valid.registration
            return WorkerImportStore.Line(
                id: id,
                line: valid.line,
                cipher: keys.seal(r.nationalID.value, context: SealedPlace.workerID(id)),
                blind: valid.blind,
                fullName: r.fullName,
                birthDate: r.nationalID.birthDate.iso,
                sex: r.sex.rawValue,
                phone: r.phone,
                homeRegion: r.homeRegion,
                categories: r.categories.map(\.rawValue)
            )
        }
        let actor = WorkerImportStore.Actor(
            kind: caller.principal.userID == nil ? "system" : "user",
            userID: caller.userUUID,
            role: caller.principal.userID == nil ? "system" : caller.principal.role.rawValue,
            requestID: caller.requestID
        )
        return try await database.transaction(logger: logger) { connection in
            let agency: AgencyStore.Agency
            if caller.principal.role == .anonymous {
                // The command line, run by an operator: the agency must exist and be approved.
                guard let found = try await AgencyStore.find(id: agencyID, on: connection, logger: logger) else {
                    throw RegistryError.notFound("Agency")
                }
                guard found.status == "approved" else {
                    throw RegistryError(.conflict, code: "agency_not_approved", message: "Agency \(found.name) is \(found.status), not approved.")
                }
                agency = found
            } else {
                agency = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
                guard agency.id == agencyID else { throw RegistryError.notFound("Agency") }
            }
            try DemeritService.requireRegistrationsOpen(agency)
            let outcomes = try await WorkerImportStore.insert(
                lines,
                agencyID: agencyID,
                keyVersion: Int16(keys.currentSealingVersion),
                startedOn: today.iso,
                actor: actor,
                on: connection,
                logger: logger
            )
            var results: [LineResult] = []
            var createdIDs: [UUID] = []
            for outcome in outcomes {
                let line = outcome.line
                if let created = outcome.created {
                    createdIDs.append(created)
                    results.append(LineResult(line: line, outcome: .created, workerId: created.text))
                } else if let existing = outcome.existing, outcome.existingAgency == agencyID {
                    results.append(LineResult(line: line, outcome: .alreadyRegistered, workerId: existing.text))
                } else {
                    results.append(
                        LineResult(
                            line: line,
                            outcome: .transferNeeded,
                            reason: "This person already has a file with another agency: request a transfer.",
                            field: "id_number"
                        )
                    )
                }
            }
            // Flags received before these files existed attach now; grades are computed for them.
            try await flags.attachOnRegistration(createdIDs, caller: caller, on: connection, logger: logger)
            try await WorkerImportStore.queueGrades(createdIDs, on: connection, logger: logger)
            return results
        }
    }
}
