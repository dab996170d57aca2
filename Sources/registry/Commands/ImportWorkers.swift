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

struct ImportWorkers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-workers",
        abstract: "Register an agency's roster from a CSV file (id_number,full_name,sex,phone,home_region,service_categories).",
        discussion: """
            Every row is validated; valid rows are registered in batches of 1000, invalid rows are reported with their line \
            number and reason, rows whose ID number already has a file are reported (already registered, or transfer needed). \
            Running the same file again creates nothing twice. Categories within a field are separated by ';'. \
            Rejected records are written, with their line and reason, to FILE.rejects.csv beside the input (or --rejects), \
            and the exit status is then 2.
            """
    )

    @Option(help: "The id of the (approved) agency that takes custody.")
    var agency: String

    @Argument(help: "The CSV file, with a header line.")
    var file: String

    @Option(help: "Where to write the rejected records (default: FILE.rejects.csv beside the input).")
    var rejects: String?

    @Flag(help: "Print every line's outcome, not only the problems.")
    var verbose = false

    func run() async throws {
        guard let agencyID = UUID(uuidString: agency) else { throw ValidationError("--agency must be an agency id (a UUID)") }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let records = CSV.parse(String(decoding: data, as: UTF8.self))
        guard let header = records.first else { throw ValidationError("\(file) is empty") }
        let columns = try WorkerImport.columns(header.fields)
        let rows = Array(records.dropFirst())
        let total = rows.count
        let started = ContinuousClock.now
        let summary = try await withRegistry(migrate: false) { registry, logger in
            try await registry.workerImport.run(
                records: rows,
                columns: columns,
                agencyID: agencyID,
                caller: .system,
                keepAllLines: verbose,
                logger: logger
            ) { done in
                ProgressLine.update("registering: \(done) valid rows processed of \(total) lines \(ProgressLine.bar(done, of: total))")
            }
        }
        let (seconds, rate) = ProgressLine.elapsed(since: started, count: total)
        ProgressLine.finish()
        for line in summary.lines {
            print("line \(line.line): \(line.outcome.rawValue)" + (line.reason.map { " — \($0)" } ?? ""))
        }
        print(
            """
            created \(summary.created), already registered \(summary.alreadyRegistered), transfer needed \(summary.transferNeeded), \
            rejected \(summary.rejected) — \(total) lines in \(seconds) s \
            (\(rate) lines/s)
            """
        )
        // Like import-flags: every rejected record, as it was in the file, with its line and reason; exit status 2.
        let rejected = summary.lines.filter { $0.outcome == .rejected }
        guard rejected.isEmpty else {
            var byLine: [Int: CSV.Record] = [:]
            for row in rows where byLine[row.line] == nil { byLine[row.line] = row }
            func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            let path = rejects ?? file + ".rejects.csv"
            try FlagImport.writeRejects(
                rejected.map { r in
                    FlagImport.Rejected(
                        line: r.line,
                        reason: r.reason ?? "rejected",
                        record: byLine[r.line].map { $0.fields.map(quoted).joined(separator: ",") }
                    )
                },
                to: path
            )
            print("every rejected record, with its line and reason: \(path)")
            throw ExitCode(2)
        }
    }
}
