import Logging
import PostgresNIO

/// Runs a `PostgresClient` for the duration of `body`. The body starts only once the client's
/// `run()` has begun (it marks itself running before its first suspension), so that no connection
/// is leased from a client that is not running yet — which PostgresNIO warns about on every start.
public func withPostgresClient<Result: Sendable>(
    _ configuration: PostgresClient.Configuration,
    logger: Logger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (PostgresClient) async throws -> Result
) async throws -> Result {
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self, returning: Result.self, isolation: isolation) { group in
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        group.addTask {
            signal.yield()
            signal.finish()
            await client.run()
        }
        defer { group.cancelAll() }
        for await _ in started {}
        // `run()` sets its flag in the few instructions after the signal; give it that moment.
        try await Task.sleep(for: .milliseconds(5))
        return try await body(client)
    }
}
