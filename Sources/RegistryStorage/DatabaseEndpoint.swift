import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Where the database is and who connects. The owner runs migrations; the service role
/// (`registry_app`) runs everything else and cannot rewrite the audit log.
public struct DatabaseEndpoint: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        case socket(path: String)
        case tcp(host: String, port: Int, requireTLS: Bool)
    }

    public var address: Address
    /// Further hosts of the same cluster, tried in order after `address` (libpq's multi-host
    /// URL with `target_session_attrs=read-write`): the service keeps the one that accepts
    /// writes and moves when it stops doing so (`Database`).
    public var otherHosts: [Address] = []
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
        let (url, hosts) = try Self.splitHosts(url)
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql" else {
            throw EndpointError("DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard let user = c.user, !user.isEmpty, !database.isEmpty else {
            throw EndpointError("DATABASE_URL needs a user and a database name")
        }
        let port = c.port ?? 5432
        let requireTLS = query["sslmode"] == "require"
        var addresses: [Address]
        if let socketDir = query["host"], socketDir.hasPrefix("/") {
            guard hosts.isEmpty, !socketDir.contains(",") else {
                throw EndpointError("DATABASE_URL: several hosts are given as host:port pairs, not as socket folders")
            }
            addresses = [.socket(path: "\(socketDir)/.s.PGSQL.\(port)")]
        } else if hosts.isEmpty {
            addresses = [.tcp(host: c.host ?? "localhost", port: port, requireTLS: requireTLS)]
        } else {
            addresses = hosts.map { .tcp(host: $0.host, port: $0.port, requireTLS: requireTLS) }
            let attrs = query["target_session_attrs"] ?? ""
            guard attrs == "read-write" || attrs == "primary" else {
                throw EndpointError(
                    "DATABASE_URL with several hosts needs target_session_attrs=read-write: the service writes, so it keeps the host that accepts writes"
                )
            }
        }
        self.init(
            address: addresses[0],
            ownerUser: user,
            password: c.password?.removingPercentEncoding,
            database: database,
            appConnectsDirectly: false
        )
        otherHosts = Array(addresses.dropFirst())
    }

    /// Takes a multi-host authority (`h1:5432,h2:5433`) out of `url`, which `URLComponents`
    /// cannot parse: returns the URL with only the first host, and every host when there are
    /// several (none when there is one).
    static func splitHosts(_ url: String) throws -> (url: String, hosts: [(host: String, port: Int)]) {
        guard let schemeEnd = url.range(of: "://") else { return (url, []) }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let userPart = authority.lastIndex(of: "@").map { authority[...$0] } ?? ""
        let hostPart = authority[(authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex)...]
        guard hostPart.contains(",") else { return (url, []) }
        var hosts: [(host: String, port: Int)] = []
        for item in hostPart.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: ":", omittingEmptySubsequences: false)
            guard let host = pieces.first, !host.isEmpty, pieces.count <= 2 else {
                throw EndpointError("DATABASE_URL: each host is host or host:port, separated by commas")
            }
            var port = 5432
            if pieces.count == 2 {
                guard let number = Int(pieces[1]), (1...65535).contains(number) else {
                    throw EndpointError("DATABASE_URL: a port is a number from 1 to 65535")
                }
                port = number
            }
            hosts.append((String(host), port))
        }
        let first = "\(hosts[0].host):\(hosts[0].port)"
        return (String(url[..<schemeEnd.upperBound]) + userPart + first + rest[authorityEnd...], hosts)
    }

    /// Every host, `address` first.
    public var hosts: [Address] { [address] + otherHosts }

    /// True when the URL named several hosts.
    public var isCluster: Bool { !otherHosts.isEmpty }

    /// This endpoint with only its `index`th host.
    public func single(_ index: Int) -> DatabaseEndpoint {
        var copy = self
        copy.address = hosts[index]
        copy.otherHosts = []
        return copy
    }

    /// `host:port` (or the socket path), as logs and `/admin` name a host.
    public static func label(_ address: Address) -> String {
        switch address {
        case .socket(let path): return path
        case .tcp(let host, let port, _): return "\(host):\(port)"
        }
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
        case .tcp(_, _, let tls):
            var query: [String] = []
            if tls { query.append("sslmode=require") }
            if isCluster { query.append("target_session_attrs=read-write") }
            let hostList = hosts.map(Self.label).joined(separator: ",")
            return "postgresql://\(ownerUser)@\(hostList)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        }
    }

    /// Who signs in, with which password, and the startup options that go with it: the owner;
    /// or the service role, itself or as the owner with `-c role=`.
    private func signIn(asOwner: Bool) -> (user: String, password: String?, startup: [(String, String)]) {
        if asOwner { return (ownerUser, password, []) }
        if appConnectsDirectly { return (Self.appRole, appPassword, []) }
        return (ownerUser, password, [("options", "-c role=\(Self.appRole)")])
    }

    public func clientConfiguration(asOwner: Bool, maxConnections: Int = 20) -> PostgresClient.Configuration {
        let (user, secret, startup) = signIn(asOwner: asOwner)
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
        config.options.additionalStartupParameters = startup
        config.options.maximumConnections = maxConnections
        config.options.connectTimeout = .seconds(5)
        return config
    }
}

extension DatabaseEndpoint {
    /// One direct connection's settings (no pool), for asking a host whether it accepts writes.
    public func connectionConfiguration(asOwner: Bool, connectTimeout: Duration) throws -> PostgresConnection.Configuration {
        let (user, secret, startup) = signIn(asOwner: asOwner)
        var config: PostgresConnection.Configuration
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
                tls: tls ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
            )
        }
        config.options.additionalStartupParameters = startup
        let (seconds, attoseconds) = connectTimeout.components
        config.options.connectTimeout = .milliseconds(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
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
