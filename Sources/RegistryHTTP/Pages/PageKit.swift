import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage

/// What every page needs, loaded once at startup: the templates, the translations and the
/// static files from `Web/`, and the services.
struct PageKit: Sendable {
    let registry: Registry
    let library: MustacheLibrary
    let translations: Translations
    let assets: StaticAssets

    /// Loads `Web/templates`, `Web/i18n` and `Web/static` under `webDirectory`.
    init(registry: Registry, webDirectory: String) throws {
        self.registry = registry
        self.library = try Self.loadTemplates(directory: webDirectory + "/templates")
        self.translations = try Translations.load(directory: webDirectory + "/i18n")
        self.assets = try StaticAssets(directory: webDirectory + "/static")
    }

    /// Every `*.mustache` file of `directory`, named by its file name without the extension.
    /// (Read synchronously: routes are registered before the server starts.)
    static func loadTemplates(directory: String) throws -> MustacheLibrary {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mustache") }.sorted()
        var templates: [String: MustacheTemplate] = [:]
        for file in names {
            guard let data = FileManager.default.contents(atPath: directory + "/" + file) else {
                throw PageSetupError("cannot read \(directory)/\(file)")
            }
            do {
                templates[String(file.dropLast(".mustache".count))] = try MustacheTemplate(string: String(decoding: data, as: UTF8.self))
            } catch {
                throw PageSetupError("\(directory)/\(file): \(error)")
            }
        }
        guard templates["layout"] != nil else { throw PageSetupError("\(directory)/layout.mustache is missing") }
        return MustacheLibrary(templates: templates)
    }

    /// The per-request view of the kit.
    func scope(_ request: Request, _ context: AppRequestContext) -> PageScope {
        PageScope(kit: self, request: request, context: context)
    }
}

/// One page request: its language, its caller, and how to answer with a page or a redirect.
struct PageScope {
    /// The anonymous visitor's form token (double-submit cookie), until she signs in.
    static let formCookieName = "registry_form"
    static let htmlContentType = "text/html; charset=utf-8"

    let kit: PageKit
    let request: Request
    let context: AppRequestContext
    let language: Language

    init(kit: PageKit, request: Request, context: AppRequestContext) {
        self.kit = kit
        self.request = request
        self.context = context
        self.language = Language.negotiate(
            cookie: request.cookies[Language.cookieName]?.value,
            acceptLanguage: request.headers[.acceptLanguage]
        )
    }

    var registry: Registry { kit.registry }
    var t: Translations.Table { kit.translations[language] }
    var caller: Caller { context.caller }

    /// The current path with its query, for coming back here (language switch, sign-in).
    var here: String {
        request.uri.query.map { request.uri.path + "?" + $0 } ?? request.uri.path
    }

    func query(_ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    // MARK: CSRF

    /// The token forms carry: the session's, or for an anonymous visitor the form cookie's.
    private var existingFormToken: String? {
        if let session = context.session { return session.csrfToken }
        if let cookie = request.cookies[Self.formCookieName]?.value, cookie.count >= 20, cookie.count <= 64 { return cookie }
        return nil
    }

    /// Refuses an unsafe page request whose `csrf_token` is not the session's (or, before
    /// sign-in, the form cookie's). Compared in constant time. Every page POST calls this first.
    func verifyCSRF(_ form: WebForm) throws {
        guard let expected = existingFormToken, let offered = form["csrf_token"],
            TokenGenerator.constantTimeEqual(offered, expected)
        else {
            context.logger.notice("page form refused: csrf", metadata: ["path": "\(request.uri.path)"])
            throw RegistryError(.forbidden, code: "csrf_failed", message: "The form is out of date or was not sent from this site.")
        }
    }

    /// Reads the form body and checks its CSRF token.
    func form() async throws -> WebForm {
        let form = try await WebForm.read(request, context: context)
        try verifyCSRF(form)
        return form
    }

    // MARK: Answers

    /// Renders `template` inside the layout with `data` plus what every page shows.
    func render(_ template: String, _ data: [String: Any] = [:], status: HTTPResponse.Status = .ok) -> Response {
        var values = data
        var newFormToken: String?
        let token: String
        if let existing = existingFormToken {
            token = existing
        } else {
            token = TokenGenerator.token(bytes: 24)
            newFormToken = token
        }
        values["t"] = t.tree
        values["lang"] = language.rawValue
        values["csrf"] = token
        values["css"] = kit.assets.url(for: "site.css")
        let other = language == .zh ? Language.en : Language.zh
        values["lang_switch"] = ["href": "/lang/\(other.rawValue)?next=" + Self.queryEncode(here), "code": other.rawValue]
        if let session = context.session {
            values["user"] = ["name": session.displayName, "role": t.text("roles.\(session.role.rawValue)")]
            values["is_admin"] = session.role == .admin
            values["is_agency"] = session.role == .agencyStaff
            values["is_employer"] = session.role == .employer
            values["is_worker"] = session.role == .worker
        }
        if values["notice"] == nil, let notice = query("notice"), Self.isKeyName(notice), t.has("notices.\(notice)") {
            values["notice"] = t.text("notices.\(notice)")
        }
        guard let html = kit.library.render(values, withTemplate: template) else {
            context.logger.error("no such page template", metadata: ["template": "\(template)"])
            return Response(
                status: .internalServerError,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "Internal error (request \(context.requestID))."))
            )
        }
        var response = Response(
            status: status,
            headers: [.contentType: Self.htmlContentType],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
        if let newFormToken {
            response.setCookie(
                Cookie(
                    name: Self.formCookieName,
                    value: newFormToken,
                    path: "/",
                    secure: registry.configuration.secureCookies,
                    httpOnly: true,
                    sameSite: .strict
                )
            )
        }
        return response
    }

    /// 303 See Other to a path of this site.
    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .contentType: Self.htmlContentType])
    }

    /// The page for an error that is not about one form field (404, 403, 409 ...).
    func errorPage(_ error: RegistryError) -> Response {
        render(
            "error",
            [
                "message": message(for: error), "status": String(error.kind.status.code),
                "request_id": context.requestID,
            ],
            status: error.kind.status
        )
    }

    // MARK: Text

    /// The user's words for an error: by its stable code, else by the field it names.
    func message(for error: RegistryError) -> String {
        var values = error.details
        values["request_id"] = context.requestID
        values["min"] = String(registry.policies.authentication.passwordMinLength)
        // A specific code says more than the field; the generic "invalid" says less.
        if error.code != "invalid_field", t.has("errors.\(error.code)") { return t.text("errors.\(error.code)", values) }
        if let field = error.field, t.has("errors.fields.\(field)") { return t.text("errors.fields.\(field)") }
        if t.has("errors.\(error.code)") { return t.text("errors.\(error.code)", values) }
        switch error.kind {
        case .notFound: return t.text("errors.not_found")
        case .forbidden: return t.text("errors.forbidden")
        case .conflict: return t.text("errors.conflict")
        case .unavailable: return t.text("errors.unavailable", values)
        default: return t.text("errors.invalid_field")
        }
    }

    /// Joins labels the way the language lists them.
    func list(_ labels: [String]) -> String {
        labels.joined(separator: language == .zh ? "、" : ", ")
    }

    /// The label of a value from a fixed set (`category.nanny`, `agency_status.pending`).
    /// Service and flag categories are named by policy (`sectors.yaml`, `flags.yaml`).
    func label(_ group: String, _ value: String) -> String {
        switch group {
        case "category":
            return registry.policies.sectors.categoryName(value, language: language.rawValue)
        case "flag_category":
            guard let c = registry.policies.flags.categories[value] else { return value }
            return language == .zh ? c.zh : c.en
        case "sector":
            return registry.policies.sectors.sectorName(value, language: language.rawValue)
        case "dimension" where !t.has("dimension.\(value)"):
            // A dimension a sector added: named in sectors.yaml.
            return registry.policies.sectors.dimensionName(value, language: language.rawValue) ?? value
        default:
            return t.has("\(group).\(value)") ? t.text("\(group).\(value)") : value
        }
    }

    /// The name of skill level `level` (1-5) in the sector of `category`.
    func levelLabel(_ level: Int, category: String) -> String {
        registry.policies.sectors.levelName(level, category: category, language: language.rawValue)
    }

    static func isKeyName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 40 && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    static func queryEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A path of this site to go back to after a language switch, or after sign-in (then not
    /// the sign-in page itself); anything else, such as another site, is "/".
    static func safeLocalPath(_ candidate: String?, afterSignIn: Bool = true) -> String {
        guard let path = candidate, path.hasPrefix("/"), !path.hasPrefix("//"), path.count <= 500,
            !path.contains("\\"), !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            !path.hasPrefix("/signout"), !path.hasPrefix("/lang/"), !(afterSignIn && path.hasPrefix("/signin"))
        else { return "/" }
        return path
    }
}
