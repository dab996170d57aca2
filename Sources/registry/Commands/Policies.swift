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

struct Policies: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "Policy files.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate Policies/*.yaml without serving.")

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            do {
                let set = try PolicySet.load(directory: configuration.policiesDirectory)
                print(
                    "policies valid: access v\(set.access.version) (\(set.access.actions.count) actions), authentication v\(set.authentication.version)"
                )
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
