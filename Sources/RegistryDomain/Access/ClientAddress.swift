/// Which address a request comes from, when the service sits behind proxies.
///
/// The socket peer is a proxy when it lies in a trusted range; then the forwarding headers
/// (`Forwarded: for=…` per RFC 7239, else `X-Forwarded-For`) are read from the right, skipping
/// trusted hops, and the first address that is not a trusted proxy is the client. Addresses a
/// client wrote itself (to the left of that) are never believed, so nobody can pick the key
/// they are throttled under.
public enum ClientAddress {
    /// An address range such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`.
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        public let bytes: [UInt8]
        public let prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let bytes = ClientAddress.parse(String(parts[0])) else { return nil }
            let bits = bytes.count * 8
            var prefix = bits
            if parts.count == 2 {
                guard let p = Int(parts[1]), (0...bits).contains(p), parts[1].count <= 3 else { return nil }
                prefix = p
            }
            self.bytes = bytes
            self.prefix = prefix
        }

        public func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var left = prefix
            for (a, b) in zip(address, bytes) {
                guard left > 0 else { return true }
                let take = min(8, left)
                let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
                if a & mask != b & mask { return false }
                left -= take
            }
            return true
        }

        public var description: String { "\(ClientAddress.format(bytes))/\(prefix)" }
    }

    /// The client's address for a request that reached the service from `peer`.
    public static func resolve(peer: String?, forwarded: [String], forwardedFor: [String], trusted: [Range]) -> String? {
        guard let peer, let peerBytes = parse(peer) else { return peer }
        func isTrusted(_ bytes: [UInt8]) -> Bool { trusted.contains { $0.contains(bytes) } || trusted.contains { $0.contains(mapped(bytes)) } }
        guard isTrusted(peerBytes) else { return format(peerBytes) }
        let hops = !forwarded.isEmpty ? forwardedForValues(forwarded) : forwardedFor.flatMap { $0.split(separator: ",").map(String.init) }
        var client = peerBytes
        for hop in hops.reversed() {
            guard let bytes = parse(hop.trimmingSpaces()) else { break }  // an unknown or obfuscated hop: stop at the last known one
            client = bytes
            if !isTrusted(bytes) { break }
        }
        return format(client)
    }

    /// The `for=` values of `Forwarded` headers, in order (quotes, brackets and ports removed).
    static func forwardedForValues(_ headers: [String]) -> [String] {
        var result: [String] = []
        for header in headers {
            for element in header.split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, kv[0].trimmingSpaces().lowercased() == "for" else { continue }
                    var value = kv[1].trimmingSpaces()
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                    if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
                        value = String(value[value.index(after: value.startIndex)..<close])
                    } else if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
                        value = String(value[..<colon])
                    }
                    result.append(value)
                }
            }
        }
        return result
    }

    /// IPv4 (4 bytes) or IPv6 (16 bytes) from text; nil for anything else.
    public static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") { return parseIPv6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt8(part) else { return nil }
            bytes.append(v)
        }
        return bytes
    }

    static func parseIPv6(_ raw: String) -> [UInt8]? {
        var text = Substring(raw)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        guard text.count <= 45 else { return nil }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt8]? {
            guard !s.isEmpty else { return [] }
            var out: [UInt8] = []
            let pieces = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parse(String(piece)) else { return nil }
                    out += v4
                    continue
                }
                guard (1...4).contains(piece.count), let v = UInt16(piece, radix: 16) else { return nil }
                out += [UInt8(v >> 8), UInt8(v & 0xFF)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// `::ffff:a.b.c.d` as the IPv4 address it carries.
    static func mapped(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }

    public static func format(_ raw: [UInt8]) -> String {
        let bytes = mapped(raw)
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: bytes.count, by: 2) { groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
