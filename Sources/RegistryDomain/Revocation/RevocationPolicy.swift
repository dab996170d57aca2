/// Revocation rules (`Policies/revocation.yaml`).
public struct RevocationPolicy: Sendable, Equatable, Codable {
    public struct Ground: Sendable, Equatable, Codable {
        public var zh: String
        public var en: String
    }

    public var version: Int
    public var grounds: [String: Ground]
    public var objectionWorkingDays: Int
    /// Days after a ban takes effect within which she (or someone for her) may appeal, once.
    public var appealDays: Int
    /// Years after a ban took effect before she may apply to be reinstated herself.
    public var reinstatementAfterYears: Int
    /// The working-day calendar: filled from `Policies/calendar/YYYY.yaml` at load.
    public var holidays: [String]?
    public var workdays: [String]?
    /// The calendar's last year and its provisional years (set at load, not in the file).
    public var calendarLastYear: Int? = nil
    public var provisionalYears: [Int] = []
    public var evidenceMaxBytes: Int
    public var evidenceTypes: [String]
    /// Files per party of a case: the requester's side, hers, and the registry's each count alone.
    public var evidencePerParty: Int

    enum CodingKeys: String, CodingKey {
        case version, grounds, holidays, workdays
        case objectionWorkingDays = "objection_working_days"
        case appealDays = "appeal_days"
        case reinstatementAfterYears = "reinstatement_after_years"
        case evidenceMaxBytes = "evidence_max_bytes"
        case evidenceTypes = "evidence_types"
        case evidencePerParty = "evidence_per_party"
    }

    public var holidayDates: Set<CivilDate> { Set((holidays ?? []).compactMap(CivilDate.init(iso:))) }
    public var workdayDates: Set<CivilDate> { Set((workdays ?? []).compactMap(CivilDate.init(iso:))) }

    /// The last day the working-day calendar covers: 31 December of its last year (nil when it
    /// has none). Past it, no deadline is computed.
    public var calendarEnd: CivilDate? {
        (calendarLastYear ?? holidayDates.map(\.year).max()).flatMap { CivilDate(year: $0, month: 12, day: 31) }
    }

    /// The last day to object to a decision announced on `start`: `objection_working_days`
    /// working days later. Refused, rather than guessed, when that day lies past the calendar.
    public func lastObjectionDay(from start: CivilDate) throws(RegistryError) -> CivilDate {
        let last = WorkingDays.add(objectionWorkingDays, to: start, holidays: holidayDates, workdays: workdayDates)
        guard let end = calendarEnd, last <= end else {
            throw RegistryError(
                .unavailable,
                code: "calendar_ended",
                message: "The working-day calendar ends on \(calendarEnd?.iso ?? "(none)"), so the objection deadline cannot be counted. "
                    + "An administrator must add next year's public holidays and make-up working days to Policies/calendar/.",
                details: ["calendar_ends": calendarEnd?.iso ?? ""]
            )
        }
        return last
    }

    public func validate() throws(PolicyError) {
        guard !grounds.isEmpty else { throw PolicyError(path: ["grounds"], message: "name at least one ground") }
        for name in grounds.keys.sorted()
        where !(name.count >= 2 && name.count <= 40 && name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") })) {
            throw PolicyError(path: ["grounds", name], message: "a ground is a lower-case name like 'abuse_of_a_child'")
        }
        guard (1...60).contains(objectionWorkingDays) else { throw PolicyError(path: ["objection_working_days"], message: "must be 1 to 60") }
        guard (1...365).contains(appealDays) else { throw PolicyError(path: ["appeal_days"], message: "must be 1 to 365") }
        guard (1...20).contains(reinstatementAfterYears) else {
            throw PolicyError(path: ["reinstatement_after_years"], message: "must be 1 to 20")
        }
        for (i, d) in (holidays ?? []).enumerated() where CivilDate(iso: d) == nil {
            throw PolicyError(path: ["holidays", String(i)], message: "'\(d)' is not a date (YYYY-MM-DD)")
        }
        for (i, d) in (workdays ?? []).enumerated() where CivilDate(iso: d) == nil {
            throw PolicyError(path: ["workdays", String(i)], message: "'\(d)' is not a date (YYYY-MM-DD)")
        }
        guard (1024...100_000_000).contains(evidenceMaxBytes) else {
            throw PolicyError(path: ["evidence_max_bytes"], message: "must be 1 KiB to 100 MB")
        }
        guard !evidenceTypes.isEmpty else { throw PolicyError(path: ["evidence_types"], message: "allow at least one type") }
        guard (1...200).contains(evidencePerParty) else { throw PolicyError(path: ["evidence_per_party"], message: "must be 1 to 200") }
    }
}
