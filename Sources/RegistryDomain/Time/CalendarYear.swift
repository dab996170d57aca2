/// One year of the working-day calendar (`Policies/calendar/YYYY.yaml`): the public holidays
/// and the make-up working days (调休) of the State Council's notice for that year.
public struct CalendarYear: Sendable, Equatable, Codable {
    public var year: Int
    /// True while the year is drawn up from the statutory holidays alone, before the State
    /// Council's notice (with its bridging days and make-up working days) is published.
    public var provisional: Bool
    public var holidays: [String]
    public var workdays: [String]

    public init(year: Int, provisional: Bool = false, holidays: [String], workdays: [String]) {
        self.year = year
        self.provisional = provisional
        self.holidays = holidays
        self.workdays = workdays
    }

    enum CodingKeys: String, CodingKey { case year, provisional, holidays, workdays }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        year = try c.decode(Int.self, forKey: .year)
        provisional = try c.decodeIfPresent(Bool.self, forKey: .provisional) ?? false
        holidays = try c.decode([String].self, forKey: .holidays)
        workdays = try c.decodeIfPresent([String].self, forKey: .workdays) ?? []
    }

    /// Every date is a date of this year; a holiday is not also a working day; a make-up working
    /// day falls on a weekend (else it changes nothing).
    public func validate(fileYear: Int) throws(PolicyError) {
        guard year == fileYear else { throw PolicyError(path: ["year"], message: "is \(year) but the file is named \(fileYear).yaml") }
        for (list, days) in [("holidays", holidays), ("workdays", workdays)] {
            for (i, text) in days.enumerated() {
                guard let day = CivilDate(iso: text) else {
                    throw PolicyError(path: [list, String(i)], message: "'\(text)' is not a date (YYYY-MM-DD)")
                }
                guard day.year == year else { throw PolicyError(path: [list, String(i)], message: "\(text) is not in \(year)") }
                if list == "workdays", day.weekday <= 5 {
                    throw PolicyError(path: [list, String(i)], message: "\(text) is a weekday already: a make-up working day falls on a weekend")
                }
            }
        }
        if let both = Set(holidays).intersection(workdays).sorted().first {
            throw PolicyError(path: ["workdays"], message: "\(both) is listed as a holiday and as a working day")
        }
    }
}
