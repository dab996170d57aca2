import Foundation
import Logging
import NIOCore
import PostgresNIO

extension ScaleDataStore {
    /// A batch of flags from one source, prepared as `FlagService.row` stores them and written as
    /// COPY text lines (`CopyLine`: line, ref, blind, category, severity, status, occurred, expires,
    /// narrative, hash), streamed into a staging table and matched to files through the blind
    /// index, in one transaction. Returns how many matched a file. A flag whose last day was
    /// before `today` is stored with its expiry applied the day after that day, as a registry in
    /// service would have done then (its effects were never applied; see `FlagPolicy.effects`).
    public static func insertFlags(_ lines: ByteBuffer, source: UUID, today: String, database: Database, logger: Logger) async throws -> Int {
        try await database.transaction(logger: logger) { connection in
            var matched = 0
            try await connection.query(
                """
                CREATE TEMP TABLE IF NOT EXISTS scale_flag_staging (
                    line int8 NOT NULL, ref text NOT NULL, blind bytea NOT NULL, category text NOT NULL, severity int2 NOT NULL,
                    status text NOT NULL, occurred date NOT NULL, expires date, narrative bytea, hash bytea NOT NULL) ON COMMIT DELETE ROWS
                """,
                logger: logger
            )
            try await connection.copyFrom(table: "scale_flag_staging", logger: logger) { writer in try await writer.write(lines) }
            try await connection.query("ANALYZE scale_flag_staging", logger: logger)
            let rows = try await connection.query(
                """
                WITH ins AS (
                    INSERT INTO flags (source_id, source_ref, id_blind_index, worker_id, category, severity, status, occurred_on, expires_on,
                                       narrative_enc, content_hash, received_at, updated_at, expiry_applied_on)
                    SELECT \(source), s.ref, s.blind, w.id, s.category, s.severity, s.status, s.occurred, s.expires, s.narrative, s.hash,
                           s.received, s.received, CASE WHEN s.expires < \(today)::date THEN s.expires + 1 END
                    FROM (SELECT *, least(now(), (occurred + 1 + floor(random() * 30)::int + time '09:00')::timestamptz) AS received
                          FROM scale_flag_staging) AS s
                    LEFT JOIN workers w ON w.id_blind_index = s.blind
                    RETURNING worker_id
                )
                SELECT count(worker_id) FROM ins
                """,
                logger: logger
            )
            for try await n in rows.decode(Int64.self) { matched = Int(n) }
            return matched
        }
    }

    /// The flags of a source with these references that matched a file.
    public static func matchedFlagIDs(
        source: UUID,
        references: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [UUID] {
        var ids: [UUID] = []
        let rows = try await connection.query(
            """
            SELECT id FROM flags WHERE source_id = \(source) AND source_ref = ANY(\(references)::text[]) AND worker_id IS NOT NULL
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Suspensions caused by flags from these sources.
    public static func countSuspensions(sources: [UUID], database: Database, logger: Logger) async throws -> Int {
        let query: PostgresQuery = """
            SELECT count(*)::int8 FROM suspensions s JOIN flags f ON f.id = s.flag_id WHERE f.source_id = ANY(\(sources)::uuid[])
            """
        for try await n in try await database.query(query, logger: logger).decode(Int64.self) { return Int(n) }
        return 0
    }

    /// Cases opened by flags from these sources.
    public static func countCases(sources: [UUID], database: Database, logger: Logger) async throws -> Int {
        let query: PostgresQuery = """
            SELECT count(*)::int8 FROM cases c JOIN flags f ON f.id = c.origin_flag_id WHERE f.source_id = ANY(\(sources)::uuid[])
            """
        for try await n in try await database.query(query, logger: logger).decode(Int64.self) { return Int(n) }
        return 0
    }
}
