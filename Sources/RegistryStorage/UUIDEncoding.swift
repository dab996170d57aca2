import Foundation

extension UUID {
    /// The canonical lower-case text form used in JSON, the audit log and PostgreSQL.
    public var text: String { uuidString.lowercased() }
}

// The API writes identifiers in the canonical lower-case form (as PostgreSQL and the audit log
// do). These overloads are chosen by the synthesized `Encodable` conformances of this module's
// records over the generic ones, which would write Foundation's upper-case form.
extension KeyedEncodingContainer {
    public mutating func encode(_ value: UUID, forKey key: Key) throws {
        try encode(value.uuidString.lowercased(), forKey: key)
    }

    public mutating func encodeIfPresent(_ value: UUID?, forKey key: Key) throws {
        try encodeIfPresent(value?.uuidString.lowercased(), forKey: key)
    }
}
