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
        // ID numbers.
        var last = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        while true {
            let (count, changed, next) = try await database.transaction(logger: logger) { connection -> (Int, Int, UUID?) in
                var ids: [UUID] = [], ciphers: [ByteBuffer] = []
                var seen = 0, end: UUID?
                for try await (id, cipher) in try await connection.query("""
                    SELECT id, id_ciphertext FROM workers WHERE id > \(last) ORDER BY id LIMIT \(batch) FOR UPDATE
                    """, logger: logger).decode((UUID, Data).self) {
                    seen += 1
                    end = id
                    guard !keys.isCurrent(Array(cipher)) else { continue }
                    let plain = try keys.open(Array(cipher), context: SealedPlace.workerID(id))
                    ids.append(id)
                    ciphers.append(ByteBuffer(bytes: keys.seal(plain, context: SealedPlace.workerID(id))))
                }
                if !ids.isEmpty {
                    try await connection.query("""
                        UPDATE workers w SET id_ciphertext = v.cipher, id_key_version = \(version)
                        FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher) WHERE w.id = v.id
                        """, logger: logger)
                }
                return (seen, ids.count, end)
            }
            summary.examined += count
            summary.workers += changed
            progress(summary)
            guard let next, count == batch else { break }
            last = next
        }
        // Flag narratives, bound to their source and reference.
        last = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        while true {
            let (count, changed, next) = try await database.transaction(logger: logger) { connection -> (Int, Int, UUID?) in
                var ids: [UUID] = [], ciphers: [ByteBuffer] = []
                var seen = 0, end: UUID?
                for try await (id, source, reference, cipher) in try await connection.query("""
                    SELECT id, source_id, source_ref, narrative_enc FROM flags WHERE id > \(last) AND narrative_enc IS NOT NULL
                    ORDER BY id LIMIT \(batch) FOR UPDATE
                    """, logger: logger).decode((UUID, UUID, String, Data).self) {
                    seen += 1
                    end = id
                    guard !keys.isCurrent(Array(cipher)) else { continue }
                    let place = SealedPlace.flagNarrative(sourceID: source, reference: reference)
                    ids.append(id)
                    ciphers.append(ByteBuffer(bytes: keys.seal(try keys.open(Array(cipher), context: place), context: place)))
                }
                if !ids.isEmpty {
                    try await connection.query("""
                        UPDATE flags f SET narrative_enc = v.cipher FROM unnest(\(ids)::uuid[], \(ciphers)::bytea[]) AS v(id, cipher)
                        WHERE f.id = v.id
                        """, logger: logger)
                }
                return (seen, ids.count, end)
            }
            summary.examined += count
            summary.narratives += changed
            progress(summary)
            guard let next, count == batch else { break }
            last = next
        }
        // Integration secrets: few.
        summary.secrets = try await database.transaction(logger: logger) { connection in
            var changed = 0
            var rows: [(UUID, String, Data)] = []
            for try await row in try await connection.query("""
                SELECT id, name, signing_secret_enc FROM integration_sources WHERE signing_secret_enc IS NOT NULL FOR UPDATE
                """, logger: logger).decode((UUID, String, Data).self) { rows.append(row) }
            for (id, name, cipher) in rows where !keys.isCurrent(Array(cipher)) {
                let place = SealedPlace.sourceSecret(name: name)
                let resealed = Data(keys.seal(try keys.open(Array(cipher), context: place), context: place))
                try await connection.query("UPDATE integration_sources SET signing_secret_enc = \(resealed) WHERE id = \(id)", logger: logger)
                changed += 1
            }
            try await AuditStore.append(Caller.system.event("keys.resealed", "key", nil, [
                "version": .int(keys.currentSealingVersion), "workers": .int(summary.workers), "narratives": .int(summary.narratives),
                "secrets": .int(changed),
            ]), on: connection, logger: logger)
            return changed
        }
        progress(summary)
        return summary
    }

    /// How many ID numbers each key version seals (a version with none left can be retired).
    public func versions(logger: Logger) async throws -> [Int: Int] {
        var result: [Int: Int] = [:]
        for try await (version, count) in try await database.query("""
            SELECT id_key_version, count(*)::int8 FROM workers GROUP BY id_key_version
            """, logger: logger).decode((Int16, Int64).self) { result[Int(version)] = Int(count) }
        return result
    }
}
