import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Administrators: the scheduled jobs with their last run, and a button that runs one now.
struct JobPages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/jobs", action: "jobs.read") { request, context in
            let page = kit.scope(request, context)
            let jobs = try await page.registry.scheduler.status(logger: context.logger).map { s -> [String: Any] in
                [
                    "name": s.name, "summary": s.summary, "every": s.every, "runs": String(s.runs),
                    "failures": String(s.failures), "last_run": s.lastStartedAt.map(PageScope.dateTime) ?? page.t.text("jobs.never"),
                    "as_of": s.lastAsOf ?? "-", "duration": s.lastDurationMS.map { String(format: "%.1f", $0) } ?? "-",
                    "rows": s.lastRows.map(String.init) ?? "-", "last_error": s.lastError ?? "", "failed": s.lastError != nil,
                ]
            }
            var values: [String: Any] = ["jobs": jobs]
            if let rows = request.uri.queryParameters["ran"].flatMap({ Int(String($0)) }) {
                values["notice"] = page.t.text("jobs.ran", ["rows": String(rows)])
            }
            return page.render("admin_jobs", values)
        }

        routes.post("/admin/jobs/{name}/run", action: "jobs.run") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            let outcome = try await page.registry.scheduler.runNow(try JobRoutes.jobName(context), caller: page.caller, logger: context.logger)
            return page.redirect("/admin/jobs?ran=\(outcome.rows)")
        }
    }
}
