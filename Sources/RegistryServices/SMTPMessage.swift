import Foundation
import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a code and the text of its lines, several for `250-…` continuations.
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
    /// More bytes had already arrived behind this reply: a server answering before it was asked
    /// (after STARTTLS that is an injection attempt, CVE-2011-0411 and kin).
    var followedByMore: Bool

    /// The text of the last line without an enhanced status code (`2.0.0 Ok: queued as 4Xq` → `Ok: queued as 4Xq`).
    var text: String {
        let last = lines.last ?? ""
        guard let space = last.firstIndex(of: " "), last[..<space].split(separator: ".").count == 3,
            last[..<space].allSatisfy({ $0.isNumber || $0 == "." })
        else { return last }
        return String(last[last.index(after: space)...])
    }

    /// The EHLO keywords, upper-cased, each with its parameters (`AUTH` → `["PLAIN", "LOGIN"]`).
    var extensions: [String: [String]] {
        var found: [String: [String]] = [:]
        for line in lines.dropFirst() {
            let words = line.split(separator: " ").map { $0.uppercased() }
            if let keyword = words.first { found[keyword] = Array(words.dropFirst()) }
        }
        return found
    }
}

/// Splits the server's bytes into replies: lines ending in CRLF (a bare LF is taken too), joined
/// while they read `ddd-`, ended by `ddd ` or a bare `ddd`.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    struct Malformed: Error {}

    static let maximumLine = 4096
    static let maximumLines = 100
    var pending: [String] = []
    var pendingCode = 0

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maximumLine { throw Malformed() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard length <= Self.maximumLine, var line = buffer.readString(length: length) else { throw Malformed() }
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0...2].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let code = Int(String(decoding: bytes[0...2], as: UTF8.self))
        else { throw Malformed() }
        let last = bytes.count == 3 || bytes[3] == UInt8(ascii: " ")
        guard last || bytes[3] == UInt8(ascii: "-"), pending.isEmpty || code == pendingCode, pending.count < Self.maximumLines else {
            throw Malformed()
        }
        pending.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        pendingCode = code
        if last {
            let reply = SMTPReply(code: code, lines: pending, followedByMore: buffer.readableBytes > 0)
            pending = []
            context.fireChannelRead(wrapInboundOut(reply))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// A server that stays silent longer than the reply timeout.
struct SMTPTimeout: Error {}

/// Turns the idle-read event into an error the conversation sees, and closes the connection.
final class SMTPReadTimeoutHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .read? = event as? IdleStateHandler.IdleStateEvent {
            context.fireErrorCaught(SMTPTimeout())
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

extension SMTPChannel {
    /// The message as RFC 5322 text with CRLF line ends, before dot-stuffing: plain UTF-8 text in
    /// base64, the subject as RFC 2047 encoded words, and a Message-ID made from the idempotency
    /// key so that a repeat after a crash is recognisable as the same message.
    public static func format(_ message: OutgoingMessage, from: String, date: Date) -> String {
        let text = message.text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let encoded = Array(Data(text.utf8).base64EncodedString().utf8)
        let body = stride(from: 0, to: encoded.count, by: 76).map { String(decoding: encoded[$0..<min($0 + 76, encoded.count)], as: UTF8.self) }
            .joined(separator: "\r\n")
        let headers = [
            "Date: " + rfc5322Date(date),
            "From: <\(from)>",
            "To: <\(message.recipient)>",
            "Subject: " + encodedWords(subject(of: message.text)),
            "Message-ID: " + messageID(key: message.key),
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "Auto-Submitted: auto-generated",
        ]
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n"
    }

    /// The subject: the text's first line, cut to 60 characters (the messages are one line; a
    /// reader's list then shows what the message is about).
    public static func subject(of text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count > 60 ? String(line.prefix(59)) + "…" : line
    }

    /// `<key@registry>`; bytes of the key other than letters, digits, `-` and `_` become `=XX`,
    /// so two keys never share a Message-ID.
    public static func messageID(key: String) -> String {
        var local = ""
        for byte in key.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || c == "-" || c == "_" {
                local.append(c)
            } else {
                local += "=" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return "<\(local)@registry>"
    }

    /// RFC 2047 `=?UTF-8?B?…?=` words of at most 39 bytes of text each (64 characters encoded),
    /// split between characters, folded onto continuation lines.
    static func encodedWords(_ text: String) -> String {
        guard !text.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "=" && $0 != "?" }) || text.utf8.count > 60 else { return text }
        var words: [String] = []
        var chunk = ""
        for character in text {
            if chunk.utf8.count + character.utf8.count > 39 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// The DATA payload: a `.` doubled at the start of every line (RFC 5321 §4.5.2), ended by `CRLF.CRLF`.
    public static func dotStuffed(_ message: String) -> String {
        var lines = message.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// An address the registry sends to or from: `local@domain` in ASCII, no spaces, brackets,
    /// quotes or control characters (no source routes, no SMTPUTF8).
    public static func isPlainAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, !parts[1].isEmpty, address.utf8.count <= 254 else { return false }
        let domainOK =
            parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".") && !parts[1].contains("..")
        let localOK = parts[0].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+/=?^_`{|}~.-".contains($0)) }
        return domainOK && localOK
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
