import Foundation
import Logging

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

    public func endpoint(database: String = "registry") -> DatabaseEndpoint {
        DatabaseEndpoint(address: .socket(path: socketPath), ownerUser: Self.superuser, password: nil,
                         database: database, appConnectsDirectly: true)
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
                throw EmbeddedPostgresError("""
                    running as root, the cluster runs as the '\(user)' system user, which cannot reach \(dataDirectory) \
                    (a parent folder is closed to other users, e.g. /root). Set REGISTRY_DATA_DIR to a folder it can \
                    reach, e.g. /var/lib/registry.
                    """)
            }
        }

        if !fm.fileExists(atPath: pgdata + "/PG_VERSION") {
            try fm.createDirectory(atPath: pgdata, withIntermediateDirectories: true)
            if let user = runAs {
                try fm.setAttributes([.ownerAccountName: user, .groupOwnerAccountName: user], ofItemAtPath: pgdata)
            }
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: pgdata)
            logger.info("creating the embedded PostgreSQL cluster", metadata: ["pgdata": "\(pgdata)"])
            let initdb = try Subprocess.run(bin + "/initdb",
                ["-D", pgdata, "-U", Self.superuser, "--auth=trust", "-E", "UTF8", "--no-locale"], as: runAs)
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
            let tail = (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(10)
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
            let result = try Subprocess.run(try Self.binDirectory() + "/pg_ctl",
                                            ["-D", pgdata, "-w", "-t", "60", "-m", "fast", "stop"], as: runAs)
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
