import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Administrators: police and credit-bureau sources and their API keys, over the same
/// `FlagService` methods as `/api/v1/integrations`. A new source's signing secret and a new key
/// are shown once, in the answer to the POST that made them: never in a redirect, a URL or a log.
/// Revoking a key asks for confirmation on a page of its own.
struct IntegrationPages {
    let kit: PageKit

    static let kinds = ["police", "credit_bureau", "registry"]
    static let statuses = ["active", "disabled"]
    static let sourceFields = ["source_name", "display_name", "kind", "contact_email"]

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/integrations", action: "integrations.manage") { request, context in
            let page = kit.scope(request, context)
            return try await list(page)
        }

        routes.post("/admin/integrations", action: "integrations.manage") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let created: FlagService.CreatedSource
            do {
                created = try await page.registry.flags.registerSource(
                    .init(
                        name: form.text("source_name"),
                        kind: form.text("kind"),
                        displayName: form.text("display_name"),
                        requireSignature: form.text("require_signature") == "true",
                        contactEmail: form.optional("contact_email")
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch var error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                // The service's `name` is the form's `source_name` (an agency's name is another field).
                if error.field == "name" { error.field = "source_name" }
                return try await list(page, sourceForm: form, sourceError: error)
            }
            let source = try await Self.source(page, try Self.uuid(created.id))
            // Shown once, on this answer.
            return page.render("integration_secret", ["source": Self.sourceView(source, page: page), "secret": created.signingSecret])
        }

        routes.post("/admin/integrations/{id}/keys", action: "integrations.manage") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            let issued: FlagService.IssuedKey
            do {
                issued = try await page.registry.flags.issueKey(sourceID: id, label: form["label"], caller: page.caller, logger: context.logger)
            } catch let error as RegistryError where error.kind == .badRequest {
                return try await list(page, keyForm: (id, form, error))
            }
            let source = try await Self.source(page, id)
            var key: [String: Any] = ["key": issued.key, "prefix": issued.keyPrefix]
            if let label = form.optional("label") { key["label"] = label }
            // Shown once, on this answer.
            return page.render("integration_key", ["source": Self.sourceView(source, page: page), "issued": key])
        }

        routes.get("/admin/integrations/{id}/keys/{key}/revoke", action: "integrations.manage") { request, context in
            let page = kit.scope(request, context)
            let (source, key) = try await Self.activeKey(page, source: try context.parameters.uuid("id"), key: try context.parameters.uuid("key"))
            return page.render(
                "integration_revoke",
                [
                    "source": Self.sourceView(source, page: page),
                    "key": Self.keyView(key, sourceID: source.id, page: page),
                ]
            )
        }

        routes.post("/admin/integrations/{id}/keys/{key}/revoke", action: "integrations.manage") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            let id = try context.parameters.uuid("id")
            try await page.registry.flags.revokeKey(
                sourceID: id,
                keyID: try context.parameters.uuid("key"),
                caller: page.caller,
                logger: context.logger
            )
            return page.redirect("/admin/integrations?notice=key_revoked#source-\(id.text)")
        }
    }

    // MARK: Pages

    /// The sources with their keys, the form to issue a key under each, and the form to register
    /// a source. `sourceForm`/`sourceError` re-display a refused registration; `keyForm` a refused key.
    func list(
        _ page: PageScope,
        sourceForm: WebForm = WebForm(),
        sourceError: RegistryError? = nil,
        keyForm: (source: UUID, form: WebForm, error: RegistryError)? = nil
    ) async throws -> Response {
        let sources = try await page.registry.flags.sources(logger: page.context.logger)
        var values = page.formValues(sourceForm, fields: Self.sourceFields, error: sourceError)
        values["kinds"] = page.choices("source_kind", Self.kinds, selected: [sourceForm.text("kind")])
        values["require_signature"] = sourceForm.text("require_signature") == "true"
        values["sources"] = sources.map { s -> [String: Any] in
            var view = Self.sourceView(s, page: page)
            view["typed_label"] = ""
            view["key_error"] = false
            if let keyForm, keyForm.source.text == s.id {
                view["key_error"] = page.message(for: keyForm.error)
                view["typed_label"] = keyForm.form.text("label")
            }
            return view
        }
        if let keyForm {
            values["form_error"] = ["message": page.t.text("form.check_field"), "field": "label-\(keyForm.source.text)"]
        }
        return page.render("admin_integrations", values, status: sourceError?.kind.status ?? keyForm?.error.kind.status ?? .ok)
    }

    static func uuid(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RegistryError.notFound("Source") }
        return id
    }

    static func source(_ page: PageScope, _ id: UUID) async throws -> FlagService.SourceView {
        guard let source = try await page.registry.flags.sources(logger: page.context.logger).first(where: { $0.id == id.text }) else {
            throw RegistryError.notFound("Source")
        }
        return source
    }

    /// A key of the source that is not revoked yet; anything else is 404.
    static func activeKey(_ page: PageScope, source id: UUID, key keyID: UUID) async throws -> (FlagService.SourceView, FlagService.Key) {
        let source = try await source(page, id)
        guard let key = source.keys.first(where: { $0.id.text == keyID.text && $0.revokedAt == nil }) else { throw RegistryError.notFound("Key") }
        return (source, key)
    }

    static func sourceView(_ s: FlagService.SourceView, page: PageScope) -> [String: Any] {
        [
            "id": s.id, "name": s.name, "display_name": s.displayName, "kind": s.kind, "kind_label": page.label("source_kind", s.kind),
            "status": s.status, "status_label": page.label("source_status", s.status), "require_signature": s.requireSignature,
            "keys": s.keys.reversed().map { keyView($0, sourceID: s.id, page: page) },
            "active_keys": String(s.keys.filter { $0.revokedAt == nil }.count),
        ]
    }

    /// A key as listed: its first characters only (the rest was shown once and is not stored).
    static func keyView(_ k: FlagService.Key, sourceID: String, page: PageScope) -> [String: Any] {
        var view: [String: Any] = [
            "id": k.id.text, "source_id": sourceID, "prefix": k.keyPrefix, "created_at": PageScope.dateTime(k.createdAt),
            "active": k.revokedAt == nil, "label": k.label ?? "", "has_label": k.label != nil,
            "last_used": k.lastUsedAt.map { PageScope.dateTime($0) } ?? page.t.text("integrations.never_used"),
        ]
        view["revoked_at"] = k.revokedAt.map { PageScope.dateTime($0) } ?? ""
        return view
    }
}
