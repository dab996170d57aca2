import Foundation
import NIOCore
import RegistryDomain

/// COPY text format: tab-separated fields, `\N` for null, backslash escapes, bytea as `\\x` hex.
public struct CopyLine {
    public init() {}

    public private(set) var text = ""
    private var first = true

    static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func separator() {
        if first { first = false } else { text.append("\t") }
    }

    public mutating func add(_ value: String?) {
        separator()
        guard let value else {
            text.append("\\N")
            return
        }
        if value.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            for c in value.unicodeScalars {
                switch c {
                case "\\": text.append("\\\\")
                case "\t": text.append("\\t")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                default: text.unicodeScalars.append(c)
                }
            }
        } else {
            text.append(value)
        }
    }

    public mutating func add(_ value: Int?) { add(value.map(String.init)) }
    public mutating func add(_ value: UUID?) { add(value?.uuidString.lowercased()) }
    public mutating func add(_ value: Bool) { add(value ? "t" : "f") }
    public mutating func add(_ value: CivilDate?) { add(value?.iso) }

    public mutating func add(bytes: [UInt8]) {
        separator()
        var hex = [UInt8]()
        hex.reserveCapacity(3 + bytes.count * 2)
        hex.append(contentsOf: Array("\\\\x".utf8))
        for b in bytes {
            hex.append(Self.hexDigits[Int(b >> 4)])
            hex.append(Self.hexDigits[Int(b & 15)])
        }
        text.append(String(decoding: hex, as: UTF8.self))
    }

    /// A time on a civil day, China Standard Time.
    public mutating func add(day: CivilDate?, minute: Int) {
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
        add(day.map { "\($0.iso) \(two(minute / 60 % 24)):\(two(minute % 60)):00+08" })
    }

    public mutating func end(into buffer: inout ByteBuffer) {
        text.append("\n")
        buffer.writeString(text)
        text = ""
        first = true
    }
}

/// COPY text format written straight into a buffer from bytes: for streams of millions of rows
/// (the flag import), with no string built per field.
public struct CopyRows {
    private var bytes: [UInt8] = []
    private var first = true

    public init() { bytes.reserveCapacity(1 << 20 + 4096) }

    /// How many bytes are written and not yet taken.
    public var count: Int { bytes.count }

    static let hexDigits = Array("0123456789abcdef".utf8)
    static let nullMarker: [UInt8] = [0x5C, 0x4E]

    private mutating func separator() {
        if first { first = false } else { bytes.append(0x09) }
    }

    /// A text field; backslash, tab, line feed and carriage return are escaped.
    public mutating func text(_ value: some Collection<UInt8>) {
        separator()
        if value.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            for b in value {
                switch b {
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
                case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
                default: bytes.append(b)
                }
            }
        } else {
            bytes.append(contentsOf: value)
        }
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: Self.nullMarker)
    }

    /// A small non-negative number.
    public mutating func number(_ value: Int) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func date(_ value: CivilDate?) {
        guard let value else { return null() }
        separator()
        FlagFileFormat.appendISO(value, to: &bytes)
    }

    /// A bytea field, as `\\x` and hex.
    public mutating func bytea(_ value: UnsafeRawBufferPointer) {
        separator()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 3 + 2 * value.count) { out in
            out[0] = 0x5C
            out[1] = 0x5C
            out[2] = 0x78
            Self.hexDigits.withUnsafeBufferPointer { hex in
                for i in 0..<value.count {
                    out[3 + 2 * i] = hex[Int(value[i] >> 4)]
                    out[4 + 2 * i] = hex[Int(value[i] & 15)]
                }
            }
            bytes.append(contentsOf: out)
        }
    }

    public mutating func bytea(_ value: [UInt8]?) {
        guard let value else { return null() }
        value.withUnsafeBytes { bytea($0) }
    }

    public mutating func endRow() {
        bytes.append(0x0A)
        first = true
    }

    /// Hands over what was written, as a buffer to send, and starts again empty.
    public mutating func take() -> ByteBuffer {
        defer { bytes.removeAll(keepingCapacity: true) }
        return ByteBuffer(bytes: bytes)
    }
}
