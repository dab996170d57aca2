import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The roster import's set-based insert: a batch of validated workers in one statement, each new
/// file with its open tenure and its audit row; the ones whose ID number already has a file are
/// reported with the agency that holds it.
public enum WorkerImportStore {
    /// One validated roster line, its ID number already sealed to `id` and indexed.
    public struct Line: Sendable {
        public var id: UUID
        public var line: Int
        public var cipher: [UInt8]
        public var blind: [UInt8]
        public var fullName: String
        public var birthDate: String
        public var sex: String
        public var phone: String?
        public var homeRegion: String
        public var categories: [String]

        public init(
            id: UUID,
            line: Int,
            cipher: [UInt8],
            blind: [UInt8],
            fullName: String,
            birthDate: String,
            sex: String,
            phone: String?,
            homeRegion: String,
            categories: [String]
        ) {
            self.id = id
            self.line = line
            self.cipher = cipher
            self.blind = blind
            self.fullName = fullName
            self.birthDate = birthDate
            self.sex = sex
            self.phone = phone
            self.homeRegion = homeRegion
            self.categories = categories
        }
    }

    /// What became of one line: the new file's id, or the existing file's id and its agency.
    public struct Outcome: Sendable {
        public var line: Int
        public var created: UUID?
        public var existing: UUID?
        public var existingAgency: UUID?
    }

    /// Who records the import in the audit log.
    public struct Actor: Sendable {
        public var kind: String
        public var userID: UUID?
        public var role: String
        public var requestID: String?

        public init(kind: String, userID: UUID?, role: String, requestID: String?) {
            self.kind = kind
            self.userID = userID
            self.role = role
            self.requestID = requestID
        }
    }

    public static func insert(
        _ batch: [Line],
        agencyID: UUID,
        keyVersion: Int16,
        startedOn: String,
        actor: Actor,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Outcome] {
        let ids = batch.map(\.id)
        let ciphers = batch.map { ByteBuffer(bytes: $0.cipher) }
        let blinds = batch.map { ByteBuffer(bytes: $0.blind) }
        let names = batch.map(\.fullName)
        let births = batch.map(\.birthDate)
        let sexes = batch.map(\.sex)
        let phones = batch.map { $0.phone ?? "" }
        let regions = batch.map(\.homeRegion)
        let categories = batch.map { $0.categories.joined(separator: ",") }
        let lines = batch.map(\.line)
        let (actorKind, userID, actorRole, requestID) = (actor.kind, actor.userID, actor.role, actor.requestID)
        let rows = try await connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[], \(blinds)::bytea[], \(names)::text[], \(births)::text[],
                                     \(sexes)::text[], \(phones)::text[], \(regions)::text[], \(categories)::text[], \(lines)::bigint[])
                    AS i(wid, cipher, blind, name, birth, sex, phone, region, cats, line)
            ), inserted AS (
                INSERT INTO workers (id, id_ciphertext, id_key_version, id_blind_index, full_name, birth_date, sex, phone, home_region,
                                     service_categories, current_agency_id, registered_by)
                SELECT wid, cipher, \(keyVersion), blind, name, birth::date, sex, nullif(phone, ''), region, string_to_array(cats, ','), \(agencyID), \(userID)
                FROM input
                ON CONFLICT (id_blind_index) DO NOTHING
                RETURNING id, id_blind_index
            ), tenure AS (
                INSERT INTO tenures (worker_id, agency_id, started_on) SELECT id, \(agencyID), \(startedOn)::date FROM inserted
            ), audit AS (
                INSERT INTO audit_log (actor_kind, actor_id, actor_role, action, subject_type, subject_id, request_id, details, content_hash)
                SELECT \(actorKind), \(userID), \(actorRole), 'worker.registered', 'worker', id::text, \(requestID),
                       jsonb_build_object('agency', \(agencyID.text)::text, 'via', 'import'), ''::bytea
                FROM inserted
            )
            SELECT i.line::bigint, ins.id, w.id, w.current_agency_id
            FROM input i
            LEFT JOIN inserted ins ON ins.id_blind_index = i.blind
            LEFT JOIN workers w ON w.id_blind_index = i.blind
            ORDER BY i.line
            """,
            logger: logger
        )
        var outcomes: [Outcome] = []
        for try await (line, created, existing, agency) in rows.decode((Int64, UUID?, UUID?, UUID?).self) {
            outcomes.append(Outcome(line: Int(line), created: created, existing: existing, existingAgency: agency))
        }
        return outcomes
    }

    /// New files are graded once their flags are attached.
    public static func queueGrades(_ workerIDs: [UUID], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO grade_queue (worker_id, cause) SELECT unnest(\(workerIDs)::uuid[]), 'registered' ON CONFLICT (worker_id) DO NOTHING
            """,
            logger: logger
        )
    }
}
