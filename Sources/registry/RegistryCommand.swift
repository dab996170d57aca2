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

@main
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "The domestic service worker credit registry.",
        discussion: "Configuration comes from the environment (see README.md): PORT, HOST, REGISTRY_DATA_DIR, DATABASE_URL, LOG_LEVEL, ...",
        subcommands: [
            Serve.self, Migrate.self, CreateAdmin.self, Demo.self, BenchHash.self, ImportWorkers.self, ImportFlags.self, Regrade.self,
            ReportCommand.self, DB.self, Policies.self, Audit.self, Keys.self, Jobs.self, Exchange.self,
        ],
        defaultSubcommand: Serve.self
    )
}
