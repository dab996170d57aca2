import Foundation
import Logging
import PostgresNIO

/// A private PostgreSQL cluster under the registry's data folder, run with the system's
/// initdb and pg_ctl on a unix socket only. As root it runs as the `postgres` system user,
/// because PostgreSQL refuses to run as root.
public struct EmbeddedPostgres: Sendable {
    public enum StartOutcome: Sendable, Equatable {
        /// This process started the cluster and should stop it on exit.
        case started
        /// Another process had it running; leave it running.
        case reused
    }

    public let dataDirectory: String
    public let port: Int
    public static let superuser = "registry"

    public init(dataDirectory: String, port: Int = 5432) {
        self.dataDirectory = (dataDirectory as NSString).standardizingPath
        self.port = port
    }

    var pgdata: String { dataDirectory + "/pg" }
    var socketDirectory: String { dataDirectory + "/run" }
    var logFile: String { dataDirectory + "/log/postgres.log" }
    public var socketPath: String { "\(socketDirectory)/.s.PGSQL.\(port)" }

    /// The passwords of the owner and the service role, made on first start (owner-only file).
    public struct Credentials: Codable, Sendable, Equatable {
        public var owner: String
        public var app: String
    }

    var credentialsFile: String { dataDirectory + "/credentials.json" }

    /// The credentials, created once.
    func credentials() throws -> Credentials {
        let fm = FileManager.default
        if let data = fm.contents(atPath: credentialsFile) {
            return try JSONDecoder().decode(Credentials.self, from: data)
        }
        func secret() -> String {
            var rng = SystemRandomNumberGenerator()
            let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
            return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
        }
        let made = Credentials(owner: secret(), app: secret())
        try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        guard fm.createFile(atPath: credentialsFile, contents: try JSONEncoder().encode(made), attributes: [.posixPermissions: 0o600]) else {
            throw EmbeddedPostgresError("could not write \(credentialsFile)")
        }
        return made
    }

    /// Owner and service role sign in with passwords (SCRAM-SHA-256), even on the private socket.
    public func endpoint(database: String = "registry") -> DatabaseEndpoint {
        let credentials = try? credentials()
        return DatabaseEndpoint(
            address: .socket(path: socketPath),
            ownerUser: Self.superuser,
            password: credentials?.owner,
            database: database,
            appConnectsDirectly: true,
            appPassword: credentials?.app
        )
    }

    var hbaFile: String { pgdata + "/pg_hba.conf" }

    /// Whether the cluster still lets local connections in without a password (made by an
    /// earlier version with `--auth=trust`).
    public var trustsLocalConnections: Bool {
        guard let text = try? String(contentsOfFile: hbaFile, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return !(fields.first?.hasPrefix("#") ?? true) && fields.last == "trust"
        }
    }

    /// Gives a cluster made with `--auth=trust` a password for its owner and switches every
    /// local connection to SCRAM-SHA-256 (then reloads). Nothing to do on a new cluster.
    public func requirePasswords(logger: Logger) async throws {
        guard trustsLocalConnections else { return }
        let credentials = try credentials()
        try await withPostgresClient(endpoint(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1), logger: logger) {
            client in try await RolePasswords.set(role: Self.superuser, password: credentials.owner, on: client, logger: logger)
        }
        let text = try String(contentsOfFile: hbaFile, encoding: .utf8)
        let secured = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard !(fields.first?.hasPrefix("#") ?? true), fields.last == "trust" else { return String(line) }
            return String(line.dropLast("trust".count)) + "scram-sha-256"
        }.joined(separator: "\n")
        try secured.write(toFile: hbaFile, atomically: false, encoding: .utf8)
        let reload = try Subprocess.run(try Self.binDirectory() + "/pg_ctl", ["-D", pgdata, "reload"], as: runAs)
        guard reload.status == 0 else { throw EmbeddedPostgresError("pg_ctl reload failed:\n\(reload.output)") }
        logger.notice("the embedded PostgreSQL now asks every connection for a password (SCRAM-SHA-256)")
    }

    var runAs: String? { geteuid() == 0 ? "postgres" : nil }

    /// Creates the cluster on first use, then starts it, or reuses one already running.
    public func start(logger: Logger) throws -> StartOutcome {
        let bin = try Self.binDirectory()
        let fm = FileManager.default
        for dir in [dataDirectory, socketDirectory, dataDirectory + "/log"] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        if let user = runAs {
            for dir in [socketDirectory, dataDirectory + "/log"] {
                try fm.setAttributes([.ownerAccountName: user, .groupOwnerAccountName: user], ofItemAtPath: dir)
            }
        }
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory)
        if let user = runAs {
            let reach = try Subprocess.run("/usr/bin/test", ["-x", dataDirectory, "-a", "-w", socketDirectory], as: user)
            guard reach.status == 0 else {
                throw EmbeddedPostgresError(
                    """
                    running as root, the cluster runs as the '\(user)' system user, which cannot reach \(dataDirectory) \
                    (a parent folder is closed to other users, e.g. /root). Set REGISTRY_DATA_DIR to a folder it can \
                    reach, e.g. /var/lib/registry.
                    """
                )
            }
        }

        if !fm.fileExists(atPath: pgdata + "/PG_VERSION") {
            try fm.createDirectory(atPath: pgdata, withIntermediateDirectories: true)
            if let user = runAs {
                try fm.setAttributes([.ownerAccountName: user, .groupOwnerAccountName: user], ofItemAtPath: pgdata)
            }
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: pgdata)
            logger.info("creating the embedded PostgreSQL cluster", metadata: ["pgdata": "\(pgdata)"])
            // Every connection, on the private socket too, signs in with a password (SCRAM).
            let credentials = try credentials()
            let pwfile = dataDirectory + "/run/initdb-\(UUID().uuidString)"
            guard fm.createFile(atPath: pwfile, contents: Data((credentials.owner + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw EmbeddedPostgresError("could not write \(pwfile)")
            }
            defer { try? fm.removeItem(atPath: pwfile) }
            if let user = runAs { try fm.setAttributes([.ownerAccountName: user, .groupOwnerAccountName: user], ofItemAtPath: pwfile) }
            let initdb = try Subprocess.run(
                bin + "/initdb",
                ["-D", pgdata, "-U", Self.superuser, "--auth=scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8", "--no-locale"],
                as: runAs
            )
            guard initdb.status == 0 else { throw EmbeddedPostgresError("initdb failed:\n\(initdb.output)") }
            let settings = """

                # Written by registry: private cluster, unix socket only.
                listen_addresses = ''
                port = \(port)
                unix_socket_directories = '\(socketDirectory)'
                unix_socket_permissions = 0700
                synchronous_commit = on
                fsync = on
                max_connections = 300
                shared_buffers = 256MB

                """
            let conf = try FileHandle(forWritingTo: URL(fileURLWithPath: pgdata + "/postgresql.conf"))
            conf.seekToEndOfFile()
            conf.write(Data(settings.utf8))
            try conf.close()
        }

        if try isRunning() {
            logger.info("reusing the embedded PostgreSQL cluster that is already running", metadata: ["pgdata": "\(pgdata)"])
            return .reused
        }
        let started = try Subprocess.run(bin + "/pg_ctl", ["-D", pgdata, "-l", logFile, "-w", "-t", "60", "start"], as: runAs)
        guard started.status == 0 else {
            if try isRunning() { return .reused }
            let tail =
                (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(10)
                .joined(separator: "\n") ?? ""
            throw EmbeddedPostgresError("pg_ctl start failed:\n\(started.output)\n\(tail)")
        }
        logger.info("embedded PostgreSQL started", metadata: ["socket": "\(socketPath)"])
        return .started
    }

    public func isRunning() throws -> Bool {
        guard FileManager.default.fileExists(atPath: pgdata + "/PG_VERSION") else { return false }
        let status = try Subprocess.run(try Self.binDirectory() + "/pg_ctl", ["-D", pgdata, "status"], as: runAs)
        return status.status == 0
    }

    /// Fast shutdown: open transactions are rolled back, committed work is on disk.
    public func stop(logger: Logger) {
        do {
            guard try isRunning() else { return }
            let result = try Subprocess.run(
                try Self.binDirectory() + "/pg_ctl",
                ["-D", pgdata, "-w", "-t", "60", "-m", "fast", "stop"],
                as: runAs
            )
            if result.status == 0 {
                logger.info("embedded PostgreSQL stopped")
            } else {
                logger.error("pg_ctl stop failed", metadata: ["output": "\(result.output)"])
            }
        } catch {
            logger.error("could not stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    /// The newest `/usr/lib/postgresql/N/bin`, or the folder of `initdb` on PATH.
    public static func binDirectory() throws -> String {
        let fm = FileManager.default
        let root = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where fm.isExecutableFile(atPath: "\(root)/\(v)/bin/initdb") {
            return "\(root)/\(v)/bin"
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(dir)/initdb") && fm.isExecutableFile(atPath: "\(dir)/pg_ctl") {
            return String(dir)
        }
        throw EmbeddedPostgresError("PostgreSQL server programs (initdb, pg_ctl) were not found: apt-get install postgresql")
    }
}

public struct EmbeddedPostgresError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
