import Foundation
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// Service nodes announce themselves in the database, and `/admin` lists those heard from lately.
@Suite("Service nodes")
struct NodeTests {
    static func node(_ id: String, startedAt: Date = Date()) -> NodeStore.Node {
        NodeStore.Node(
            id: id,
            version: "schema 30",
            address: "127.0.0.1:808\(id.count % 10)",
            pid: 4242,
            startedAt: startedAt,
            lastSeenAt: startedAt,
            databaseHost: "db1:6001"
        )
    }

    @Test("a heartbeat records the node once however often it beats; silent nodes are not live, and are forgotten after a while")
    func heartbeat() async throws {
        try await withTestRegistry(configure: { $0.nodeID = "node-a" }) { registry, endpoint in
            #expect(registry.nodes.identity.id == "node-a")
            #expect(registry.nodes.identity.version.hasPrefix("schema "))
            try await registry.nodes.heartbeat(logger: testLogger)
            try await registry.nodes.heartbeat(logger: testLogger)
            try await NodeStore.heartbeat(Self.node("node-b"), forgetAfter: .seconds(3600), database: registry.database, logger: testLogger)
            #expect(try await registry.nodes.live(logger: testLogger).map(\.id) == ["node-a", "node-b"])
            let b = try #require(try await registry.nodes.live(logger: testLogger).first { $0.id == "node-b" })
            #expect(b.databaseHost == "db1:6001" && b.pid == 4242)

            // node-b falls silent for a minute: no longer live, still remembered.
            try await asOwner(endpoint) { client in
                try await client.query("UPDATE service_nodes SET last_seen_at = now() - interval '1 minute' WHERE id = 'node-b'", logger: testLogger)
            }
            #expect(try await registry.nodes.live(logger: testLogger).map(\.id) == ["node-a"])
            // Silent for eight days: the next heartbeat of any node forgets it.
            try await asOwner(endpoint) { client in
                try await client.query("UPDATE service_nodes SET last_seen_at = now() - interval '8 days' WHERE id = 'node-b'", logger: testLogger)
            }
            try await registry.nodes.heartbeat(logger: testLogger)
            let remembered = try await asOwner(endpoint) { client in
                var ids: [String] = []
                for try await id in try await client.query("SELECT id FROM service_nodes ORDER BY id", logger: testLogger).decode(String.self) {
                    ids.append(id)
                }
                return ids
            }
            #expect(remembered == ["node-a"])
        }
    }

    @Test("an administrator's home page lists the live nodes, this one marked; others cannot see it")
    func adminPage() async throws {
        try await withTestApp(configure: { $0.nodeID = "node-home" }) { registry, _, client in
            try await registry.nodes.heartbeat(logger: testLogger)
            try await NodeStore.heartbeat(Self.node("node-other"), forgetAfter: .seconds(3600), database: registry.database, logger: testLogger)
            let (admin, _) = try await PagesAdminToolsTests.admin(registry, client, email: "nodes@pages.cn")
            var page = admin
            page.cookies["lang"] = "en"
            let html = String(buffer: try await page.get("/admin").body)
            #expect(html.contains("id=\"service-nodes\""))
            #expect(html.contains("node-home <span class=\"badge\">this node</span>"))
            #expect(html.contains("node-other"))
            #expect(html.contains("db1:6001"))
            #expect(html.contains("<strong id=\"node-count\">2</strong>"))

            page.cookies["lang"] = "zh-CN"
            let zh = String(buffer: try await page.get("/admin").body)
            #expect(zh.contains("服务节点") && zh.contains("本节点") && zh.contains("唯一配置的数据库"))
        }
    }
}
