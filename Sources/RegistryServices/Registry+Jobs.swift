import Foundation
import Logging
import RegistryDomain
import RegistryStorage

extension Registry {
    /// The scheduler with the registry's jobs, on the registry's clock, at the intervals of
    /// `Policies/schedule.yaml`.
    public var scheduler: Scheduler {
        let schedule = policies.schedule
        func job(_ name: String, _ summary: String, _ body: @escaping @Sendable (JobContext) async throws -> Int) -> ScheduledJob {
            ScheduledJob(name: name, summary: summary, every: schedule.interval(of: name), body: body)
        }
        let (flags, transfers, cases, grading, housekeeping, audit) = (
            self.flags, self.transfers, self.cases, self.grading, self.housekeeping, self.audit
        )
        let (database, clock, idleMinutes) = (self.database, self.clock, policies.authentication.sessionIdleMinutes)
        let staleAfterDays = policies.grading.skill.levels.staleAfterDays
        let calendar = policies.revocation
        let policies = self.policies
        return Scheduler(
            database: database,
            clock: clock,
            jobs: [
                job("flag-expiry", "Lifts the effects of flags whose last day has passed; tells the worker.") { context in
                    var handled = 0
                    while case let n = try await flags.expireDue(logger: context.logger), n > 0 { handled += n }
                    return handled
                },
                job("transfer-deadlines", "Completes transfers whose sealing deadline passed; lets unanswered requests lapse.") { context in
                    var handled = try await transfers.completeOverdue(logger: context.logger)
                    while case let n = try await transfers.expireUnanswered(logger: context.logger), n > 0 { handled += n }
                    return handled
                },
                job("case-deadlines", "Moves cases whose objection window ended; executes final decisions.") { context in
                    var handled = 0
                    while case let n = try await cases.executeDue(logger: context.logger), n > 0 { handled += n }
                    return handled
                },
                job("credential-expiry", "Tells agencies of health certificates and qualifications about to expire.") { context in
                    let from = (context.lastAsOf ?? context.today.adding(days: -1)).adding(days: schedule.credentialNoticeDays)
                    let to = context.today.adding(days: schedule.credentialNoticeDays)
                    guard from < to else { return 0 }
                    return try await TimeStore.queueCredentialNotices(from: from.iso, to: to.iso, database: database, logger: context.logger)
                },
                job("grade-refresh", "Recomputes the grades that time has changed.") { context in
                    // Before its first run the job looks back a year; then from its last run.
                    let since = min(context.lastAsOf ?? context.today.adding(days: -366), context.today.adding(days: -1))
                    let queued = try await TimeStore.queueTimeChangedGrades(
                        since: since.iso,
                        today: context.today.iso,
                        staleAfterDays: staleAfterDays,
                        refreshDays: schedule.gradeRefreshDays,
                        database: database,
                        logger: context.logger
                    )
                    // Graded here, on this job's clock, as well as by every node's grade queue.
                    if queued > 0 { while try await grading.drainQueue(logger: context.logger) > 0 {} }
                    return queued
                },
                job("housekeeping", "Ends idle sessions; prunes old sessions, codes, throttle rows and nonces.") { context in
                    var ended = 0
                    while case let n = try await TimeStore.endIdleSessions(
                        now: clock.now,
                        idleSeconds: idleMinutes * 60,
                        batch: 5000,
                        database: database,
                        logger: context.logger
                    ), n > 0 {
                        ended += n
                    }
                    return ended + (try await housekeeping.run(logger: context.logger)).total
                },
                job("audit-checkpoint", "Takes a signed checkpoint of the audit chain's head.") { context in
                    try await audit.takeCheckpoint(logger: context.logger).isNew ? 1 : 0
                },
                job("calendar-check", "Warns when the working-day calendar is about to end.") { context in
                    guard let end = calendar.calendarEnd else {
                        context.logger.warning("the working-day calendar lists no year: every deadline counts weekends only")
                        return 1
                    }
                    let left = end.daysSinceEpoch - context.today.daysSinceEpoch
                    let provisional = calendar.provisionalYears.filter { $0 >= context.today.year }
                    if !provisional.isEmpty {
                        context.logger.warning(
                            "the working-day calendar is provisional (statutory holidays only): replace it with the State Council's notice in Policies/calendar/",
                            metadata: ["years": "\(provisional.map(String.init).joined(separator: ","))"]
                        )
                    }
                    guard left <= schedule.calendarWarningDays else { return provisional.isEmpty ? 0 : 1 }
                    context.logger.warning(
                        "the working-day calendar ends soon: add next year's public holidays and make-up working days to Policies/calendar/",
                        metadata: ["calendar_ends": "\(end.iso)", "days_left": "\(left)"]
                    )
                    return 1
                },
                job("policy-names", "Checks that every category the data holds is still declared by policy.") { context in
                    try await Self.checkPolicyNames(policies, database: database, logger: context.logger)
                },
                job("demerit-deadlines", "Upholds demerit notices left unanswered; lowers levels whose points expired.") { [demerits] context in
                    try await demerits.runDeadlines(logger: context.logger)
                },
            ]
        )
    }
}

/// A name the data holds that policy no longer declares: the service keeps every such row (the
/// grader gives an unknown category the default rule and no flag penalty) and reports it here.
public struct UnknownPolicyNames: Error, CustomStringConvertible {
    public var uses: [PolicyNameStore.Use]

    public var description: String {
        "the data holds names no policy declares (restore them in Policies/sectors.yaml or flags.yaml): "
            + uses.map { "\($0.name) in \($0.place) (\($0.rows) rows)" }.joined(separator: "; ")
    }
}

extension Registry {
    /// Compares the categories the data holds with those this registry's policies declare.
    public func checkPolicyNames(logger: Logger) async throws -> Int {
        try await Self.checkPolicyNames(policies, database: database, logger: logger)
    }

    /// Compares the categories the data holds with those policy declares; returns how many names
    /// were checked, or throws `UnknownPolicyNames` listing each unknown one and where it is.
    static func checkPolicyNames(_ policies: PolicySet, database: Database, logger: Logger) async throws -> Int {
        let (categories, flags) = try await PolicyNameStore.namesInUse(database: database, logger: logger)
        let known = Set(policies.sectors.categoryIDs)
        let unknown = categories.filter { !known.contains($0.name) } + flags.filter { policies.flags.categories[$0.name] == nil }
        guard unknown.isEmpty else {
            let error = UnknownPolicyNames(uses: unknown)
            logger.error("unknown names in the data", metadata: ["problem": "\(error)"])
            throw error
        }
        return categories.count + flags.count
    }
}
