import Foundation
import Logging
import PostgresNIO
import RegistryStorage

/// Finds or starts the database, creates it on first use and brings its schema up to date.
/// With `DATABASE_URL` unset the embedded cluster under the data folder is used.
public struct DatabaseRuntime: Sendable {
    public let endpoint: DatabaseEndpoint
    public let embedded: EmbeddedPostgres?
    /// True when this process started the embedded cluster and must stop it on exit.
    public let startedHere: Bool

    /// Starts (or reuses) the embedded cluster, or parses `DATABASE_URL`. An embedded cluster
    /// made by an earlier version with password-less local connections gets passwords now.
    public static func prepare(_ configuration: Configuration, logger: Logger) async throws -> DatabaseRuntime {
        if let url = configuration.databaseURL {
            return DatabaseRuntime(
                endpoint: try DatabaseEndpoint(url: url, appPassword: configuration.databaseAppPassword),
                embedded: nil,
                startedHere: false
            )
        }
        let cluster = EmbeddedPostgres(dataDirectory: configuration.dataDirectory + "/postgres")
        let outcome = try cluster.start(logger: logger)
        let runtime = DatabaseRuntime(endpoint: cluster.endpoint(), embedded: cluster, startedHere: outcome == .started)
        do {
            try await cluster.requirePasswords(logger: logger)
        } catch {
            runtime.stop(logger: logger)
            throw error
        }
        return runtime
    }

    /// Stops the embedded cluster if this process started it.
    public func stop(logger: Logger) {
        if startedHere, let embedded { embedded.stop(logger: logger) }
    }

    /// Creates the database (embedded cluster only) and applies pending migrations as the owner.
    @discardableResult
    public func migrate(migrationsDirectory: String, logger: Logger) async throws -> [Int] {
        let migrator = try Migrator(directory: migrationsDirectory)
        if embedded != nil {
            try await Self.createDatabaseIfMissing(endpoint, logger: logger)
        }
        return try await withPostgresClient(endpoint.clientConfiguration(asOwner: true, maxConnections: 2), logger: logger) {
            client in
            let applied = try await migrator.migrate(client: client, logger: logger)
            // The service signs in as registry_app with its own password, set here by the owner.
            if let appPassword = endpoint.appPassword {
                try await RolePasswords.set(role: DatabaseEndpoint.appRole, password: appPassword, on: client, logger: logger)
            }
            return applied
        }
    }

    static func createDatabaseIfMissing(_ endpoint: DatabaseEndpoint, logger: Logger) async throws {
        let maintenance = endpoint.with(database: "postgres")
        try await withPostgresClient(maintenance.clientConfiguration(asOwner: true, maxConnections: 1), logger: logger) { client in
            let rows = try await client.query("SELECT count(*)::int FROM pg_database WHERE datname = \(endpoint.database)", logger: logger)
            var exists = false
            for try await n in rows.decode(Int.self) { exists = n > 0 }
            if !exists {
                // A database name cannot be a bind parameter; this one is ours, checked here.
                guard endpoint.database.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw EndpointError("invalid database name")
                }
                logger.info("creating database", metadata: ["database": "\(endpoint.database)"])
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(endpoint.database)\""), logger: logger)
            }
        }
    }
}
