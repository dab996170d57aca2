import Foundation
import Logging
import NIOCore
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
            .workerIDs(keyVersion: version),
            batch: batch,
            logger: logger,
            counted: { examined, changed in
                summary.examined += examined
                summary.workers += changed
                progress(summary)
            }
        )
        // Flag narratives, bound to their source and reference.
        try await resealTable(
            .flagNarratives,
            batch: batch,
            logger: logger,
            counted: { examined, changed in
                summary.examined += examined
                summary.narratives += changed
                progress(summary)
            }
        )
        // Integration secrets: few.
        summary.secrets = try await database.transaction(logger: logger) { connection in
            var changed = 0
            let rows = try await KeyRotationStore.sourceSecrets(on: connection, logger: logger)
            for (id, name, cipher) in rows where !keys.isCurrent(Array(cipher)) {
                let place = SealedPlace.sourceSecret(name: name)
                let resealed = Data(keys.seal(try keys.open(Array(cipher), context: place), context: place))
                try await KeyRotationStore.setSourceSecret(id, resealed, on: connection, logger: logger)
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

    /// The sealed values re-sealed table by table, in batches.
    enum SealedColumn {
        /// Workers' ID numbers, stored with the key version that sealed them.
        case workerIDs(keyVersion: Int16)
        case flagNarratives
    }

    /// Walks one table by id, a batch per transaction: the batch after an id is read (locked),
    /// the values not sealed under the current version are re-sealed for their place and
    /// stored; `counted` hears how many rows were read and how many changed.
    func resealTable(
        _ column: SealedColumn,
        batch: Int,
        logger: Logger,
        counted: (Int, Int) -> Void
    ) async throws {
        var last = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        while true {
            let (rows, changed) = try await database.transaction(logger: logger) { connection -> ([Sealed], Int) in
                let rows: [Sealed]
                switch column {
                case .workerIDs:
                    rows = try await KeyRotationStore.workerIDs(after: last, limit: batch, on: connection, logger: logger).map {
                        Sealed(id: $0.id, place: SealedPlace.workerID($0.id), cipher: $0.cipher)
                    }
                case .flagNarratives:
                    rows = try await KeyRotationStore.flagNarratives(after: last, limit: batch, on: connection, logger: logger).map {
                        Sealed(id: $0.id, place: SealedPlace.flagNarrative(sourceID: $0.sourceID, reference: $0.reference), cipher: $0.cipher)
                    }
                }
                let stale = rows.filter { !keys.isCurrent(Array($0.cipher)) }
                if !stale.isEmpty {
                    let ciphers = try stale.map {
                        ByteBuffer(bytes: keys.seal(try keys.open(Array($0.cipher), context: $0.place), context: $0.place))
                    }
                    let ids = stale.map(\.id)
                    switch column {
                    case .workerIDs(let version):
                        try await KeyRotationStore.setWorkerIDs(ids, ciphers: ciphers, keyVersion: version, on: connection, logger: logger)
                    case .flagNarratives:
                        try await KeyRotationStore.setFlagNarratives(ids, ciphers: ciphers, on: connection, logger: logger)
                    }
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
        for (version, count) in try await KeyRotationStore.idKeyVersions(database: database, logger: logger) { result[Int(version)] = Int(count) }
        return result
    }
}
