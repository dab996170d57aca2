import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Agencies and their approval status.
public enum AgencyStore {
    public struct Agency: Sendable, Equatable, Codable {
        public var id: UUID
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var contactName: String
        public var contactPhone: String?
        public var contactEmail: String?
        public var status: String
        public var statusReason: String?
        public var appliedAt: Date
        /// What its demerit points in force led to (migration 0025): none, warning,
        /// registrations_suspended or case.
        public var demeritLevel: String = "none"
    }

    public struct NewAgency: Sendable {
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var contactName: String
        public var contactPhone: String?
        public var contactEmail: String?

        public init(name: String, uscc: String, regionCode: String, contactName: String, contactPhone: String?, contactEmail: String?) {
            self.name = name
            self.uscc = uscc
            self.regionCode = regionCode
            self.contactName = contactName
            self.contactPhone = contactPhone
            self.contactEmail = contactEmail
        }
    }

    public static func create(_ a: NewAgency, on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO agencies (name, uscc, region_code, contact_name, contact_phone, contact_email)
                VALUES (\(a.name), \(a.uscc), \(a.regionCode), \(a.contactName), \(a.contactPhone), \(a.contactEmail))
                RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "The agency was not created.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(
                .conflict,
                code: "agency_exists",
                message: "An agency with this unified social credit code already applied.",
                field: "uscc"
            )
        }
    }

    static let columns = """
        id, name, uscc, region_code, contact_name, contact_phone, contact_email, status, status_reason, applied_at, demerit_level
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Agency] {
        var result: [Agency] = []
        for try await (id, name, uscc, region, contact, phone, email, status, reason, applied, level)
            in rows.decode((UUID, String, String, String, String, String?, String?, String, String?, Date, String).self)
        {
            result.append(
                Agency(
                    id: id,
                    name: name,
                    uscc: uscc,
                    regionCode: region,
                    contactName: contact,
                    contactPhone: phone,
                    contactEmail: email,
                    status: status,
                    statusReason: reason,
                    appliedAt: applied,
                    demeritLevel: level
                )
            )
        }
        return result
    }

    public static func find(id: UUID, forUpdate: Bool = false, on connection: PostgresConnection, logger: Logger) async throws -> Agency? {
        let rows =
            forUpdate
            ? try await connection.query(
                """
                SELECT \(unescaped: columns) FROM agencies WHERE id = \(id) FOR UPDATE
                """,
                logger: logger
            )
            : try await connection.query(
                """
                SELECT \(unescaped: columns) FROM agencies WHERE id = \(id)
                """,
                logger: logger
            )
        return try await decode(rows).first
    }

    public static func list(status: String?, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Agency] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: columns) FROM agencies WHERE (\(status)::text IS NULL OR status = \(status))
            ORDER BY applied_at DESC LIMIT \(limit)
            """,
            logger: logger
        )
        return try await decode(rows)
    }

    public static func setStatus(
        _ id: UUID,
        status: String,
        reason: String?,
        by: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE agencies SET status = \(status), status_reason = \(reason), decided_at = now(), decided_by = \(by)
            WHERE id = \(id)
            """,
            logger: logger
        )
    }
}
