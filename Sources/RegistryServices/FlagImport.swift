import Crypto
import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Nightly files of millions of flags, imported in one transaction:
///
/// 1. the source's stored references and content hashes are read in one statement;
/// 2. the file is read once: each line is checked (`FlagFileFormat`: on its bytes for the common
///    line), its content hashed and compared with the stored hash — an unchanged line ends there,
///    so re-running a file reads it and writes nothing; a new flag's ID number is blind-indexed
///    and its narrative sealed here (the key never reaches the database) and the row streamed
///    with COPY straight into `flags`;
/// 3. changed flags (found in step 2, read again from the file) go through a staging table and
///    set-based statements, their previous versions kept in `flag_versions`;
/// 4. the new flags are matched to workers' files by the blind index in one statement, and the
///    effects of every created or changed flag on a file (suspensions, cases, regrades, texts)
///    follow, as for the feed;
/// 5. one audit event records the file (its SHA-256 and the counts).
///
/// Malformed lines are reported by number and never stop the good ones; a reference repeated in
/// the file is reported against its first line, which wins. Imports of one source take turns.
public struct FlagImport: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: FlagPolicy
    let flags: FlagService

    public static let header = FlagFileFormat.columns

    public struct Summary: Sendable, Codable {
        public var lines = 0
        public var created = 0
        public var updated = 0
        public var unchanged = 0
        public var rejected = 0
        public var rejectedLines: [Rejected] = []
        public var attachedToFiles = 0
        /// How long each step took, in order.
        public var steps: [Step] = []
    }

    public struct Step: Sendable, Codable {
        public var name: String
        public var seconds: Double
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
        /// Lines read (and new flags streamed) so far.
        case reading(lines: Int)
        /// Changed flags being updated.
        case updating(flags: Int)
        /// Matching new flags to files, their effects, the audit event.
        case finishing
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
        let reader = RecordReader(handle: handle, hashing: true)
        guard reader.next() != nil else { throw RegistryError.invalid("file", "The file is empty.") }
        let format: FlagFileFormat
        do {
            format = try FlagFileFormat(
                header: CSV.parse(String(decoding: reader.record, as: UTF8.self)).first?.fields ?? [],
                kind: kind,
                policy: policy,
                today: clock.today
            )
        } catch let error as FlagFileFormat.BadHeader {
            throw RegistryError.invalid(
                "file",
                "The first line must name the columns \(Self.header.joined(separator: ",")); missing: \(error.missing.joined(separator: ", "))."
            )
        }
        // Room for as many references as the file can hold lines of a plausible length.
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let expectedLines = min((size ?? 0) / 64, 50_000_000)
        var steps = Steps()

        return try await database.withConnection { connection in
            try await FlagImportStore.begin(on: connection, logger: logger)
            do {
                try await FlagImportStore.lockSource(source.id, on: connection, logger: logger)
                var file = FlagFileReading(
                    format: format,
                    keys: keys,
                    sourceID: source.id,
                    references: ReferenceTable(
                        storedContent: try await FlagImportStore.storedContent(sourceID: source.id, on: connection, logger: logger),
                        expected: expectedLines
                    )
                )
                steps.end("stored hashes read")

                // Lines are read until the first new flag; from there on, rows stream with COPY.
                var copying = false
                while let line = reader.next() {
                    if file.take(reader.record, line: line) {
                        copying = true
                        break
                    }
                }
                if copying {
                    try await FlagImportStore.copyNewFlags(on: connection, logger: logger) { send in
                        while let line = reader.next() {
                            file.take(reader.record, line: line)
                            if file.rows.count >= 1 << 20 {
                                try await send(file.rows.take())
                                progress(.reading(lines: file.lines))
                            }
                        }
                        if file.rows.count > 0 { try await send(file.rows.take()) }
                    }
                }
                progress(.reading(lines: file.lines))
                steps.end("file read, new flags copied")

                var updated: [(id: UUID, workerID: UUID?)] = []
                if !file.changed.isEmpty {
                    progress(.updating(flags: file.changed.count))
                    guard let again = FileHandle(forReadingAtPath: path) else { throw RegistryError.invalid("file", "Cannot read \(path).") }
                    defer { try? again.close() }
                    try await FlagImportStore.prepareChanges(on: connection, logger: logger)
                    try await FlagImportStore.copyChanges(on: connection, logger: logger) { send in
                        try await file.copyChanges(from: RecordReader(handle: again, hashing: false), send: send)
                    }
                    updated = try await FlagImportStore.applyChanges(sourceID: source.id, on: connection, logger: logger)
                    steps.end("changed flags updated")
                }

                progress(.finishing)
                var attached: [UUID] = []
                if file.created > 0 {
                    attached = try await FlagImportStore.attachNew(sourceID: source.id, created: file.created, on: connection, logger: logger)
                }
                let onFiles = attached + updated.compactMap { $0.workerID == nil ? nil : $0.id }
                steps.end("new flags matched to files")
                try await flags.applyEffectsAndTell(onFiles, caller: .system, on: connection, logger: logger)
                steps.end("effects")

                var summary = Summary()
                summary.lines = file.lines
                summary.created = file.created
                summary.updated = updated.count
                summary.unchanged = file.unchanged + file.changed.count - updated.count
                summary.rejected = file.rejected.count
                summary.rejectedLines = file.rejected.sorted { $0.line < $1.line }
                summary.attachedToFiles = onFiles.count
                try await AuditStore.append(
                    Caller.system.event(
                        "flag.file_imported",
                        "integration_source",
                        source.id,
                        [
                            "file_sha256": .string(reader.fileHash.map { Data($0).hex } ?? ""), "lines": .int(summary.lines),
                            "created": .int(summary.created), "updated": .int(summary.updated),
                            "unchanged": .int(summary.unchanged), "rejected": .int(summary.rejected),
                        ]
                    ),
                    on: connection,
                    logger: logger
                )
                try await FlagImportStore.commit(on: connection, logger: logger)
                steps.end("committed")
                summary.steps = steps.done
                return summary
            } catch {
                // The connection goes back to the pool: never with a transaction left open.
                try? await FlagImportStore.rollback(on: connection, logger: logger)
                throw error
            }
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

/// The time each step of an import took.
struct Steps {
    var done: [FlagImport.Step] = []
    var last = ContinuousClock.now

    mutating func end(_ name: String) {
        let now = ContinuousClock.now
        let d = now - last
        done.append(FlagImport.Step(name: name, seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18))
        last = now
    }
}

/// One pass over a flag file: each record checked and filed as rejected, a repeat, unchanged,
/// changed (kept by line number for a second read) or a new flag (its COPY row written).
struct FlagFileReading {
    let format: FlagFileFormat
    let keys: KeyRing
    let indexer: BlindIndexer
    let sourceID: UUID
    let sourceText: [UInt8]
    let statusNames: [[UInt8]]
    /// The stored flags' references with their content hashes, and the references read so far
    /// with the line each was first on.
    var references: ReferenceTable
    var rows = CopyRows()
    var content: [UInt8] = []
    var lines = 0
    var created = 0
    var unchanged = 0
    var changed: [Int] = []
    var rejected: [FlagImport.Rejected] = []

    init(format: FlagFileFormat, keys: KeyRing, sourceID: UUID, references: ReferenceTable) {
        self.format = format
        self.keys = keys
        self.indexer = keys.blindIndexer
        self.sourceID = sourceID
        self.sourceText = Array(sourceID.uuidString.lowercased().utf8)
        self.statusNames = FlagStatus.allCases.map { Array($0.rawValue.utf8) }
        self.references = references
        content.reserveCapacity(256)
    }

    func statusName(_ status: FlagStatus) -> [UInt8] { statusNames[FlagStatus.allCases.firstIndex(of: status)!] }

    func sealedNarrative(_ flag: FlagFileLine) -> [UInt8]? {
        flag.narrative.map { keys.seal($0, context: SealedPlace.flagNarrative(sourceID: sourceID, reference: flag.referenceText)) }
    }

    /// Files one record; true when it is a new flag, its row written to `rows`.
    @discardableResult
    mutating func take(_ record: [UInt8], line: Int) -> Bool {
        lines += 1
        let flag: FlagFileLine
        switch format.check(record) {
        case .blank: return false
        case .rejected(let reason):
            rejected.append(FlagImport.Rejected(line: line, reason: reason, record: String(decoding: record, as: UTF8.self)))
            return false
        case .valid(let valid): flag = valid
        }
        let (at, added) = flag.reference.withUnsafeBytes { references.entry(for: $0) }
        let first = added ? 0 : references.line(at: at)
        guard first == 0 else {
            rejected.append(
                FlagImport.Rejected(line: line, reason: "reference: repeats line \(first)", record: String(decoding: record, as: UTF8.self))
            )
            return false
        }
        references.setLine(line, at: at)
        content.removeAll(keepingCapacity: true)
        format.appendContent(of: flag, to: &content)
        let hash = SHA256.hash(data: content)
        if !added {
            if hash.withUnsafeBytes({ references.hash(at: at, equals: $0) }) { unchanged += 1 } else { changed.append(line) }
            return false
        }
        created += 1
        let narrative = sealedNarrative(flag)
        flag.idNumber.withUnsafeBytes { id in
            indexer.index(of: id) { blind in
                hash.withUnsafeBytes { hash in
                    rows.appendNewFlag(
                        sourceID: sourceText,
                        reference: flag.reference,
                        blindIndex: blind,
                        category: format.categoryName(flag.category),
                        severity: flag.severity,
                        status: statusName(flag.status),
                        occurredOn: flag.occurredOn,
                        expiresOn: flag.expiresOn,
                        narrativeEnc: narrative,
                        contentHash: hash
                    )
                }
            }
        }
        return true
    }

    /// Reads the file again and sends the changed lines as staging rows.
    mutating func copyChanges(from reader: RecordReader, send: (ByteBuffer) async throws -> Void) async throws {
        var next = 0
        while next < changed.count, let line = reader.next() {
            guard line == changed[next] else { continue }
            next += 1
            guard case .valid(let flag) = format.check(reader.record) else { continue }
            content.removeAll(keepingCapacity: true)
            format.appendContent(of: flag, to: &content)
            let narrative = sealedNarrative(flag)
            SHA256.hash(data: content).withUnsafeBytes { hash in
                rows.appendChange(
                    reference: flag.reference,
                    category: format.categoryName(flag.category),
                    severity: flag.severity,
                    status: statusName(flag.status),
                    occurredOn: flag.occurredOn,
                    expiresOn: flag.expiresOn,
                    narrativeEnc: narrative,
                    contentHash: hash
                )
            }
            if rows.count >= 1 << 20 { try await send(rows.take()) }
        }
        if rows.count > 0 { try await send(rows.take()) }
    }
}

/// The references of an import, each with the stored flag's content hash (if the source has
/// one) and the line of the file it was first read on (0: not read yet): one probe a line tells
/// whether the reference repeats an earlier line, is new, or is stored with the same content.
///
/// Millions of entries without an allocation each: the entries lie one after another in a byte
/// arena (the key's length, the key, the 32-byte hash, the line), found by open addressing; each
/// slot holds the entry's place and 24 bits of the key's hash, so that other keys are passed
/// over without reading the arena.
struct ReferenceTable {
    private var arena: [UInt8] = []
    /// The entry's place in the arena plus one in the low 40 bits (0: empty), a tag of the hash above.
    private var slots: [UInt64]
    private(set) var count = 0
    static let entryTail = 32 + MemoryLayout<Int>.size
    static let placeBits: UInt64 = (1 << 40) - 1
    static let zeroTail = [UInt8](repeating: 0, count: entryTail)

    /// Room for `capacity` references before the table grows.
    init(capacity: Int) {
        var size = 1024
        while size * 3 < capacity * 4 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        arena.reserveCapacity(capacity * (13 + Self.entryTail))
    }

    /// The stored flags as `FlagImportStore.storedContent` gives them (`hash || reference || '\n'`),
    /// with room for `expected` more references.
    init(storedContent buffers: [ByteBuffer], expected: Int) {
        let stored = buffers.reduce(0) { $0 + $1.readableBytes / 44 }
        self.init(capacity: stored + expected)
        for buffer in buffers {
            buffer.withUnsafeReadableBytes { bytes in
                var at = 0
                while at + 32 < bytes.count {
                    guard let newline = memchr(bytes.baseAddress! + at + 32, 0x0A, bytes.count - at - 32) else { break }
                    let end = bytes.baseAddress!.distance(to: UnsafeRawPointer(newline))
                    let reference = UnsafeRawBufferPointer(rebasing: bytes[(at + 32)..<end])
                    if (1...255).contains(reference.count) {
                        let (entry, added) = entry(for: reference)
                        if added {
                            arena.withUnsafeMutableBytes {
                                $0.baseAddress!.advanced(by: entry).copyMemory(from: bytes.baseAddress! + at, byteCount: 32)
                            }
                        }
                    }
                    at = end + 1
                }
            }
        }
    }

    /// FNV-1a with MurmurHash3's finalizer (references often differ only in their last digits).
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        return h ^ (h >> 33)
    }

    /// Where the hash and line of `key` are in the arena (see `hash(at:)`, `line(at:)`), the entry
    /// added with a zero hash and line 0 when the key was not there.
    mutating func entry(for key: UnsafeRawBufferPointer) -> (at: Int, added: Bool) {
        precondition((1...255).contains(key.count))
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let h = Self.hash(key)
        let tag = h & ~Self.placeBits
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { break }
            if slot & ~Self.placeBits == tag {
                let entry = Int(slot & Self.placeBits) - 1
                let same = arena.withUnsafeBytes { a in
                    Int(a[entry]) == key.count && memcmp(a.baseAddress! + entry + 1, key.baseAddress!, key.count) == 0
                }
                if same { return (entry + 1 + key.count, false) }
            }
            i = (i + 1) & mask
        }
        let entry = arena.count
        arena.append(UInt8(key.count))
        arena.append(contentsOf: key)
        arena.append(contentsOf: Self.zeroTail)
        slots[i] = tag | UInt64(entry + 1)
        count += 1
        return (entry + 1 + key.count, true)
    }

    /// Whether the entry's stored content hash is `hash` (never, for a reference not stored).
    func hash(at at: Int, equals hash: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { a in memcmp(a.baseAddress! + at, hash.baseAddress!, 32) == 0 }
    }

    /// The line the reference was first read on, 0 if not yet.
    func line(at at: Int) -> Int {
        arena.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at + 32, as: Int.self) }
    }

    mutating func setLine(_ line: Int, at at: Int) {
        arena.withUnsafeMutableBytes { $0.storeBytes(of: line, toByteOffset: at + 32, as: Int.self) }
    }

    private mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        arena.withUnsafeBytes { a in
            for slot in slots where slot != 0 {
                let entry = Int(slot & Self.placeBits) - 1
                let key = UnsafeRawBufferPointer(rebasing: a[(entry + 1)..<(entry + 1 + Int(a[entry]))])
                var i = Int(truncatingIfNeeded: Self.hash(key)) & mask
                while bigger[i] != 0 { i = (i + 1) & mask }
                bigger[i] = slot
            }
        }
        slots = bigger
    }
}

/// Reads a file record by record as bytes (a record may span lines inside quotes), with the
/// number of the line each starts on; blank lines are skipped. Optionally hashes every byte read.
final class RecordReader: @unchecked Sendable {
    let handle: FileHandle
    /// The bytes read and not yet consumed start at `offset`.
    private var pending: [UInt8] = []
    private var offset = 0
    private var lineNumber = 0
    private var eof = false
    private var hasher: SHA256?
    /// The current record (valid until the next call of `next`).
    private(set) var record: [UInt8] = []

    init(handle: FileHandle, hashing: Bool) {
        self.handle = handle
        hasher = hashing ? SHA256() : nil
        record.reserveCapacity(1024)
    }

    /// The SHA-256 of the whole file, once it was read to the end.
    var fileHash: SHA256Digest? { eof ? hasher?.finalize() : nil }

    /// Appends the next line to `record` (without its line break and a carriage return before
    /// it); false at the end of the file.
    private func appendLine() -> Bool {
        while true {
            let newline = pending.withUnsafeBufferPointer { p -> Int? in
                guard offset < p.count, let found = memchr(p.baseAddress! + offset, 0x0A, p.count - offset) else { return nil }
                return p.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
            }
            if let newline {
                var end = newline
                if end > offset, pending[end - 1] == 0x0D { end -= 1 }
                record.append(contentsOf: pending[offset..<end])
                offset = newline + 1
                lineNumber += 1
                return true
            }
            if eof {
                guard offset < pending.count else { return false }
                record.append(contentsOf: pending[offset...])
                offset = pending.count
                lineNumber += 1
                return true
            }
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty {
                eof = true
            } else {
                hasher?.update(data: chunk)
                pending.removeFirst(offset)
                offset = 0
                pending.append(contentsOf: chunk)
            }
        }
    }

    /// Whether `record` has an odd number of double quotes (a quoted field runs on).
    private func quoteOpen() -> Bool {
        record.withUnsafeBufferPointer { bytes in
            var odd = false
            for b in bytes where b == 0x22 { odd.toggle() }
            return odd
        }
    }

    /// Reads the next record into `record` (lines are joined while a quoted field is open) and
    /// returns the number of the line it starts on; nil at the end of the file.
    func next() -> Int? {
        while true {
            record.removeAll(keepingCapacity: true)
            guard appendLine() else { return nil }
            let start = lineNumber
            while quoteOpen() {
                let joined = record.count
                record.append(0x0A)
                guard appendLine() else {
                    record.removeLast(record.count - joined)
                    break
                }
            }
            if !record.isEmpty { return start }
        }
    }
}
