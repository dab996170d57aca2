import Foundation
import Logging
import PostgresNIO

/// Where the database is and who connects. The owner runs migrations; the service role
/// (`registry_app`) runs everything else and cannot rewrite the audit log.
public struct DatabaseEndpoint: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        case socket(path: String)
        case tcp(host: String, port: Int, requireTLS: Bool)
    }

    public var address: Address
    public var ownerUser: String
    public var password: String?
    public var database: String
    /// When true the service connects as `registry_app` itself (embedded cluster, trust over a
    /// private socket); otherwise as the owner with `SET ROLE registry_app` at startup.
    public var appConnectsDirectly: Bool
    /// The service role's own password: it signs in as `registry_app` (SCRAM), never as the owner.
    public var appPassword: String?

    public static let appRole = "registry_app"

    public init(
        address: Address,
        ownerUser: String,
        password: String?,
        database: String,
        appConnectsDirectly: Bool,
        appPassword: String? = nil
    ) {
        self.address = address
        self.ownerUser = ownerUser
        self.password = password
        self.database = database
        self.appConnectsDirectly = appConnectsDirectly
        self.appPassword = appPassword
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=require` or
    /// `postgres://user@/database?host=/run/postgresql` (unix socket folder).
    /// `DATABASE_URL` is the owner's (it runs the migrations); the service signs in as
    /// `registry_app` with `appPassword` (REGISTRY_DB_APP_PASSWORD), which `registry migrate` sets.
    public init(url: String, appPassword: String?) throws {
        try self.init(url: url)
        guard let appPassword, !appPassword.isEmpty else {
            throw EndpointError(
                """
                with DATABASE_URL, set REGISTRY_DB_APP_PASSWORD too: the service signs in as registry_app with its own password \
                (registry migrate sets it on the role), never as the owner
                """
            )
        }
        self.appPassword = appPassword
        self.appConnectsDirectly = true
    }

    public init(url: String) throws {
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql" else {
            throw EndpointError("DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard let user = c.user, !user.isEmpty, !database.isEmpty else {
            throw EndpointError("DATABASE_URL needs a user and a database name")
        }
        let port = c.port ?? 5432
        let address: Address
        if let socketDir = query["host"], socketDir.hasPrefix("/") {
            address = .socket(path: "\(socketDir)/.s.PGSQL.\(port)")
        } else {
            address = .tcp(host: c.host ?? "localhost", port: port, requireTLS: query["sslmode"] == "require")
        }
        self.init(
            address: address,
            ownerUser: user,
            password: c.password?.removingPercentEncoding,
            database: database,
            appConnectsDirectly: false
        )
    }

    public func with(database: String) -> DatabaseEndpoint {
        var copy = self
        copy.database = database
        return copy
    }

    /// A `psql`-friendly URL for the owner (no password shown).
    public var displayURL: String {
        switch address {
        case .socket(let path):
            let dir = (path as NSString).deletingLastPathComponent
            let port = path.split(separator: ".").last.map(String.init) ?? "5432"
            return "postgresql://\(ownerUser)@/\(database)?host=\(dir)&port=\(port)"
        case .tcp(let host, let port, let tls):
            return "postgresql://\(ownerUser)@\(host):\(port)/\(database)" + (tls ? "?sslmode=require" : "")
        }
    }

    public func clientConfiguration(asOwner: Bool, maxConnections: Int = 20) -> PostgresClient.Configuration {
        let user = asOwner || !appConnectsDirectly ? ownerUser : Self.appRole
        let secret = asOwner || !appConnectsDirectly ? password : appPassword
        var config: PostgresClient.Configuration
        switch address {
        case .socket(let path):
            config = .init(unixSocketPath: path, username: user, password: secret, database: database)
        case .tcp(let host, let port, let tls):
            config = .init(
                host: host,
                port: port,
                username: user,
                password: secret,
                database: database,
                tls: tls ? .require(.makeClientConfiguration()) : .disable
            )
        }
        if !asOwner && !appConnectsDirectly {
            config.options.additionalStartupParameters = [("options", "-c role=\(Self.appRole)")]
        }
        config.options.maximumConnections = maxConnections
        config.options.connectTimeout = .seconds(5)
        return config
    }
}

public struct EndpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Role passwords, set by the owner without writing a password into SQL text: the value travels
/// as a bind parameter into a session setting, and the server quotes it (`format('%L')`).
public enum RolePasswords {
    public static func set(role: String, password: String, on client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await set(role: role, password: password, on: connection, logger: logger)
        }
    }

    public static func set(role: String, password: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "SELECT set_config('registry.role_name', \(role), false), set_config('registry.role_secret', \(password), false)",
            logger: logger
        )
        try await connection.query(
            """
            DO $$ BEGIN
                EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', current_setting('registry.role_name'), current_setting('registry.role_secret'));
            END $$
            """,
            logger: logger
        )
        try await connection.query("SELECT set_config('registry.role_secret', '', false)", logger: logger)
    }
}

extension DatabaseEndpoint {
    /// Creates this endpoint's database when it does not exist (the embedded cluster), as the owner.
    public func createDatabaseIfMissing(logger: Logger) async throws {
        let endpoint = self
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
