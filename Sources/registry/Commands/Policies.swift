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
                // The template codes must name exactly the message kinds; only Aliyun needs them.
                let kinds = try MessageTemplates.load(directory: configuration.messagesDirectory).kinds
                do {
                    try set.checkSMSTemplates(kinds: kinds, directory: configuration.policiesDirectory)
                } catch  where configuration.smsProvider != .aliyun {
                    print("note: \(error) (needed only with REGISTRY_SMS_PROVIDER=aliyun)")
                }
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
