import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain

/// Integration sources (police, credit bureaus) and their API keys.
public enum IntegrationStore {
    public struct Source: Sendable, Codable, Equatable {
        public var id: UUID
        public var name: String
        public var kind: String
        public var displayName: String
        public var requireSignature: Bool
        public var status: String
        public var signingSecretEnc: Data?
    }

    public struct Key: Sendable, Codable, Equatable {
        public var id: UUID
        public var keyPrefix: String
        public var label: String?
        public var createdAt: Date
        public var lastUsedAt: Date?
        public var revokedAt: Date?
    }

    /// The address a source's operators are written to; nil when it has none.
    public static func sourceContact(_ sourceID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        for try await email in try await connection.query(
            "SELECT contact_email FROM integration_sources WHERE id = \(sourceID)",
            logger: logger
        ).decode(String?.self) {
            return email
        }
        return nil
    }

    public static func createSource(
        name: String,
        kind: String,
        displayName: String,
        secretEnc: Data?,
        requireSignature: Bool,
        contactEmail: String? = nil,
        by: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO integration_sources (name, kind, display_name, signing_secret_enc, require_signature, contact_email, created_by)
                VALUES (\(name), \(kind), \(displayName), \(secretEnc), \(requireSignature), \(contactEmail), \(by)) RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "Not created.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "source_exists", message: "A source with this name exists.", field: "name")
        }
    }

    static func decodeSources(_ rows: PostgresRowSequence) async throws -> [Source] {
        var result: [Source] = []
        for try await (id, name, kind, display, require, status, secret) in rows.decode((UUID, String, String, String, Bool, String, Data?).self) {
            result.append(
                Source(id: id, name: name, kind: kind, displayName: display, requireSignature: require, status: status, signingSecretEnc: secret)
            )
        }
        return result
    }

    public static func sources(on connection: PostgresConnection, logger: Logger) async throws -> [Source] {
        try await decodeSources(
            try await connection.query(
                """
                SELECT id, name, kind, display_name, require_signature, status, signing_secret_enc FROM integration_sources ORDER BY name
                """,
                logger: logger
            )
        )
    }

    public static func source(id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Source? {
        try await decodeSources(
            try await connection.query(
                """
                SELECT id, name, kind, display_name, require_signature, status, signing_secret_enc FROM integration_sources WHERE id = \(id)
                """,
                logger: logger
            )
        ).first
    }

    public static func createKey(
        sourceID: UUID,
        prefix: String,
        hash: Data,
        label: String?,
        by: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO api_keys (source_id, key_prefix, key_hash, label, created_by) VALUES (\(sourceID), \(prefix), \(hash), \(label), \(by))
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "Not created.")
    }

    public static func keys(sourceID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Key] {
        let rows = try await connection.query(
            """
            SELECT id, key_prefix, label, created_at, last_used_at, revoked_at FROM api_keys WHERE source_id = \(sourceID) ORDER BY created_at
            """,
            logger: logger
        )
        var result: [Key] = []
        for try await (id, prefix, label, created, used, revoked) in rows.decode((UUID, String, String?, Date, Date?, Date?).self) {
            result.append(Key(id: id, keyPrefix: prefix, label: label, createdAt: created, lastUsedAt: used, revokedAt: revoked))
        }
        return result
    }

    public static func revokeKey(_ id: UUID, sourceID: UUID, by: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE api_keys SET revoked_at = now(), revoked_by = \(by) WHERE id = \(id) AND source_id = \(sourceID) AND revoked_at IS NULL RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// The live key for a hash, with its (active) source; marks it used.
    /// Records a signed request's nonce; false when this source already used it (a replay).
    /// Expired nonces of the source go first, so the table stays small.
    public static func useNonce(
        _ nonce: String,
        sourceID: UUID,
        keepSeconds: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        try await connection.query("DELETE FROM feed_nonces WHERE source_id = \(sourceID) AND expires_at < now()", logger: logger)
        let rows = try await connection.query(
            """
            INSERT INTO feed_nonces (source_id, nonce, expires_at)
            VALUES (\(sourceID), \(nonce), now() + make_interval(secs => \(Double(keepSeconds))))
            ON CONFLICT (source_id, nonce) DO NOTHING
            RETURNING 1
            """,
            logger: logger
        )
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    public static func authenticate(keyHash: Data, database: Database, logger: Logger) async throws -> (keyID: UUID, source: Source)? {
        let rows = try await database.query(
            """
            WITH k AS (
                UPDATE api_keys SET last_used_at = now()
                WHERE key_hash = \(keyHash) AND revoked_at IS NULL
                  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                RETURNING id, source_id
            )
            SELECT a.id, s.id, s.name, s.kind, s.display_name, s.require_signature, s.status, s.signing_secret_enc
            FROM api_keys a JOIN integration_sources s ON s.id = a.source_id
            WHERE a.key_hash = \(keyHash) AND a.revoked_at IS NULL AND s.status = 'active'
            """,
            logger: logger
        )
        for try await (keyID, id, name, kind, display, require, status, secret)
            in rows.decode((UUID, UUID, String, String, String, Bool, String, Data?).self)
        {
            return (
                keyID,
                Source(
                    id: id,
                    name: name,
                    kind: kind,
                    displayName: display,
                    requireSignature: require,
                    status: status,
                    signingSecretEnc: secret
                )
            )
        }
        return nil
    }
}

/// Flags: merged set-based, versioned, attached to files by the ID blind index.
public enum FlagStore {
    /// One validated item ready to merge.
    public struct Row: Sendable {
        public var line: Int
        public var reference: String
        public var blindIndex: [UInt8]
        public var category: String
        public var severity: Int
        public var status: String
        public var occurredOn: String
        public var expiresOn: String?
        public var narrativeEnc: [UInt8]?
        public var contentHash: [UInt8]

        public init(
            line: Int,
            reference: String,
            blindIndex: [UInt8],
            category: String,
            severity: Int,
            status: String,
            occurredOn: String,
            expiresOn: String?,
            narrativeEnc: [UInt8]?,
            contentHash: [UInt8]
        ) {
            self.line = line
            self.reference = reference
            self.blindIndex = blindIndex
            self.category = category
            self.severity = severity
            self.status = status
            self.occurredOn = occurredOn
            self.expiresOn = expiresOn
            self.narrativeEnc = narrativeEnc
            self.contentHash = contentHash
        }
    }

    public enum Outcome: String, Sendable, Codable { case created, updated, unchanged, retracted, rejected }

    public struct Merged: Sendable {
        public var line: Int
        public var reference: String
        public var outcome: Outcome
        public var flagID: UUID?
    }

    /// Upserts the rows in one statement: new references are created, changed content is an
    /// update (the previous version kept in flag_versions), equal content changes nothing.
    public static func merge(_ rows: [Row], sourceID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Merged] {
        guard !rows.isEmpty else { return [] }
        let refs = rows.map(\.reference)
        let blinds = rows.map { ByteBuffer(bytes: $0.blindIndex) }
        let categories = rows.map(\.category)
        let severities = rows.map { Int16($0.severity) }
        let statuses = rows.map(\.status)
        let occurred = rows.map(\.occurredOn)
        let expires = rows.map { $0.expiresOn ?? "" }
        let narratives = rows.map { $0.narrativeEnc.map { ByteBuffer(bytes: $0) } ?? ByteBuffer() }
        let hashes = rows.map { ByteBuffer(bytes: $0.contentHash) }
        let lines = rows.map { Int64($0.line) }
        let result = try await connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest(\(refs)::text[], \(blinds)::bytea[], \(categories)::text[], \(severities)::int2[], \(statuses)::text[],
                                     \(occurred)::text[], \(expires)::text[], \(narratives)::bytea[], \(hashes)::bytea[], \(lines)::int8[])
                    AS i(ref, blind, category, severity, status, occurred, expires, narrative, hash, line)
            ), previous AS (
                SELECT f.id, f.source_ref, f.version, f.category, f.severity, f.status, f.occurred_on, f.expires_on, f.content_hash, f.received_at
                FROM flags f JOIN input i ON f.source_id = \(sourceID) AND f.source_ref = i.ref
            ), upserted AS (
                INSERT INTO flags AS f (source_id, source_ref, id_blind_index, worker_id, category, severity, status, occurred_on, expires_on,
                                        narrative_enc, content_hash)
                SELECT \(sourceID), i.ref, i.blind, w.id, i.category, i.severity, i.status, i.occurred::date, nullif(i.expires, '')::date,
                       nullif(i.narrative, ''::bytea), i.hash
                FROM input i LEFT JOIN workers w ON w.id_blind_index = i.blind
                ON CONFLICT (source_id, source_ref) DO UPDATE SET
                    category = EXCLUDED.category, severity = EXCLUDED.severity, status = EXCLUDED.status,
                    occurred_on = EXCLUDED.occurred_on, expires_on = EXCLUDED.expires_on, narrative_enc = EXCLUDED.narrative_enc,
                    content_hash = EXCLUDED.content_hash, version = f.version + 1, updated_at = now(),
                    expiry_applied_on = CASE WHEN f.expires_on IS DISTINCT FROM EXCLUDED.expires_on THEN NULL ELSE f.expiry_applied_on END
                WHERE f.content_hash <> EXCLUDED.content_hash
                RETURNING f.id, f.source_ref, (xmax = 0) AS inserted
            ), versions AS (
                INSERT INTO flag_versions (flag_id, version, category, severity, status, occurred_on, expires_on, content_hash, received_at)
                SELECT p.id, p.version, p.category, p.severity, p.status, p.occurred_on, p.expires_on, p.content_hash, p.received_at
                FROM previous p JOIN upserted u ON u.id = p.id AND NOT u.inserted
            )
            SELECT i.line, i.ref, u.id, u.inserted FROM input i LEFT JOIN upserted u ON u.source_ref = i.ref ORDER BY i.line
            """,
            logger: logger
        )
        var merged: [Merged] = []
        for try await (line, ref, id, inserted) in result.decode((Int64, String, UUID?, Bool?).self) {
            let outcome: Outcome = id == nil ? .unchanged : (inserted == true ? .created : .updated)
            merged.append(Merged(line: Int(line), reference: ref, outcome: outcome, flagID: id))
        }
        return merged
    }

    public struct Flag: Sendable, Codable, Equatable {
        public var id: UUID
        public var sourceID: UUID
        public var sourceName: String
        public var reference: String
        public var workerID: UUID?
        public var category: String
        public var severity: Int
        public var status: String
        public var occurredOn: String
        public var expiresOn: String?
        public var version: Int
        public var narrativeEnc: Data?
        public var contentHash: Data
        public var receivedAt: Date

        /// Whether the flag has expired by `today` (an ISO date): its last day is before it.
        public func expired(on today: String) -> Bool { expiresOn.map { $0 < today } ?? false }
    }

    static let select = """
        SELECT f.id, f.source_id, s.display_name, f.source_ref, f.worker_id, f.category, f.severity, f.status, f.occurred_on::text,
               f.expires_on::text, f.version, f.narrative_enc, f.content_hash, f.received_at
        FROM flags f JOIN integration_sources s ON s.id = f.source_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Flag] {
        var result: [Flag] = []
        for try await (id, source, name, ref, worker, category, severity, status, occurred, expires, version, narrative, hash, received)
            in rows.decode((UUID, UUID, String, String, UUID?, String, Int16, String, String, String?, Int32, Data?, Data, Date).self)
        {
            result.append(
                Flag(
                    id: id,
                    sourceID: source,
                    sourceName: name,
                    reference: ref,
                    workerID: worker,
                    category: category,
                    severity: Int(severity),
                    status: status,
                    occurredOn: occurred,
                    expiresOn: expires,
                    version: Int(version),
                    narrativeEnc: narrative,
                    contentHash: hash,
                    receivedAt: received
                )
            )
        }
        return result
    }

    public static func flags(ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [Flag] {
        var b = PostgresBindings()
        b.append(ids)
        return try await decode(
            try await connection.query(
                PostgresQuery(unsafeSQL: select + " WHERE f.id = ANY($1) ORDER BY f.received_at", binds: b),
                logger: logger
            )
        )
    }

    public static func lock(sourceID: UUID, reference: String, on connection: PostgresConnection, logger: Logger) async throws -> Flag? {
        var b = PostgresBindings()
        b.append(sourceID)
        b.append(reference)
        return try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE f.source_id = $1 AND f.source_ref = $2 FOR UPDATE OF f",
                    binds: b
                ),
                logger: logger
            )
        ).first
    }

    /// A worker's flags, newest first (at most `limit`: a feed gone wrong cannot make one read unbounded).
    public static func forWorker(_ workerID: UUID, limit: Int = 500, on connection: PostgresConnection, logger: Logger) async throws -> [Flag] {
        var b = PostgresBindings()
        b.append(workerID)
        b.append(limit)
        return try await decode(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: select + " WHERE f.worker_id = $1 ORDER BY f.occurred_on DESC LIMIT $2",
                    binds: b
                ),
                logger: logger
            )
        )
    }

    /// Flags received before the file existed now attach to it; returns their ids.
    public static func attach(workerIDs: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            UPDATE flags f SET worker_id = w.id FROM workers w
            WHERE f.worker_id IS NULL AND f.id_blind_index = w.id_blind_index AND w.id = ANY(\(workerIDs))
            RETURNING f.id
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Claims up to `limit` flags whose last day is before `today` and whose expiry has not been
    /// applied, skipping rows another node holds. The caller applies their effects and marks them.
    public static func claimExpired(today: String, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT id FROM flags
            WHERE expires_on IS NOT NULL AND expiry_applied_on IS NULL AND expires_on < \(today)::date
            ORDER BY expires_on LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        ).decode(UUID.self) {
            ids.append(id)
        }
        return ids
    }

    /// Records that the expiry of these flags was applied on `today`.
    public static func markExpiryApplied(_ ids: [UUID], today: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE flags SET expiry_applied_on = \(today)::date WHERE id = ANY(\(ids))", logger: logger)
    }

    public static func update(
        _ id: UUID,
        severity: Int,
        status: String,
        expiresOn: String?,
        contentHash: Data,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO flag_versions (flag_id, version, category, severity, status, occurred_on, expires_on, content_hash, received_at)
            SELECT id, version, category, severity, status, occurred_on, expires_on, content_hash, received_at FROM flags WHERE id = \(id)
            """,
            logger: logger
        )
        try await connection.query(
            """
            UPDATE flags SET severity = \(Int16(severity)), status = \(status), expires_on = \(expiresOn)::date, content_hash = \(contentHash),
                   version = version + 1, updated_at = now(),
                   expiry_applied_on = CASE WHEN expires_on IS DISTINCT FROM \(expiresOn)::date THEN NULL ELSE expiry_applied_on END
            WHERE id = \(id)
            """,
            logger: logger
        )
    }
}

extension FlagStore.Row {
    /// The row as one line of the flag staging table's COPY stream (line, reference, blind index,
    /// category, severity, status, occurred, expires, narrative, content hash).
    public func appendCopyLine(to buffer: inout ByteBuffer) {
        var copy = CopyLine()
        copy.add(line)
        copy.add(reference)
        copy.add(bytes: blindIndex)
        copy.add(category)
        copy.add(severity)
        copy.add(status)
        copy.add(occurredOn)
        copy.add(expiresOn)
        if let narrativeEnc { copy.add(bytes: narrativeEnc) } else { copy.add(nil as String?) }
        copy.add(bytes: contentHash)
        copy.end(into: &buffer)
    }
}
