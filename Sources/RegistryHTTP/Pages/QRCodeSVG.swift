import Foundation
import HTTPTypes
import Hummingbird
import RegistryDomain
import RegistryServices

/// A QR code drawn as SVG through the `_svg` partial like the charts: one `<path>` with the dark
/// modules (a rectangle per horizontal run), on a white square that includes the quiet zone,
/// `role="img"` with a `<title>` naming what it encodes. Sizes and colours are attributes: no
/// inline style (the Content-Security-Policy refuses it).
enum QRCodeSVG {
    /// The light margin around the symbol, in modules, as the standard requires.
    static let quietZone = 4

    /// `scale` is the default size of one module in CSS pixels (the stylesheet may resize it).
    static func node(_ code: QRCode, id: String, title: String, scale: Int = 4) -> SVGNode {
        let side = code.size + 2 * quietZone
        var d = ""
        for (y, row) in code.modules.enumerated() {
            var x = 0
            while x < row.count {
                guard row[x] else {
                    x += 1
                    continue
                }
                var end = x
                while end < row.count && row[end] { end += 1 }
                d += "M\(x + quietZone) \(y + quietZone)h\(end - x)v1h-\(end - x)z"
                x = end
            }
        }
        return SVGNode(
            "svg",
            [
                ("xmlns", "http://www.w3.org/2000/svg"), ("viewBox", "0 0 \(side) \(side)"),
                ("width", "\(side * scale)"), ("height", "\(side * scale)"), ("class", "qr"), ("role", "img"),
                ("aria-labelledby", "\(id)-title"), ("id", id), ("shape-rendering", "crispEdges"),
            ],
            children: [
                SVGNode("title", [("id", "\(id)-title")], text: title),
                SVGNode("rect", [("width", "\(side)"), ("height", "\(side)"), ("fill", "#ffffff")]),
                SVGNode("path", [("d", d), ("fill", "#000000")]),
            ]
        )
    }
}

extension PageScope {
    /// The address this site is reached at, for links that leave the browser (a QR code read
    /// by another phone): REGISTRY_PUBLIC_URL when set (always, behind a proxy); else `https` when cookies are marked Secure (served over TLS, directly or
    /// behind a proxy), else `http`, and the host the visitor's own browser asked for. A host
    /// that is not a plain name, IPv4 or bracketed IPv6 address with an optional port is not
    /// used: the configured address is.
    var publicOrigin: String {
        if let configured = registry.configuration.publicURL { return configured }
        let scheme = registry.configuration.secureCookies ? "https" : "http"
        if let authority = request.head.authority, Self.isPlainAuthority(authority) {
            return scheme + "://" + authority.lowercased()
        }
        let host = registry.configuration.host
        return scheme + "://" + (host.contains(":") ? "[\(host)]" : host) + ":\(registry.configuration.port)"
    }

    static func isPlainAuthority(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 260 else { return false }
        var host = Substring(text)
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            let inside = text[text.index(after: text.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return false }
                port = rest.dropFirst()
            }
            host = ""
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        if let port {
            guard (1...5).contains(port.count), port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        }
        if text.hasPrefix("[") { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !host.isEmpty
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }

    /// The check page's address with a worker's consent code filled in, as text and as the QR
    /// code of that text. A consent code may travel in a link; an ID number never does.
    func checkLink(code: String, path: String?) -> [String: Any] {
        let path = path ?? "/check?code=\(code)"
        let link = publicOrigin + path
        var values: [String: Any] = ["check_path": path, "check_url": link]
        if let qr = try? QRCode.encode(link) {
            values["qr_svg"] = QRCodeSVG.node(qr, id: "issued-qr", title: t.text("worker_home.qr_title", ["link": link])).view
        }
        return values
    }
}
