import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The reads behind a worker's credit report.
public enum ReportStore {
    public struct Listing: Sendable, Codable, Equatable {
        public var id: UUID
        public var fullName: String
        public var birthDate: String
        public var homeRegion: String
        public var categories: [String]
        public var grade: String?
        public var topLevel: Int?
        public var onRedList: Bool
    }

    /// Workers who listed themselves for hire, filtered; ordered by grade then name.
    public static func available(
        region: String?,
        category: String?,
        minLevel: Int?,
        grades: [String]?,
        sectorCategories: [String]? = nil,
        redListOnly: Bool = false,
        redList: RedListRule,
        limit: Int,
        offset: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Listing] {
        let regionPrefix = region.map { $0.hasSuffix("0000") ? String($0.prefix(2)) + "%" : ($0.hasSuffix("00") ? String($0.prefix(4)) + "%" : $0) }
        let rows = try await connection.query(
            """
            SELECT w.id, w.full_name, w.birth_date::text, w.home_region, w.service_categories, g.grade, s.level, coalesce(r.listed, false)
            FROM workers w
            LEFT JOIN grades g ON g.worker_id = w.id
            LEFT JOIN LATERAL (
                SELECT max(level)::int AS level FROM (
                    SELECT DISTINCT ON (category) category, level FROM skill_assessments
                    WHERE worker_id = w.id AND (\(category)::text IS NULL OR category = \(category))
                    ORDER BY category, assessed_on DESC, created_at DESC) latest
            ) s ON true
            LEFT JOIN LATERAL (
                SELECT w.red_list_opt_in AND g.grade = \(redList.grade) AND g.grade_since <= \(redList.heldSince)::date
                   AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.worker_id = w.id AND c.state NOT IN ('executed', 'reversed', 'withdrawn', 'closed'))
                   AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.worker_id = w.id AND f.status <> 'retracted'
                       AND (f.expires_on IS NULL OR f.expires_on >= \(redList.today)::date)
                       AND NOT EXISTS (SELECT 1 FROM flag_repairs fr WHERE fr.flag_id = f.id AND fr.status = 'approved')) AS listed
            ) r ON true
            WHERE w.available_for_hire AND w.status = 'active'
              AND (NOT \(redListOnly) OR coalesce(r.listed, false))
              AND (\(sectorCategories)::text[] IS NULL OR w.service_categories && \(sectorCategories)::text[])
              AND (\(regionPrefix)::text IS NULL OR w.home_region LIKE \(regionPrefix))
              AND (\(category)::text IS NULL OR \(category) = ANY (w.service_categories))
              AND (\(minLevel.map(Int32.init))::int IS NULL OR coalesce(s.level, 0) >= \(minLevel.map(Int32.init)))
              AND (\(grades)::text[] IS NULL OR g.grade = ANY (\(grades)))
            ORDER BY coalesce(g.grade, 'E'), w.full_name, w.id
            LIMIT \(limit) OFFSET \(offset)
            """,
            logger: logger
        )
        var result: [Listing] = []
        for try await (id, name, birth, region, categories, grade, level, listed) in rows.decode(
            (UUID, String, String, String, [String], String?, Int?, Bool).self
        ) {
            result.append(
                Listing(
                    id: id,
                    fullName: name,
                    birthDate: birth,
                    homeRegion: region,
                    categories: categories,
                    grade: grade,
                    topLevel: level,
                    onRedList: listed
                )
            )
        }
        return result
    }

    public static func isAvailable(_ workerID: UUID, database: Database, logger: Logger) async throws -> Bool {
        for try await value in try await database.query("SELECT available_for_hire FROM workers WHERE id = \(workerID)", logger: logger)
            .decode(Bool.self)
        {
            return value
        }
        return false
    }

    public static func setAvailable(_ workerID: UUID, _ available: Bool, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE workers SET available_for_hire = \(available), available_since = CASE WHEN \(available) THEN now() ELSE NULL END
            WHERE id = \(workerID)
            """,
            logger: logger
        )
    }
}

// MARK: The report in one round trip

extension ReportStore {
    /// Who asks for a report, as the one statement needs to decide whether they may read it.
    public struct ReportReader: Sendable {
        /// `admin`, `worker` (her own file: the caller checked it is hers), `agency_staff` or `employer`.
        public var role: String
        public var userID: UUID?
        public var agencyID: UUID?
        /// An administrator's stated purpose (`case`, `dispute`, `audit`).
        public var adminPurpose: String?
        /// The audit row's actor.
        public var actorKind: String
        public var actorRole: String?
        public var requestID: String?

        public init(
            role: String,
            userID: UUID?,
            agencyID: UUID?,
            adminPurpose: String?,
            actorKind: String,
            actorRole: String?,
            requestID: String?
        ) {
            self.role = role
            self.userID = userID
            self.agencyID = agencyID
            self.adminPurpose = adminPurpose
            self.actorKind = actorKind
            self.actorRole = actorRole
            self.requestID = requestID
        }
    }

    /// What the one statement answered: nothing when the worker does not exist; otherwise the
    /// purpose under which the reader may read (nil: may not), the reader's agency's status (for
    /// agency staff), and the file as JSON (`WorkerFile`'s shape) when the read was allowed —
    /// in which case the inquiry and the `report.viewed` audit row were written by the same statement.
    public struct ReportRead: Sendable {
        public var purpose: String?
        public var agencyStatus: String?
        public var file: String?
    }

    /// Authorises, reads her whole file and records the inquiry and its audit row: one prepared
    /// statement, one round trip, atomic on its own (no transaction around it).
    public static func read(
        worker: UUID,
        reader: ReportReader,
        today: String,
        recentReviews: Int,
        engagementItems: Int,
        database: Database,
        logger: Logger
    ) async throws -> ReportRead? {
        let statement = ReportFileStatement(
            worker: worker,
            role: reader.role,
            userID: reader.userID,
            agencyID: reader.agencyID,
            adminPurpose: reader.adminPurpose,
            today: today,
            recentReviews: Int32(clamping: recentReviews),
            engagementItems: Int32(clamping: engagementItems),
            actorKind: reader.actorKind,
            actorRole: reader.actorRole,
            requestID: reader.requestID
        )
        return try await database.withConnection { connection in
            for try await (purpose, status, file) in try await connection.execute(statement, logger: logger) {
                return ReportRead(purpose: purpose, agencyStatus: status, file: file)
            }
            return nil
        }
    }

    /// The report's SQL with its parameters, for `pgbench` to run exactly the same statement
    /// (`registry report-sql`): $1 worker, $2 role, $3 user, $4 agency, $5 administrator's purpose,
    /// $6 today, $7 newest reviews, $8 newest engagements, $9 actor kind, $10 actor role, $11 request id.
    public static var reportSQL: String { ReportFileStatement.sql }
}

struct ReportFileStatement: PostgresPreparedStatement {
    typealias Row = (String?, String?, String?)

    var worker: UUID
    var role: String
    var userID: UUID?
    var agencyID: UUID?
    var adminPurpose: String?
    var today: String
    var recentReviews: Int32
    var engagementItems: Int32
    var actorKind: String
    var actorRole: String?
    var requestID: String?

    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .uuid, .uuid, .text, .text, .int4, .int4, .text, .text, .text]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 11)
        b.append(worker)
        b.append(role)
        b.append(userID)
        b.append(agencyID)
        b.append(adminPurpose)
        b.append(today)
        b.append(recentReviews)
        b.append(engagementItems)
        b.append(actorKind)
        b.append(actorRole)
        b.append(requestID)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }

    /// Who may read decides in `decided`; the inquiry and audit rows are written only when the
    /// read is allowed and is not her own; the file is assembled only then (the CASE evaluates
    /// its sub-select only for an allowed read). Every list is bounded: reviews and engagements
    /// by the parameters, the rest by what a file holds.
    static let sql = """
        WITH w AS (
            SELECT id, full_name, birth_date, sex, home_region, service_categories, status, current_agency_id
            FROM workers WHERE id = $1::uuid
        ), gate AS (
            SELECT w.id,
                   CASE WHEN $2::text = 'employer' THEN
                       (SELECT e.id FROM engagements e
                        WHERE e.employer_id = $3::uuid AND e.worker_id = w.id AND e.status = 'confirmed' LIMIT 1) END AS engagement_id,
                   CASE WHEN $2::text = 'employer' THEN
                       (SELECT c.id FROM consents c
                        WHERE c.used_by = $3::uuid AND c.worker_id = w.id AND c.access_until > now() AND c.revoked_at IS NULL
                        ORDER BY c.access_until DESC LIMIT 1) END AS consent_id,
                   CASE WHEN $2::text = 'agency_staff' THEN (SELECT a.status FROM agencies a WHERE a.id = $4::uuid) END AS agency_status,
                   w.current_agency_id = $4::uuid AS in_custody
            FROM w
        ), decided AS (
            SELECT g.*,
                   CASE WHEN $2::text = 'admin' THEN $5::text
                        WHEN $2::text = 'worker' THEN 'self'
                        WHEN $2::text = 'agency_staff' AND g.in_custody AND g.agency_status IN ('approved', 'suspended') THEN 'custody'
                        WHEN $2::text = 'employer' AND g.engagement_id IS NOT NULL THEN 'engagement'
                        WHEN $2::text = 'employer' AND g.consent_id IS NOT NULL THEN 'pre_hire_check' END AS purpose
            FROM gate g
        ), inquiry AS (
            INSERT INTO inquiries (worker_id, viewer_id, viewer_role, purpose, consent_id, engagement_id)
            SELECT id, $3::uuid, $2::text, purpose, consent_id, engagement_id FROM decided WHERE purpose IS NOT NULL AND purpose <> 'self'
        ), audit AS (
            INSERT INTO audit_log (actor_kind, actor_id, actor_role, action, subject_type, subject_id, request_id, details, content_hash)
            SELECT $9::text, $3::uuid, $10::text, 'report.viewed', 'worker', id::text, $11::text,
                   jsonb_build_object('purpose', purpose, 'consent', consent_id::text, 'engagement', engagement_id::text), ''::bytea
            FROM decided WHERE purpose IS NOT NULL AND purpose <> 'self'
        )
        SELECT d.purpose, d.agency_status, CASE WHEN d.purpose IS NOT NULL THEN (
            SELECT json_build_object(
                'worker', json_build_object('id', w.id, 'full_name', w.full_name, 'birth_date', w.birth_date, 'sex', w.sex,
                                            'home_region', w.home_region, 'categories', w.service_categories, 'status', w.status),
                'agency', (SELECT a.name FROM agencies a WHERE a.id = w.current_agency_id),
                'agency_standing', agency_standing(w.current_agency_id),
                'grade', (SELECT json_build_object('grade', g.grade, 'composite', g.composite, 'ethics_score', g.ethics_score,
                                                   'skill_score', g.skill_score, 'reasons', g.reasons, 'policy_version', g.policy_version,
                                                   'computed_at', extract(epoch FROM g.computed_at))
                          FROM grades g WHERE g.worker_id = w.id),
                'skills', (SELECT json_agg(json_build_object('category', s.category, 'level', s.level, 'assessed_on', s.assessed_on))
                           FROM (SELECT DISTINCT ON (category) category, level, assessed_on FROM skill_assessments
                                 WHERE worker_id = w.id ORDER BY category, assessed_on DESC, created_at DESC) s),
                'trainings', (SELECT json_agg(json_build_object('kind', t.kind, 'title', t.title, 'issuer', t.issuer,
                                                                'issued_on', t.issued_on, 'expires_on', t.expires_on)
                                              ORDER BY t.issued_on, t.created_at)
                              FROM (SELECT kind, title, issuer, issued_on, expires_on, created_at FROM trainings
                                    WHERE worker_id = w.id ORDER BY issued_on DESC, created_at DESC LIMIT 500) t),
                'health', (SELECT json_build_object('valid_until', h.valid_until, 'result', h.result) FROM health_certificates h
                           WHERE h.worker_id = w.id ORDER BY h.valid_until DESC, h.issued_on DESC, h.created_at DESC LIMIT 1),
                'tenures', (SELECT json_agg(json_build_object('agency', t.agency, 'started_on', t.started_on, 'ended_on', t.ended_on,
                                                              'work_ability', t.work_ability, 'health_status', t.health_status,
                                                              'feedback_summary', t.feedback_summary, 'ethics_rating', t.ethics_rating,
                                                              'ethics_note', t.ethics_note, 'sealed_how', t.sealed_how,
                                                              'overturned_reason', t.reason, 'overturned_on', t.overturned_on)
                                            ORDER BY t.started_on, t.created_at)
                            FROM (SELECT a.name AS agency, t.started_on, t.ended_on, t.work_ability, t.health_status, t.feedback_summary,
                                         t.ethics_rating, t.ethics_note, t.sealed_how, n.reason, n.created_at::date AS overturned_on, t.created_at
                                  FROM tenures t JOIN agencies a ON a.id = t.agency_id LEFT JOIN tenure_annotations n ON n.tenure_id = t.id
                                  WHERE t.worker_id = w.id ORDER BY t.started_on, t.created_at LIMIT 500) t),
                'engagement_count', es.n,
                'engagement_days', es.days,
                'engagements', (SELECT json_agg(json_build_object('category', e.category, 'starts_on', e.starts_on, 'ends_on', e.ends_on)
                                                ORDER BY e.starts_on DESC)
                                FROM (SELECT category, starts_on, ends_on FROM engagements
                                      WHERE worker_id = w.id AND status IN ('confirmed', 'ended') ORDER BY starts_on DESC LIMIT $8::int4) e),
                'review_count', (SELECT count(*) FROM reviews r WHERE r.worker_id = w.id AND r.hidden_at IS NULL),
                'skill_averages', (SELECT json_object_agg(k, mean) FROM (
                                       SELECT s.key AS k, round(avg(s.value::int), 2) AS mean
                                       FROM reviews r CROSS JOIN LATERAL jsonb_each_text(r.skill_scores) s
                                       WHERE r.worker_id = w.id AND r.hidden_at IS NULL GROUP BY s.key) a),
                'ethics_averages', (SELECT json_object_agg(k, mean) FROM (
                                        SELECT s.key AS k, round(avg(s.value::int), 2) AS mean
                                        FROM reviews r CROSS JOIN LATERAL jsonb_each_text(r.ethics_scores) s
                                        WHERE r.worker_id = w.id AND r.hidden_at IS NULL GROUP BY s.key) a),
                'reviews', (SELECT json_agg(json_build_object('id', r.id, 'created_at', extract(epoch FROM r.created_at),
                                                              'employer_id', r.employer_id, 'household', coalesce(u.household_name, u.display_name),
                                                              'skill_scores', r.skill_scores, 'ethics_scores', r.ethics_scores,
                                                              'comment', r.comment, 'reply', p.body,
                                                              'confirmed_via', ce.confirmed_via,
                                                              'confirmed_at', extract(epoch FROM ce.confirmed_at))
                                            ORDER BY r.created_at DESC)
                            FROM (SELECT id, created_at, employer_id, engagement_id, skill_scores, ethics_scores, comment FROM reviews
                                  WHERE worker_id = w.id AND hidden_at IS NULL ORDER BY created_at DESC LIMIT $7::int4) r
                            JOIN users u ON u.id = r.employer_id JOIN engagements ce ON ce.id = r.engagement_id
                            LEFT JOIN review_replies p ON p.review_id = r.id),
                'flags', (SELECT json_agg(json_build_object('source', s.display_name, 'source_kind', s.kind, 'category', f.category,
                                                            'occurred_on', f.occurred_on, 'status', f.status) ORDER BY f.occurred_on DESC)
                          FROM flags f JOIN integration_sources s ON s.id = f.source_id
                          WHERE f.worker_id = w.id AND f.status <> 'retracted' AND (f.expires_on IS NULL OR f.expires_on >= $6::date)
                            AND NOT EXISTS (SELECT 1 FROM flag_repairs x WHERE x.flag_id = f.id AND x.status = 'approved')),
                'banned_since', (SELECT extract(epoch FROM b.executed_at) FROM bans b WHERE b.worker_id = w.id AND b.lifted_at IS NULL),
                'suspended_since', (SELECT extract(epoch FROM min(s.started_at)) FROM suspensions s WHERE s.worker_id = w.id AND s.lifted_at IS NULL)
            )::text
            FROM (SELECT count(*) AS n, coalesce(sum(greatest(0, coalesce(ends_on, $6::date) - starts_on)), 0) AS days
                  FROM engagements WHERE worker_id = w.id AND status IN ('confirmed', 'ended')) es
        ) END
        FROM decided d CROSS JOIN w
        """
}

// MARK: The public ban lookup in one round trip

extension ReportStore {
    /// Counts the caller's lookup in this minute and, when within `perMinute`, answers whether the
    /// ID number behind `blindIndex` is barred: one prepared statement. Nil when over the limit.
    public static func banLookup(throttleKey: String, perMinute: Int, blindIndex: Data, database: Database, logger: Logger) async throws -> Bool? {
        let statement = BanLookupStatement(key: throttleKey, limit: Int32(clamping: perMinute), blindIndex: blindIndex)
        return try await database.withConnection { connection in
            for try await (allowed, revoked) in try await connection.execute(statement, logger: logger) {
                return allowed ? revoked ?? false : nil
            }
            return nil
        }
    }

    /// Whether the person with this blind index is barred now (the lookup's answer alone, without
    /// its count: for the read copy, where the count cannot be written).
    public static func banned(blindIndex: Data, database: Database, logger: Logger) async throws -> Bool {
        try await database.withReadConnection { connection in
            let rows = try await connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM workers w JOIN bans b ON b.worker_id = w.id AND b.lifted_at IS NULL
                               WHERE w.id_blind_index = \(blindIndex))
                """,
                logger: logger
            )
            for try await value in rows.decode(Bool.self) { return value }
            return false
        }
    }

    /// The lookup's SQL with its parameters, for `pgbench`: $1 throttle key, $2 per minute, $3 blind index.
    public static var banLookupSQL: String { BanLookupStatement.sql }
}

struct BanLookupStatement: PostgresPreparedStatement {
    typealias Row = (Bool, Bool?)

    var key: String
    var limit: Int32
    var blindIndex: Data

    static let bindingDataTypes: [PostgresDataType] = [.text, .int4, .bytea]

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 3)
        b.append(key)
        b.append(limit)
        try b.append(blindIndex)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }

    /// The barred-or-not select runs only when the hit is within the limit.
    static let sql = """
        WITH hit AS (
            INSERT INTO rate_limits AS r (key, window_start, hits) VALUES ($1::text, date_trunc('minute', now()), 1)
            ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + 1
            RETURNING hits
        )
        SELECT h.hits <= $2::int4,
               CASE WHEN h.hits <= $2::int4 THEN EXISTS (
                   SELECT 1 FROM workers w JOIN bans b ON b.worker_id = w.id AND b.lifted_at IS NULL WHERE w.id_blind_index = $3::bytea) END
        FROM hit h
        """
}
