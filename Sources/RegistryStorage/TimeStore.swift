import Foundation
import Logging
import PostgresNIO

/// The set-based queries of the time-driven jobs that have no other home: what expires soon, and
/// which grades time has changed. Days are the registry's (YYYY-MM-DD, China time). Each query
/// reads only the rows whose day falls in the window it is given, through an index on that day.
public enum TimeStore {
    /// Queues an e-mail to the agency in custody for each health certificate and qualification
    /// whose last valid day is in `(from, to]` and that no later one of the same kind replaces.
    /// Idempotent: the key names the certificate, so a repeated run sends nothing twice.
    public static func queueCredentialNotices(from: String, to: String, database: Database, logger: Logger) async throws -> Int {
        let health = try await HousekeepingStore.count(
            """
            WITH queued AS (
                INSERT INTO notifications (channel, recipient, template, payload, language, idempotency_key)
                SELECT 'email', a.contact_email, 'health_certificate_expiring',
                       jsonb_build_object('worker', w.full_name, 'last_day', c.valid_until::text), 'zh-CN',
                       'credential-expiring-health-' || c.id::text
                FROM health_certificates c
                JOIN workers w ON w.id = c.worker_id
                JOIN agencies a ON a.id = w.current_agency_id
                WHERE c.valid_until > \(from)::date AND c.valid_until <= \(to)::date
                  AND a.contact_email IS NOT NULL AND w.status <> 'revoked'
                  AND NOT EXISTS (SELECT 1 FROM health_certificates n WHERE n.worker_id = c.worker_id AND n.valid_until > c.valid_until)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING 1)
            SELECT count(*)::int FROM queued
            """,
            database,
            logger
        )
        let qualifications = try await HousekeepingStore.count(
            """
            WITH queued AS (
                INSERT INTO notifications (channel, recipient, template, payload, language, idempotency_key)
                SELECT 'email', a.contact_email, 'qualification_expiring',
                       jsonb_build_object('worker', w.full_name, 'title', q.title, 'last_day', q.expires_on::text), 'zh-CN',
                       'credential-expiring-qualification-' || q.id::text
                FROM trainings q
                JOIN workers w ON w.id = q.worker_id
                JOIN agencies a ON a.id = w.current_agency_id
                WHERE q.expires_on > \(from)::date AND q.expires_on <= \(to)::date
                  AND a.contact_email IS NOT NULL AND w.status <> 'revoked'
                  AND NOT EXISTS (
                      SELECT 1 FROM trainings n
                      WHERE n.worker_id = q.worker_id AND n.kind = q.kind AND n.title = q.title
                        AND n.category IS NOT DISTINCT FROM q.category AND (n.expires_on IS NULL OR n.expires_on > q.expires_on))
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING 1)
            SELECT count(*)::int FROM queued
            """,
            database,
            logger
        )
        return health + qualifications
    }

    /// Queues for regrading the workers whose stored grade time has changed by `today`:
    /// - a health certificate or qualification the grade counted as valid has expired since
    ///   (its last valid day in `[since, today)`, on or after the grade's day);
    /// - a skill assessment the grade counted as current has gone stale (`staleAfterDays` old);
    /// - the grade rests on reviews or agency ratings (whose weight decays with age) and is
    ///   `refreshDays` old or more.
    /// Barred workers' grades do not move. Returns the workers queued.
    public static func queueTimeChangedGrades(
        since: String,
        today: String,
        staleAfterDays: Int,
        refreshDays: Int,
        database: Database,
        logger: Logger
    ) async throws -> Int {
        try await HousekeepingStore.count(
            """
            WITH due AS (
                SELECT c.worker_id FROM health_certificates c JOIN grades g ON g.worker_id = c.worker_id
                WHERE c.valid_until >= \(since)::date AND c.valid_until < \(today)::date
                  AND g.as_of <= c.valid_until AND g.grade <> 'REVOKED'
                UNION
                SELECT q.worker_id FROM trainings q JOIN grades g ON g.worker_id = q.worker_id
                WHERE q.expires_on >= \(since)::date AND q.expires_on < \(today)::date
                  AND g.as_of <= q.expires_on AND g.grade <> 'REVOKED'
                UNION
                SELECT s.worker_id FROM skill_assessments s JOIN grades g ON g.worker_id = s.worker_id
                WHERE s.assessed_on >= \(since)::date - \(staleAfterDays)::int AND s.assessed_on < \(today)::date - \(staleAfterDays)::int
                  AND g.as_of <= s.assessed_on + \(staleAfterDays)::int AND g.grade <> 'REVOKED'
                UNION
                SELECT g.worker_id FROM grades g
                WHERE g.as_of <= \(today)::date - \(refreshDays)::int AND g.grade <> 'REVOKED'
                  AND (EXISTS (SELECT 1 FROM reviews r WHERE r.worker_id = g.worker_id)
                       OR EXISTS (SELECT 1 FROM tenures t WHERE t.worker_id = g.worker_id AND t.ethics_rating IS NOT NULL))
            ), queued AS (
                INSERT INTO grade_queue (worker_id, cause) SELECT worker_id, 'time' FROM due
                ON CONFLICT (worker_id) DO NOTHING
                RETURNING 1)
            SELECT count(*)::int FROM queued
            """,
            database,
            logger
        )
    }

    /// Ends sessions left idle longer than `idleSeconds` or past their lifetime, as of `now`, at
    /// most `batch` at a time; returns how many.
    public static func endIdleSessions(now: Date, idleSeconds: Int, batch: Int, database: Database, logger: Logger) async throws -> Int {
        try await HousekeepingStore.count(
            """
            WITH ended AS (
                UPDATE sessions SET revoked_at = \(now)
                WHERE id IN (
                    SELECT id FROM sessions
                    WHERE revoked_at IS NULL AND last_seen_at < \(now) - make_interval(secs => \(Double(idleSeconds)))
                    LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM ended
            """,
            database,
            logger
        )
    }
}
