/// A source's nightly flag file (`registry import-flags`): a header naming the columns, then one
/// flag a line, checked exactly as `FlagSubmission` checks an item of the feed.
///
/// Files hold millions of lines, so the common line — no quotes, the fields in plain ASCII, each
/// already in its one accepted spelling — is checked on its bytes without building a string or a
/// CSV record. Every other line (quoted fields, spaces to trim, a wrong value, a narrative with
/// something to refuse) goes through `CSV.parse` and `FlagSubmission` itself. The quick check only
/// ever accepts: whatever it does not accept is decided by the full check, so both give the same
/// flag for a line, and the reasons for a rejected line are the full check's.
public struct FlagFileFormat: Sendable {
    public static let columns = ["id_number", "reference", "category", "severity", "status", "occurred_on", "expires_on", "narrative"]

    /// How many fields the header has: every line must have as many.
    public let width: Int
    /// Where each of `columns` is in a line (nil: absent, only `expires_on` and `narrative` may be).
    let position: [Int?]
    let kind: SourceKind
    let policy: FlagPolicy
    let today: CivilDate
    /// The categories this kind of source may report, by name: a valid line's `category` is an index here.
    public let categories: [String]
    let categoryBytes: [[UInt8]]
    let categoryExpiry: [Int?]
    static let statusBytes = FlagStatus.allCases.map { Array($0.rawValue.utf8) }

    /// A reason for refusing a whole file.
    public struct BadHeader: Error, Sendable {
        public var missing: [String]
    }

    /// `header`: the first line's fields as parsed. Names are compared trimmed and in lower case;
    /// a name given twice counts where it is last.
    public init(header: [String], kind: SourceKind, policy: FlagPolicy, today: CivilDate) throws {
        var column: [String: Int] = [:]
        for (i, name) in header.enumerated() { column[name.trimmingWhitespace().lowercased()] = i }
        let missing = Self.columns.filter { column[$0] == nil && $0 != "expires_on" && $0 != "narrative" }
        guard missing.isEmpty else { throw BadHeader(missing: missing) }
        width = header.count
        position = Self.columns.map { column[$0] }
        self.kind = kind
        self.policy = policy
        self.today = today
        let own = policy.categories.filter { $0.value.source == kind }.sorted { $0.key < $1.key }
        categories = own.map(\.key)
        categoryBytes = own.map { Array($0.key.utf8) }
        categoryExpiry = own.map(\.value.expiryYears)
    }

    /// What a line is.
    public enum Checked: Sendable, Equatable {
        case valid(FlagFileLine)
        case rejected(reason: String)
        /// Nothing to read on it (only carriage returns): neither a flag nor a rejected record.
        case blank
    }

    /// Checks one record (a line, or lines joined inside quotes) as read from the file.
    public func check(_ record: [UInt8]) -> Checked {
        if let line = quickCheck(record) { return .valid(line) }
        return fullCheck(String(decoding: record, as: UTF8.self))
    }

    // MARK: The quick check on bytes

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkBytes = Array("10X98765432".utf8)
    static let comma: UInt8 = 0x2C
    static let quote: UInt8 = 0x22
    static let carriageReturn: UInt8 = 0x0D
    static let hyphen: UInt8 = 0x2D

    /// The line when it is valid and in the common form; nil for the full check to decide.
    func quickCheck(_ record: [UInt8]) -> FlagFileLine? {
        record.withUnsafeBufferPointer { bytes -> FlagFileLine? in
            // A byte-order mark, a quote or a carriage return: CSV parsing has something to do.
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { return nil }
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: width + 1) { bounds -> FlagFileLine? in
                // bounds[i] is where field i starts, bounds[i + 1] - 1 where it ends.
                var fields = 1
                bounds[0] = 0
                for i in 0..<bytes.count {
                    let b = bytes[i]
                    if b == Self.comma {
                        guard fields < width else { return nil }
                        bounds[fields] = i + 1
                        fields += 1
                    } else if b == Self.quote || b == Self.carriageReturn {
                        return nil
                    }
                }
                guard fields == width else { return nil }
                bounds[width] = bytes.count + 1
                func field(_ column: Int) -> Range<Int> {
                    guard let p = position[column] else { return 0..<0 }
                    return bounds[p]..<(bounds[p + 1] - 1)
                }
                let id = field(0)
                let reference = field(1)
                guard validID(bytes, id), validReference(bytes, reference),
                    let category = category(bytes, field(2)),
                    let severity = severity(bytes, field(3)),
                    let status = status(bytes, field(4)),
                    let occurred = date(bytes, field(5)), occurred.year >= 1900, occurred <= today
                else { return nil }
                var expires: CivilDate?
                let expiresField = field(6)
                if expiresField.isEmpty {
                    expires = categoryExpiry[category].flatMap {
                        CivilDate(year: occurred.year + $0, month: occurred.month, day: min(occurred.day, 28))
                    }
                } else {
                    guard let e = date(bytes, expiresField), e >= occurred else { return nil }
                    expires = e
                }
                var narrative: String?
                let narrativeField = field(7)
                if !narrativeField.isEmpty {
                    let raw = String(decoding: UnsafeBufferPointer(rebasing: bytes[narrativeField]), as: UTF8.self).trimmingWhitespace()
                    if !raw.isEmpty {
                        // Anything the full check would refuse is left to it, for its reason.
                        guard raw.utf8.count <= 4000 || raw.count <= 4000, !raw.hasControlCharacters else { return nil }
                        narrative = raw
                    }
                }
                return FlagFileLine(
                    idNumber: record[id],
                    reference: record[reference],
                    category: category,
                    severity: severity,
                    status: status,
                    occurredOn: occurred,
                    expiresOn: expires,
                    narrative: narrative
                )
            }
        }
    }

    /// 17 digits and the right check character (an upper-case X for 10), a possible birth date
    /// from 1900 to today and a known province: `NationalID`'s rules, for a number that needs no
    /// trimming or case folding.
    func validID(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard r.count == 18 else { return false }
        func digit(_ i: Int) -> Int { Int(bytes[r.lowerBound + i]) &- 48 }
        var sum = 0
        for i in 0..<17 {
            let d = digit(i)
            guard d >= 0, d <= 9 else { return false }
            sum += d * Self.weights[i]
        }
        guard bytes[r.lowerBound + 17] == Self.checkBytes[sum % 11] else { return false }
        let year = digit(6) * 1000 + digit(7) * 100 + digit(8) * 10 + digit(9)
        guard let birth = CivilDate(year: year, month: digit(10) * 10 + digit(11), day: digit(12) * 10 + digit(13)),
            birth <= today, year >= 1900
        else { return false }
        return (11...82).contains(digit(0) * 10 + digit(1))
    }

    /// 1 to 128 of A-Z a-z 0-9 - _ . : / (nothing to trim).
    func validReference(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard (1...128).contains(r.count) else { return false }
        for i in r {
            switch bytes[i] {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x5F, 0x2E, 0x3A, 0x2F: continue
            default: return false
            }
        }
        return true
    }

    func category(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        for (i, name) in categoryBytes.enumerated() where Self.equal(name, bytes, r) { return i }
        return nil
    }

    static func equal(_ name: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard name.count == r.count else { return false }
        for i in 0..<name.count where name[i] != bytes[r.lowerBound + i] { return false }
        return true
    }

    /// One digit from 1 to 5.
    func severity(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard r.count == 1, (0x31...0x35).contains(bytes[r.lowerBound]) else { return nil }
        return Int(bytes[r.lowerBound]) - 48
    }

    func status(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> FlagStatus? {
        for (i, name) in Self.statusBytes.enumerated() where Self.equal(name, bytes, r) { return FlagStatus.allCases[i] }
        return nil
    }

    /// YYYY-MM-DD in digits, a day that exists.
    func date(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> CivilDate? {
        guard r.count == 10, bytes[r.lowerBound + 4] == Self.hyphen, bytes[r.lowerBound + 7] == Self.hyphen else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            var n = 0
            for i in from..<(from + count) {
                let d = Int(bytes[r.lowerBound + i]) &- 48
                guard d >= 0, d <= 9 else { return nil }
                n = n * 10 + d
            }
            return n
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2) else { return nil }
        return CivilDate(year: year, month: month, day: day)
    }

    // MARK: The full check

    /// CSV parsing and `FlagSubmission`: the reasons a rejected line is reported with.
    func fullCheck(_ text: String) -> Checked {
        guard let fields = CSV.parse(text).first?.fields else { return .blank }
        // A wrong number of columns shifts every field after it (an unquoted comma in a
        // narrative): the line is rejected, never imported with a field dropped.
        guard fields.count == width else {
            return .rejected(reason: "columns: the line has \(fields.count) fields, the header \(width) (quote a field that holds a comma)")
        }
        func field(_ column: Int) -> String { position[column].map { fields[$0] } ?? "" }
        guard let severity = Int(field(3).trimmingWhitespace()) else { return .rejected(reason: "severity: severity is 1 to 5") }
        let input = FlagSubmission.Input(
            idNumber: field(0),
            reference: field(1),
            category: field(2),
            severity: severity,
            status: field(4),
            occurredOn: field(5),
            expiresOn: field(6),
            narrative: field(7)
        )
        switch Result(catching: { () throws(RegistryError) in try FlagSubmission(input, source: kind, policy: policy, today: today) }) {
        case .failure(let error):
            return .rejected(reason: (error.field.map { "\($0): " } ?? "") + error.message)
        case .success(let s):
            guard let category = categories.firstIndex(of: s.category) else { return .rejected(reason: "category: Unknown category.") }
            return .valid(
                FlagFileLine(
                    idNumber: ArraySlice(s.nationalID.value.utf8),
                    reference: ArraySlice(s.reference.utf8),
                    category: category,
                    severity: s.severity,
                    status: s.status,
                    occurredOn: s.occurredOn,
                    expiresOn: s.expiresOn,
                    narrative: s.narrative
                )
            )
        }
    }

    // MARK: Content

    /// Appends the line's canonical content (`FlagSubmission.canonicalContent`, as UTF-8): what
    /// its content hash is taken of, so that a flag sent again unchanged changes nothing.
    public func appendContent(of line: FlagFileLine, to out: inout [UInt8]) {
        out.append(contentsOf: categoryBytes[line.category])
        out.append(0x1F)
        out.append(UInt8(48 + line.severity))
        out.append(0x1F)
        out.append(contentsOf: Self.statusBytes[FlagStatus.allCases.firstIndex(of: line.status)!])
        out.append(0x1F)
        Self.appendISO(line.occurredOn, to: &out)
        out.append(0x1F)
        if let expires = line.expiresOn { Self.appendISO(expires, to: &out) }
        out.append(0x1F)
        if let narrative = line.narrative { out.append(contentsOf: narrative.utf8) }
    }

    /// The category's name as bytes.
    public func categoryName(_ index: Int) -> [UInt8] { categoryBytes[index] }

    /// `CivilDate.iso` as bytes.
    public static func appendISO(_ date: CivilDate, to out: inout [UInt8]) {
        let (y, m, d) = (date.year, date.month, date.day)
        out.append(UInt8(48 + y / 1000 % 10))
        out.append(UInt8(48 + y / 100 % 10))
        out.append(UInt8(48 + y / 10 % 10))
        out.append(UInt8(48 + y % 10))
        out.append(hyphen)
        out.append(UInt8(48 + m / 10))
        out.append(UInt8(48 + m % 10))
        out.append(hyphen)
        out.append(UInt8(48 + d / 10))
        out.append(UInt8(48 + d % 10))
    }
}

/// A valid line of a flag file: the values `FlagSubmission` would hold, the ID number and the
/// reference as bytes.
public struct FlagFileLine: Sendable, Equatable {
    /// The 18 characters of the ID number. Sensitive: never logged, never sent to the database.
    public var idNumber: ArraySlice<UInt8>
    public var reference: ArraySlice<UInt8>
    /// An index into `FlagFileFormat.categories`.
    public var category: Int
    public var severity: Int
    public var status: FlagStatus
    public var occurredOn: CivilDate
    public var expiresOn: CivilDate?
    public var narrative: String?

    public var referenceText: String { String(decoding: reference, as: UTF8.self) }
}
