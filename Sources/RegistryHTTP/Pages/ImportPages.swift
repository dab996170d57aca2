import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Agency staff import a roster from CSV (a file, or text pasted into the box) and see what
/// happened to every line.
struct ImportPages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/agency/import", action: "workers.import") { request, context in
            let page = kit.scope(request, context)
            return render(page, form: WebForm(), error: nil, summary: nil)
        }

        routes.post("/agency/import", action: "workers.import") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let uploaded = form.files["file"]?.first.map { String(decoding: $0.bytes, as: UTF8.self) }.flatMap { $0.isEmpty ? nil : $0 }
                let summary = try await run(page, text: uploaded ?? form.text("csv"))
                return render(page, form: form, error: nil, summary: summary)
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .tooLarge {
                return render(page, form: form, error: error, summary: nil)
            }
        }
    }

    func run(_ page: PageScope, text: String) async throws -> WorkerImport.Summary {
        // Spreadsheet programs start UTF-8 files with a byte order mark.
        let records = CSV.parse(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard let header = records.first else { throw RegistryError.invalid("csv", "The file is empty.", code: "missing_field") }
        let limit = page.registry.policies.custody.importMaxRows
        guard records.count - 1 <= limit else {
            throw RegistryError(.tooLarge, code: "too_many_rows", message: "Too many rows.", field: "csv", details: ["max": String(limit)])
        }
        var columns: [String: Int]
        do {
            columns = try WorkerImport.columns(header.fields)
        } catch {
            throw RegistryError(error.kind, code: error.code, message: error.message, field: "csv", details: error.details)
        }
        guard let agency = page.caller.agencyUUID else { throw RegistryError.forbidden }
        return try await page.registry.workerImport.run(
            records: Array(records.dropFirst()),
            columns: columns,
            agencyID: agency,
            caller: page.caller,
            logger: page.context.logger
        )
    }

    func render(_ page: PageScope, form: WebForm, error: RegistryError?, summary: WorkerImport.Summary?) -> Response {
        var values = page.formValues(form, fields: ["csv"], error: error)
        values["columns"] = WorkerImport.header.joined(separator: ",")
        values["categories"] = page.registry.policies.sectors.categoryIDs.map { ["value": $0, "label": page.label("category", $0)] }
        if let summary {
            values["summary"] = [
                "created": String(summary.created), "already": String(summary.alreadyRegistered),
                "transfer": String(summary.transferNeeded), "rejected": String(summary.rejected),
                "lines": summary.lines.map { line -> [String: Any] in
                    var v: [String: Any] = [
                        "line": String(line.line), "outcome": line.outcome.rawValue,
                        "outcome_label": page.label("import_outcome", line.outcome.rawValue),
                        "ok": line.outcome == .created || line.outcome == .alreadyRegistered,
                    ]
                    if let id = line.workerId { v["worker_id"] = id }
                    if line.outcome == .rejected {
                        v["problem"] =
                            line.field.map { page.t.text("import.problem", ["field": page.label("field", $0)]) }
                            ?? page.t.text("errors.invalid_field")
                    }
                    return v
                },
            ]
        }
        return page.render("import", values, status: error?.kind.status ?? .ok)
    }
}
