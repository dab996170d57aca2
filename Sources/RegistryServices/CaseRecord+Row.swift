import Foundation
import RegistryDomain
import RegistryStorage

/// The stored case and the machine's record of it: times become China-time civil days on the
/// way in, and days become times on the way out.
extension CaseStore.Row {
    /// Midnight China time at the end of `day`: when a window whose last day it is has ended.
    static func endOf(_ day: CivilDate) -> Date {
        Date(timeIntervalSince1970: TimeInterval(day.adding(days: 1).daysSinceEpoch * 86_400 - 8 * 3600))
    }

    var record: CaseRecord {
        CaseRecord(
            kind: CaseKind(rawValue: kind) ?? .revocation,
            state: state,
            requesterID: requesterID.map(UserID.init),
            originFlag: originFlagID?.text,
            proposedOutcome: proposedOutcome,
            proposedBy: proposedBy.map(UserID.init),
            outcome: outcome,
            decidedBy: decidedBy.map(UserID.init),
            noticeLastDay: noticeEndsAt.map { CivilDate.today($0.addingTimeInterval(-1)) },
            objection: objection.map {
                Submission(
                    text: $0,
                    channel: objectionChannel.flatMap(SubmissionChannel.init(rawValue:)) ?? .worker,
                    enteredBy: objectionEnteredBy.map(UserID.init),
                    evidenceID: objectionEvidenceID?.text,
                    outcome: objectionOutcome,
                    decidedBy: objectionReviewer.map(UserID.init)
                )
            },
            executedOn: executedAt.map { CivilDate.today($0) },
            appeal: appeal.map {
                Submission(
                    text: $0,
                    channel: appealChannel.flatMap(SubmissionChannel.init(rawValue:)) ?? .worker,
                    enteredBy: appealEnteredBy.map(UserID.init),
                    evidenceID: appealEvidenceID?.text,
                    outcome: appealOutcome,
                    decidedBy: appealDecidedBy.map(UserID.init)
                )
            }
        )
    }

    /// Takes the machine's decision; a new objection, appeal or execution is dated `now`.
    mutating func apply(_ r: CaseRecord, now: Date) {
        state = r.state
        proposedOutcome = r.proposedOutcome
        proposedBy = r.proposedBy?.uuid
        outcome = r.outcome
        decidedBy = r.decidedBy?.uuid
        // A window already set keeps its stored end; a new one ends at midnight after its last day.
        if r.noticeLastDay != noticeEndsAt.map({ CivilDate.today($0.addingTimeInterval(-1)) }) { noticeEndsAt = r.noticeLastDay.map(Self.endOf) }
        objection = r.objection?.text
        objectionAt = r.objection == nil ? nil : objectionAt ?? now
        objectionChannel = r.objection?.channel.rawValue
        objectionEnteredBy = r.objection?.enteredBy?.uuid
        objectionEvidenceID = r.objection?.evidenceID.flatMap(UUID.init(uuidString:))
        objectionOutcome = r.objection?.outcome
        objectionReviewer = r.objection?.decidedBy?.uuid
        executedAt = r.executedOn == nil ? nil : executedAt ?? now
        appeal = r.appeal?.text
        appealAt = r.appeal == nil ? nil : appealAt ?? now
        appealChannel = r.appeal?.channel.rawValue
        appealEnteredBy = r.appeal?.enteredBy?.uuid
        appealEvidenceID = r.appeal?.evidenceID.flatMap(UUID.init(uuidString:))
        appealOutcome = r.appeal?.outcome
        appealDecidedBy = r.appeal?.decidedBy?.uuid
    }
}
