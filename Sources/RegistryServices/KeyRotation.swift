import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Re-seals every sealed value under the current key version, bound to its place: ID numbers,
/// flag narratives and integration secrets. In batches, each its own transaction, walking each
/// table by id (so the work is linear however far it got before); values already current are
/// left alone, so it can be run again after a stop, or after the last node has restarted with
/// the new keys.
public struct KeyRotation: Sendable {
    let database: Database
    let keys: KeyRing

    public init(database: Database, keys: KeyRing) {
        self.database = database
        self.keys = keys
    }

    public struct Summary: Sendable, Equatable {
        public var workers = 0
        public var narratives = 0
        public var secrets = 0
        public var examined = 0
    }

    public func reseal(batch: Int = 1000, logger: Logger, progress: @Sendable (Summary) -> Void = { _ in }) async throws -> Summary {
        var summary = Summary()
        let version = Int16(keys.currentSealingVersion)
        // ID numbers, bound to their row.
        try await resealTable(
            batch: batch,
            logger: logger,
            read: { after, connection in
                var rows: [Sealed] = []
                for try await (id, cipher) in try await connection.query(
                    """
                    SELECT id, id_ciphertext FROM workers WHERE id > \(after) ORDER BY id LIMIT \(batch) FOR UPDATE
                    """,
                    logger: logger
                ).decode((UUID, Data).self) { rows.append(Sealed(id: id, place: SealedPlace.workerID(id), cipher: cipher)) }
                return rows
            },
            write: { ids, ciphers, connection in
                try await connection.query(
                    """
                    UPDATE workers w SET id_ciphertext = v.cipher, id_key_version = \(version)
                    FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher) WHERE w.id = v.id
                    """,
                    logger: logger
                )
            },
            counted: { examined, changed in
                summary.examined += examined
                summary.workers += changed
                progress(summary)
            }
        )
        // Flag narratives, bound to their source and reference.
        try await resealTable(
            batch: batch,
            logger: logger,
            read: { after, connection in
                var rows: [Sealed] = []
                for try await (id, source, reference, cipher) in try await connection.query(
                    """
                    SELECT id, source_id, source_ref, narrative_enc FROM flags WHERE id > \(after) AND narrative_enc IS NOT NULL
                    ORDER BY id LIMIT \(batch) FOR UPDATE
                    """,
                    logger: logger
                ).decode((UUID, UUID, String, Data).self) {
                    rows.append(Sealed(id: id, place: SealedPlace.flagNarrative(sourceID: source, reference: reference), cipher: cipher))
                }
                return rows
            },
            write: { ids, ciphers, connection in
                try await connection.query(
                    """
                    UPDATE flags f SET narrative_enc = v.cipher FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher)
                    WHERE f.id = v.id
                    """,
                    logger: logger
                )
            },
            counted: { examined, changed in
                summary.examined += examined
                summary.narratives += changed
                progress(summary)
            }
        )
        // Integration secrets: few.
        summary.secrets = try await database.transaction(logger: logger) { connection in
            var changed = 0
            var rows: [(UUID, String, Data)] = []
            for try await row in try await connection.query(
                """
                SELECT id, name, signing_secret_enc FROM integration_sources WHERE signing_secret_enc IS NOT NULL FOR UPDATE
                """,
                logger: logger
            ).decode((UUID, String, Data).self) { rows.append(row) }
            for (id, name, cipher) in rows where !keys.isCurrent(Array(cipher)) {
                let place = SealedPlace.sourceSecret(name: name)
                let resealed = Data(keys.seal(try keys.open(Array(cipher), context: place), context: place))
                try await connection.query("UPDATE integration_sources SET signing_secret_enc = \(resealed) WHERE id = \(id)", logger: logger)
                changed += 1
            }
            try await AuditStore.append(
                Caller.system.event(
                    "keys.resealed",
                    "key",
                    nil,
                    [
                        "version": .int(keys.currentSealingVersion), "workers": .int(summary.workers), "narratives": .int(summary.narratives),
                        "secrets": .int(changed),
                    ]
                ),
                on: connection,
                logger: logger
            )
            return changed
        }
        progress(summary)
        return summary
    }

    /// A sealed value read for re-sealing: its row, its place (the associated data) and the ciphertext.
    struct Sealed {
        var id: UUID
        var place: String
        var cipher: Data
    }

    /// Walks one table by id, a batch per transaction: `read` gives the batch after an id (locked),
    /// the values not sealed under the current version are re-sealed for their place, and `write`
    /// stores them; `counted` hears how many rows were read and how many changed.
    func resealTable(
        batch: Int,
        logger: Logger,
        read: (UUID, PostgresConnection) async throws -> [Sealed],
        write: ([UUID], [ByteBuffer], PostgresConnection) async throws -> Void,
        counted: (Int, Int) -> Void
    ) async throws {
        var last = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        while true {
            let (rows, changed) = try await database.transaction(logger: logger) { connection -> ([Sealed], Int) in
                let rows = try await read(last, connection)
                let stale = rows.filter { !keys.isCurrent(Array($0.cipher)) }
                if !stale.isEmpty {
                    let ciphers = try stale.map {
                        ByteBuffer(bytes: keys.seal(try keys.open(Array($0.cipher), context: $0.place), context: $0.place))
                    }
                    try await write(stale.map(\.id), ciphers, connection)
                }
                return (rows, stale.count)
            }
            counted(rows.count, changed)
            guard let next = rows.last?.id, rows.count == batch else { return }
            last = next
        }
    }

    /// How many ID numbers each key version seals (a version with none left can be retired).
    public func versions(logger: Logger) async throws -> [Int: Int] {
        var result: [Int: Int] = [:]
        for try await (version, count) in try await database.query(
            """
            SELECT id_key_version, count(*)::int8 FROM workers GROUP BY id_key_version
            """,
            logger: logger
        ).decode((Int16, Int64).self) { result[Int(version)] = Int(count) }
        return result
    }
}
