import Foundation
import HTTPTypes
import Hummingbird
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
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = Self.boundary(contentType) else {
                throw RegistryError(.badRequest, code: "bad_request", message: "The form is malformed.")
            }
            // A form with files streams to a private temporary file as it arrives (never held
            // whole in memory), stopping at the limit; it is parsed from the mapped file.
            let path = NSTemporaryDirectory() + "registry-form-\(UUID().uuidString).part"
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: path)
            else { throw RegistryError(.unavailable, code: "upload_failed", message: "The upload could not be received. Try again.") }
            defer {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: path)
            }
            var size = 0
            for try await buffer in request.body {
                size += buffer.readableBytes
                guard size <= limit else { throw tooLarge }
                try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: Data($0)) }
            }
            try handle.synchronize()
            let mapped = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
            return try mapped.withUnsafeBytes { try Self.multipart($0, boundary: boundary) }
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

    /// Parses a `multipart/form-data` body (RFC 7578): parts separated by `--boundary`, each
    /// with a `Content-Disposition: form-data; name="..."` header.
    static func multipart<Bytes: RandomAccessCollection>(_ body: Bytes, boundary: String) throws -> WebForm
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard body.startIndex == 0 else { return try multipart(Array(body), boundary: boundary) }
        let malformed = RegistryError(.badRequest, code: "bad_request", message: "The form is malformed.")
        let delimiter = Array("--\(boundary)".utf8)
        var form = WebForm()
        guard var position = find(delimiter, in: body, from: 0) else { throw malformed }
        position += delimiter.count
        while position + 1 < body.count {
            // "--" after a delimiter ends the body.
            if body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") { break }
            guard let headerStart = find(Array("\r\n".utf8), in: body, from: position).map({ $0 + 2 }),
                let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: headerStart - 2)
            else { throw malformed }
            let headers = String(decoding: body[headerStart..<max(headerStart, headerEnd)], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = find(Array("\r\n".utf8) + delimiter, in: body, from: contentStart) else { throw malformed }
            if let name = dispositionName(headers) {
                if let filename = dispositionParameter("filename", headers) {
                    // A file is kept once, as bytes; its field's value is its name.
                    form.append(name, filename)
                    if !filename.isEmpty {
                        form.files[name, default: []].append(
                            Upload(
                                filename: filename,
                                contentType: partContentType(headers),
                                bytes: Array(body[contentStart..<next])
                            )
                        )
                    }
                } else {
                    form.append(name, String(decoding: body[contentStart..<next], as: UTF8.self))
                }
            }
            position = next + 2 + delimiter.count
        }
        return form
    }

    private static func dispositionName(_ headers: String) -> String? {
        dispositionParameter("name", headers)
    }

    private static func partContentType(_ headers: String) -> String {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-type:") {
            return line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
        }
        return "application/octet-stream"
    }

    private static func dispositionParameter(_ wanted: String, _ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for parameter in line.split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2, pair[0].lowercased() == wanted {
                    return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
        }
        return nil
    }

    private static func find<Bytes: RandomAccessCollection>(_ needle: [UInt8], in haystack: Bytes, from start: Int) -> Int?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = max(0, start)
        let first = needle[0]
        while i <= haystack.count - needle.count {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
