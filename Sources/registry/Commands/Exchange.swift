import ArgumentParser
import Foundation
import Logging
import RegistryDomain
import RegistryServices

/// Sharing bans with other registries (联合惩戒).
struct Exchange: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Share bans with other registries: pull another registry's signed records of bans and reinstatements.",
        subcommands: [Pull.self]
    )

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import another registry's bans (its GET /api/v1/exchange/bans) as flags of a source of kind registry.",
            discussion: """
                Every record after the cursor kept for the source is checked against the other registry's Ed25519 public key \
                before anything is written; a ban becomes an adjudicated flag of flags.yaml's exchange category (its effect set \
                by policy, like any flag), a reinstatement retracts it. A record that does not verify stops the pull there. \
                The cursor moves past what was imported, so a pull can be run again at any time (a cron job, say) and reads \
                only what is new. Exit status: 0 when everything verified and imported, 2 when a record was refused.
                """
        )

        @Option(help: "The integration source (kind registry) the other registry is registered as here.")
        var source: String

        @Option(help: "The other registry's base URL, e.g. https://registry.example.gov.cn")
        var url: String

        @Option(help: "The API key the other registry issued to this one (or set REGISTRY_EXCHANGE_KEY).")
        var key: String?

        @Option(
            name: .customLong("public-key"),
            help: "The other registry's public key: base64 of its 32 raw bytes (its /api/v1/reports/public-key)."
        )
        var publicKey: String

        func run() async throws {
            guard let apiKey = key ?? ProcessInfo.processInfo.environment["REGISTRY_EXCHANGE_KEY"], !apiKey.isEmpty else {
                throw ValidationError("Give the API key with --key or REGISTRY_EXCHANGE_KEY.")
            }
            let summary = try await withRegistry(migrate: false) { registry, logger in
                try await registry.exchange.pull(sourceName: source, baseURL: url, apiKey: apiKey, publicKey: publicKey, logger: logger)
            }
            print(
                """
                \(summary.records) records: \(summary.bans) bans imported, \(summary.reinstatements) reinstatements, \
                \(summary.unchanged) unchanged; cursor at \(summary.cursor)
                """
            )
            for problem in summary.rejected { print("refused: \(problem)") }
            if !summary.rejected.isEmpty { throw ExitCode(2) }
        }
    }
}
