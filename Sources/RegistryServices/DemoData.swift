import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Demo data so that a new user finds a living registry. Each capability adds its part here.
public enum DemoData {
    public static let adminEmail = "admin@demo.registry.local"

    public struct Summary: Sendable {
        public var created: Bool
        public var adminEmail: String
        public var adminPassword: String?
        public var credentialsFile: String
    }

    /// Loads the demo data unless the database already has users. The demo administrator's
    /// password is `REGISTRY_DEMO_PASSWORD` or a random one, printed and saved (owner-only)
    /// in the data folder.
    public static func loadIfEmpty(_ registry: Registry, logger: Logger) async throws -> Summary {
        let file = registry.configuration.dataDirectory + "/demo-credentials.txt"
        let users = try await registry.database.withConnection { connection in
            try await AccountStore.count(role: .admin, on: connection, logger: logger)
        }
        guard users == 0 else {
            return Summary(created: false, adminEmail: adminEmail, adminPassword: nil, credentialsFile: file)
        }
        let password = ProcessInfo.processInfo.environment["REGISTRY_DEMO_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "demo-" + TokenGenerator.token(bytes: 9)
        _ = try await registry.auth.createAdmin(email: adminEmail, password: password, displayName: "Demo administrator",
                                                logger: logger)
        try FileManager.default.createDirectory(atPath: registry.configuration.dataDirectory, withIntermediateDirectories: true)
        let text = "Demo administrator\ne-mail: \(adminEmail)\npassword: \(password)\n"
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        return Summary(created: true, adminEmail: adminEmail, adminPassword: password, credentialsFile: file)
    }
}
