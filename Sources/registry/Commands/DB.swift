import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import Logging
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database helpers.",
        subcommands: [URLCommand.self, Statement.self]
    )

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the connection string for psql (starts the embedded cluster if needed)."
        )

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            let logger = Logger(label: "registry")
            if let url = configuration.databaseURL {
                print(try DatabaseEndpoint(url: url).displayURL)
                return
            }
            let cluster = EmbeddedPostgres(dataDirectory: configuration.dataDirectory + "/postgres")
            let outcome = try cluster.start(logger: logger)
            if outcome == .started {
                FileHandle.standardError.write(
                    Data(
                        "started the embedded cluster; it keeps running (stop it with: pg_ctl -D \(configuration.dataDirectory)/postgres/pg stop)\n"
                            .utf8
                    )
                )
            }
            FileHandle.standardError.write(Data("the owner's password is in \(configuration.dataDirectory)/postgres/credentials.json\n".utf8))
            print(cluster.endpoint().displayURL)
        }
    }

    /// The hot statements' SQL, so that a baseline (`pgbench -M prepared`, bench/run.sh) runs exactly
    /// what the service runs.
    struct Statement: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "statement",
            abstract: "Print the SQL of one of the service's prepared statements (report, ban-lookup), with its $n parameters."
        )

        @Argument(help: "report | ban-lookup")
        var name: String

        func run() throws {
            switch name {
            case "report": print(ReportStore.reportSQL)
            case "ban-lookup": print(ReportStore.banLookupSQL)
            default: throw ValidationError("unknown statement '\(name)': report or ban-lookup")
            }
        }
    }
}
