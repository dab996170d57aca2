import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore
import RegistryDomain

/// A submitted HTML form: `application/x-www-form-urlencoded` or `multipart/form-data`.
/// Every name may repeat (checkboxes); uploaded files are kept as their text, and also as
/// bytes with their file name and declared type in `files`.
struct WebForm: Sendable {
    /// One uploaded file of a multipart form.
    struct Upload: Sendable {
        var filename: String
        var contentType: String
        var bytes: [UInt8]
    }

    private(set) var values: [String: [String]] = [:]
    private(set) var files: [String: [Upload]] = [:]

    init(values: [String: [String]] = [:]) { self.values = values }

    /// The first value for `name`, or nil.
    subscript(_ name: String) -> String? { values[name]?.first }

    /// Every value for `name` (checkbox groups).
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// The first value, or "" (for re-displaying what was typed).
    func text(_ name: String) -> String { self[name] ?? "" }

    /// The value trimmed, nil when empty (for optional fields).
    func optional(_ name: String) -> String? {
        let value = text(name).trimmingWhitespace()
        return value.isEmpty ? nil : value
    }

    mutating func append(_ name: String, _ value: String) {
        values[name, default: []].append(value)
    }

    /// Reads the body of `request` as a form (at most `limit`, by default `context.maxUploadSize`, bytes).
    static func read(_ request: Request, context: AppRequestContext, limit: Int? = nil) async throws -> WebForm {
        let limit = limit ?? context.maxUploadSize
        let tooLarge = RegistryError(.tooLarge, code: "body_too_large", message: "The request body is too large.")
        let malformed = RegistryError(.badRequest, code: "bad_request", message: "The form is malformed.")
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = Self.boundary(contentType) else { throw malformed }
            // Parsed as it arrives (multipart-kit's streaming parser): only the parts are kept,
            // and the whole body never exceeds the limit.
            let parts = MultipartAccumulator(boundary: boundary)
            var size = 0
            for try await buffer in request.body {
                size += buffer.readableBytes
                guard size <= limit else { throw tooLarge }
                do { try parts.feed(buffer) } catch { throw malformed }
            }
            guard parts.complete else { throw malformed }
            return parts.form
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        return Self.urlEncoded(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    /// Parses `a=1&b=two+words&c=%E4%B8%AD`.
    static func urlEncoded(_ text: String) -> WebForm {
        var form = WebForm()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            guard !name.isEmpty else { continue }
            form.append(name, parts.count > 1 ? decode(parts[1]) : "")
        }
        return form
    }

    private static func decode(_ component: Substring) -> String {
        let spaced = component.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func boundary(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (1...70).contains(value.count) ? value : nil
            }
        }
        return nil
    }

    /// Parses a whole `multipart/form-data` body, fed to the streaming parser in chunks of
    /// `chunk` bytes (as a request body arrives).
    static func multipart(_ bytes: [UInt8], boundary: String, chunk: Int = 64 * 1024) throws -> WebForm {
        let parts = MultipartAccumulator(boundary: boundary)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + max(1, chunk))
            try parts.feed(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        guard parts.complete else { throw RegistryError(.badRequest, code: "bad_request", message: "The form is malformed.") }
        return parts.form
    }

    /// Adds one part of a multipart form: a file (kept once, as bytes; its field's value is its
    /// name) or a text value.
    mutating func addPart(headers: [String: String], body: ByteBuffer) {
        guard let disposition = headers["content-disposition"], let name = Self.parameter("name", of: disposition) else { return }
        if let filename = Self.parameter("filename", of: disposition) {
            append(name, filename)
            if !filename.isEmpty {
                files[name, default: []].append(
                    Upload(
                        filename: filename,
                        contentType: headers["content-type"] ?? "application/octet-stream",
                        bytes: Array(body.readableBytesView)
                    )
                )
            }
        } else {
            append(name, String(decoding: body.readableBytesView, as: UTF8.self))
        }
    }

    /// `name="value"` from a `Content-Disposition` header value.
    static func parameter(_ wanted: String, of header: String) -> String? {
        for parameter in header.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == wanted {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}

/// Collects the parts multipart-kit's parser reports, and whether the closing delimiter came.
final class MultipartAccumulator {
    private let parser: MultipartParser
    private let closing: [UInt8]
    private var tail: [UInt8] = []
    private var headers: [String: String] = [:]
    private var body = ByteBuffer()
    private(set) var form = WebForm()

    init(boundary: String) {
        parser = MultipartParser(boundary: boundary)
        closing = Array("--\(boundary)--".utf8)
        parser.onHeader = { [unowned self] name, value in headers[name.lowercased()] = value }
        parser.onBody = { [unowned self] chunk in body.writeBuffer(&chunk) }
        parser.onPartComplete = { [unowned self] in
            form.addPart(headers: headers, body: body)
            headers = [:]
            body = ByteBuffer()
        }
    }

    func feed(_ buffer: ByteBuffer) throws {
        try parser.execute(buffer)
        tail = Array((tail + buffer.readableBytesView).suffix(closing.count + 4))
    }

    /// The body ended with the closing delimiter (optionally followed by a line break).
    var complete: Bool {
        var end = tail[...]
        while let last = end.last, last == UInt8(ascii: "\r") || last == UInt8(ascii: "\n") { end = end.dropLast() }
        return end.suffix(closing.count).elementsEqual(closing)
    }
}
