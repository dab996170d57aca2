import Foundation
import PostgresNIO
import RegistryServices
import RegistryStorage
import Testing

@Suite("Migrations")
struct MigrationTests {
    let migrator: Migrator

    init() throws {
        migrator = try Migrator(directory: repositoryRoot + "/Migrations")
    }

    func appliedCount(_ client: PostgresClient) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::int FROM schema_migrations", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    @Test("apply once, in order; a second run applies nothing")
    func idempotent() async throws {
        let endpoint = try await TestCluster.shared.emptyDatabase()
        try await asOwner(endpoint) { client in
            let first = try await migrator.migrate(client: client, logger: testLogger)
            #expect(first == migrator.migrations.map(\.version))
            let second = try await migrator.migrate(client: client, logger: testLogger)
            #expect(second.isEmpty)
            #expect(try await appliedCount(client) == migrator.migrations.count)
        }
    }

    @Test("a landed migration whose file changed stops startup with a clear message")
    func changedMigrationRefused() async throws {
        let endpoint = try await TestCluster.shared.emptyDatabase()
        try await asOwner(endpoint) { client in
            try await migrator.migrate(client: client, logger: testLogger)
            var edited = migrator.migrations
            edited[0] = Migrator.Migration(version: edited[0].version, name: edited[0].name, sql: edited[0].sql + "\n-- edited\n")
            let error = await #expect(throws: MigrationError.self) {
                try await Migrator(migrations: edited).migrate(client: client, logger: testLogger)
            }
            #expect(error?.description.contains("was changed after it was applied") == true)
            #expect(error?.description.contains(edited[0].name) == true)
        }
    }

    @Test("a database newer than the program is refused")
    func unknownMigrationRefused() async throws {
        let endpoint = try await TestCluster.shared.emptyDatabase()
        try await asOwner(endpoint) { client in
            try await migrator.migrate(client: client, logger: testLogger)
            let older = Migrator(migrations: Array(migrator.migrations.dropLast()))
            await #expect(throws: MigrationError.self) {
                try await older.migrate(client: client, logger: testLogger)
            }
        }
    }

    @Test("two nodes migrating at once do not race: every migration is applied exactly once")
    func concurrent() async throws {
        let endpoint = try await TestCluster.shared.emptyDatabase()
        let config = endpoint.clientConfiguration(asOwner: true, maxConnections: 1)
        let migrator = self.migrator
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await withPostgresClient(config, logger: testLogger) { client in
                        try await migrator.migrate(client: client, logger: testLogger)
                    }
                }
            }
            var all: [[Int]] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.flatMap { $0 }.sorted() == migrator.migrations.map(\.version))
        let applied = try await asOwner(endpoint) { client in try await appliedCount(client) }
        #expect(applied == migrator.migrations.count)
    }

    @Test("a failing migration leaves nothing behind")
    func failingMigrationRollsBack() async throws {
        let endpoint = try await TestCluster.shared.emptyDatabase()
        let broken = Migrator(migrations: [
            .init(version: 1, name: "0001_broken", sql: "CREATE TABLE half_done (id int); SELECT * FROM no_such_table;")
        ])
        try await asOwner(endpoint) { client in
            await #expect(throws: MigrationError.self) { try await broken.migrate(client: client, logger: testLogger) }
            let rows = try await client.query("SELECT count(*)::int FROM pg_tables WHERE tablename = 'half_done'", logger: testLogger)
            #expect(try await single(rows, Int.self) == 0)
            #expect(try await appliedCount(client) == 0)
        }
    }

    @Test("the statement splitter respects quotes, dollar bodies and comments")
    func splitter() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (t text DEFAULT 'x;y');
            /* block; comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT "odd;name" FROM a
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements[0] == "CREATE TABLE a (t text DEFAULT 'x;y')")
        #expect(statements[1].hasSuffix("$body$ BEGIN RETURN 1; END $body$"))
        #expect(statements[3] == "SELECT \"odd;name\" FROM a")
    }
}
