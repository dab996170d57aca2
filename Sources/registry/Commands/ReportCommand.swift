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

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Signed credit reports.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a signed report (the JSON from GET /api/v1/workers/{id}/report?signed=true). Exit 0 when valid, 1 when not."
        )

        @Argument(help: "The signed report file.")
        var file: String

        @Option(name: .customLong("public-key"), help: "Verify against this base64 Ed25519 key instead of this registry's own.")
        var publicKey: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let document: ReportService.SignedReport
            do {
                document = try JSONDecoder().decode(ReportService.SignedReport.self, from: data)
            } catch {
                print("not a signed report: \(file) must hold payload, signature, algorithm and public_key")
                throw ExitCode(1)
            }
            let key: Curve25519.Signing.PublicKey
            if let publicKey {
                guard let raw = Data(base64Encoded: publicKey), let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                    throw ValidationError("--public-key must be a base64 Ed25519 public key (32 bytes)")
                }
                key = k
            } else {
                key = try Configuration.fromEnvironment().loadKeys().signingKey.publicKey
            }
            let result = ReportService.verify(document, publicKey: key, now: Date())
            if result.valid {
                print(
                    "valid: report on worker \(result.workerId ?? "?") issued \(result.issuedAt ?? "?"), valid until \(result.expiresAt ?? "?"), "
                        + "signed by this registry's key \(result.keyId ?? "?")"
                )
            } else {
                print("INVALID: \(result.reason ?? "the signature does not match")")
                throw ExitCode(1)
            }
        }
    }
}
