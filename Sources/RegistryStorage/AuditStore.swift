import Crypto
import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistrySecurity

/// The audit log and its hash chain. `append` runs in the caller's transaction; the chain is
/// built later by `integrate`, so concurrent writers never queue on a global head.
public enum AuditStore {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public static func append(_ event: AuditEvent, on connection: PostgresConnection, logger: Logger) async throws {
        let details = String(decoding: try encoder.encode(event.details), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO audit_log (actor_kind, actor_id, actor_role, action, subject_type, subject_id, request_id, details, content_hash)
            VALUES (\(event.actorKind.rawValue), \(event.actorID.flatMap(UUID.init(uuidString:))), \(event.actorRole),
                    \(event.action), \(event.subjectType), \(event.subjectID), \(event.requestID), \(details)::jsonb, ''::bytea)
            """,
            logger: logger
        )
    }

    /// Appends many events in one statement (a batch job's), in the caller's transaction.
    public static func appendAll(_ events: [AuditEvent], on connection: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        let details = try events.map { String(decoding: try encoder.encode($0.details), as: UTF8.self) }
        try await connection.query(
            """
            INSERT INTO audit_log (actor_kind, actor_id, actor_role, action, subject_type, subject_id, request_id, details, content_hash)
            SELECT k, NULLIF(a, '')::uuid, NULLIF(r, ''), act, st, NULLIF(sid, ''), NULLIF(req, ''), d::jsonb, ''::bytea
            FROM unnest(\(events.map(\.actorKind.rawValue))::text[], \(events.map { $0.actorID ?? "" })::text[],
                        \(events.map { $0.actorRole ?? "" })::text[], \(events.map(\.action))::text[], \(events.map(\.subjectType))::text[],
                        \(events.map { $0.subjectID ?? "" })::text[], \(events.map { $0.requestID ?? "" })::text[], \(details)::text[])
                 WITH ORDINALITY AS e(k, a, r, act, st, sid, req, d, n)
            ORDER BY n
            """,
            logger: logger
        )
    }

    public struct Entry: Sendable, Codable, Equatable {
        public var id: Int64
        public var seq: Int64?
        public var occurredAt: Date
        public var actorKind: String
        public var actorID: String?
        public var actorRole: String?
        public var action: String
        public var subjectType: String
        public var subjectID: String?
        public var requestID: String?
        public var details: AuditValue
        public var hash: String?

        enum CodingKeys: String, CodingKey {
            case id, seq, action, details, hash
            case occurredAt = "occurred_at"
            case actorKind = "actor_kind"
            case actorID = "actor_id"
            case actorRole = "actor_role"
            case subjectType = "subject_type"
            case subjectID = "subject_id"
            case requestID = "request_id"
        }
    }

    /// The newest entries first, optionally before an id (paging), for one subject, for actions
    /// beginning with `actionPrefix` (`case.` or a whole action), and by one actor.
    public static func list(
        before: Int64?,
        subjectType: String?,
        subjectID: String?,
        actionPrefix: String? = nil,
        actorID: UUID? = nil,
        limit: Int,
        database: Database,
        logger: Logger
    ) async throws -> [Entry] {
        let rows = try await database.query(
            """
            SELECT l.id, c.seq, l.occurred_at, l.actor_kind, l.actor_id, l.actor_role, l.action, l.subject_type,
                   l.subject_id, l.request_id, l.details::text, c.hash
            FROM audit_log l LEFT JOIN audit_chain c ON c.event_id = l.id
            WHERE (\(before)::bigint IS NULL OR l.id < \(before))
              AND (\(subjectType)::text IS NULL OR l.subject_type = \(subjectType))
              AND (\(subjectID)::text IS NULL OR l.subject_id = \(subjectID))
              AND (\(actionPrefix)::text IS NULL OR starts_with(l.action, \(actionPrefix)))
              AND (\(actorID)::uuid IS NULL OR l.actor_id = \(actorID))
            ORDER BY l.id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var entries: [Entry] = []
        for try await (id, seq, at, kind, actor, role, action, type, subject, request, details, hash)
            in rows.decode((Int64, Int64?, Date, String, UUID?, String?, String, String, String?, String?, String, Data?).self)
        {
            entries.append(
                Entry(
                    id: id,
                    seq: seq,
                    occurredAt: at,
                    actorKind: kind,
                    actorID: actor?.uuidString.lowercased(),
                    actorRole: role,
                    action: action,
                    subjectType: type,
                    subjectID: subject,
                    requestID: request,
                    details: (try? JSONDecoder().decode(AuditValue.self, from: Data(details.utf8))) ?? .string(details),
                    hash: hash?.hex
                )
            )
        }
        return entries
    }

    /// Chains up to `limit` queued events; returns how many. Safe to call from any node.
    @discardableResult
    public static func integrate(database: Database, limit: Int = 5000, logger: Logger) async throws -> Int {
        try await database.transaction(logger: logger) { connection in
            let rows = try await connection.query("SELECT audit_integrate(\(Int32(limit)))", logger: logger)
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
    }

    /// Chains everything queued so far.
    public static func integrateAll(database: Database, logger: Logger) async throws {
        while try await integrate(database: database, logger: logger) > 0 {}
    }

    public struct Head: Sendable, Equatable, Codable {
        public var seq: Int64
        public var hash: String
        public var takenAt: String?
        /// HMAC-SHA256 (hex) of `seq|hash|takenAt` under the checkpoint key; nil on checkpoints
        /// taken before they were signed.
        public var signature: String?

        public init(seq: Int64, hash: String, takenAt: String? = nil, signature: String? = nil) {
            self.seq = seq
            self.hash = hash
            self.takenAt = takenAt
            self.signature = signature
        }
    }

    public static func head(database: Database, logger: Logger) async throws -> Head {
        let rows = try await database.query(
            "SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1",
            logger: logger
        )
        for try await (seq, hash) in rows.decode((Int64, Data).self) {
            return Head(seq: seq, hash: hash.hex)
        }
        return Head(seq: 0, hash: String(repeating: "0", count: 64))
    }

    /// Takes a checkpoint of the chain's head as of `now`, signed by `sign`, and records it in
    /// the database (once per link: a head that has not moved is not recorded again); returns it.
    public static func checkpoint(
        database: Database,
        now: Date,
        sign: @Sendable (_ seq: Int64, _ hash: String, _ takenAt: String) -> [UInt8],
        logger: Logger
    ) async throws -> (head: Head, isNew: Bool) {
        try await integrateAll(database: database, logger: logger)
        var head = try await head(database: database, logger: logger)
        let takenAt = ISO8601DateFormatter().string(from: now)
        head.takenAt = takenAt
        let signature = sign(head.seq, head.hash, takenAt)
        head.signature = signature.hex
        guard head.seq > 0 else { return (head, false) }
        for try await _ in try await database.query(
            """
            INSERT INTO audit_checkpoints (seq, hash, taken_at, signature)
            VALUES (\(head.seq), \(Data(Array(hexString: head.hash))), \(now), \(Data(signature)))
            ON CONFLICT (seq) DO NOTHING
            RETURNING seq
            """,
            logger: logger
        ).decode(Int64.self) {
            return (head, true)
        }
        return (head, false)
    }

    /// The newest checkpoint recorded in the database, nil when there is none.
    public static func newestCheckpoint(database: Database, logger: Logger) async throws -> Head? {
        let rows = try await database.query(
            "SELECT seq, hash, taken_at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
            logger: logger
        )
        for try await (seq, hash, takenAt, signature) in rows.decode((Int64, Data, Date, Data?).self) {
            return Head(seq: seq, hash: hash.hex, takenAt: ISO8601DateFormatter().string(from: takenAt), signature: signature?.hex)
        }
        return nil
    }

    /// The canonical content hash of an audit row, computed here rather than by the database
    /// function `audit_content_hash` (which whoever owns the schema could redefine to agree with
    /// a rewritten row): SHA-256 of the fields joined by U+001F.
    public static func contentHash(
        id: Int64,
        occurredMicros: Int64,
        actorKind: String,
        actorID: String,
        actorRole: String,
        action: String,
        subjectType: String,
        subjectID: String,
        requestID: String,
        details: String
    ) -> [UInt8] {
        let text = [String(id), String(occurredMicros), actorKind, actorID, actorRole, action, subjectType, subjectID, requestID, details]
            .joined(separator: "\u{1F}")
        return Array(SHA256.hash(data: Data(text.utf8)))
    }

    /// Recomputes every row's content hash and every link; names the first broken row.
    /// `checkpoints` (taken earlier and kept outside the database) must still be on the chain.
    public static func verify(database: Database, checkpoints: [Head] = [], logger: Logger) async throws -> ChainVerification {
        try await verifyChain(database: database, checkpoints: checkpoints, logger: logger).result
    }

    /// As `verify`, with the newest checkpoint the chain was checked against (nil: none yet).
    public static func verifyChain(
        database: Database,
        checkpoints: [Head] = [],
        logger: Logger
    ) async throws
        -> (result: ChainVerification, checkpoint: Head?)
    {
        var expectedSeq: Int64 = 1
        var previous = [UInt8](repeating: 0, count: 32)
        let wanted = Dictionary(checkpoints.map { ($0.seq, $0.hash) }, uniquingKeysWith: { a, _ in a })
        var checked: Head?
        // Only the rows' stored fields come from the database (through built-in casts); every hash is computed here.
        let rows = try await database.query(
            """
            SELECT c.seq, c.event_id, c.prev_hash, c.hash, l.content_hash, (extract(epoch FROM l.occurred_at) * 1000000)::bigint,
                   l.actor_kind, coalesce(l.actor_id::text, ''), coalesce(l.actor_role, ''), l.action, l.subject_type,
                   coalesce(l.subject_id, ''), coalesce(l.request_id, ''), l.details::text
            FROM audit_chain c JOIN audit_log l ON l.id = c.event_id
            ORDER BY c.seq
            """,
            logger: logger
        )
        for try await (seq, eventID, prevHash, hash, stored, micros, kind, actor, role, action, type, subject, request, details)
            in rows.decode((Int64, Int64, Data, Data, Data, Int64, String, String, String, String, String, String, String, String).self)
        {
            let prevHash = Array(prevHash)
            let hash = Array(hash)
            let stored = Array(stored)
            let recomputed = contentHash(
                id: eventID,
                occurredMicros: micros,
                actorKind: kind,
                actorID: actor,
                actorRole: role,
                action: action,
                subjectType: type,
                subjectID: subject,
                requestID: request,
                details: details
            )
            if seq != expectedSeq {
                return (.broken(seq: expectedSeq, eventID: eventID, reason: "link \(expectedSeq) is missing"), checked)
            }
            if prevHash != previous {
                return (.broken(seq: seq, eventID: eventID, reason: "previous hash does not match the link before it"), checked)
            }
            if stored != recomputed {
                return (.broken(seq: seq, eventID: eventID, reason: "the row's content was changed after it was written"), checked)
            }
            let link = Array(SHA256.hash(data: Data(previous + recomputed + Array(String(seq).utf8))))
            if link != hash {
                return (.broken(seq: seq, eventID: eventID, reason: "the link hash does not match the row's content"), checked)
            }
            if let expected = wanted[seq] {
                guard expected == hash.hex else {
                    return (.broken(seq: seq, eventID: eventID, reason: "the chain differs from the checkpoint taken at this link"), checked)
                }
                checked = checkpoints.first { $0.seq == seq }
            }
            previous = hash
            expectedSeq += 1
        }
        let count = expectedSeq - 1
        if let beyond = checkpoints.map(\.seq).filter({ $0 > count }).min() {
            return (.broken(seq: beyond, eventID: 0, reason: "a checkpoint names link \(beyond) but the chain ends at \(count)"), checked)
        }
        let orphans = try await database.query(
            """
            SELECT l.id FROM audit_log l
            WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = l.id)
              AND NOT EXISTS (SELECT 1 FROM audit_queue q WHERE q.event_id = l.id)
            ORDER BY l.id LIMIT 1
            """,
            logger: logger
        )
        for try await id in orphans.decode(Int64.self) {
            return (.broken(seq: 0, eventID: id, reason: "event \(id) is neither chained nor queued"), checked)
        }
        return (.intact(count: Int(count), head: previous.hex), checked)
    }
}

extension Array where Element == UInt8 {
    /// Bytes from lower- or upper-case hex; empty on malformed input.
    public init(hexString: String) {
        var bytes: [UInt8] = []
        var iterator = hexString.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = Self.nibble(hi), let l = Self.nibble(lo) else {
                self = []
                return
            }
            bytes.append(h << 4 | l)
        }
        self = bytes
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}

extension AuditStore {
    /// Display names of users and integration sources, by lower-case id.
    public static func actorNames(users: [UUID], sources: [UUID], database: Database, logger: Logger) async throws -> [String: String] {
        var names: [String: String] = [:]
        if !users.isEmpty {
            for try await (id, name) in try await database.query(
                "SELECT id, display_name FROM users WHERE id = ANY(\(users))",
                logger: logger
            ).decode((UUID, String).self) {
                names[id.text] = name
            }
        }
        if !sources.isEmpty {
            for try await (id, name) in try await database.query(
                "SELECT id, display_name FROM integration_sources WHERE id = ANY(\(sources))",
                logger: logger
            ).decode((UUID, String).self) {
                names[id.text] = name
            }
        }
        return names
    }
}
