import Foundation
import Hummingbird
import Logging
import RegistryDomain
import RegistryServices
import RegistryStorage

/// The administrators' dashboard: open cases by state and by age, the grade distribution, and
/// flags received per day by source, as server-rendered SVG charts.
struct DashboardPages {
    let kit: PageKit

    static let ageBuckets = ["lt7", "d7to30", "gt30"]
    static let grades = ["A", "B", "C", "D", "REVOKED"]
    static let gradeFills = ["A": "#1e6b2f", "B": "#0b5394", "C": "#8a6100", "D": "#a4161a", "REVOKED": "#5b1013"]
    static let days = 14
    /// Days are counted in China Standard Time, like every date the pages show.
    static let zone = TimeZone(secondsFromGMT: 8 * 3600)!

    typealias Numbers = DashboardService.Numbers

    /// The dashboard's numbers (open cases by state and age, grades, flags of the last `days` days).
    static func numbers(_ registry: Registry, now: Date? = nil, logger: Logger) async throws -> Numbers {
        let now = now ?? registry.clock.now
        let since = dayStart(now).addingTimeInterval(-Double(days - 1) * 86_400)
        return try await registry.dashboard.numbers(now: now, flagsSince: since, utcOffsetSeconds: zone.secondsFromGMT(), logger: logger)
    }

    static func dayStart(_ date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.startOfDay(for: date)
    }

    /// The last `days` days, oldest first, as yyyy-MM-dd keys and short M/d labels.
    static func lastDays(_ now: Date) -> [(key: String, label: String)] {
        let key = DateFormatter()
        let label = DateFormatter()
        for f in [key, label] {
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = zone
        }
        key.dateFormat = "yyyy-MM-dd"
        label.dateFormat = "d"
        let today = dayStart(now).addingTimeInterval(12 * 3600)
        return (0..<days).reversed().map { back in
            let day = today.addingTimeInterval(-Double(back) * 86_400)
            return (key.string(from: day), label.string(from: day))
        }
    }

    /// The three charts for `numbers`, in the page's language.
    static func charts(_ numbers: Numbers, page: PageScope, now: Date? = nil) -> [String: Any] {
        let now = now ?? page.registry.clock.now
        let t = page.t
        let noData = t.text("dashboard.no_data")
        let states = CaseState.allCases.filter(\.isOpen).map(\.rawValue)
        let byState = Charts.bars(
            id: "chart-case-states",
            title: t.text("dashboard.cases_by_state"),
            bars: states.map { .init(label: page.label("case_state", $0), value: numbers.casesByState[$0] ?? 0) },
            noData: noData,
            list: page.list
        )
        let byAge = Charts.bars(
            id: "chart-case-ages",
            title: t.text("dashboard.cases_by_age"),
            bars: zip(ageBuckets, numbers.caseAges).map { .init(label: t.text("dashboard.age.\($0)"), value: $1, fill: "#8a6100") },
            noData: noData,
            list: page.list
        )
        let grades = Charts.bars(
            id: "chart-grades",
            title: t.text("dashboard.grades"),
            bars: Self.grades.map { .init(label: page.label("grade", $0), value: numbers.grades[$0] ?? 0, fill: gradeFills[$0]) },
            noData: noData,
            list: page.list
        )
        let days = lastDays(now)
        let flags = Charts.columns(
            id: "chart-flags",
            title: t.text("dashboard.flags_per_day", ["days": String(Self.days)]),
            categories: days.map(\.label),
            series: numbers.flags.keys.sorted().map { source in
                .init(name: source, values: days.map { numbers.flags[source]?[$0.key] ?? 0 })
            },
            noData: noData,
            list: page.list
        )
        return [
            "case_states": byState.view, "case_ages": byAge.view, "grades": grades.view, "flags": flags.view,
            "open_total": String(numbers.caseAges.reduce(0, +)), "graded_total": String(numbers.grades.values.reduce(0, +)),
            "flags_from": days.first.map { $0.key } ?? "", "flags_to": days.last.map { $0.key } ?? "",
        ]
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/dashboard", action: "cases.queue") { request, context in
            let page = kit.scope(request, context)
            let numbers = try await Self.numbers(page.registry, logger: context.logger)
            return page.render("admin_dashboard", Self.charts(numbers, page: page))
        }
    }
}
