import Foundation
import RegistryDomain
import RegistryServices
import Testing

@Suite("Policy files")
struct PolicyFileTests {
    func folder(access: String, authentication: String? = nil) throws -> String {
        let dir = NSTemporaryDirectory() + "policies-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try access.write(toFile: dir + "/access.yaml", atomically: true, encoding: .utf8)
        let auth = try authentication ?? String(contentsOfFile: repositoryRoot + "/Policies/authentication.yaml", encoding: .utf8)
        try auth.write(toFile: dir + "/authentication.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test("the shipped policies load")
    func shipped() throws {
        let set = try PolicySet.load(directory: repositoryRoot + "/Policies")
        #expect(set.access.permits(.admin, "audit.verify"))
        #expect(!set.access.permits(.anonymous, "audit.read"))
    }

    @Test(
        "a bad policy names the file, the line and the problem",
        arguments: [
            ("version: 1\nactions:\n  a.read: x\nroles:\n  admin:\n    - a.read\n    - a.write\n", 7, "unknown action 'a.write'"),
            ("version: 1\nactions:\n  a.read: x\nroles:\n  janitor:\n    - a.read\n", 5, "unknown role 'janitor'"),
            ("version: 1\nactions: [\n", 3, "not valid YAML"),
            ("version: one\nactions: {}\nroles: {}\n", 1, "version"),
        ]
    )
    func badPolicy(yaml: String, line: Int, problem: String) throws {
        let dir = try folder(access: yaml)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.file.hasSuffix("access.yaml") == true)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }

    @Test("an out-of-range authentication setting is refused")
    func badAuthentication() throws {
        let access = try String(contentsOfFile: repositoryRoot + "/Policies/access.yaml", encoding: .utf8)
        let dir = try folder(
            access: access,
            authentication: """
                version: 1
                session_lifetime_hours: 0
                session_idle_minutes: 30
                password_min_length: 10
                registrations_per_address_per_minute: 5
                registrations_per_minute: 120
                login_throttle: {account_failures_allowed: 5, address_failures_allowed: 30, window_seconds: 900, base_block_seconds: 30, max_block_seconds: 900}
                """
        )
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.line == 2)
    }
}
