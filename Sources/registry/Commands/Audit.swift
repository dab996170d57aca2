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

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit chain.",
        subcommands: [Verify.self, Checkpoint.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the chain; name the first broken row (exit 1), else print the count and head."
        )

        @Option(help: "A checkpoints file (JSON lines) kept outside the database; default: the data folder's.")
        var checkpoints: String?

        func run() async throws {
            let intact = try await withRegistry(migrate: false) { registry, logger in
                let saved: [AuditService.Head]
                if let checkpoints {
                    let text = try String(contentsOfFile: checkpoints, encoding: .utf8)
                    saved = try text.split(separator: "\n").map { try JSONDecoder().decode(AuditService.Head.self, from: Data($0.utf8)) }
                } else {
                    saved = try registry.audit.savedCheckpoints()
                }
                let (result, checkpoint) = try await registry.audit.verifyChain(checkpoints: saved, logger: logger)
                switch result {
                case .intact(let count, let head):
                    print("audit chain intact: \(count) rows, head \(head) (every hash recomputed here, not by the database)")
                    if let checkpoint {
                        print(
                            "checked against checkpoint at link \(checkpoint.seq) (\(checkpoint.hash)), taken \(checkpoint.takenAt ?? "?"), "
                                + "one of \(saved.count) in \(checkpoints ?? registry.configuration.checkpointsFile)"
                        )
                    } else {
                        print("no checkpoint to check against: the service takes one every hour (`registry audit checkpoint` takes one now)")
                    }
                    return true
                case .broken(let seq, let event, let reason):
                    print("audit chain BROKEN at link \(seq) (event \(event)): \(reason)")
                    return false
                }
            }
            if !intact { throw ExitCode(1) }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a signed checkpoint of the chain's head now (database and checkpoint folder), to catch a rewritten chain later."
        )

        func run() async throws {
            try await withRegistry(migrate: false) { registry, logger in
                let (head, isNew) = try await registry.audit.takeCheckpoint(always: true, logger: logger)
                print(
                    "checkpoint: link \(head.seq), head \(head.hash) (saved in \(registry.audit.checkpointsFile)); signed with the registry's "
                        + "checkpoint key" + (isNew ? "" : "; the database already held this link")
                )
            }
        }
    }
}
