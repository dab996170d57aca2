import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Agency staff record on a worker's file: the tenure assessment, a training or certificate,
/// a health certificate, a skill assessment. Each form has its own page (phone first).
struct WorkerRecordPages {
    let kit: PageKit

    static let assessmentFields = ["work_ability", "health_status", "feedback_summary", "ethics_rating", "ethics_note"]
    static let trainingFields = ["kind", "title", "issuer", "category", "certificate_no", "issued_on", "expires_on", "hours"]
    static let healthFields = ["issuer", "certificate_no", "issued_on", "valid_until", "result"]
    static let skillFields = ["category", "level", "assessed_on", "assessor", "note"]

    /// One kind of record: its path under the worker, action, template, fields and how to save it.
    struct Kind: Sendable {
        var path: String
        var action: String
        var template: String
        var fields: [String]
        var notice: String
        var save: @Sendable (PageScope, WorkerID, WebForm) async throws -> Void
        var prefill: @Sendable (PageScope, WorkerService.File) -> WebForm
    }

    static let kinds: [Kind] = [
        Kind(
            path: "tenure",
            action: "workers.assess",
            template: "worker_tenure",
            fields: assessmentFields,
            notice: "tenure_assessed",
            save: { page, id, form in
                try await page.registry.workers.assess(id, try assessment(form, page: page), caller: page.caller, logger: page.context.logger)
            },
            prefill: { page, file in
                var form = WebForm()
                let mine = page.caller.principal.agencyID?.text
                if let open = file.tenures.last(where: { $0.sealedAt == nil && $0.agencyID.text == mine }) {
                    form.append("work_ability", open.workAbility ?? "")
                    form.append("health_status", open.healthStatus ?? "")
                    form.append("feedback_summary", open.feedbackSummary ?? "")
                    form.append("ethics_rating", open.ethicsRating.map(String.init) ?? "")
                    form.append("ethics_note", open.ethicsNote ?? "")
                }
                return form
            }
        ),
        Kind(
            path: "trainings",
            action: "workers.qualify",
            template: "worker_training",
            fields: trainingFields,
            notice: "training_added",
            save: { page, id, form in
                let input = WorkerService.TrainingInput(
                    kind: form.text("kind"),
                    title: form.text("title"),
                    issuer: form.text("issuer"),
                    category: form.optional("category"),
                    certificateNo: form.optional("certificate_no"),
                    issuedOn: form.text("issued_on"),
                    expiresOn: form.optional("expires_on"),
                    hours: try page.integer(form, "hours")
                )
                _ = try await page.registry.workers.addTraining(id, input, caller: page.caller, logger: page.context.logger)
            },
            prefill: { _, _ in WebForm(values: ["kind": ["training"]]) }
        ),
        Kind(
            path: "health-certificates",
            action: "workers.qualify",
            template: "worker_health",
            fields: healthFields,
            notice: "health_added",
            save: { page, id, form in
                let input = WorkerService.HealthInput(
                    issuer: form.text("issuer"),
                    certificateNo: form.optional("certificate_no"),
                    issuedOn: form.text("issued_on"),
                    validUntil: form.text("valid_until"),
                    result: form.optional("result")
                )
                _ = try await page.registry.workers.addHealthCertificate(id, input, caller: page.caller, logger: page.context.logger)
            },
            prefill: { _, _ in WebForm(values: ["result": ["fit"]]) }
        ),
        Kind(
            path: "skills",
            action: "workers.qualify",
            template: "worker_skill",
            fields: skillFields,
            notice: "skill_added",
            save: { page, id, form in
                guard let level = try page.integer(form, "level", required: true) else { return }
                let input = WorkerService.SkillInput(
                    category: form.text("category"),
                    level: level,
                    assessedOn: form.text("assessed_on"),
                    assessor: form.text("assessor"),
                    note: form.optional("note")
                )
                _ = try await page.registry.workers.addSkill(id, input, caller: page.caller, logger: page.context.logger)
            },
            prefill: { _, _ in WebForm() }
        ),
    ]

    /// The final or current assessment of a tenure from its form fields.
    static func assessment(_ form: WebForm, page: PageScope) throws -> WorkerService.Assessment {
        WorkerService.Assessment(
            workAbility: form.optional("work_ability"),
            healthStatus: form.optional("health_status"),
            feedbackSummary: form.optional("feedback_summary"),
            ethicsRating: try page.integer(form, "ethics_rating"),
            ethicsNote: form.optional("ethics_note")
        )
    }

    func register(on routes: ProtectedRouter) {
        for kind in Self.kinds {
            // The tenure has one assessment, edited in place; the others are added, one per form.
            let formPath = kind.path == "tenure" ? "/agency/workers/{id}/tenure" : "/agency/workers/{id}/\(kind.path)/new"
            routes.get(formPath, action: kind.action) { request, context in
                let page = kit.scope(request, context)
                let file = try await page.registry.workers.file(try context.parameters.id("id"), caller: page.caller, logger: context.logger)
                return Self.form(page, kind: kind, file: file, form: kind.prefill(page, file), error: nil)
            }
            routes.post("/agency/workers/{id}/\(kind.path)", action: kind.action) { request, context in
                let page = kit.scope(request, context)
                let form = try await page.form()
                let id = try context.parameters.id("id", as: WorkerID.self)
                do {
                    try await kind.save(page, id, form)
                } catch let error as RegistryError where error.kind != .notFound {
                    let file = try await page.registry.workers.file(id, caller: page.caller, logger: context.logger)
                    return Self.form(page, kind: kind, file: file, form: form, error: error)
                }
                return page.redirect("/agency/workers/\(id.text)?notice=\(kind.notice)")
            }
        }
    }

    static func form(_ page: PageScope, kind: Kind, file: WorkerService.File, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: kind.fields, error: error)
        values["worker"] = ["id": file.id, "name": file.fullName]
        values["action"] = "/agency/workers/\(file.id)/\(kind.path)"
        values["categories"] = page.categoryChoices(selected: [form.text("category")])
        values["levels"] = page.levelChoices(selected: form["level"])
        values["ratings"] = page.ratingChoices(selected: form["ethics_rating"])
        values["kinds"] = page.choices("training_kind", ["training", "certificate"], selected: [form.text("kind")])
        values["results"] = page.choices("health_result", ["fit", "restricted", "unfit"], selected: [form.text("result")])
        values["today"] = page.registry.clock.today.iso
        // The qualifications the sectors know by name, offered as the title is typed.
        values["known_qualifications"] = page.registry.policies.sectors.sectors.flatMap(\.qualifications).map {
            ["name": page.language == .zh ? $0.zh : $0.en]
        }
        return page.render(kind.template, values, status: error?.kind.status ?? .ok)
    }
}
