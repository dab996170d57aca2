import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Credit repair (信用修复). The worker applies to repair a flag on her file, after the period
/// `flags.yaml` sets for its category (`repair_after_years`) or at any time on proof of correction
/// (a statement and a file: JPEG, PNG or PDF within the case-evidence limits, stored
/// content-addressed beside case evidence). Whether she may apply is `CreditRepair.eligibility`.
/// An administrator — never the applicant — approves or refuses with a reason. An approved repair
/// takes the flag out of her grade and out of employers' reports; the flag, the application and
/// the decision stay in the audit log and on the administrators' pages, and she sees "repaired on".
public struct CreditRepairService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: FlagPolicy
    let evidence: RevocationPolicy

    /// An application as the worker and administrators see it.
    public struct Application: Sendable, Encodable, Equatable {
        public var id: String
        public var flagId: String
        public var workerId: String
        public var workerName: String
        public var source: String
        public var category: String
        public var flagStatus: String
        public var occurredOn: String
        public var basis: String
        public var statement: String?
        public var proofId: String?
        public var proofFilename: String?
        public var status: String
        public var createdAt: Date
        public var decidedAt: Date?
        public var decisionReason: String?

        init(_ a: RepairStore.Application) {
            id = a.id.text
            flagId = a.flagID.text
            workerId = a.workerID.text
            workerName = a.workerName
            source = a.source
            category = a.category
            flagStatus = a.flagStatus
            occurredOn = a.occurredOn
            basis = a.basis
            statement = a.statement
            proofId = a.proofID?.text
            proofFilename = a.proofFilename
            status = a.status
            createdAt = a.createdAt
            decidedAt = a.decidedAt
            decisionReason = a.decisionReason
        }
    }

    /// A proof file as stored.
    public struct Proof: Sendable, Encodable, Equatable {
        public var id: String
        public var filename: String
        public var contentType: String
        public var sizeBytes: Int
        public var sha256: String
        public var uploadedAt: Date
    }

    /// One of her flags with what credit repair can do for it now (her own pages).
    public struct Record: Sendable, Encodable, Equatable {
        public var flagId: String
        public var source: String
        public var category: String
        public var status: String
        public var occurredOn: String
        /// The day it was repaired (an approved application), if it was.
        public var repairedOn: String?
        /// An application waiting for a decision.
        public var applicationOpen: Bool
        /// `eligible` when she may apply on the period now; otherwise why not (`no_repair_period`,
        /// `repair_period_not_over`, `already_repaired`, `repair_open`, `flag_retracted`, …).
        public var period: String
        /// When the period ends (categories with one).
        public var periodEndsOn: String?
        /// Whether she may apply on proof of correction now.
        public var proofPossible: Bool
    }

    // MARK: The worker

    /// Her flags and what repair can do for each.
    public func records(caller: Caller, logger: Logger) async throws -> [Record] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        let today = clock.today
        return try await database.withConnection { connection in
            let applications = try await RepairStore.forWorker(worker, on: connection, logger: logger)
            return try await FlagStore.forWorker(worker, on: connection, logger: logger).map { f in
                let mine = applications.filter { $0.flagID == f.id }
                let approved = mine.first { $0.status == "approved" }
                let open = mine.contains { $0.status == "open" }
                let record = CreditRepair.Record(
                    category: f.category,
                    status: FlagStatus(rawValue: f.status) ?? .alleged,
                    occurredOn: CivilDate(iso: f.occurredOn) ?? today,
                    repaired: approved != nil,
                    applicationOpen: open
                )
                let period = CreditRepair.eligibility(record: record, basis: .period, policy: policy, today: today)
                let ends = CreditRepair.periodEnds(occurredOn: record.occurredOn, years: policy.categories[f.category]?.repairAfterYears)
                return Record(
                    flagId: f.id.text,
                    source: f.sourceName,
                    category: f.category,
                    status: f.status,
                    occurredOn: f.occurredOn,
                    repairedOn: approved?.decidedAt.map { CivilDate.today($0).iso },
                    applicationOpen: open,
                    period: period.code,
                    periodEndsOn: ends?.iso,
                    proofPossible: CreditRepair.eligibility(record: record, basis: .proof, policy: policy, today: today) == .eligible
                )
            }
        }
    }

    /// Checked before a byte of a proof upload is read: a worker, a type the policy allows, a
    /// declared size within the limit.
    public func mayUploadProof(contentType: String, declaredLength: Int?, caller: Caller) throws {
        guard caller.principal.role == .worker, caller.workerUUID != nil else { throw RegistryError.forbidden }
        if let declaredLength, declaredLength > evidence.evidenceMaxBytes { throw tooLarge }
        if !contentType.isEmpty, !evidence.evidenceTypes.contains(CaseService.mediaType(contentType)) { throw wrongType }
    }

    var tooLarge: RegistryError {
        RegistryError(.tooLarge, code: "evidence_too_large", message: "Proof files are at most \(evidence.evidenceMaxBytes / 1_048_576) MB.")
    }

    var wrongType: RegistryError {
        RegistryError(
            .unsupportedMediaType,
            code: "evidence_type",
            message: "Proof must be one of: \(evidence.evidenceTypes.joined(separator: ", ")) (and the file must really be one)."
        )
    }

    /// A proof file checked like case evidence: size, declared type among the policy's and
    /// matching the content, a plain file name.
    func checkedProof(filename: String, contentType: String, upload: EvidenceUpload) throws -> (name: String, type: String) {
        guard upload.content.count <= evidence.evidenceMaxBytes else { throw tooLarge }
        let declared = CaseService.mediaType(contentType)
        guard evidence.evidenceTypes.contains(declared), CaseService.sniff(Array(upload.content.prefix(16))) == declared else { throw wrongType }
        let name = (filename as NSString).lastPathComponent.trimmingWhitespace()
        guard (1...255).contains(name.count), !name.contains("/"), !name.contains("\\"), !name.hasPrefix("."), !name.hasInvisibleCharacters
        else {
            throw RegistryError.invalid("filename", "Give the file a plain name (no control, bidirectional or invisible characters).")
        }
        return (name, declared)
    }

    func storeProof(
        name: String,
        type: String,
        upload: EvidenceUpload,
        worker: UUID,
        user: UUID,
        caller: Caller,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws -> RepairStore.Proof {
        let proof = try await RepairStore.addProof(
            workerID: worker,
            sha256: upload.sha256,
            bytes: upload.content,
            filename: name,
            contentType: type,
            uploadedBy: user,
            on: connection,
            logger: logger
        )
        try await AuditStore.append(
            caller.event("repair.proof_added", "worker", worker, ["proof": .string(proof.id.text), "sha256": .string(upload.sha256.hex)]),
            on: connection,
            logger: logger
        )
        return proof
    }

    /// Uploads a proof file for a later application (the API's first step).
    public func addProof(filename: String, contentType: String, upload: EvidenceUpload, caller: Caller, logger: Logger) async throws -> Proof {
        guard caller.principal.role == .worker, let worker = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        let (name, type) = try checkedProof(filename: filename, contentType: contentType, upload: upload)
        let p = try await database.transaction(logger: logger) { connection in
            try await storeProof(name: name, type: type, upload: upload, worker: worker, user: user, caller: caller, on: connection, logger: logger)
        }
        return Proof(
            id: p.id.text,
            filename: p.filename,
            contentType: p.contentType,
            sizeBytes: p.sizeBytes,
            sha256: p.sha256.hex,
            uploadedAt: p.uploadedAt
        )
    }

    /// What an application asks for.
    public struct Request: Sendable, Decodable {
        public var basis: String
        public var statement: String?
        public var proofId: UUID?

        public init(basis: String, statement: String? = nil, proofId: UUID? = nil) {
            self.basis = basis
            self.statement = statement
            self.proofId = proofId
        }

        enum CodingKeys: String, CodingKey {
            case basis, statement
            case proofId = "proof_id"
        }
    }

    /// A file sent with the application itself (the page's form): stored in the same transaction.
    public struct NewProof: Sendable {
        public var filename: String
        public var contentType: String
        public var upload: EvidenceUpload

        public init(filename: String, contentType: String, upload: EvidenceUpload) {
            self.filename = filename
            self.contentType = contentType
            self.upload = upload
        }

        /// A file of a page's form, hashed here.
        public init(filename: String, contentType: String, bytes: [UInt8]) {
            self.init(
                filename: filename,
                contentType: contentType,
                upload: EvidenceUpload(content: Data(bytes), sha256: Data(SHA256.hash(data: Data(bytes))))
            )
        }
    }

    /// The worker applies to repair one of her flags. On `proof`, a statement and a proof file
    /// (an uploaded one of hers not used by another application, or `newProof`) are required.
    public func apply(flagID: UUID, _ request: Request, newProof: NewProof? = nil, caller: Caller, logger: Logger) async throws -> UUID {
        guard caller.principal.role == .worker, let worker = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        guard let basis = CreditRepair.Basis(rawValue: request.basis) else {
            throw RegistryError.invalid("basis", "basis is period (the policy's period has passed) or proof (proof of correction).")
        }
        let statement = try Input.text(request.statement, field: "statement", max: 2000, required: basis == .proof)
        var checked: (name: String, type: String)?
        if basis == .proof {
            if let newProof {
                checked = try checkedProof(filename: newProof.filename, contentType: newProof.contentType, upload: newProof.upload)
            } else if request.proofId == nil {
                throw RegistryError.invalid(
                    "proof_id",
                    "Attach the proof of correction (a training certificate, a receipt of restitution).",
                    code: "missing_field"
                )
            }
        }
        let today = clock.today
        return try await database.transaction(logger: logger) { connection in
            guard let flag = try await FlagStore.flags(ids: [flagID], on: connection, logger: logger).first, flag.workerID == worker else {
                throw RegistryError.notFound("Flag")
            }
            let state = try await RepairStore.lockFlagState(flagID, on: connection, logger: logger)
            let record = CreditRepair.Record(
                category: flag.category,
                status: FlagStatus(rawValue: flag.status) ?? .alleged,
                occurredOn: CivilDate(iso: flag.occurredOn) ?? today,
                repaired: state.repaired,
                applicationOpen: state.open
            )
            if let error = CreditRepair.eligibility(record: record, basis: basis, policy: policy, today: today).error { throw error }
            var proofID: UUID?
            if basis == .proof {
                if let newProof, let checked {
                    proofID = try await storeProof(
                        name: checked.name,
                        type: checked.type,
                        upload: newProof.upload,
                        worker: worker,
                        user: user,
                        caller: caller,
                        on: connection,
                        logger: logger
                    ).id
                } else if let id = request.proofId {
                    guard let p = try await RepairStore.proof(id, on: connection, logger: logger), p.workerID == worker else {
                        throw RegistryError.notFound("Proof")
                    }
                    guard try await !RepairStore.proofUsed(id, on: connection, logger: logger) else {
                        throw RegistryError(
                            .conflict,
                            code: "proof_used",
                            message: "This file already supports another application: upload it again."
                        )
                    }
                    proofID = id
                }
            }
            let id = try await RepairStore.create(
                flagID: flagID,
                workerID: worker,
                appliedBy: user,
                basis: basis.rawValue,
                statement: statement,
                proofID: proofID,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("repair.applied", "flag", flagID, ["repair": .string(id.text), "basis": .string(basis.rawValue)]),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    /// Her applications, newest first, with their outcome.
    public func own(caller: Caller, logger: Logger) async throws -> [Application] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await RepairStore.forWorker(worker, on: connection, logger: logger).map(Application.init)
        }
    }

    // MARK: Administrators

    /// Open applications oldest first, or the latest decided ones.
    public func queue(openOnly: Bool, caller: Caller, logger: Logger) async throws -> [Application] {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await RepairStore.list(openOnly: openOnly, on: connection, logger: logger).map(Application.init)
        }
    }

    public func get(_ id: UUID, caller: Caller, logger: Logger) async throws -> Application {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            guard let a = try await RepairStore.get(id, lock: false, on: connection, logger: logger) else { throw RegistryError.notFound("Repair") }
            return Application(a)
        }
    }

    /// An administrator approves or refuses with a reason; never the applicant herself. The worker
    /// is texted the decision and regraded.
    public func decide(_ id: UUID, approve: Bool, reason: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let a = try await RepairStore.get(id, lock: true, on: connection, logger: logger) else { throw RegistryError.notFound("Repair") }
            guard a.status == "open" else {
                throw RegistryError(.conflict, code: "repair_decided", message: "This application was already decided.")
            }
            guard a.appliedBy != admin else {
                throw RegistryError(.forbidden, code: "own_application", message: "Nobody decides her own application.")
            }
            try await RepairStore.decide(id, approve: approve, by: admin, reason: reason, on: connection, logger: logger)
            try await GradeStore.enqueue(a.workerID, reason: approve ? "flag_repaired" : "repair_refused", on: connection, logger: logger)
            try await AuditStore.append(
                caller.event(
                    approve ? "repair.approved" : "repair.refused",
                    "flag",
                    a.flagID,
                    ["repair": .string(id.text), "reason": .string(reason), "worker": .string(a.workerID.text)]
                ),
                on: connection,
                logger: logger
            )
            try await WorkerTexts.send(
                approve ? "repair_approved" : "repair_refused",
                to: a.workerID,
                ["source": a.source, "category": policy.categories[a.category]?.zh ?? a.category],
                key: "repair-decided-\(id.text)",
                on: connection,
                logger: logger
            )
        }
    }

    /// A proof file, its hash verified: the worker who uploaded it and administrators.
    public func proof(_ id: UUID, caller: Caller, logger: Logger) async throws -> (filename: String, contentType: String, bytes: [UInt8]) {
        try await database.withConnection { connection in
            guard let p = try await RepairStore.proof(id, on: connection, logger: logger),
                caller.principal.role == .admin || (caller.principal.role == .worker && caller.workerUUID == p.workerID),
                let content = try await RepairStore.proofContent(p.sha256, on: connection, logger: logger)
            else { throw RegistryError.notFound("Proof") }
            guard Data(SHA256.hash(data: content)) == p.sha256 else {
                logger.critical("proof content does not match its hash", metadata: ["proof": "\(id.text)"])
                throw RegistryError(.unavailable, code: "evidence_corrupted", message: "This file failed its integrity check and is withheld.")
            }
            return (p.filename, p.contentType, Array(content))
        }
    }
}
