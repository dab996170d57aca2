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

struct ImportFlags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-flags",
        abstract: "Import a source's flag file (id_number,reference,category,severity,status,occurred_on,expires_on,narrative).",
        discussion: """
            Every line is validated and its content hash compared with the stored flag's, in one transaction: new \
            references stream with COPY into the flags, changed ones are updated set-based (the old version kept), equal \
            ones cost nothing — so re-running a file writes nothing but its audit event. Malformed lines never stop the good ones: each is listed by number with its reason, and every \
            rejected record is written, with its line number and reason, to FILE.rejects.csv beside the input (or --rejects). \
            Exit status: 0 when every line was imported, 2 when some lines were rejected, 1 on an error that stopped the import.
            """
    )

    @Option(help: "The integration source's name (as registered by an administrator).")
    var source: String

    @Argument(help: "The CSV file, with a header line.")
    var file: String

    @Option(help: "Where to write the rejected records (default: FILE.rejects.csv beside the input).")
    var rejects: String?

    func run() async throws {
        let started = ContinuousClock.now
        let summary = try await withRegistry(migrate: false) { registry, logger in
            try await registry.flagImport.run(path: file, sourceName: source, logger: logger) { phase in
                switch phase {
                case .reading(let lines):
                    ProgressLine.update("reading, new flags streamed: \(lines) lines")
                case .updating(let flags):
                    ProgressLine.update("updating \(flags) changed flags")
                case .finishing:
                    ProgressLine.update("matching new flags to files, their effects")
                }
            }
        }
        let (seconds, rate) = ProgressLine.elapsed(since: started, count: summary.lines)
        ProgressLine.finish()
        print("steps: " + summary.steps.map { "\($0.name) \(String(format: "%.2f", $0.seconds)) s" }.joined(separator: ", "))
        for r in summary.rejectedLines.prefix(20) { print("line \(r.line): rejected — \(r.reason)") }
        if summary.rejectedLines.count > 20 { print("… and \(summary.rejectedLines.count - 20) more rejected lines") }
        print(
            """
            \(summary.lines) lines: created \(summary.created), updated \(summary.updated), unchanged \(summary.unchanged), \
            rejected \(summary.rejected); \(summary.attachedToFiles) on existing files — \(seconds) s \
            (\(rate) lines/s)
            """
        )
        guard summary.rejectedLines.isEmpty else {
            let path = rejects ?? file + ".rejects.csv"
            try FlagImport.writeRejects(summary.rejectedLines, to: path)
            print("every rejected record, with its line and reason: \(path)")
            throw ExitCode(2)
        }
    }
}
