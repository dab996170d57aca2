import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Workers' files: identity (ID sealed + blind index), custody, tenures, qualifications.
public enum WorkerStore {
    public struct NewWorker: Sendable {
        public var id: UUID
        public var idCiphertext: Data
        public var keyVersion: Int
        public var blindIndex: Data
        public var fullName: String
        public var birthDate: String
        public var sex: String
        public var phone: String?
        public var homeRegion: String
        public var categories: [String]
        public var agencyID: UUID
        public var registeredBy: UUID?

        public init(
            id: UUID = UUID(),
            idCiphertext: Data,
            keyVersion: Int = 1,
            blindIndex: Data,
            fullName: String,
            birthDate: String,
            sex: String,
            phone: String?,
            homeRegion: String,
            categories: [String],
            agencyID: UUID,
            registeredBy: UUID?
        ) {
            self.id = id
            self.idCiphertext = idCiphertext
            self.keyVersion = keyVersion
            self.blindIndex = blindIndex
            self.fullName = fullName
            self.birthDate = birthDate
            self.sex = sex
            self.phone = phone
            self.homeRegion = homeRegion
            self.categories = categories
            self.agencyID = agencyID
            self.registeredBy = registeredBy
        }
    }

    public struct Worker: Sendable, Equatable {
        public var id: UUID
        public var fullName: String
        public var birthDate: String
        public var sex: String
        public var phone: String?
        public var homeRegion: String
        public var categories: [String]
        public var currentAgencyID: UUID
        public var status: String
        public var registeredAt: Date
        public var idCiphertext: Data
    }

    /// Inserts the worker and opens her first tenure; nil when the ID already has a file.
    public static func insert(_ w: NewWorker, startedOn: String, on connection: PostgresConnection, logger: Logger) async throws -> UUID? {
        let rows = try await connection.query(
            """
            INSERT INTO workers (id, id_ciphertext, id_key_version, id_blind_index, full_name, birth_date, sex, phone, home_region,
                                 service_categories, current_agency_id, registered_by)
            VALUES (\(w.id), \(w.idCiphertext), \(Int16(w.keyVersion)), \(w.blindIndex), \(w.fullName), \(w.birthDate)::date, \(w.sex), \(w.phone), \(w.homeRegion),
                    \(w.categories), \(w.agencyID), \(w.registeredBy))
            ON CONFLICT (id_blind_index) DO NOTHING
            RETURNING id
            """,
            logger: logger
        )
        var id: UUID?
        for try await value in rows.decode(UUID.self) { id = value }
        guard let id else { return nil }
        try await connection.query(
            """
            INSERT INTO tenures (worker_id, agency_id, started_on) VALUES (\(id), \(w.agencyID), \(startedOn)::date)
            """,
            logger: logger
        )
        return id
    }

    /// The file for an ID's blind index: its id and current agency.
    public static func find(blindIndex: Data, on connection: PostgresConnection, logger: Logger) async throws -> (id: UUID, agencyID: UUID)? {
        let rows = try await connection.query(
            "SELECT id, current_agency_id FROM workers WHERE id_blind_index = \(blindIndex)",
            logger: logger
        )
        for try await (id, agency) in rows.decode((UUID, UUID).self) { return (id, agency) }
        return nil
    }

    /// A LIKE pattern that finds `text` anywhere, its own `\`, `%` and `_` taken literally.
    static func containsPattern(_ text: String) -> String {
        "%" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            + "%"
    }

    /// Workers an administrator looks for: by a name fragment, by an ID number's blind index, or by
    /// a reference (her file's id, or the id of a case about her). At most 50, by name.
    public static func search(
        nameContains: String?,
        blindIndex: Data?,
        reference: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [UUID] {
        let namePattern = nameContains.map(containsPattern)
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT w.id FROM workers w
            WHERE (\(namePattern)::text IS NULL OR w.full_name LIKE \(namePattern))
              AND (\(blindIndex)::bytea IS NULL OR w.id_blind_index = \(blindIndex))
              AND (\(reference)::uuid IS NULL OR w.id = \(reference) OR w.id = (SELECT c.worker_id FROM cases c WHERE c.id = \(reference)))
            ORDER BY w.full_name, w.id LIMIT 50
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
    }

    public static func get(_ id: UUID, forUpdate: Bool = false, on connection: PostgresConnection, logger: Logger) async throws -> Worker? {
        let rows =
            forUpdate
            ? try await connection.query(
                """
                SELECT id, full_name, birth_date::text, sex, phone, home_region, service_categories, current_agency_id, status,
                       registered_at, id_ciphertext
                FROM workers WHERE id = \(id) FOR UPDATE
                """,
                logger: logger
            )
            : try await connection.query(
                """
                SELECT id, full_name, birth_date::text, sex, phone, home_region, service_categories, current_agency_id, status,
                       registered_at, id_ciphertext
                FROM workers WHERE id = \(id)
                """,
                logger: logger
            )
        for try await (id, name, birth, sex, phone, region, categories, agency, status, registered, cipher)
            in rows.decode((UUID, String, String, String, String?, String, [String], UUID, String, Date, Data).self)
        {
            return Worker(
                id: id,
                fullName: name,
                birthDate: birth,
                sex: sex,
                phone: phone,
                homeRegion: region,
                categories: categories,
                currentAgencyID: agency,
                status: status,
                registeredAt: registered,
                idCiphertext: cipher
            )
        }
        return nil
    }

    public struct RosterEntry: Sendable, Equatable, Codable {
        public var id: UUID
        public var fullName: String
        public var sex: String
        public var birthDate: String
        public var homeRegion: String
        public var categories: [String]
        public var status: String
    }

    /// The agency's current workers, optionally filtered by a name fragment.
    public static func roster(
        agencyID: UUID,
        nameContains: String?,
        limit: Int,
        offset: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [RosterEntry] {
        let pattern = nameContains.map(containsPattern)
        let rows = try await connection.query(
            """
            SELECT id, full_name, sex, birth_date::text, home_region, service_categories, status
            FROM workers
            WHERE current_agency_id = \(agencyID) AND (\(pattern)::text IS NULL OR full_name LIKE \(pattern))
            ORDER BY full_name, id LIMIT \(limit) OFFSET \(offset)
            """,
            logger: logger
        )
        var result: [RosterEntry] = []
        for try await (id, name, sex, birth, region, categories, status)
            in rows.decode((UUID, String, String, String, String, [String], String).self)
        {
            result.append(
                RosterEntry(
                    id: id,
                    fullName: name,
                    sex: sex,
                    birthDate: birth,
                    homeRegion: region,
                    categories: categories,
                    status: status
                )
            )
        }
        return result
    }

    public static func setAgency(_ workerID: UUID, agencyID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE workers SET current_agency_id = \(agencyID) WHERE id = \(workerID)", logger: logger)
    }

    /// True when the agency held the worker at some time (a tenure of its own).
    public static func agencyHeld(_ workerID: UUID, agencyID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "SELECT count(*)::int FROM tenures WHERE worker_id = \(workerID) AND agency_id = \(agencyID)",
            logger: logger
        )
        for try await n in rows.decode(Int.self) { return n > 0 }
        return false
    }
}
