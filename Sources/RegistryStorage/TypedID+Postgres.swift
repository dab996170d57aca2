import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain

extension ID {
    /// The identifier of `uuid`.
    public init(_ uuid: UUID) {
        self.init(uuid.uuidString)!
    }

    /// A new random identifier.
    public static func random() -> ID { ID(UUID()) }

    /// The identifier as Foundation's UUID (always valid: `ID` holds only UUID text).
    public var uuid: UUID { UUID(uuidString: text)! }
}

// Typed identifiers are bound and read as PostgreSQL `uuid`, exactly like the UUID they name.
extension ID: PostgresNonThrowingEncodable {
    public static var psqlType: PostgresDataType { .uuid }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        uuid.encode(into: &byteBuffer, context: context)
    }
}

extension ID: PostgresDecodable {
    public init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer,
        type: PostgresDataType,
        format: PostgresFormat,
        context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        self.init(try UUID(from: &buffer, type: type, format: format, context: context))
    }
}
