import Foundation
import Logging
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

    /// The read copy of `DATABASE_READ_URL` (one host; the service signs in to it as
    /// `registry_app`, like to the primary), or nil.
    public static func readCopy(_ configuration: Configuration) throws -> Database.ReadCopy? {
        guard let url = configuration.databaseReadURL else { return nil }
        guard configuration.databaseURL != nil else {
            throw EndpointError("DATABASE_READ_URL needs DATABASE_URL: the embedded cluster has no copies")
        }
        let endpoint = try DatabaseEndpoint(url: url, appPassword: configuration.databaseAppPassword)
        guard !endpoint.isCluster else {
            throw EndpointError("DATABASE_READ_URL names one host (a standby, or a pooler in front of several)")
        }
        return Database.ReadCopy(endpoint: endpoint, maxLag: .seconds(configuration.readMaxLagSeconds))
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
            try await endpoint.createDatabaseIfMissing(logger: logger)
        }
        let endpoint = try await endpoint.writable(within: .seconds(30), logger: logger)
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
}
