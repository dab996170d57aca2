import Foundation
import Logging
import PostgresNIO

/// Bans shared with other registries: the numbered events this registry publishes, and how far
/// it has read each other registry's.
public enum ExchangeStore {
    /// A ban taking effect or lifted, with what the exchange record carries (the ID number still sealed).
    public struct Event: Sendable {
        public var seq: Int64
        public var kind: String
        public var workerID: UUID
        public var idCiphertext: Data
        public var categories: [String]
        public var grounds: String
        public var caseYear: Int
        public var casePublicNo: Int64
        /// The day it took effect, China time.
        public var effectiveOn: String
    }

    /// Records a ban taking effect (`ban`) or lifted (`reinstatement`), in the transaction that does it.
    public static func record(_ kind: String, workerID: UUID, caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "INSERT INTO ban_events (kind, worker_id, case_id) VALUES (\(kind), \(workerID), \(caseID))",
            logger: logger
        )
    }

    /// The events after `after`, oldest first, at most `limit`.
    public static func events(after: Int64, limit: Int, database: Database, logger: Logger) async throws -> [Event] {
        let rows = try await database.query(
            """
            SELECT e.seq, e.kind, w.id, w.id_ciphertext, w.service_categories, c.grounds,
                   extract(year FROM c.created_at AT TIME ZONE 'Asia/Shanghai')::int8, c.public_no,
                   ((e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date)::text
            FROM ban_events e
            JOIN workers w ON w.id = e.worker_id
            JOIN cases c ON c.id = e.case_id
            WHERE e.seq > \(after)
            ORDER BY e.seq
            LIMIT \(Int64(limit))
            """,
            logger: logger
        )
        var result: [Event] = []
        for try await (seq, kind, worker, cipher, categories, grounds, year, no, day) in rows.decode(
            (Int64, String, UUID, Data, [String], String, Int64, Int64, String).self
        ) {
            result.append(
                Event(
                    seq: seq,
                    kind: kind,
                    workerID: worker,
                    idCiphertext: cipher,
                    categories: categories,
                    grounds: grounds,
                    caseYear: Int(year),
                    casePublicNo: no,
                    effectiveOn: day
                )
            )
        }
        return result
    }

    /// The last event number read from another registry (0 before the first pull).
    public static func cursor(sourceID: UUID, database: Database, logger: Logger) async throws -> Int64 {
        for try await n in try await database.query("SELECT after_seq FROM exchange_cursors WHERE source_id = \(sourceID)", logger: logger)
            .decode(Int64.self)
        {
            return n
        }
        return 0
    }

    public static func setCursor(sourceID: UUID, after: Int64, database: Database, logger: Logger) async throws {
        _ = try await database.query(
            """
            INSERT INTO exchange_cursors (source_id, after_seq) VALUES (\(sourceID), \(after))
            ON CONFLICT (source_id) DO UPDATE SET after_seq = greatest(exchange_cursors.after_seq, EXCLUDED.after_seq), updated_at = now()
            """,
            logger: logger
        )
    }
}
