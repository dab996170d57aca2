import Crypto
import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Nightly files of millions of flags: each line is validated and its ID number blind-indexed
/// in Swift (the key never reaches the database), the results are streamed with COPY into a
/// staging table, then merged into `flags` with set-based SQL in chunks. Malformed lines are
/// reported by number and never stop the good ones; re-running a file changes nothing.
public struct FlagImport: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: FlagPolicy
    let flags: FlagService

    public static let header = ["id_number", "reference", "category", "severity", "status", "occurred_on", "expires_on", "narrative"]

    public struct Summary: Sendable, Codable {
        public var lines = 0
        public var created = 0
        public var updated = 0
        public var unchanged = 0
        public var rejected = 0
        public var rejectedLines: [Rejected] = []
        public var attachedToFiles = 0
    }

    public struct Rejected: Sendable, Codable {
        public var line: Int
        public var reason: String
        /// The record as it was in the file, so that it can be corrected and sent again.
        public var record: String?

        public init(line: Int, reason: String, record: String?) {
            self.line = line
            self.reason = reason
            self.record = record
        }
    }

    public enum Phase: Sendable {
        case staging(lines: Int)
        case merging(done: Int, of: Int)
    }

    /// Reads `path` and imports it for the source named `sourceName`.
    public func run(path: String, sourceName: String, logger: Logger, progress: @escaping @Sendable (Phase) -> Void) async throws -> Summary {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw RegistryError.invalid("file", "Cannot read \(path).") }
        defer { try? handle.close() }
        let source = try await database.withConnection { connection in
            try await IntegrationStore.sources(on: connection, logger: logger).first { $0.name == sourceName }
        }
        guard let source, let kind = SourceKind(rawValue: source.kind) else {
            throw RegistryError(.notFound, code: "no_source", message: "No integration source named '\(sourceName)'.")
        }
        let today = clock.today
        var summary = Summary()
        let reader = LineReader(handle: handle)
        guard let headerLine = reader.next() else { throw RegistryError.invalid("file", "The file is empty.") }
        let header = CSV.parse(headerLine.text).first?.fields.map { $0.trimmingWhitespace().lowercased() } ?? []
        var column: [String: Int] = [:]
        for (i, name) in header.enumerated() { column[name] = i }
        let missing = Self.header.filter { column[$0] == nil && $0 != "expires_on" && $0 != "narrative" }
        guard missing.isEmpty else {
            throw RegistryError.invalid(
                "file",
                "The first line must name the columns \(Self.header.joined(separator: ",")); missing: \(missing.joined(separator: ", "))."
            )
        }
        let fileHash = SHA256()

        return try await database.withConnection { connection in
            try await FlagImportStore.prepareStaging(on: connection, logger: logger)
            var rejected: [Rejected] = []
            var lines = 0
            var hasher = fileHash
            try await FlagImportStore.copyIntoStaging(on: connection, logger: logger) { send in
                var buffer = ByteBuffer()
                while let line = reader.next() {
                    lines += 1
                    hasher.update(data: Data(line.text.utf8))
                    guard let fields = CSV.parse(line.text).first?.fields else { continue }
                    // A wrong number of columns shifts every field after it (an unquoted comma in a
                    // narrative): the line is rejected, never imported with a field dropped.
                    guard fields.count == header.count else {
                        rejected.append(
                            Rejected(
                                line: line.number,
                                reason: "columns: the line has \(fields.count) fields, the header \(header.count)"
                                    + " (quote a field that holds a comma)",
                                record: line.text
                            )
                        )
                        continue
                    }
                    func field(_ name: String) -> String {
                        guard let i = column[name], i < fields.count else { return "" }
                        return fields[i]
                    }
                    guard let severity = Int(field("severity").trimmingWhitespace()) else {
                        rejected.append(Rejected(line: line.number, reason: "severity: severity is 1 to 5", record: line.text))
                        continue
                    }
                    let input = FlagSubmission.Input(
                        idNumber: field("id_number"),
                        reference: field("reference"),
                        category: field("category"),
                        severity: severity,
                        status: field("status"),
                        occurredOn: field("occurred_on"),
                        expiresOn: field("expires_on"),
                        narrative: field("narrative")
                    )
                    switch FlagService.validate(input, kind: kind, policy: policy, today: today) {
                    case .failure(let error):
                        rejected.append(
                            Rejected(
                                line: line.number,
                                reason: (error.field.map { "\($0): " } ?? "") + error.message,
                                record: line.text
                            )
                        )
                    case .success(let s):
                        let row = flags.row(s, sourceID: source.id, line: line.number)
                        row.appendCopyLine(to: &buffer)
                    }
                    if buffer.readableBytes > 1 << 20 {
                        try await send(buffer)
                        buffer.clear()
                        progress(.staging(lines: lines))
                    }
                }
                if buffer.readableBytes > 0 { try await send(buffer) }
                progress(.staging(lines: lines))
            }
            summary.lines = lines
            // A reference repeated in the file: the first line wins, the others are reported.
            var repeated: [Int: String] = [:]
            for (line, first) in try await FlagImportStore.removeRepeatedReferences(on: connection, logger: logger) {
                repeated[Int(line)] = "reference: repeats line \(first)"
            }
            if !repeated.isEmpty, let again = FileHandle(forReadingAtPath: path) {
                // A second pass, only when references repeat, to give those records their text.
                defer { try? again.close() }
                let reread = LineReader(handle: again)
                while let line = reread.next() {
                    if let reason = repeated[line.number] { rejected.append(Rejected(line: line.number, reason: reason, record: line.text)) }
                }
            }
            try await FlagImportStore.indexStaging(on: connection, logger: logger)

            let chunk: Int64 = 50_000
            let maxLine = Int64(lines + 1)
            var start: Int64 = 0
            while start <= maxLine {
                let end = start + chunk
                try await FlagImportStore.begin(on: connection, logger: logger)
                do {
                    let rows = try await FlagImportStore.mergeStaged(sourceID: source.id, from: start, to: end, on: connection, logger: logger)
                    var attached: [UUID] = []
                    for (total, created, updated, withFile) in rows {
                        summary.created += Int(created)
                        summary.updated += Int(updated)
                        summary.unchanged += Int(total - created - updated)
                        attached = withFile
                    }
                    summary.attachedToFiles += attached.count
                    try await flags.applyEffectsAndTell(attached, caller: .system, on: connection, logger: logger)
                    try await FlagImportStore.commit(on: connection, logger: logger)
                } catch {
                    try? await FlagImportStore.rollback(on: connection, logger: logger)
                    throw error
                }
                start = end
                progress(.merging(done: Int(min(end, maxLine)), of: Int(maxLine)))
            }
            summary.rejected = rejected.count
            summary.rejectedLines = rejected.sorted { $0.line < $1.line }
            let digest = Data(hasher.finalize()).hex
            try await FlagImportStore.begin(on: connection, logger: logger)
            do {
                try await AuditStore.append(
                    Caller.system.event(
                        "flag.file_imported",
                        "integration_source",
                        source.id,
                        [
                            "file_sha256": .string(digest), "lines": .int(summary.lines), "created": .int(summary.created),
                            "updated": .int(summary.updated),
                            "unchanged": .int(summary.unchanged), "rejected": .int(summary.rejected),
                        ]
                    ),
                    on: connection,
                    logger: logger
                )
                try await FlagImportStore.commit(on: connection, logger: logger)
            } catch {
                // The connection goes back to the pool: never with a transaction left open.
                try? await FlagImportStore.rollback(on: connection, logger: logger)
                throw error
            }
            try await FlagImportStore.clearStaging(on: connection, logger: logger)
            return summary
        }
    }

    /// The rejected records as CSV (`line,reason,record`), in line order.
    public static func writeRejects(_ rejected: [Rejected], to path: String) throws {
        func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        var text = "line,reason,record\n"
        for r in rejected.sorted(by: { $0.line < $1.line }) {
            text += "\(r.line),\(quoted(r.reason)),\(quoted(r.record ?? ""))\n"
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw RegistryError.invalid("rejects", "Cannot write \(path).")
        }
    }
}

/// Reads a file line by line (records may span lines inside quotes), with line numbers.
final class LineReader: @unchecked Sendable {
    struct Line {
        var number: Int
        var text: String
    }
    let handle: FileHandle
    /// The bytes read and not yet consumed start at `offset` (no copying per line).
    var pending: [UInt8] = []
    var offset = 0
    var lineNumber = 0
    var eof = false

    init(handle: FileHandle) { self.handle = handle }

    private func rawLine() -> String? {
        while true {
            if let newline = pending[offset...].firstIndex(of: 0x0A) {
                var end = newline
                if end > offset, pending[end - 1] == 0x0D { end -= 1 }
                let text = String(decoding: pending[offset..<end], as: UTF8.self)
                offset = newline + 1
                lineNumber += 1
                return text
            }
            if eof {
                guard offset < pending.count else { return nil }
                let text = String(decoding: pending[offset...], as: UTF8.self)
                offset = pending.count
                lineNumber += 1
                return text
            }
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty {
                eof = true
            } else {
                pending.removeFirst(offset)
                offset = 0
                pending.append(contentsOf: chunk)
            }
        }
    }

    /// The next record: lines are joined while a quoted field is open.
    func next() -> Line? {
        guard var text = rawLine() else { return nil }
        let start = lineNumber
        while text.utf8.reduce(0, { $0 + ($1 == 0x22 ? 1 : 0) }) % 2 == 1, let more = rawLine() {
            text += "\n" + more
        }
        if text.isEmpty { return next() }
        return Line(number: start, text: text)
    }
}
