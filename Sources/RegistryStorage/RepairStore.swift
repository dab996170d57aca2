import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Credit repair: the worker's proof files and her applications to repair a flag.
public enum RepairStore {
    // MARK: Proof files

    public struct Proof: Sendable, Equatable {
        public var id: UUID
        public var workerID: UUID
        public var filename: String
        public var contentType: String
        public var sizeBytes: Int
        public var sha256: Data
        public var uploadedAt: Date
    }

    /// Stores a proof file: the content once per hash (shared with case evidence), the row per upload.
    public static func addProof(
        workerID: UUID,
        sha256 digest: Data,
        bytes: Data,
        filename: String,
        contentType: String,
        uploadedBy: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Proof {
        try await CaseStore.storeBlob(digest, bytes, on: connection, logger: logger)
        for try await (id, at) in try await connection.query(
            """
            INSERT INTO repair_proofs (worker_id, sha256, filename, content_type, size_bytes, uploaded_by)
            VALUES (\(workerID), \(digest), \(filename), \(contentType), \(Int32(bytes.count)), \(uploadedBy)) RETURNING id, uploaded_at
            """,
            logger: logger
        ).decode((UUID, Date).self) {
            return Proof(
                id: id,
                workerID: workerID,
                filename: filename,
                contentType: contentType,
                sizeBytes: bytes.count,
                sha256: digest,
                uploadedAt: at
            )
        }
        throw RegistryError(.unavailable, code: "insert_failed", message: "The file was not stored.")
    }

    public static func proof(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Proof? {
        for try await (id, worker, name, type, size, hash, at) in try await connection.query(
            """
            SELECT id, worker_id, filename, content_type, size_bytes, sha256, uploaded_at FROM repair_proofs WHERE id = \(id)
            """,
            logger: logger
        ).decode((UUID, UUID, String, String, Int32, Data, Date).self) {
            return Proof(id: id, workerID: worker, filename: name, contentType: type, sizeBytes: Int(size), sha256: hash, uploadedAt: at)
        }
        return nil
    }

    /// Whether an application already uses the proof.
    public static func proofUsed(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        for try await used in try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM flag_repairs WHERE proof_id = \(id))",
            logger: logger
        ).decode(Bool.self) { return used }
        return false
    }

    /// A proof's content (to be checked against its hash by the caller).
    public static func proofContent(_ sha256: Data, on connection: PostgresConnection, logger: Logger) async throws -> Data? {
        for try await content in try await connection.query(
            "SELECT content FROM evidence_blobs WHERE sha256 = \(sha256)",
            logger: logger
        ).decode(Data.self) { return content }
        return nil
    }

    // MARK: Applications

    /// The repair state of a flag, with the flag row locked (applications for one flag are made one at a time).
    public static func lockFlagState(
        _ flagID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (
        open: Bool, repaired: Bool
    ) {
        try await connection.query("SELECT 1 FROM flags WHERE id = \(flagID) FOR UPDATE", logger: logger)
        for try await (open, repaired) in try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM flag_repairs WHERE flag_id = \(flagID) AND status = 'open'),
                   EXISTS (SELECT 1 FROM flag_repairs WHERE flag_id = \(flagID) AND status = 'approved')
            """,
            logger: logger
        ).decode((Bool, Bool).self) { return (open, repaired) }
        return (false, false)
    }

    public static func create(
        flagID: UUID,
        workerID: UUID,
        appliedBy: UUID,
        basis: String,
        statement: String?,
        proofID: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        do {
            for try await id in try await connection.query(
                """
                INSERT INTO flag_repairs (flag_id, worker_id, applied_by, basis, statement, proof_id)
                VALUES (\(flagID), \(workerID), \(appliedBy), \(basis), \(statement), \(proofID)) RETURNING id
                """,
                logger: logger
            ).decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "repair_open", message: "An application to repair this record is already waiting for a decision.")
        }
    }

    /// An application with the flag it is about.
    public struct Application: Sendable, Equatable {
        public var id: UUID
        public var flagID: UUID
        public var workerID: UUID
        public var workerName: String
        public var appliedBy: UUID
        public var source: String
        public var category: String
        public var flagStatus: String
        public var occurredOn: String
        public var basis: String
        public var statement: String?
        public var proofID: UUID?
        public var proofFilename: String?
        public var status: String
        public var createdAt: Date
        public var decidedAt: Date?
        public var decidedBy: UUID?
        public var decisionReason: String?
    }

    static let select = """
        SELECT r.id, r.flag_id, r.worker_id, w.full_name, r.applied_by, s.display_name, f.category, f.status, f.occurred_on::text,
               r.basis, r.statement, r.proof_id, p.filename, r.status, r.created_at, r.decided_at, r.decided_by, r.decision_reason
        FROM flag_repairs r JOIN flags f ON f.id = r.flag_id JOIN integration_sources s ON s.id = f.source_id
        JOIN workers w ON w.id = r.worker_id LEFT JOIN repair_proofs p ON p.id = r.proof_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Application] {
        var result: [Application] = []
        for try await row in rows {
            let c = row.makeRandomAccess()
            result.append(
                Application(
                    id: try c[0].decode(UUID.self),
                    flagID: try c[1].decode(UUID.self),
                    workerID: try c[2].decode(UUID.self),
                    workerName: try c[3].decode(String.self),
                    appliedBy: try c[4].decode(UUID.self),
                    source: try c[5].decode(String.self),
                    category: try c[6].decode(String.self),
                    flagStatus: try c[7].decode(String.self),
                    occurredOn: try c[8].decode(String.self),
                    basis: try c[9].decode(String.self),
                    statement: try c[10].decode(String?.self),
                    proofID: try c[11].decode(UUID?.self),
                    proofFilename: try c[12].decode(String?.self),
                    status: try c[13].decode(String.self),
                    createdAt: try c[14].decode(Date.self),
                    decidedAt: try c[15].decode(Date?.self),
                    decidedBy: try c[16].decode(UUID?.self),
                    decisionReason: try c[17].decode(String?.self)
                )
            )
        }
        return result
    }

    /// The administrators' queue: open applications oldest first, or the latest decided ones.
    public static func list(openOnly: Bool, on connection: PostgresConnection, logger: Logger) async throws -> [Application] {
        let query: PostgresQuery =
            openOnly
            ? "\(unescaped: select) WHERE r.status = 'open' ORDER BY r.created_at LIMIT 200"
            : "\(unescaped: select) WHERE r.status <> 'open' ORDER BY r.decided_at DESC LIMIT 200"
        return try await decode(try await connection.query(query, logger: logger))
    }

    public static func forWorker(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Application] {
        try await decode(
            try await connection.query("\(unescaped: select) WHERE r.worker_id = \(workerID) ORDER BY r.created_at DESC LIMIT 200", logger: logger)
        )
    }

    public static func get(_ id: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Application? {
        let query: PostgresQuery =
            lock ? "\(unescaped: select) WHERE r.id = \(id) FOR UPDATE OF r" : "\(unescaped: select) WHERE r.id = \(id)"
        return try await decode(try await connection.query(query, logger: logger)).first
    }

    public static func decide(_ id: UUID, approve: Bool, by: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE flag_repairs SET status = \(approve ? "approved" : "refused"), decided_at = now(), decided_by = \(by), decision_reason = \(reason)
            WHERE id = \(id) AND status = 'open'
            """,
            logger: logger
        )
    }
}
