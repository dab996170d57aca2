import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Consent codes a worker issues for one employer check.
public enum ConsentStore {
    /// Her codes that could still be redeemed (not used, revoked or expired); locks her row so
    /// that two issues at once cannot both pass a cap.
    public static func liveCount(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await connection.query("SELECT 1 FROM workers WHERE id = \(workerID) FOR UPDATE", logger: logger)
        let rows = try await connection.query(
            """
            SELECT count(*)::int FROM consents
            WHERE worker_id = \(workerID) AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            """,
            logger: logger
        )
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    public struct Consent: Sendable, Codable, Equatable {
        public var id: UUID
        public var issuedVia: String
        public var createdAt: Date
        public var expiresAt: Date
        public var usedAt: Date?
        public var usedByName: String?
        public var accessUntil: Date?
        public var revokedAt: Date?
    }

    public static func create(
        workerID: UUID,
        codeHash: Data,
        issuedBy: UUID,
        via: String,
        minutes: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (UUID, Date) {
        let rows = try await connection.query(
            """
            INSERT INTO consents (worker_id, code_hash, issued_by, issued_via, expires_at)
            VALUES (\(workerID), \(codeHash), \(issuedBy), \(via), now() + make_interval(mins => \(Int32(minutes))))
            RETURNING id, expires_at
            """,
            logger: logger
        )
        for try await (id, expires) in rows.decode((UUID, Date).self) { return (id, expires) }
        throw RegistryError(.unavailable, code: "insert_failed", message: "No code was issued.")
    }

    /// The unused, unexpired, unrevoked consent for a code, locked.
    public static func redeemable(codeHash: Data, on connection: PostgresConnection, logger: Logger) async throws -> (id: UUID, workerID: UUID)? {
        let rows = try await connection.query(
            """
            SELECT id, worker_id FROM consents
            WHERE code_hash = \(codeHash) AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            FOR UPDATE
            """,
            logger: logger
        )
        for try await (id, worker) in rows.decode((UUID, UUID).self) { return (id, worker) }
        return nil
    }

    public static func redeem(_ id: UUID, employer: UUID, accessMinutes: Int, on connection: PostgresConnection, logger: Logger) async throws -> Date
    {
        let rows = try await connection.query(
            """
            UPDATE consents SET used_at = now(), used_by = \(employer), access_until = now() + make_interval(mins => \(Int32(accessMinutes)))
            WHERE id = \(id) RETURNING access_until
            """,
            logger: logger
        )
        for try await until in rows.decode(Date.self) { return until }
        throw RegistryError.notFound("Consent")
    }

    public static func list(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Consent] {
        let rows = try await connection.query(
            """
            SELECT c.id, c.issued_via, c.created_at, c.expires_at, c.used_at, coalesce(u.household_name, u.display_name), c.access_until, c.revoked_at
            FROM consents c LEFT JOIN users u ON u.id = c.used_by
            WHERE c.worker_id = \(workerID) ORDER BY c.created_at DESC LIMIT 100
            """,
            logger: logger
        )
        var result: [Consent] = []
        for try await (id, via, created, expires, used, name, until, revoked) in rows.decode(
            (UUID, String, Date, Date, Date?, String?, Date?, Date?).self
        ) {
            result.append(
                Consent(
                    id: id,
                    issuedVia: via,
                    createdAt: created,
                    expiresAt: expires,
                    usedAt: used,
                    usedByName: name,
                    accessUntil: until,
                    revokedAt: revoked
                )
            )
        }
        return result
    }

    /// Revokes a consent of this worker (unused or still granting access); false when none.
    public static func revoke(_ id: UUID, workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE consents SET revoked_at = now() WHERE id = \(id) AND worker_id = \(workerID) AND revoked_at IS NULL RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }
}

/// Placements of a worker with an employer.
public enum EngagementStore {
    public struct Engagement: Sendable, Codable, Equatable {
        public var id: UUID
        public var workerID: UUID
        public var workerName: String
        public var agencyID: UUID
        public var employerID: UUID
        public var employerName: String
        public var category: String
        public var startsOn: String
        public var endsOn: String?
        public var status: String
        public var reviewID: UUID?
        /// The household's substantiated complaints flagged this placement; she must accept it.
        public var householdWarning: Bool = false
        public var workerAccepted: Bool = false
        /// Her review of the household, once written.
        public var householdReviewID: UUID?
        /// How the household confirmed it: `verified_phone`, or `before_phone_verification` for
        /// placements confirmed before a verified number was required; nil until confirmed.
        public var confirmedVia: String?
    }

    /// Marks a new placement with a household flagged by substantiated complaints: it then waits
    /// for the worker's acceptance.
    public static func flagWarning(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE engagements SET household_warning = true WHERE id = \(id)", logger: logger)
    }

    /// The worker accepted the flagged placement, having read the warning.
    public static func acceptWarning(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE engagements SET worker_accepted_at = now() WHERE id = \(id) AND worker_accepted_at IS NULL",
            logger: logger
        )
    }

    public static func create(
        workerID: UUID,
        agencyID: UUID,
        employerID: UUID,
        category: String,
        startsOn: String,
        by: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO engagements (worker_id, agency_id, employer_id, category, starts_on, created_by)
            VALUES (\(workerID), \(agencyID), \(employerID), \(category), \(startsOn)::date, \(by)) RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
    }

    static let select = """
        SELECT e.id, e.worker_id, w.full_name, e.agency_id, e.employer_id, coalesce(u.household_name, u.display_name), e.category,
               e.starts_on::text, e.ends_on::text, e.status, r.id, e.household_warning, e.worker_accepted_at IS NOT NULL, hr.id,
               e.confirmed_via
        FROM engagements e JOIN workers w ON w.id = e.worker_id JOIN users u ON u.id = e.employer_id
        LEFT JOIN reviews r ON r.engagement_id = e.id
        LEFT JOIN household_reviews hr ON hr.engagement_id = e.id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Engagement] {
        var result: [Engagement] = []
        for try await (
            id, worker, name, agency, employer, employerName, category, starts, ends, status, review, warned, accepted, householdReview, via
        )
            in rows.decode((UUID, UUID, String, UUID, UUID, String, String, String, String?, String, UUID?, Bool, Bool, UUID?, String?).self)
        {
            result.append(
                Engagement(
                    id: id,
                    workerID: worker,
                    workerName: name,
                    agencyID: agency,
                    employerID: employer,
                    employerName: employerName,
                    category: category,
                    startsOn: starts,
                    endsOn: ends,
                    status: status,
                    reviewID: review,
                    householdWarning: warned,
                    workerAccepted: accepted,
                    householdReviewID: householdReview,
                    confirmedVia: via
                )
            )
        }
        return result
    }

    static func one(_ id: UUID) -> PostgresBindings {
        var b = PostgresBindings()
        b.append(id)
        return b
    }

    public static func lock(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Engagement? {
        try await decode(
            try await connection.query(
                PostgresQuery(unsafeSQL: select + " WHERE e.id = $1 FOR UPDATE OF e", binds: one(id)),
                logger: logger
            )
        ).first
    }

    /// A worker's engagements, newest first (at most `limit`; `summary` counts them all).
    public static func forWorker(
        _ workerID: UUID,
        statuses: [String]? = nil,
        limit: Int = 500,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Engagement] {
        var b = one(workerID)
        b.append(statuses)
        b.append(limit)
        return try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE e.worker_id = $1 AND ($2::text[] IS NULL OR e.status = ANY($2)) ORDER BY e.starts_on DESC LIMIT $3",
                    binds: b
                ),
                logger: logger
            )
        )
    }

    public static func forEmployer(_ employerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Engagement] {
        try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE e.employer_id = $1 ORDER BY e.starts_on DESC",
                    binds: one(employerID)
                ),
                logger: logger
            )
        )
    }

    public static func forAgency(_ agencyID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Engagement] {
        try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE e.agency_id = $1 ORDER BY e.starts_on DESC LIMIT 500",
                    binds: one(agencyID)
                ),
                logger: logger
            )
        )
    }

    public static func setStatus(
        _ id: UUID,
        _ status: EngagementStatus,
        by: UUID,
        endsOn: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE engagements SET status = \(status.rawValue),
                confirmed_at = CASE WHEN \(status.rawValue) = 'confirmed' THEN now() ELSE confirmed_at END,
                confirmed_via = CASE WHEN \(status.rawValue) = 'confirmed' THEN 'verified_phone' ELSE confirmed_via END,
                ended_at = CASE WHEN \(status.rawValue) IN ('ended', 'cancelled') THEN now() ELSE ended_at END,
                ended_by = CASE WHEN \(status.rawValue) IN ('ended', 'cancelled') THEN \(by) ELSE ended_by END,
                ends_on = coalesce(\(endsOn)::date, ends_on)
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

}

/// Reviews, replies and disputes. Reviews are never deleted; administrators hide them with a reason.
public enum ReviewStore {
    public struct Review: Sendable, Codable, Equatable {
        public var id: UUID
        public var engagementID: UUID
        public var workerID: UUID
        public var employerID: UUID
        public var employerName: String
        public var skillScores: [String: Int]
        public var ethicsScores: [String: Int]
        public var comment: String?
        public var createdAt: Date
        public var editedAt: Date?
        public var hiddenAt: Date?
        public var hiddenReason: String?
        public var reply: String?
        public var replyAt: Date?
    }

    /// The scores as the grader reads them: dimension names in name order, scores in the same order.
    static func arrays(_ d: [String: Int]) -> (dimensions: [String], scores: [Int]) {
        let names = d.keys.sorted()
        return (names, names.map { d[$0]! })
    }

    static func json(_ d: [String: Int]) -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return String(decoding: (try? e.encode(d)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public static func create(
        engagementID: UUID,
        workerID: UUID,
        employerID: UUID,
        content: ReviewContent,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let skill = arrays(content.skill)
        let ethics = arrays(content.ethics)
        do {
            let rows = try await connection.query(
                """
                INSERT INTO reviews (engagement_id, worker_id, employer_id, category, skill_scores, ethics_scores, skill_dimensions,
                                     skill_values, ethics_dimensions, ethics_values, comment)
                SELECT e.id, \(workerID), \(employerID), e.category, \(json(content.skill))::jsonb, \(json(content.ethics))::jsonb,
                       \(skill.dimensions)::text[], \(skill.scores)::integer[], \(ethics.dimensions)::text[], \(ethics.scores)::integer[],
                       \(content.comment)
                FROM engagements e WHERE e.id = \(engagementID)
                RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(
                .conflict,
                code: "review_exists",
                message: "This engagement already has its review. Edit it instead, within the edit window."
            )
        }
    }

    public static func update(_ id: UUID, content: ReviewContent, on connection: PostgresConnection, logger: Logger) async throws {
        let skill = arrays(content.skill)
        let ethics = arrays(content.ethics)
        try await connection.query(
            """
            UPDATE reviews SET skill_scores = \(json(content.skill))::jsonb, ethics_scores = \(json(content.ethics))::jsonb,
                   skill_dimensions = \(skill.dimensions)::text[], skill_values = \(skill.scores)::integer[],
                   ethics_dimensions = \(ethics.dimensions)::text[], ethics_values = \(ethics.scores)::integer[],
                   comment = \(content.comment), edited_at = now(), edit_count = edit_count + 1
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    static let select = """
        SELECT r.id, r.engagement_id, r.worker_id, r.employer_id, coalesce(u.household_name, u.display_name), r.skill_scores::text,
               r.ethics_scores::text, r.comment, r.created_at, r.edited_at, r.hidden_at, r.hidden_reason, p.body, p.created_at
        FROM reviews r JOIN users u ON u.id = r.employer_id LEFT JOIN review_replies p ON p.review_id = r.id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Review] {
        var result: [Review] = []
        for try await (id, engagement, worker, employer, name, skill, ethics, comment, created, edited, hidden, reason, reply, replyAt)
            in rows.decode((UUID, UUID, UUID, UUID, String, String, String, String?, Date, Date?, Date?, String?, String?, Date?).self)
        {
            let dec = JSONDecoder()
            result.append(
                Review(
                    id: id,
                    engagementID: engagement,
                    workerID: worker,
                    employerID: employer,
                    employerName: name,
                    skillScores: (try? dec.decode([String: Int].self, from: Data(skill.utf8))) ?? [:],
                    ethicsScores: (try? dec.decode([String: Int].self, from: Data(ethics.utf8))) ?? [:],
                    comment: comment,
                    createdAt: created,
                    editedAt: edited,
                    hiddenAt: hidden,
                    hiddenReason: reason,
                    reply: reply,
                    replyAt: replyAt
                )
            )
        }
        return result
    }

    /// The service category of a review's engagement.
    public static func category(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        for try await c in try await connection.query("SELECT category FROM reviews WHERE id = \(id)", logger: logger).decode(String.self) {
            return c
        }
        return nil
    }

    public static func lock(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Review? {
        try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE r.id = $1 FOR UPDATE OF r",
                    binds: EngagementStore.one(id)
                ),
                logger: logger
            )
        ).first
    }

    /// A worker's reviews, newest first; hidden ones only when asked (the worker and administrators).
    /// A worker's reviews, newest first (at most `limit`; `summary` covers them all).
    public static func forWorker(
        _ workerID: UUID,
        includeHidden: Bool,
        limit: Int = 500,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Review] {
        var b = PostgresBindings()
        b.append(workerID)
        b.append(includeHidden)
        b.append(limit)
        return try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE r.worker_id = $1 AND ($2 OR r.hidden_at IS NULL) ORDER BY r.created_at DESC LIMIT $3",
                    binds: b
                ),
                logger: logger
            )
        )
    }

    public static func reply(_ reviewID: UUID, workerID: UUID, body: String, on connection: PostgresConnection, logger: Logger) async throws {
        do {
            try await connection.query(
                """
                INSERT INTO review_replies (review_id, worker_id, body) VALUES (\(reviewID), \(workerID), \(body))
                """,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "reply_exists", message: "You have already replied to this review.")
        }
    }

    public static func dispute(_ reviewID: UUID, by: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO review_disputes (review_id, raised_by, reason) VALUES (\(reviewID), \(by), \(reason)) RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "dispute_open", message: "A dispute about this review is already open.")
        }
    }

    public struct Dispute: Sendable, Codable, Equatable {
        public var id: UUID
        public var reviewID: UUID
        public var workerID: UUID
        public var reason: String
        public var status: String
        public var createdAt: Date
    }

    /// The disputes a worker raised about reviews of her, newest first.
    public struct OwnDispute: Sendable, Codable, Equatable {
        public var id: UUID
        public var reviewID: UUID
        public var status: String
        public var createdAt: Date
        public var decisionNote: String?
    }

    public static func disputes(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [OwnDispute] {
        let rows = try await connection.query(
            """
            SELECT d.id, d.review_id, d.status, d.created_at, d.decision_note
            FROM review_disputes d JOIN reviews r ON r.id = d.review_id WHERE r.worker_id = \(workerID)
            ORDER BY d.created_at DESC LIMIT 500
            """,
            logger: logger
        )
        var result: [OwnDispute] = []
        for try await (id, review, status, created, note) in rows.decode((UUID, UUID, String, Date, String?).self) {
            result.append(OwnDispute(id: id, reviewID: review, status: status, createdAt: created, decisionNote: note))
        }
        return result
    }

    public static func openDisputes(on connection: PostgresConnection, logger: Logger) async throws -> [Dispute] {
        let rows = try await connection.query(
            """
            SELECT d.id, d.review_id, r.worker_id, d.reason, d.status, d.created_at
            FROM review_disputes d JOIN reviews r ON r.id = d.review_id WHERE d.status = 'open' ORDER BY d.created_at LIMIT 200
            """,
            logger: logger
        )
        var result: [Dispute] = []
        for try await (id, review, worker, reason, status, created) in rows.decode((UUID, UUID, UUID, String, String, Date).self) {
            result.append(Dispute(id: id, reviewID: review, workerID: worker, reason: reason, status: status, createdAt: created))
        }
        return result
    }

    public static func lockDispute(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Dispute? {
        let rows = try await connection.query(
            """
            SELECT d.id, d.review_id, r.worker_id, d.reason, d.status, d.created_at
            FROM review_disputes d JOIN reviews r ON r.id = d.review_id WHERE d.id = \(id) FOR UPDATE OF d
            """,
            logger: logger
        )
        for try await (id, review, worker, reason, status, created) in rows.decode((UUID, UUID, UUID, String, String, Date).self) {
            return Dispute(id: id, reviewID: review, workerID: worker, reason: reason, status: status, createdAt: created)
        }
        return nil
    }

    public static func decideDispute(_ id: UUID, upheld: Bool, by: UUID, note: String, on connection: PostgresConnection, logger: Logger) async throws
    {
        try await connection.query(
            """
            UPDATE review_disputes SET status = \(upheld ? "upheld" : "rejected"), decided_at = now(), decided_by = \(by), decision_note = \(note)
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    public static func hide(_ reviewID: UUID, by: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE reviews SET hidden_at = now(), hidden_by = \(by), hidden_reason = \(reason) WHERE id = \(reviewID) AND hidden_at IS NULL
            """,
            logger: logger
        )
    }
}

/// Who looked at a worker's report, when, and under which consent or engagement.
public enum InquiryStore {
    public struct Inquiry: Sendable, Codable, Equatable {
        public var id: Int64
        public var viewerName: String?
        public var viewerRole: String
        public var purpose: String
        public var consentID: UUID?
        public var engagementID: UUID?
        public var viewedAt: Date
    }

    public static func record(
        workerID: UUID,
        viewer: UUID?,
        role: String,
        purpose: String,
        consentID: UUID?,
        engagementID: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO inquiries (worker_id, viewer_id, viewer_role, purpose, consent_id, engagement_id)
            VALUES (\(workerID), \(viewer), \(role), \(purpose), \(consentID), \(engagementID))
            """,
            logger: logger
        )
    }

    public static func list(workerID: UUID, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Inquiry] {
        let rows = try await connection.query(
            """
            SELECT i.id, coalesce(u.household_name, u.display_name), i.viewer_role, i.purpose, i.consent_id, i.engagement_id, i.viewed_at
            FROM inquiries i LEFT JOIN users u ON u.id = i.viewer_id
            WHERE i.worker_id = \(workerID) ORDER BY i.viewed_at DESC, i.id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [Inquiry] = []
        for try await (id, name, role, purpose, consent, engagement, at) in rows.decode((Int64, String?, String, String, UUID?, UUID?, Date).self) {
            result.append(
                Inquiry(id: id, viewerName: name, viewerRole: role, purpose: purpose, consentID: consent, engagementID: engagement, viewedAt: at)
            )
        }
        return result
    }
}

/// Fixed-window counters (per minute) for public endpoints, shared by every node.
public enum RateLimitStore {
    /// A counting window: the calendar minute, hour or day (UTC) a hit falls in.
    public enum Window: String, Sendable {
        case minute, hour, day

        var seconds: Int {
            switch self {
            case .minute: 60
            case .hour: 3600
            case .day: 86_400
            }
        }

        /// Seconds until the next window starts (for Retry-After).
        public func secondsLeft(_ now: Date = Date()) -> Int {
            max(1, seconds - Int(now.timeIntervalSince1970.truncatingRemainder(dividingBy: Double(seconds))))
        }
    }

    /// Counts a hit for `key`; false when the key is over `limit` in the current `window`.
    public static func hit(key: String, limit: Int, per window: Window, database: Database, logger: Logger) async throws -> Bool {
        let rows = try await database.query(
            """
            INSERT INTO rate_limits AS r (key, window_start, hits) VALUES (\(key), date_trunc(\(window.rawValue), now()), 1)
            ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + 1
            RETURNING hits
            """,
            logger: logger
        )
        for try await hits in rows.decode(Int32.self) { return Int(hits) <= limit }
        return true
    }

    /// A hit in the current calendar minute.
    public static func hit(key: String, perMinute: Int, database: Database, logger: Logger) async throws -> Bool {
        try await hit(key: key, limit: perMinute, per: .minute, database: database, logger: logger)
    }
}

/// One-time codes with which a worker activates her account.
public enum ActivationStore {
    public static func create(userID: UUID, codeHash: Data, minutes: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO activation_codes (user_id, code_hash, expires_at)
            VALUES (\(userID), \(codeHash), now() + make_interval(mins => \(Int32(minutes))))
            """,
            logger: logger
        )
    }

    /// The newest live code of a user, locked.
    public static func live(userID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> (id: UUID, hash: Data, attempts: Int)? {
        let rows = try await connection.query(
            """
            SELECT id, code_hash, attempts FROM activation_codes
            WHERE user_id = \(userID) AND used_at IS NULL AND expires_at > now() ORDER BY created_at DESC LIMIT 1 FOR UPDATE
            """,
            logger: logger
        )
        for try await (id, hash, attempts) in rows.decode((UUID, Data, Int32).self) { return (id, hash, Int(attempts)) }
        return nil
    }

    public static func countFailure(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE activation_codes SET attempts = attempts + 1 WHERE id = \(id)", logger: logger)
    }

    public static func use(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE activation_codes SET used_at = now() WHERE id = \(id)", logger: logger)
    }
}
