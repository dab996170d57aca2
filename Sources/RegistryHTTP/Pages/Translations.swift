import Foundation
import Yams

/// The languages of the pages. zh-CN is the default; English is offered everywhere.
enum Language: String, Sendable, CaseIterable {
    case zh = "zh-CN"
    case en = "en"

    static let `default` = Language.zh
    static let cookieName = "lang"

    /// The file under `Web/i18n/` holding this language's strings.
    var fileName: String { rawValue + ".yaml" }

    /// The language a request asks for: the remembered switch (`lang` cookie), else the best
    /// match in `Accept-Language`, else zh-CN.
    static func negotiate(cookie: String?, acceptLanguage: String?) -> Language {
        if let cookie, let chosen = Language(rawValue: cookie) { return chosen }
        guard let acceptLanguage else { return .default }
        var best: (Language, Double)?
        for part in acceptLanguage.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), !tag.isEmpty else { continue }
            var quality = 1.0
            for parameter in pieces.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            let language: Language? = tag.hasPrefix("zh") ? .zh : (tag == "en" || tag.hasPrefix("en-") ? .en : nil)
            guard let language, quality > 0 else { continue }
            if best == nil || quality > best!.1 { best = (language, quality) }
        }
        return best?.0 ?? .default
    }
}

/// Every user-visible string of the pages, per language, from `Web/i18n/*.yaml`.
///
/// The files are nested maps of strings. Templates reach them as `{{t.section.key}}`; Swift code
/// through `text(_:)` with the dotted key. Both files must have the same keys (a test checks).
struct Translations: Sendable {
    /// One language's strings.
    struct Table: @unchecked Sendable {
        /// The nested map handed to the templates (only `String` leaves and `[String: Any]` nodes).
        let tree: [String: Any]
        /// The same strings by dotted key.
        let flat: [String: String]

        /// The string for `key`; a missing key shows itself, so it is noticed rather than blank.
        func text(_ key: String) -> String {
            flat[key] ?? "⟦\(key)⟧"
        }

        /// The string for `key` with `{name}` placeholders replaced.
        func text(_ key: String, _ values: [String: String]) -> String {
            var result = text(key)
            for (name, value) in values { result = result.replacingOccurrences(of: "{\(name)}", with: value) }
            return result
        }

        func has(_ key: String) -> Bool { flat[key] != nil }
    }

    let tables: [Language: Table]

    subscript(_ language: Language) -> Table { tables[language]! }

    /// Loads every language from `directory` (`Web/i18n`).
    static func load(directory: String) throws -> Translations {
        var tables: [Language: Table] = [:]
        for language in Language.allCases {
            tables[language] = try loadTable(path: directory + "/" + language.fileName)
        }
        return Translations(tables: tables)
    }

    static func loadTable(path: String) throws -> Table {
        guard let data = FileManager.default.contents(atPath: path) else { throw PageSetupError("cannot read \(path)") }
        guard let root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self)) else { throw PageSetupError("\(path) is empty") }
        var flat: [String: String] = [:]
        let tree = try Self.tree(root, path: [], file: path, flat: &flat)
        guard let map = tree as? [String: Any] else { throw PageSetupError("\(path): the top level must be a map") }
        return Table(tree: map, flat: flat)
    }

    private static func tree(_ node: Node, path: [String], file: String, flat: inout [String: String]) throws -> Any {
        if let mapping = node.mapping {
            var map: [String: Any] = [:]
            for (key, value) in mapping {
                guard let name = key.scalar?.string, !name.isEmpty, !name.contains(".") else {
                    throw PageSetupError("\(file) line \((key.mark?.line).map(String.init) ?? "?"): keys are plain names without dots")
                }
                map[name] = try tree(value, path: path + [name], file: file, flat: &flat)
            }
            return map
        }
        guard let scalar = node.scalar else {
            throw PageSetupError("\(file): \(path.joined(separator: ".")) must be a string or a map")
        }
        flat[path.joined(separator: ".")] = scalar.string
        return scalar.string
    }
}

/// The web folder is incomplete or malformed (missing template, bad translation file).
struct PageSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
