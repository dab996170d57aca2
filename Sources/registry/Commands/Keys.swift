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

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The sealing keys: rotate to a new version, re-seal what the old ones sealed, or show which versions are in use.",
        subcommands: [Rotate.self, Reseal.self, Status.self]
    )

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new sealing key version to the keys file, make it current, and re-seal every ID number, narrative and secret.",
            discussion: """
                The old versions stay in the keys file, so values sealed under them still open. Restart every registry node with \
                the new keys file, then run `registry keys reseal` once more to catch what a node still sealed under the old \
                version meanwhile. The blind index and signing keys do not change.
                """
        )

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            let old = try configuration.loadKeys()
            let rotated = old.addingSealingVersion()
            try configuration.saveKeys(rotated)
            print("sealing key version \(rotated.currentSealingVersion) added to \(configuration.keysFile) and made current")
            try await Reseal.reseal()
        }
    }

    struct Reseal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every value not sealed under the current key version (bound to its row); safe to run again."
        )

        func run() async throws { try await Self.reseal() }

        static func reseal() async throws {
            let started = ContinuousClock.now
            let summary = try await withRegistry(migrate: false) { registry, logger in
                try await KeyRotation(database: registry.database, keys: registry.keys).reseal(logger: logger) { s in
                    ProgressLine.update("re-sealed \(s.workers) ID numbers and \(s.narratives) narratives (\(s.examined) rows read)")
                }
            }
            let elapsed = ContinuousClock.now - started
            ProgressLine.finish()
            print(
                "re-sealed \(summary.workers) ID numbers, \(summary.narratives) narratives and \(summary.secrets) secrets in \(elapsed.components.seconds) s"
            )
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which sealing key versions exist and how many ID numbers each seals.")

        func run() async throws {
            try await withRegistry(migrate: false) { registry, logger in
                let counts = try await KeyRotation(database: registry.database, keys: registry.keys).versions(logger: logger)
                for version in registry.keys.sealingKeys.keys.sorted() {
                    print(
                        "version \(version)\(version == registry.keys.currentSealingVersion ? " (current)" : ""): \(counts[version] ?? 0) ID numbers"
                    )
                }
            }
        }
    }
}
