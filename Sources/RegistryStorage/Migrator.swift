import Crypto
import Foundation
import Logging
import PostgresNIO

/// Applies the numbered SQL files of `Migrations/` in order, each once and in its own
/// transaction, under an advisory lock so that nodes starting together do not race.
/// A landed file whose checksum changed stops everything.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public var checksum: [UInt8] { Array(SHA256.hash(data: Data(sql.utf8))) }

        public init(version: Int, name: String, sql: String) {
            self.version = version
            self.name = name
            self.sql = sql
        }
    }

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads `NNNN_name.sql` files from a folder.
    public init(directory: String) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        var found: [Migration] = []
        for file in files {
            guard let underscore = file.firstIndex(of: "_"), let version = Int(file[..<underscore]) else {
                throw MigrationError("\(file): a migration file is named NNNN_name.sql")
            }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            found.append(Migration(version: version, name: String(file.dropLast(4)), sql: sql))
        }
        let versions = found.map(\.version)
        guard Set(versions).count == versions.count else { throw MigrationError("two migration files share a number") }
        self.init(migrations: found)
    }

    static let lockKey: Int64 = 0x7265_6769_7374_7279  // "registry"

    /// Applies the pending migrations; returns the versions applied now.
    @discardableResult
    public func migrate(client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await apply(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// Versions recorded as applied, with their checksums.
    public func applied(on connection: PostgresConnection, logger: Logger) async throws -> [Int: [UInt8]] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum bytea NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var result: [Int: [UInt8]] = [:]
        for try await (version, checksum) in try await connection.query(
            "SELECT version, checksum FROM schema_migrations",
            logger: logger
        ).decode((Int, Data).self) {
            result[version] = Array(checksum)
        }
        return result
    }

    /// Throws unless every applied migration matches a file; returns the pending ones.
    public func pending(applied: [Int: [UInt8]]) throws -> [Migration] {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw MigrationError("the database has migration \(version), which this program does not know: is it older than the database?")
            }
            guard migration.checksum == checksum else {
                throw MigrationError(
                    "migration \(migration.name) was changed after it was applied (checksum differs). Landed migrations are never edited: add a new one."
                )
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    func apply(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        let todo = try pending(applied: try await applied(on: connection, logger: logger))
        var done: [Int] = []
        for migration in todo {
            logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
            try await connection.query("BEGIN", logger: logger)
            do {
                // The file is ours and trusted, and has no parameters: each statement runs as written.
                for statement in SQLScript.statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(Data(migration.checksum)))
                    """,
                    logger: logger
                )
                // The service role checks readiness against this table.
                try await connection.query(
                    """
                    DO $$ BEGIN
                        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'registry_app') THEN
                            GRANT SELECT ON schema_migrations TO registry_app;
                        END IF;
                    END $$
                    """,
                    logger: logger
                )
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw MigrationError("migration \(migration.name) failed: \(String(reflecting: error))")
            }
            done.append(migration.version)
        }
        return done
    }

    /// True when every migration is applied and unchanged (readiness).
    public func isCurrent(database: Database, logger: Logger) async -> Bool {
        do {
            let rows = try await database.query("SELECT version, checksum FROM schema_migrations", logger: logger)
            var applied: [Int: [UInt8]] = [:]
            for try await (v, c) in rows.decode((Int, Data).self) { applied[v] = Array(c) }
            return try pending(applied: applied).isEmpty
        } catch {
            return false
        }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
