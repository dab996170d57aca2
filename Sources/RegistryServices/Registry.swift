import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The assembled services of one running registry: what the HTTP layer and the CLI call.
public struct Registry: Sendable {
    public let configuration: Configuration
    public let policies: PolicySet
    public let database: Database
    public let keys: KeyRing
    public let auth: AuthService
    public let migrator: Migrator

    public init(configuration: Configuration, policies: PolicySet, database: Database, keys: KeyRing,
                hasher: PasswordHasher = PasswordHasher()) throws {
        self.configuration = configuration
        self.policies = policies
        self.database = database
        self.keys = keys
        self.auth = AuthService(database: database, policy: policies.authentication, hasher: hasher)
        self.migrator = try Migrator(directory: configuration.migrationsDirectory)
    }

    /// Readiness: the database answers and every migration is applied.
    public func isReady(logger: Logger) async -> Bool {
        await migrator.isCurrent(database: database, logger: logger)
    }
}
