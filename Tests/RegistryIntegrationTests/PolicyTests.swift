import Foundation
import RegistryDomain
import RegistryServices
import Testing

@Suite("Policy files")
struct PolicyFileTests {
    func folder(access: String, authentication: String? = nil) throws -> String {
        let dir = NSTemporaryDirectory() + "policies-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try access.write(toFile: dir + "/access.yaml", atomically: true, encoding: .utf8)
        let auth = try authentication ?? String(contentsOfFile: repositoryRoot + "/Policies/authentication.yaml", encoding: .utf8)
        try auth.write(toFile: dir + "/authentication.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test("the shipped policies load")
    func shipped() throws {
        let set = try PolicySet.load(directory: repositoryRoot + "/Policies")
        #expect(set.access.permits(.admin, "audit.verify"))
        #expect(!set.access.permits(.anonymous, "audit.read"))
    }

    @Test(
        "a bad policy names the file, the line and the problem",
        arguments: [
            ("version: 1\nactions:\n  a.read: x\nroles:\n  admin:\n    - a.read\n    - a.write\n", 7, "unknown action 'a.write'"),
            ("version: 1\nactions:\n  a.read: x\nroles:\n  janitor:\n    - a.read\n", 5, "unknown role 'janitor'"),
            ("version: 1\nactions: [\n", 3, "not valid YAML"),
            ("version: one\nactions: {}\nroles: {}\n", 1, "version"),
        ]
    )
    func badPolicy(yaml: String, line: Int, problem: String) throws {
        let dir = try folder(access: yaml)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.file.hasSuffix("access.yaml") == true)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }

    @Test(
        "flags.yaml's repair period: out of range or past the category's expiry is refused naming the file and the line",
        arguments: [
            ("repair_after_years: 1 }", "repair_after_years: 3 }", "not be later than expiry_years"),
            ("repair_after_years: 1 }", "repair_after_years: 0 }", "1 to 50"),
        ]
    )
    func badRepairPeriod(from: String, to: String, problem: String) throws {
        let dir = NSTemporaryDirectory() + "policies-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Policies", toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: dir + "/flags.yaml", encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let index = try #require(lines.firstIndex { $0.hasPrefix("  fare_evasion:") && $0.contains(from) })
        try text.replacingOccurrences(of: lines[index], with: lines[index].replacingOccurrences(of: from, with: to))
            .write(toFile: dir + "/flags.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.file.hasSuffix("flags.yaml") == true)
        #expect(error?.line == index + 1, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }

    @Test("an out-of-range authentication setting is refused")
    func badAuthentication() throws {
        let access = try String(contentsOfFile: repositoryRoot + "/Policies/access.yaml", encoding: .utf8)
        let dir = try folder(
            access: access,
            authentication: """
                version: 1
                session_lifetime_hours: 0
                session_idle_minutes: 30
                password_min_length: 10
                registrations_per_address_per_minute: 5
                registrations_per_minute: 120
                login_throttle: {account_failures_allowed: 5, address_failures_allowed: 30, window_seconds: 900, base_block_seconds: 30, max_block_seconds: 900}
                """
        )
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.line == 2)
    }
}

@Suite("The working-day calendar and the schedule")
struct CalendarPolicyTests {
    /// A copy of the shipped policies with `change` applied to it.
    func copy(_ change: (String) throws -> Void) throws -> String {
        let dir = NSTemporaryDirectory() + "policies-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Policies", toPath: dir)
        try change(dir)
        return dir
    }

    @Test("the shipped calendar runs without a gap to its last year, which is named provisional until the State Council's notice")
    func shipped() throws {
        let set = try PolicySet.load(directory: repositoryRoot + "/Policies")
        let end = try #require(set.revocation.calendarEnd)
        #expect(end.month == 12 && end.day == 31 && end.year >= 2027)
        #expect(set.revocation.holidayDates.contains(CivilDate(iso: "2026-10-01")!))
        #expect(set.schedule.interval(of: "audit-checkpoint") == 3600)
    }

    @Test("a deadline past the calendar's end is refused with a clear error, not guessed")
    func pastTheEnd() throws {
        let policy = try PolicySet.load(directory: repositoryRoot + "/Policies").revocation
        let end = try #require(policy.calendarEnd)
        #expect(try policy.lastObjectionDay(from: end.adding(days: -30)) <= end)
        let error = #expect(throws: RegistryError.self) { try policy.lastObjectionDay(from: end.adding(days: -3)) }
        #expect(error?.code == "calendar_ended" && error?.message.contains("Policies/calendar/") == true)
    }

    @Test(
        "a bad calendar or schedule names the file and the problem",
        arguments: [
            ("calendar/2029.yaml", "year: 2029\nholidays: [2029-01-01]\n", "no file for 2028"),
            ("calendar/2027.yaml", "year: 2027\nholidays: [2028-01-01]\n", "is not in 2027"),
            ("calendar/2027.yaml", "year: 2026\nholidays: []\n", "named 2027.yaml"),
            ("calendar/2027.yaml", "year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-01-04]\n", "falls on a weekend"),
            ("calendar/next.yaml", "year: 2027\nholidays: []\n", "named after its year"),
            (
                "schedule.yaml",
                "version: 1\nevery_seconds: {nightly: 60}\ncredential_notice_days: 30\ngrade_refresh_days: 30\ncalendar_warning_days: 60\n",
                "no such job"
            ),
        ]
    )
    func bad(file: String, yaml: String, problem: String) throws {
        let dir = try copy { dir in try yaml.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: PolicyLoadError.self) { try PolicySet.load(directory: dir) }
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }
}
