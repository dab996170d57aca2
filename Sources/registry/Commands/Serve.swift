import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import Logging
import RegistryDemo
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Migrate, then serve the web UI and the JSON API (default command)."
    )

    @Flag(help: "Load the demo data first when the database has no administrator yet.")
    var demo = false

    func run() async throws {
        if !demo, try !Configuration.fromEnvironment().hasSMSChannel {
            throw ValidationError(
                """
                No SMS channel is configured, so activation codes, transfer consent codes and case notices would reach no one.
                Set REGISTRY_SMS_GATEWAY_URL and REGISTRY_SMS_GATEWAY_SECRET for the HTTP gateway, or REGISTRY_SMS_PROVIDER=aliyun with
                REGISTRY_ALIYUN_ACCESS_KEY_ID, REGISTRY_ALIYUN_ACCESS_KEY_SECRET and REGISTRY_ALIYUN_SIGN_NAME (README, "Messages"),
                or run `registry serve --demo`, whose messages go to the demo mailbox at /demo/outbox.
                """
            )
        }
        try await withRegistry(migrate: true, demo: demo) { registry, logger in
            if demo {
                let summary = try await DemoData.loadIfEmpty(registry, logger: logger)
                if summary.created, let password = summary.adminPassword {
                    say(
                        """

                        Demo data loaded. Sign in at http://\(registry.configuration.host):\(registry.configuration.port)/
                          e-mail:   \(summary.adminEmail)
                          password: \(password)
                        (also saved in \(summary.credentialsFile))

                        """
                    )
                } else {
                    say("Demo administrator: \(summary.adminEmail), password in \(summary.credentialsFile)")
                }
            }
            let app = buildApplication(registry, logger: logger)
            logger.info("serving", metadata: ["address": "\(registry.configuration.host):\(registry.configuration.port)"])
            try await app.runService()
        }
    }
}
