/// A typed identifier: the id of one kind of thing, so that a worker's id cannot be passed where
/// a case's is expected. It holds the canonical lower-case UUID text, the form the API, the audit
/// log and PostgreSQL use; the layers above convert it to and from Foundation's `UUID`.
public struct ID<Tag>: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The canonical lower-case text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    public let text: String

    /// Parses the text form of a UUID in any case; nil for anything else.
    public init?(_ text: String) {
        guard let canonical = Self.canonical(text) else { return nil }
        self.text = canonical
    }

    public var description: String { text }

    public static func < (lhs: ID, rhs: ID) -> Bool { lhs.text < rhs.text }

    static func canonical(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                out.append(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(byte + 32)
            default: return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension ID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let canonical = Self.canonical(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "Not an identifier.")
        }
        self.text = canonical
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// The kinds of things the registry names by typed identifiers.
public enum IDKind {
    public enum Worker {}
    public enum User {}
    public enum Agency {}
    public enum Case {}
    public enum Source {}
    public enum Key {}
}

public typealias WorkerID = ID<IDKind.Worker>
public typealias UserID = ID<IDKind.User>
public typealias AgencyID = ID<IDKind.Agency>
public typealias CaseID = ID<IDKind.Case>
public typealias SourceID = ID<IDKind.Source>
public typealias KeyID = ID<IDKind.Key>
