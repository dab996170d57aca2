/// The parts of a signed feed request that are checked before any cryptography: the timestamp
/// and the nonce, parsed so that no client-supplied number reaches arithmetic unbounded, and the
/// canonical text the HMAC covers.
///
/// A signature covers `METHOD\nPATH\nSOURCE\nTIMESTAMP\nNONCE\n` followed by the body's exact
/// bytes, so that a captured request can be neither replayed (the nonce is accepted once while
/// the timestamp is fresh) nor re-aimed at another route, flag or source.
public enum FeedRequest {
    /// Unix seconds as the client sent them: ASCII digits only (no sign, no spaces, no other
    /// numerals), at most 11 of them (year 5138), so subtracting it from now cannot overflow.
    public static func timestamp(_ text: String) -> Int? {
        let utf8 = text.utf8
        guard (1...11).contains(utf8.count), utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        var value = 0
        for byte in utf8 { value = value * 10 + Int(byte - 0x30) }
        return value
    }

    /// 16 to 64 characters of `A–Z a–z 0–9 - _`: a UUID or 128 random bits in hex or base64url.
    public static func isValidNonce(_ text: String) -> Bool {
        let utf8 = text.utf8
        return (16...64).contains(utf8.count)
            && utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
            }
    }

    /// Whether `timestamp` lies within `maxSkew` seconds of `now` (both in unix seconds).
    public static func isFresh(_ timestamp: Int, now: Int, maxSkew: Int) -> Bool {
        let difference = now >= timestamp ? now - timestamp : timestamp - now
        return difference <= maxSkew
    }

    /// What the signature covers, before the body's bytes.
    public static func canonicalHead(method: String, path: String, source: String, timestamp: String, nonce: String) -> String {
        [method.uppercased(), path, source, timestamp, nonce].joined(separator: "\n") + "\n"
    }
}
