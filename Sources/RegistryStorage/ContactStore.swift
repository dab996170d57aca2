import Foundation
import Logging
import PostgresNIO

/// Pending changes of a person's phone number or e-mail address, and the changes themselves.
public enum ContactStore {
    /// A change waiting for its code.
    public struct Pending: Sendable {
        public var id: UUID
        public var kind: String
        public var newValue: String
        public var codeHash: Data
        public var attempts: Int
    }

    /// How many changes the user asked for since `since` (a limit on codes sent).
    public static func requests(userID: UUID, since: Date, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for try await n in try await connection.query(
            "SELECT count(*)::int FROM contact_changes WHERE user_id = \(userID) AND created_at > \(since)",
            logger: logger
        ).decode(Int.self) {
            return n
        }
        return 0
    }

    /// Records a change waiting for its code; earlier unused ones of the user are withdrawn.
    public static func create(
        userID: UUID,
        kind: String,
        newValue: String,
        codeHash: Data,
        expiresAt: Date,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            "UPDATE contact_changes SET used_at = now() WHERE user_id = \(userID) AND used_at IS NULL AND expires_at > now()",
            logger: logger
        )
        try await connection.query(
            """
            INSERT INTO contact_changes (user_id, kind, new_value, code_hash, expires_at)
            VALUES (\(userID), \(kind), \(newValue), \(codeHash), \(expiresAt))
            """,
            logger: logger
        )
    }

    /// The user's live change (unused, not expired as of `now`), locked.
    public static func live(userID: UUID, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Pending? {
        let rows = try await connection.query(
            """
            SELECT id, kind, new_value, code_hash, attempts FROM contact_changes
            WHERE user_id = \(userID) AND used_at IS NULL AND expires_at > \(now)
            ORDER BY created_at DESC LIMIT 1 FOR UPDATE
            """,
            logger: logger
        )
        for try await (id, kind, value, hash, attempts) in rows.decode((UUID, String, String, Data, Int).self) {
            return Pending(id: id, kind: kind, newValue: value, codeHash: hash, attempts: attempts)
        }
        return nil
    }

    public static func countFailure(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE contact_changes SET attempts = attempts + 1 WHERE id = \(id)", logger: logger)
    }

    public static func use(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE contact_changes SET used_at = now() WHERE id = \(id)", logger: logger)
    }

    /// The role of the account that holds `phone` or `email`, other than `except`; nil when none.
    public static func holder(
        phone: String?,
        email: String?,
        except: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> String?
    {
        let rows = try await connection.query(
            """
            SELECT role FROM users
            WHERE ((\(phone)::text IS NOT NULL AND phone = \(phone)) OR (\(email)::text IS NOT NULL AND email = \(email)))
              AND (\(except)::uuid IS NULL OR id <> \(except))
            LIMIT 1
            """,
            logger: logger
        )
        for try await role in rows.decode(String.self) { return role }
        return nil
    }

    /// Sets the user's phone number or e-mail address (and, for a worker, her file's number); a
    /// value another account holds is a 409.
    public static func apply(userID: UUID, kind: String, value: String, on connection: PostgresConnection, logger: Logger) async throws {
        do {
            if kind == "phone" {
                // The code reached this number: it is verified.
                try await connection.query("UPDATE users SET phone = \(value), phone_verified_at = now() WHERE id = \(userID)", logger: logger)
                try await connection.query(
                    "UPDATE workers SET phone = \(value) WHERE id = (SELECT worker_id FROM users WHERE id = \(userID))",
                    logger: logger
                )
            } else {
                try await connection.query("UPDATE users SET email = \(value) WHERE id = \(userID)", logger: logger)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw ContactTaken()
        }
    }

    /// A worker's file's phone number and her account's, set by an administrator; returns the old
    /// number. A number another account holds is a 409.
    public static func setWorkerPhone(_ workerID: UUID, phone: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        var old: String?
        for try await p in try await connection.query("SELECT phone FROM workers WHERE id = \(workerID) FOR UPDATE", logger: logger)
            .decode(String?.self)
        {
            old = p
        }
        do {
            try await connection.query("UPDATE workers SET phone = \(phone) WHERE id = \(workerID)", logger: logger)
            // Checked in person by the administrator.
            try await connection.query("UPDATE users SET phone = \(phone), phone_verified_at = now() WHERE worker_id = \(workerID)", logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw ContactTaken()
        }
        return old
    }

    /// When the user's phone number was last verified by a code sent to it; nil when never (or
    /// when she has no number).
    public static func phoneVerifiedAt(userID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Date? {
        for try await at in try await connection.query("SELECT phone_verified_at FROM users WHERE id = \(userID)", logger: logger)
            .decode(Date?.self)
        {
            return at
        }
        return nil
    }

    /// Whether `phone` is an agency's contact number or a number on a worker's file: never a
    /// household's own (an agency cannot stand in for a household it invented).
    public static func isAgencyOrWorkerPhone(_ phone: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        for try await found in try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM agencies WHERE contact_phone = \(phone))
                OR EXISTS (SELECT 1 FROM workers WHERE phone = \(phone))
            """,
            logger: logger
        ).decode(Bool.self) {
            return found
        }
        return false
    }

    /// The phone number or e-mail address is another account's.
    public struct ContactTaken: Error {}
}
