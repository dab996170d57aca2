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

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin",
        abstract: "Create an administrator. The password is read from standard input (or prompted for)."
    )

    @Option(help: "The administrator's e-mail address (the sign-in name).")
    var email: String

    @Option(help: "The name shown in the audit log and pages.")
    var name: String = "Administrator"

    func run() async throws {
        let password = try readPassword()
        try await withRegistry(migrate: true) { registry, logger in
            let id = try await registry.auth.createAdmin(email: email, password: password, displayName: name, logger: logger)
            print("administrator created: \(id.text)")
        }
    }

    func readPassword() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            guard let first = getpass("Password: ").map({ String(cString: $0) }),
                let second = getpass("Again: ").map({ String(cString: $0) })
            else { throw ValidationError("no password given") }
            guard first == second else { throw ValidationError("the passwords differ") }
            return first
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give the password on standard input")
        }
        return line
    }
}
