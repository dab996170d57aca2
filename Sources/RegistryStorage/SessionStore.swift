import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Server-side sessions, found by the SHA-256 of the bearer token.
public enum SessionStore {
    public struct Session: Sendable, Equatable {
        public var id: UUID
        public var userID: UUID
        public var role: Role
        public var agencyID: UUID?
        public var workerID: UUID?
        public var displayName: String
        public var csrfToken: String
        public var expiresAt: Date
        /// For agency staff: the credit commitments in force not yet accepted ("agency", "staff");
        /// each must be accepted before the next write.
        public var owedCommitments: [String] = []

        public init(
            id: UUID,
            userID: UUID,
            role: Role,
            agencyID: UUID?,
            workerID: UUID?,
            displayName: String,
            csrfToken: String,
            expiresAt: Date
        ) {
            self.id = id
            self.userID = userID
            self.role = role
            self.agencyID = agencyID
            self.workerID = workerID
            self.displayName = displayName
            self.csrfToken = csrfToken
            self.expiresAt = expiresAt
        }

        public var principal: Principal {
            Principal(
                .user(
                    id: UserID(userID),
                    role: role,
                    agencyID: agencyID.map(AgencyID.init),
                    workerID: workerID.map(WorkerID.init)
                )
            )
        }
    }

    public static func create(
        tokenHash: [UInt8],
        userID: UUID,
        csrfToken: String,
        lifetimeSeconds: Int,
        clientAddress: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, client_address)
            VALUES (\(Data(tokenHash)), \(userID), \(csrfToken), now() + make_interval(secs => \(lifetimeSeconds)), \(clientAddress))
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "session_failed", message: "No session was created.")
    }

    /// The live session for a token: not revoked, not expired, used within `idleSeconds`, its
    /// user active. Marks it used — at most once a minute, so that most requests write nothing.
    ///
    /// For agency staff, also which of the commitments in force (`commitmentVersions`) are not
    /// yet recorded: the agency's for the agency, the staff commitment for this user.
    public static func find(
        tokenHash: [UInt8],
        idleSeconds: Int,
        commitmentVersions: (agency: String, staff: String),
        database: Database,
        logger: Logger
    ) async throws -> Session? {
        let rows = try await database.query(
            """
            WITH live AS (
                SELECT s.id, s.user_id, u.role, u.agency_id, u.worker_id, u.display_name, s.csrf_token, s.expires_at, s.last_seen_at
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = \(Data(tokenHash)) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                  AND s.last_seen_at > now() - make_interval(secs => \(Double(idleSeconds)))
            ), touched AS (
                UPDATE sessions SET last_seen_at = now()
                WHERE id = (SELECT id FROM live) AND last_seen_at < now() - interval '60 seconds'
            )
            SELECT id, user_id, role, agency_id, worker_id, display_name, csrf_token, expires_at,
                   CASE WHEN role = 'agency_staff'
                       THEN commitments_owed(agency_id, user_id, \(commitmentVersions.agency), \(commitmentVersions.staff))
                       ELSE '{}'::text[] END
            FROM live
            """,
            logger: logger
        )
        for try await (id, user, role, agency, worker, name, csrf, expires, owed) in rows.decode(
            (UUID, UUID, String, UUID?, UUID?, String, String, Date, [String]).self
        ) {
            guard let role = Role(rawValue: role) else { return nil }
            var session = Session(
                id: id,
                userID: user,
                role: role,
                agencyID: agency,
                workerID: worker,
                displayName: name,
                csrfToken: csrf,
                expiresAt: expires
            )
            session.owedCommitments = owed
            return session
        }
        return nil
    }

    public static func revoke(tokenHash: [UInt8], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE sessions SET revoked_at = now() WHERE token_hash = \(Data(tokenHash)) AND revoked_at IS NULL",
            logger: logger
        )
    }

    public static func revoke(sessionID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE sessions SET revoked_at = now() WHERE id = \(sessionID) AND revoked_at IS NULL",
            logger: logger
        )
    }

    /// Ends every session of a user (disabled account, password change); returns how many.
    @discardableResult
    public static func revokeAll(userID: UUID, except keep: UUID? = nil, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query(
            """
            WITH ended AS (
                UPDATE sessions SET revoked_at = now()
                WHERE user_id = \(userID) AND revoked_at IS NULL AND (\(keep)::uuid IS NULL OR id <> \(keep))
                RETURNING 1
            ) SELECT count(*)::int FROM ended
            """,
            logger: logger
        )
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}
