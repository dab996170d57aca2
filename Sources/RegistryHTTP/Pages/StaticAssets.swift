import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistrySecurity

/// The files of `Web/static`, read once at startup and served from memory. Only names that
/// were in that folder (no subfolders, no dot files) can be asked for, so no path can escape it.
struct StaticAssets: Sendable {
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
        /// Content hash: the ETag, and the `?v=` that makes a versioned URL cacheable for a year.
        var version: String
    }

    static let types = [
        "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
        "png": "image/png", "ico": "image/x-icon", "txt": "text/plain; charset=utf-8", "woff2": "font/woff2",
    ]

    let assets: [String: Asset]

    init(directory: String) throws {
        var assets: [String: Asset] = [:]
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: directory) where Self.isPlainName(name) {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + name
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let type = Self.types[(name as NSString).pathExtension.lowercased()],
                let data = fm.contents(atPath: path)
            else { continue }
            let version = String(TokenGenerator.hash(data.base64EncodedString()).hex.prefix(16))
            assets[name] = Asset(bytes: ByteBuffer(bytes: data), contentType: type, version: version)
        }
        self.assets = assets
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
    }

    /// The versioned URL of an asset, for the pages to link.
    func url(for name: String) -> String {
        "/static/\(name)" + (assets[name].map { "?v=\($0.version)" } ?? "")
    }

    /// The response for `GET /static/{name}`: 404 for anything unknown, 304 when unchanged.
    func response(name: String, request: Request) -> Response? {
        guard Self.isPlainName(name), let asset = assets[name] else { return nil }
        let etag = "\"\(asset.version)\""
        let versioned = request.uri.queryParameters["v"].map(String.init) == asset.version
        var headers: HTTPFields = [
            .contentType: asset.contentType,
            .eTag: etag,
            .cacheControl: versioned ? "public, max-age=31536000, immutable" : "public, max-age=3600",
        ]
        if request.headers[.ifNoneMatch] == etag {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.bytes))
    }
}
