import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage

#if canImport(Glibc)
import Glibc
#endif

/// The repository root (for Migrations/, Policies/, Web/).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

/// Cheap argon2id parameters so tests do not spend their time hashing; the production
/// parameters are tested on their own.
/// One hasher for the whole test process, where many registries run at once: cheap parameters, and a gate wide enough
/// for every test in parallel (a server process has one registry and the default gate).
let testHasher = PasswordHasher(parameters: .init(memory: 1024, iterations: 1, parallelism: 1), concurrency: 10_000)

/// One real PostgreSQL cluster per test process (the embedded launcher, in a temporary folder),
/// with a template database migrated once. Every test gets its own database cloned from it.
actor TestCluster {
    static let shared = TestCluster()

    private var cluster: EmbeddedPostgres?
    private var counter = 0
    /// Creating and migrating the template happens once; callers arriving meanwhile wait for it.
    private var templateTask: Task<Void, any Error>?
    static let template = "registry_template"

    /// The folder of this process's cluster, removed at exit.
    nonisolated static let folder: String = {
        let path = NSTemporaryDirectory() + "registry-tests-\(getpid())"
        return path
    }()

    func start() throws -> EmbeddedPostgres {
        if let cluster { return cluster }
        let cluster = EmbeddedPostgres(dataDirectory: Self.folder, port: 5432)
        _ = try cluster.start(logger: testLogger)
        self.cluster = cluster
        atexit {
            EmbeddedPostgres(dataDirectory: TestCluster.folder, port: 5432).stop(logger: Logger(label: "test"))
            try? FileManager.default.removeItem(atPath: TestCluster.folder)
        }
        return cluster
    }

    /// An empty database (no migrations).
    func emptyDatabase() async throws -> DatabaseEndpoint {
        let cluster = try start()
        counter += 1
        let name = "e_\(counter)"
        try await admin(cluster) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: testLogger)
        }
        return cluster.endpoint(database: name)
    }

    /// A fresh database with every migration applied, cloned from the template.
    func migratedDatabase() async throws -> DatabaseEndpoint {
        let cluster = try start()
        if templateTask == nil {
            templateTask = Task {
                try await self.admin(cluster) { client in
                    try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(Self.template)"), logger: testLogger)
                }
                let migrator = try Migrator(directory: repositoryRoot + "/Migrations")
                try await withPostgresClient(
                    cluster.endpoint(database: Self.template).clientConfiguration(asOwner: true, maxConnections: 1),
                    logger: testLogger
                ) { client in
                    try await migrator.migrate(client: client, logger: testLogger)
                    // As `registry migrate` does: the service role's own password (roles are cluster-wide).
                    let endpoint = cluster.endpoint(database: Self.template)
                    try await RolePasswords.set(role: DatabaseEndpoint.appRole, password: endpoint.appPassword ?? "", on: client, logger: testLogger)
                }
            }
        }
        try await templateTask!.value
        counter += 1
        let name = "t_\(counter)"
        try await admin(cluster) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(Self.template)"), logger: testLogger)
        }
        return cluster.endpoint(database: name)
    }

    private func admin(_ cluster: EmbeddedPostgres, _ body: (PostgresClient) async throws -> Void) async throws {
        try await withPostgresClient(
            cluster.endpoint(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1),
            logger: testLogger
        ) { client in
            try await body(client)
        }
    }
}

/// A registry on its own freshly migrated database, as the service role.
func withTestRegistry<T: Sendable>(
    policies: PolicySet? = nil,
    hasher: PasswordHasher = testHasher,
    configure: (inout Configuration) -> Void = { _ in },
    _ body: (Registry, DatabaseEndpoint) async throws -> T
) async throws -> T {
    let endpoint = try await TestCluster.shared.migratedDatabase()
    var configuration = Configuration()
    configuration.root = repositoryRoot
    configuration.dataDirectory = TestCluster.folder + "/data-\(endpoint.database)"
    configure(&configuration)
    let policySet = try policies ?? PolicySet.load(directory: configuration.policiesDirectory)
    return try await withPostgresClient(endpoint.clientConfiguration(asOwner: false, maxConnections: 4), logger: testLogger) { client in
        let database = Database(client: client, maxConnections: 4)
        let registry = try Registry(
            configuration: configuration,
            policies: policySet,
            database: database,
            keys: KeyRing.random(),
            clock: RegistryClock(),
            hasher: hasher
        )
        return try await body(registry, endpoint)
    }
}

/// Runs `body` as the database owner (for tests that must play the attacker with full rights).
func asOwner<T: Sendable>(_ endpoint: DatabaseEndpoint, _ body: (PostgresClient) async throws -> T) async throws -> T {
    try await withPostgresClient(endpoint.clientConfiguration(asOwner: true, maxConnections: 1), logger: testLogger, body)
}

/// The HTTP application over a test registry, driven without a socket.
/// With `capture`, the application's log lines (notice and above) are kept there.
func withTestApp<T: Sendable>(
    configure: (inout Configuration) -> Void = { _ in },
    capture: LogCapture? = nil,
    _ body: @escaping @Sendable (Registry, DatabaseEndpoint, any TestClientProtocol) async throws -> T
) async throws -> T {
    try await withTestRegistry(configure: configure) { registry, endpoint in
        let (router, _) = buildRouter(registry)
        var logger = testLogger
        if let capture {
            logger = Logger(label: "test-app") { _ in CapturingLogHandler(capture: capture) }
            logger.logLevel = .notice
        }
        let app = Application(router: router, logger: logger)
        return try await app.test(.router) { client in
            try await body(registry, endpoint, client)
        }
    }
}

extension Registry {
    /// Creates a user directly (test set-up), returning its id.
    func makeUser(role: Role = .admin, email: String, password: String, agencyID: UUID? = nil) async throws -> UUID {
        let hash = try testHasher.hashBlocking(password)
        return try await database.transaction(logger: testLogger) { connection in
            try await AccountStore.create(
                .init(role: role, email: email, phone: nil, displayName: "Test \(role.rawValue)", passwordHash: hash, agencyID: agencyID),
                on: connection,
                logger: testLogger
            )
        }
    }
}

/// JSON helpers for test requests.
enum TestJSON {
    static func body(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
    }

    static func errorCode(_ buffer: ByteBuffer) -> String? {
        (object(buffer)["error"] as? [String: Any])?["code"] as? String
    }
}
