import Foundation
import Logging
import RegistryDomain
import RegistryServices
import RegistryStorage

extension ScaleDemo {
    /// Grades for every generated worker through the grader's own set-based path
    /// (`GradingService.regrade`, as `registry regrade --all` uses), in batches of 1000 on several
    /// sessions; then the queue the flag effects filled is drained as the service would.
    func computeGrades(_ plan: Plan, report: @escaping @Sendable (Int) -> Void) async throws -> Int {
        let all = try await ScaleDataStore.workerIDs(agencies: plan.agencies.map(\.id), database: database, logger: logger)
        let batch = 1000
        let counts = try await parallel((all.count + batch - 1) / batch) { b in
            let slice = Array(all[(b * batch)..<min(all.count, (b + 1) * batch)])
            let graded = try await database.transaction(logger: logger) { connection in
                try await registry.grading.regrade(slice, cause: "registered", on: connection, logger: logger).count
            }
            report(graded)
            return graded
        }
        while try await registry.grading.drainQueue(logger: logger) > 0 {}
        return counts.reduce(0, +)
    }
}
