import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The sealed values, read and written back for re-sealing under the current key version: ID
/// numbers, flag narratives and integration secrets. The reads lock their rows.
public enum KeyRotationStore {
    /// Up to `limit` workers after `after`, in id order, with their sealed ID number.
    public static func workerIDs(
        after: UUID,
        limit: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(id: UUID, cipher: Data)] {
        var rows: [(id: UUID, cipher: Data)] = []
        for try await row in try await connection.query(
            """
            SELECT id, id_ciphertext FROM workers WHERE id > \(after) ORDER BY id LIMIT \(limit) FOR UPDATE
            """,
            logger: logger
        ).decode((UUID, Data).self) { rows.append(row) }
        return rows
    }

    /// Stores re-sealed ID numbers (one cipher per id) and the key version that sealed them.
    public static func setWorkerIDs(
        _ ids: [UUID],
        ciphers: [ByteBuffer],
        keyVersion version: Int16,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE workers w SET id_ciphertext = v.cipher, id_key_version = \(version)
            FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher) WHERE w.id = v.id
            """,
            logger: logger
        )
    }

    /// Up to `limit` flags with a narrative after `after`, in id order, with the narrative's place
    /// (source and reference).
    public static func flagNarratives(
        after: UUID,
        limit: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(id: UUID, sourceID: UUID, reference: String, cipher: Data)] {
        var rows: [(id: UUID, sourceID: UUID, reference: String, cipher: Data)] = []
        for try await row in try await connection.query(
            """
            SELECT id, source_id, source_ref, narrative_enc FROM flags WHERE id > \(after) AND narrative_enc IS NOT NULL
            ORDER BY id LIMIT \(limit) FOR UPDATE
            """,
            logger: logger
        ).decode((UUID, UUID, String, Data).self) {
            rows.append(row)
        }
        return rows
    }

    /// Stores re-sealed flag narratives (one cipher per id).
    public static func setFlagNarratives(_ ids: [UUID], ciphers: [ByteBuffer], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE flags f SET narrative_enc = v.cipher FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher)
            WHERE f.id = v.id
            """,
            logger: logger
        )
    }

    /// Every integration source with a signing secret, with its name (the secret's place).
    public static func sourceSecrets(on connection: PostgresConnection, logger: Logger) async throws -> [(UUID, String, Data)] {
        var rows: [(UUID, String, Data)] = []
        for try await row in try await connection.query(
            """
            SELECT id, name, signing_secret_enc FROM integration_sources WHERE signing_secret_enc IS NOT NULL FOR UPDATE
            """,
            logger: logger
        ).decode((UUID, String, Data).self) { rows.append(row) }
        return rows
    }

    /// Stores a source's re-sealed signing secret.
    public static func setSourceSecret(_ id: UUID, _ resealed: Data, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE integration_sources SET signing_secret_enc = \(resealed) WHERE id = \(id)", logger: logger)
    }

    /// How many ID numbers each key version seals.
    public static func idKeyVersions(database: Database, logger: Logger) async throws -> [(version: Int16, count: Int64)] {
        var rows: [(version: Int16, count: Int64)] = []
        for try await row in try await database.query(
            """
            SELECT id_key_version, count(*)::int8 FROM workers GROUP BY id_key_version
            """,
            logger: logger
        ).decode((Int16, Int64).self) { rows.append(row) }
        return rows
    }
}
