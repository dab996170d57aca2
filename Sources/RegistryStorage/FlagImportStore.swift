import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain

/// The nightly flag files, in one transaction on one connection: the source's stored references
/// and content hashes read in one statement (so that an unchanged line costs the database
/// nothing), new flags streamed with COPY straight into `flags`, changed ones through a staging
/// table and set-based statements (the previous version kept in `flag_versions`), new flags
/// matched to workers' files by the blind index in one statement.
public enum FlagImportStore {
    /// Imports of one source wait for each other (two runs of the same file at once: the second
    /// finds everything unchanged). Held until the transaction ends.
    public static func lockSource(_ sourceID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(hashtextextended('flag-import ' || \(sourceID)::text, 0))",
            logger: logger
        )
    }

    /// Every flag of the source as `content_hash (32 bytes) || reference || '\n'`, in buffers of
    /// at most a few million flags each (references are ASCII without line breaks). One
    /// sequential read of the source's flags when they fit one buffer.
    public static func storedContent(sourceID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [ByteBuffer] {
        let perBuffer = 4_000_000
        var total = 0
        for try await n in try await connection.query("SELECT count(*)::int8 FROM flags WHERE source_id = \(sourceID)", logger: logger)
            .decode(Int64.self)
        {
            total = Int(n)
        }
        guard total > 0 else { return [] }
        if total <= perBuffer {
            var buffers: [ByteBuffer] = []
            for try await chunk in try await connection.query(
                """
                SELECT string_agg(content_hash || convert_to(source_ref, 'UTF8') || '\\x0a'::bytea, ''::bytea)
                FROM flags WHERE source_id = \(sourceID)
                """,
                logger: logger
            ).decode(ByteBuffer?.self) {
                if let chunk { buffers.append(chunk) }
            }
            return buffers
        }
        // Larger sources: in reference order, a bounded buffer at a time.
        var buffers: [ByteBuffer] = []
        var after = ""
        while true {
            var last: String?
            for try await (chunk, max) in try await connection.query(
                """
                SELECT string_agg(content_hash || convert_to(source_ref, 'UTF8') || '\\x0a'::bytea, ''::bytea), max(source_ref)
                FROM (SELECT source_ref, content_hash FROM flags WHERE source_id = \(sourceID) AND source_ref > \(after)
                      ORDER BY source_ref LIMIT \(perBuffer)) page
                """,
                logger: logger
            ).decode((ByteBuffer?, String?).self) {
                if let chunk { buffers.append(chunk) }
                last = max
            }
            guard let last else { return buffers }
            after = last
        }
    }

    /// The columns a new flag's COPY row has, in order (see `appendNewFlag`): the id, version and
    /// times are the table's defaults, `worker_id` is set by `attachNew`.
    public static let newFlagColumns = [
        "source_id", "source_ref", "id_blind_index", "category", "severity", "status", "occurred_on", "expires_on", "narrative_enc",
        "content_hash",
    ]

    /// Streams new flags with COPY into `flags`: `write` is handed `send`, which sends one buffer of rows.
    /// A reference the source already has fails the whole statement (and so the import).
    public static func copyNewFlags(
        on connection: PostgresConnection,
        logger: Logger,
        _ write: (_ send: (ByteBuffer) async throws -> Void) async throws -> Void
    ) async throws {
        try await connection.copyFrom(table: "flags", columns: newFlagColumns, logger: logger) { writer in
            try await write { buffer in try await writer.write(buffer) }
        }
    }

    /// Matches the flags this transaction created for the source (`created` of them) to workers'
    /// files by the blind index; returns the ids of those that now belong to a file. With fewer
    /// workers than new flags, each worker's blind index is looked up among the unattached flags
    /// (an index probe per worker: the other conditions are kept outside the lookup, so that the
    /// planner cannot scan the new flags once per worker); otherwise the new flags are joined to
    /// the workers as the planner sees fit.
    public static func attachNew(sourceID: UUID, created: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var workers: Int64 = -1
        for try await n in try await connection.query("SELECT reltuples::int8 FROM pg_class WHERE oid = 'workers'::regclass", logger: logger)
            .decode(Int64.self)
        {
            workers = n
        }
        if workers < 0 {
            for try await n in try await connection.query("SELECT count(*)::int8 FROM workers", logger: logger).decode(Int64.self) {
                workers = n
            }
        }
        let rows: PostgresRowSequence
        if workers < Int64(created) {
            rows = try await connection.query(
                """
                UPDATE flags f SET worker_id = m.worker
                FROM (SELECT w.id AS worker, x.id AS flag FROM workers w
                      CROSS JOIN LATERAL (SELECT x.id, x.source_id, x.received_at FROM flags x
                                          WHERE x.id_blind_index = w.id_blind_index AND x.worker_id IS NULL OFFSET 0) x
                      WHERE x.source_id = \(sourceID) AND x.received_at = now()) m
                WHERE f.id = m.flag
                RETURNING f.id
                """,
                logger: logger
            )
        } else {
            rows = try await connection.query(
                """
                UPDATE flags f SET worker_id = w.id FROM workers w
                WHERE f.source_id = \(sourceID) AND f.received_at = now() AND f.worker_id IS NULL AND f.id_blind_index = w.id_blind_index
                RETURNING f.id
                """,
                logger: logger
            )
        }
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Creates the session's staging table for changed flags if needed, and empties it.
    public static func prepareChanges(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TEMP TABLE IF NOT EXISTS flag_changes (
                ref text NOT NULL, category text NOT NULL, severity int2 NOT NULL, status text NOT NULL, occurred date NOT NULL,
                expires date, narrative bytea, hash bytea NOT NULL)
            """,
            logger: logger
        )
        try await connection.query("TRUNCATE flag_changes", logger: logger)
    }

    /// The columns of a changed flag's COPY row, in order.
    public static let changeColumns = ["ref", "category", "severity", "status", "occurred", "expires", "narrative", "hash"]

    /// Streams changed flags with COPY into the staging table.
    public static func copyChanges(
        on connection: PostgresConnection,
        logger: Logger,
        _ write: (_ send: (ByteBuffer) async throws -> Void) async throws -> Void
    ) async throws {
        try await connection.copyFrom(table: "flag_changes", columns: changeColumns, logger: logger) { writer in
            try await write { buffer in try await writer.write(buffer) }
        }
    }

    /// Applies the staged changes to the source's flags: their rows are locked, the current
    /// version of each flag whose content differs goes to `flag_versions`, then the flag takes
    /// the new content with its version number raised. Returns each updated flag with its worker.
    public static func applyChanges(
        sourceID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(
        id: UUID, workerID: UUID?
    )] {
        try await connection.query("ANALYZE flag_changes", logger: logger)
        try await connection.query(
            """
            SELECT f.id FROM flags f JOIN flag_changes c ON f.source_id = \(sourceID) AND f.source_ref = c.ref
            ORDER BY f.id FOR UPDATE OF f
            """,
            logger: logger
        )
        let rows = try await connection.query(
            """
            WITH previous AS (
                INSERT INTO flag_versions (flag_id, version, category, severity, status, occurred_on, expires_on, content_hash, received_at)
                SELECT f.id, f.version, f.category, f.severity, f.status, f.occurred_on, f.expires_on, f.content_hash, f.received_at
                FROM flags f JOIN flag_changes c ON f.source_id = \(sourceID) AND f.source_ref = c.ref AND f.content_hash <> c.hash
            )
            UPDATE flags f SET
                category = c.category, severity = c.severity, status = c.status, occurred_on = c.occurred, expires_on = c.expires,
                narrative_enc = c.narrative, content_hash = c.hash, version = f.version + 1, updated_at = now(),
                expiry_applied_on = CASE WHEN f.expires_on IS DISTINCT FROM c.expires THEN NULL ELSE f.expiry_applied_on END
            FROM flag_changes c
            WHERE f.source_id = \(sourceID) AND f.source_ref = c.ref AND f.content_hash <> c.hash
            RETURNING f.id, f.worker_id
            """,
            logger: logger
        )
        var updated: [(id: UUID, workerID: UUID?)] = []
        for try await (id, worker) in rows.decode((UUID, UUID?).self) { updated.append((id, worker)) }
        try await connection.query("TRUNCATE flag_changes", logger: logger)
        return updated
    }

    // The import's transaction on its one connection.

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

extension CopyRows {
    /// One new flag as a row of `FlagImportStore.copyNewFlags` (`newFlagColumns`).
    public mutating func appendNewFlag(
        sourceID: [UInt8],
        reference: ArraySlice<UInt8>,
        blindIndex: UnsafeRawBufferPointer,
        category: [UInt8],
        severity: Int,
        status: [UInt8],
        occurredOn: CivilDate,
        expiresOn: CivilDate?,
        narrativeEnc: [UInt8]?,
        contentHash: UnsafeRawBufferPointer
    ) {
        text(sourceID)
        text(reference)
        bytea(blindIndex)
        appendFlagContent(category, severity, status, occurredOn, expiresOn, narrativeEnc, contentHash)
    }

    /// One changed flag as a row of `FlagImportStore.copyChanges` (`changeColumns`).
    public mutating func appendChange(
        reference: ArraySlice<UInt8>,
        category: [UInt8],
        severity: Int,
        status: [UInt8],
        occurredOn: CivilDate,
        expiresOn: CivilDate?,
        narrativeEnc: [UInt8]?,
        contentHash: UnsafeRawBufferPointer
    ) {
        text(reference)
        appendFlagContent(category, severity, status, occurredOn, expiresOn, narrativeEnc, contentHash)
    }

    /// The columns a new and a changed flag share, after its keys, and the row's end.
    private mutating func appendFlagContent(
        _ category: [UInt8],
        _ severity: Int,
        _ status: [UInt8],
        _ occurredOn: CivilDate,
        _ expiresOn: CivilDate?,
        _ narrativeEnc: [UInt8]?,
        _ contentHash: UnsafeRawBufferPointer
    ) {
        text(category)
        number(severity)
        text(status)
        date(occurredOn)
        date(expiresOn)
        bytea(narrativeEnc)
        bytea(contentHash)
        endRow()
    }
}
