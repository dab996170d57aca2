import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The nightly flag files: a session's staging table filled with COPY (`FlagStore.Row.appendCopyLine`),
/// then merged into `flags` with set-based SQL in chunks, each chunk its own transaction on the
/// same connection (the staging table is temporary, so the whole import keeps one connection).
public enum FlagImportStore {
    /// Creates the session's staging table if needed and empties it.
    public static func prepareStaging(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TEMP TABLE IF NOT EXISTS flag_staging (
                line int8 NOT NULL, ref text NOT NULL, blind bytea NOT NULL, category text NOT NULL, severity int2 NOT NULL,
                status text NOT NULL, occurred date NOT NULL, expires date, narrative bytea, hash bytea NOT NULL)
            """,
            logger: logger
        )
        try await connection.query("TRUNCATE flag_staging", logger: logger)
    }

    /// Streams COPY text into the staging table: `write` is handed `send`, which sends one buffer of lines.
    public static func copyIntoStaging(
        on connection: PostgresConnection,
        logger: Logger,
        _ write: (_ send: (ByteBuffer) async throws -> Void) async throws -> Void
    ) async throws {
        try await connection.copyFrom(table: "flag_staging", logger: logger) { writer in
            try await write { buffer in try await writer.write(buffer) }
        }
    }

    /// Drops the staged lines whose reference an earlier line has; returns each dropped line with
    /// the line it repeats.
    public static func removeRepeatedReferences(on connection: PostgresConnection, logger: Logger) async throws -> [(line: Int64, first: Int64)] {
        let duplicates = try await connection.query(
            """
            DELETE FROM flag_staging s USING flag_staging t WHERE s.ref = t.ref AND s.line > t.line RETURNING s.line, t.line
            """,
            logger: logger
        )
        var rows: [(line: Int64, first: Int64)] = []
        for try await row in duplicates.decode((Int64, Int64).self) { rows.append(row) }
        return rows
    }

    /// Indexes the staged lines by line number and analyzes them, before merging in chunks.
    public static func indexStaging(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("CREATE INDEX IF NOT EXISTS flag_staging_line_idx ON flag_staging (line)", logger: logger)
        try await connection.query("ANALYZE flag_staging", logger: logger)
    }

    /// Merges the staged lines `start..<end` into the source's flags (the previous version of a
    /// changed flag kept in flag_versions): how many lines were staged in that range, created and
    /// updated, and the ids of the merged flags that belong to a worker's file.
    public static func mergeStaged(
        sourceID: UUID,
        from start: Int64,
        to end: Int64,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(total: Int64, created: Int64, updated: Int64, withFile: [UUID])] {
        let rows = try await connection.query(
            """
            WITH input AS (SELECT * FROM flag_staging WHERE line >= \(start) AND line < \(end)),
            previous AS (
                SELECT f.id, f.version, f.category, f.severity, f.status, f.occurred_on, f.expires_on, f.content_hash, f.received_at
                FROM flags f JOIN input i ON f.source_id = \(sourceID) AND f.source_ref = i.ref
            ), upserted AS (
                INSERT INTO flags AS f (source_id, source_ref, id_blind_index, worker_id, category, severity, status, occurred_on,
                                        expires_on, narrative_enc, content_hash)
                SELECT \(sourceID), i.ref, i.blind, w.id, i.category, i.severity, i.status, i.occurred, i.expires, i.narrative, i.hash
                FROM input i LEFT JOIN workers w ON w.id_blind_index = i.blind
                ON CONFLICT (source_id, source_ref) DO UPDATE SET
                    category = EXCLUDED.category, severity = EXCLUDED.severity, status = EXCLUDED.status,
                    occurred_on = EXCLUDED.occurred_on, expires_on = EXCLUDED.expires_on, narrative_enc = EXCLUDED.narrative_enc,
                    content_hash = EXCLUDED.content_hash, version = f.version + 1, updated_at = now(),
                    expiry_applied_on = CASE WHEN f.expires_on IS DISTINCT FROM EXCLUDED.expires_on THEN NULL ELSE f.expiry_applied_on END
                WHERE f.content_hash <> EXCLUDED.content_hash
                RETURNING f.id, (xmax = 0) AS inserted, f.worker_id
            ), versions AS (
                INSERT INTO flag_versions (flag_id, version, category, severity, status, occurred_on, expires_on, content_hash, received_at)
                SELECT p.id, p.version, p.category, p.severity, p.status, p.occurred_on, p.expires_on, p.content_hash, p.received_at
                FROM previous p JOIN upserted u ON u.id = p.id AND NOT u.inserted
            )
            SELECT (SELECT count(*) FROM input)::int8, count(*) FILTER (WHERE inserted)::int8, count(*) FILTER (WHERE NOT inserted)::int8,
                   coalesce(array_agg(id) FILTER (WHERE worker_id IS NOT NULL), '{}')
            FROM upserted
            """,
            logger: logger
        )
        var result: [(total: Int64, created: Int64, updated: Int64, withFile: [UUID])] = []
        for try await row in rows.decode((Int64, Int64, Int64, [UUID]).self) { result.append(row) }
        return result
    }

    /// Empties the staging table.
    public static func clearStaging(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("TRUNCATE flag_staging", logger: logger)
    }

    // The import's own transactions on its one connection (a chunk of the merge, the closing audit row).

    public static func begin(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
    }

    public static func commit(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("COMMIT", logger: logger)
    }

    public static func rollback(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("ROLLBACK", logger: logger)
    }
}
