import Foundation
import Logging
import PostgresNIO

/// The service nodes that announce themselves (migration 0030): one row per node, refreshed by
/// its heartbeat.
public enum NodeStore {
    public struct Node: Sendable, Equatable {
        public var id: String
        public var version: String
        public var address: String
        public var pid: Int
        public var startedAt: Date
        public var lastSeenAt: Date
        public var databaseHost: String?

        public init(id: String, version: String, address: String, pid: Int, startedAt: Date, lastSeenAt: Date, databaseHost: String?) {
            self.id = id
            self.version = version
            self.address = address
            self.pid = pid
            self.startedAt = startedAt
            self.lastSeenAt = lastSeenAt
            self.databaseHost = databaseHost
        }
    }

    /// Records that `node` is alive now (its `lastSeenAt` is the database's clock), and forgets
    /// nodes not seen for `forgetAfter`.
    public static func heartbeat(_ node: Node, forgetAfter: Duration, database: Database, logger: Logger) async throws {
        let forgetSeconds = Double(forgetAfter.components.seconds)
        try await database.transaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO service_nodes (id, version, address, pid, started_at, last_seen_at, database_host)
                VALUES (\(node.id), \(node.version), \(node.address), \(node.pid), \(node.startedAt), now(), \(node.databaseHost))
                ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, address = EXCLUDED.address, pid = EXCLUDED.pid,
                    started_at = EXCLUDED.started_at, last_seen_at = now(), database_host = EXCLUDED.database_host
                """,
                logger: logger
            )
            try await connection.query(
                "DELETE FROM service_nodes WHERE last_seen_at < now() - make_interval(secs => \(forgetSeconds))",
                logger: logger
            )
        }
    }

    /// The nodes seen within `within`, oldest start first.
    public static func live(within: Duration, database: Database, logger: Logger) async throws -> [Node] {
        let seconds = Double(within.components.seconds)
        let rows = try await database.query(
            """
            SELECT id, version, address, pid, started_at, last_seen_at, database_host FROM service_nodes
            WHERE last_seen_at >= now() - make_interval(secs => \(seconds))
            ORDER BY started_at, id
            """,
            logger: logger
        )
        var nodes: [Node] = []
        for try await (id, version, address, pid, started, seen, host) in rows.decode((String, String, String, Int, Date, Date, String?).self) {
            nodes.append(Node(id: id, version: version, address: address, pid: pid, startedAt: started, lastSeenAt: seen, databaseHost: host))
        }
        return nodes
    }
}
