import Logging
import PostgresNIO

/// Runs a `PostgresClient` for the duration of `body`.
public func withPostgresClient<Result: Sendable>(
    _ configuration: PostgresClient.Configuration,
    logger: Logger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (PostgresClient) async throws -> Result
) async throws -> Result {
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self, returning: Result.self, isolation: isolation) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
