import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The scheduled jobs for administrators: each one's schedule and last run, and running one now.
struct JobRoutes {
    let registry: Registry

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/admin/jobs", action: "jobs.read") { _, context in
            JSONResponse(JobList(jobs: try await registry.scheduler.status(logger: context.logger)))
        }

        routes.post("/api/v1/admin/jobs/{name}/run", action: "jobs.run") { _, context in
            let outcome = try await registry.scheduler.runNow(try Self.jobName(context), caller: context.caller, logger: context.logger)
            return JSONResponse(JobRun(job: outcome.job, rows: outcome.rows, seconds: outcome.seconds, asOf: outcome.asOf.iso))
        }
    }

    struct JobList: Encodable, Sendable { var jobs: [Scheduler.Status] }

    struct JobRun: Encodable, Sendable {
        var job: String
        var rows: Int
        var seconds: Double
        var asOf: String

        enum CodingKeys: String, CodingKey {
            case job, rows, seconds
            case asOf = "as_of"
        }
    }

    /// A job name path parameter: one of the scheduled jobs; anything else is 404.
    static func jobName(_ context: AppRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), SchedulePolicy.jobNames.contains(name) else {
            throw RegistryError(.notFound, code: "no_such_job", message: "There is no such job.")
        }
        return name
    }
}
