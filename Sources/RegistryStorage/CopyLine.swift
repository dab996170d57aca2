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
