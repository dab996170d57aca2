import Foundation
import RegistryHTTP
import Testing

@Suite("The OpenAPI document")
struct OpenAPITests {
    /// (method, path) pairs under `paths:` in Web/openapi.yaml, read by indentation.
    static func documented() throws -> Set<String> {
        let text = try String(contentsOfFile: repositoryRoot + "/Web/openapi.yaml", encoding: .utf8)
        var result = Set<String>()
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            if inPaths, !line.isEmpty, !line.hasPrefix(" ") { break }
            guard inPaths else { continue }
            if line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let method = line.dropFirst(4).prefix(while: { $0 != ":" })
                if ["get", "post", "put", "delete", "patch"].contains(String(method)) {
                    result.insert("\(method.uppercased()) \(path)")
                }
            }
        }
        return result
    }

    @Test("every JSON route is described, and nothing is described that does not exist")
    func coversEveryRoute() async throws {
        let documented = try Self.documented()
        try await withTestRegistry { registry, _ in
            let (_, routes) = buildRouter(registry)
            let api = Set(
                routes.filter {
                    $0.path.hasPrefix("/api/") || $0.path.hasPrefix("/health") || $0.path == "/metrics"
                        || $0.path == "/openapi.yaml"
                }.map { "\($0.method) \($0.path)" }
            )
            #expect(api.subtracting(documented).isEmpty, "undocumented: \(api.subtracting(documented).sorted())")
            #expect(documented.subtracting(api).isEmpty, "documented but not routed: \(documented.subtracting(api).sorted())")
        }
    }
}
