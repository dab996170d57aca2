import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mustache
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The server-rendered SVG charts: the builder (through the same `_svg` partial the pages use),
/// the administrators' dashboard and the worker's grade history.
@Suite("Web pages: charts")
struct PagesChartsTests {
    static let library: MustacheLibrary = try! PageKit.loadTemplates(directory: PagesTextTests.web + "/templates")

    static func svg(_ node: SVGNode) -> String {
        library.render(node.view, withTemplate: "_svg") ?? ""
    }

    static func list(_ parts: [String]) -> String { parts.joined(separator: ", ") }

    static func bars(_ node: SVGNode) -> [SVGNode] { node.all.filter { $0.attribute("class") == "chart-bar" } }

    @Test("labels and titles are text: markup in them is escaped, never an element")
    func escapes() {
        let chart = Charts.bars(
            id: "c",
            title: "T <b>&",
            bars: [
                .init(label: "<script>alert(1)</script>", value: 3),
                .init(label: "\"quoted\" 'x'", value: 1),
            ],
            noData: "none",
            list: Self.list
        )
        let html = Self.svg(chart)
        #expect(html.hasPrefix("<svg "))
        #expect(html.contains("role=\"img\""))
        #expect(html.contains("<title id=\"c-title\">T &lt;b&gt;&amp;</title>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("\"quoted\""))
        #expect(!html.contains("style="))
        #expect(html.contains("<desc id=\"c-desc\">"))
        let columns = Charts.columns(
            id: "f",
            title: "flags",
            categories: ["1"],
            series: [.init(name: "<img src=x onerror=alert(1)>", values: [2])],
            noData: "none",
            list: Self.list
        )
        let columnsHTML = Self.svg(columns)
        #expect(columnsHTML.contains("&lt;img src=x onerror=alert(1)&gt;"))
        #expect(!columnsHTML.contains("<img"))
    }

    @Test("bar lengths and column heights are proportional to the values, and each value is written out")
    func proportional() throws {
        let chart = Charts.bars(
            id: "c",
            title: "t",
            bars: [.init(label: "a", value: 1), .init(label: "b", value: 2), .init(label: "c", value: 4)],
            noData: "none",
            list: Self.list
        )
        let widths = Self.bars(chart).compactMap { $0.attribute("width").flatMap(Double.init) }
        #expect(widths.count == 3)
        #expect(abs(widths[1] - 2 * widths[0]) < 0.2 && abs(widths[2] - 4 * widths[0]) < 0.2)
        #expect(chart.all.filter { $0.attribute("class") == "chart-value" }.map(\.text) == ["1", "2", "4"])
        #expect(chart.all.first { $0.name == "desc" }?.text == "a 1, b 2, c 4")

        let columns = Charts.columns(
            id: "f",
            title: "t",
            categories: ["1", "2", "3"],
            series: [.init(name: "s", values: [3, 0, 6])],
            noData: "none",
            list: Self.list
        )
        let heights = Self.bars(columns).compactMap { $0.attribute("height").flatMap(Double.init) }
        #expect(heights.count == 2)
        #expect(abs(heights[1] - 2 * heights[0]) < 0.2)
        #expect(heights[1] == Double(Charts.columnHeight))
    }

    @Test("no data, or only zeros, renders a 'no data' text instead of bars; one grade point is a dot, none is 'no data'")
    func empty() {
        for chart in [
            Charts.bars(id: "c", title: "t", bars: [], noData: "Nothing yet", list: Self.list),
            Charts.bars(id: "c", title: "t", bars: [.init(label: "a", value: 0)], noData: "Nothing yet", list: Self.list),
            Charts.columns(id: "c", title: "t", categories: ["1", "2"], series: [], noData: "Nothing yet", list: Self.list),
            Charts.steps(
                id: "c",
                title: "t",
                points: [],
                now: Date(),
                range: 0...100,
                noData: "Nothing yet",
                dateText: { _ in "d" },
                list: Self.list
            ),
        ] {
            let html = Self.svg(chart)
            #expect(html.contains("class=\"chart-empty\""))
            #expect(html.contains(">Nothing yet</text>"))
            #expect(Self.bars(chart).isEmpty)
            #expect(html.contains("role=\"img\""))
        }
        let one = Charts.steps(
            id: "g",
            title: "t",
            points: [.init(at: Date(), value: 72.5, label: "B")],
            now: Date(),
            range: 0...100,
            noData: "none",
            dateText: { _ in "2026-01-01" },
            list: Self.list
        )
        #expect(one.all.filter { $0.name == "circle" }.count == 1)
        #expect(!Self.svg(one).contains("chart-empty"))
        let now = Date()
        let two = Charts.steps(
            id: "g",
            title: "t",
            points: [
                .init(at: now.addingTimeInterval(-86_400), value: 50, label: "C"),
                .init(at: now, value: 80, label: "A"),
            ],
            now: now,
            range: 0...100,
            noData: "none",
            dateText: { _ in "d" },
            list: Self.list
        )
        #expect(two.all.filter { $0.name == "circle" }.count == 2)
        #expect(two.all.first { $0.name == "path" }?.attribute("d")?.contains(" H ") == true)
    }

    @Test("the dashboard renders SVG charts for an administrator (linked from /admin) and is refused to an employer")
    func dashboard() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            let source = try await registry.flags.registerSource(
                .init(
                    name: "police-js",
                    kind: "police",
                    displayName: "<b>Police</b>",
                    requireSignature: false
                ),
                caller: admin,
                logger: testLogger
            )
            let sourceID = try #require(UUID(uuidString: source.id))
            try await registry.database.query(
                """
                INSERT INTO flags (source_id, source_ref, id_blind_index, category, severity, status, occurred_on, content_hash)
                VALUES (\(sourceID), 'ref-1', decode(repeat('ab', 32), 'hex'), 'theft', 3, 'alleged', CURRENT_DATE, decode(repeat('cd', 32), 'hex'))
                """,
                logger: testLogger
            )
            try await registry.database.query(
                """
                INSERT INTO grades (worker_id, grade, composite, ethics_score, skill_score, policy_version)
                VALUES (\(h.workerID), 'B', 75, 80, 70, 'test') ON CONFLICT (worker_id) DO NOTHING
                """,
                logger: testLogger
            )

            _ = try await registry.makeUser(role: .admin, email: "dash@pages.cn", password: "admin password!")
            var page = PageClient(client: client)
            _ = try await page.signIn(email: "dash@pages.cn", password: "admin password!")
            #expect(String(buffer: try await page.get("/admin").body).contains("href=\"/admin/dashboard\""))
            let response = try await page.get("/admin/dashboard")
            #expect(response.status == .ok)
            let html = String(buffer: response.body)
            #expect(html.contains("<svg"))
            for id in ["chart-case-states", "chart-case-ages", "chart-grades", "chart-flags"] {
                #expect(html.contains("id=\"\(id)\""), "\(id)")
            }
            #expect(html.contains("<title id=\"chart-grades-title\">等级分布</title>"))
            #expect(html.contains("&lt;b&gt;Police&lt;/b&gt; (1)"))
            #expect(!html.contains("<b>Police"))
            #expect(html.contains("暂无数据"))  // no open case yet
            #expect(!html.contains("style="))

            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: PagesEmployerTests.employerPassword)
            let refused = try await employer.get("/admin/dashboard")
            #expect(refused.status == .forbidden)
            #expect(!String(buffer: refused.body).contains("<svg"))

            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: PagesEmployerTests.phone(1), password: PagesEmployerTests.workerPassword)
            let home = String(buffer: try await worker.get("/worker").body)
            #expect(home.contains("id=\"grade-history-chart\""))
            #expect(home.contains("<title id=\"grade-history-chart-title\">我的综合分变化</title>"))
            #expect(try await worker.get("/admin/dashboard").status == .forbidden)
        }
    }
}
