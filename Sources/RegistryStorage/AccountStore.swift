import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Users of every role. Functions take the connection so they join the caller's transaction.
public enum AccountStore {
    public struct NewUser: Sendable {
        public var role: Role
        public var email: String?
        public var phone: String?
        public var displayName: String
        public var passwordHash: String?
        public var status: String
        public var agencyID: UUID?
        public var workerID: UUID?
        public var householdName: String?
        public var regionCode: String?

        public init(
            role: Role,
            email: String?,
            phone: String?,
            displayName: String,
            passwordHash: String?,
            status: String = "active",
            agencyID: UUID? = nil,
            workerID: UUID? = nil,
            householdName: String? = nil,
            regionCode: String? = nil
        ) {
            self.role = role
            self.email = email
            self.phone = phone
            self.displayName = displayName
            self.passwordHash = passwordHash
            self.status = status
            self.agencyID = agencyID
            self.workerID = workerID
            self.householdName = householdName
            self.regionCode = regionCode
        }
    }

    public struct LoginRecord: Sendable {
        public var id: UUID
        public var role: Role
        public var status: String
        public var passwordHash: String?
        public var agencyID: UUID?
        public var workerID: UUID?
        public var displayName: String
        public var email: String?
        public var phone: String?
    }

    /// Inserts a user; a taken e-mail or phone is a 409.
    public static func create(_ user: NewUser, on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO users (role, email, phone, display_name, password_hash, status, agency_id, worker_id,
                                   household_name, region_code, password_changed_at)
                VALUES (\(user.role.rawValue), \(user.email), \(user.phone), \(user.displayName), \(user.passwordHash),
                        \(user.status), \(user.agencyID), \(user.workerID), \(user.householdName), \(user.regionCode),
                        CASE WHEN \(user.passwordHash)::text IS NULL THEN NULL ELSE now() END)
                RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "The account was not created.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "account_exists", message: "An account with this e-mail or phone already exists.")
        }
    }

    static let loginColumns: PostgresQuery = "SELECT id, role, status, password_hash, agency_id, worker_id, display_name, email, phone FROM users"

    public static func find(email: String?, phone: String?, on connection: PostgresConnection, logger: Logger) async throws -> LoginRecord? {
        let rows = try await connection.query(
            """
            SELECT id, role, status, password_hash, agency_id, worker_id, display_name, email, phone FROM users
            WHERE (\(email)::text IS NOT NULL AND email = \(email)) OR (\(phone)::text IS NOT NULL AND phone = \(phone))
            LIMIT 1
            """,
            logger: logger
        )
        return try await firstRecord(rows)
    }

    public static func find(id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> LoginRecord? {
        let rows = try await connection.query(
            """
            SELECT id, role, status, password_hash, agency_id, worker_id, display_name, email, phone FROM users
            WHERE id = \(id)
            """,
            logger: logger
        )
        return try await firstRecord(rows)
    }

    static func firstRecord(_ rows: PostgresRowSequence) async throws -> LoginRecord? {
        for try await (id, role, status, hash, agency, worker, name, email, phone) in rows.decode(
            (UUID, String, String, String?, UUID?, UUID?, String, String?, String?).self
        ) {
            return LoginRecord(
                id: id,
                role: Role(rawValue: role) ?? .anonymous,
                status: status,
                passwordHash: hash,
                agencyID: agency,
                workerID: worker,
                displayName: name,
                email: email,
                phone: phone
            )
        }
        return nil
    }

    public static func setPasswordHash(_ hash: String, userID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE users SET password_hash = \(hash), password_changed_at = now(),
                   status = CASE WHEN status = 'pending_activation' THEN 'active' ELSE status END
            WHERE id = \(userID)
            """,
            logger: logger
        )
    }

    public static func setStatus(_ status: String, userID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE users SET status = \(status) WHERE id = \(userID)", logger: logger)
    }

    public static func count(role: Role, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT count(*)::int FROM users WHERE role = \(role.rawValue)", logger: logger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}

extension AccountStore {
    /// A worker's own account, if one was started: its id and status.
    public static func workerAccount(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> (id: UUID, status: String)?
    {
        for try await (id, status) in try await connection.query("SELECT id, status FROM users WHERE worker_id = \(workerID)", logger: logger)
            .decode((UUID, String).self)
        {
            return (id, status)
        }
        return nil
    }

    /// The worker account awaiting activation with this phone number.
    public static func pendingWorker(phone: String, on connection: PostgresConnection, logger: Logger) async throws -> UUID? {
        for try await id in try await connection.query(
            """
            SELECT id FROM users WHERE phone = \(phone) AND role = 'worker' AND status = 'pending_activation'
            """,
            logger: logger
        ).decode(UUID.self) { return id }
        return nil
    }
}
