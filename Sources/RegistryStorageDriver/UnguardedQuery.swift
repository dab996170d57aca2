import Logging
import PostgresNIO

extension PostgresConnection {
    /// PostgresNIO's own `query(_:logger:file:line:)`, under another name. RegistryStorage puts a
    /// guard over that name (`PostgresConnection+Guard.swift`); this is what the guard calls.
    /// Nothing else should (`make lint` checks).
    public func unguardedQuery(_ query: PostgresQuery, logger: Logger, file: String, line: Int) async throws -> PostgresRowSequence {
        try await self.query(query, logger: logger, file: file, line: line)
    }

    /// PostgresNIO's own `execute(_:logger:file:line:)` of a prepared statement that returns rows.
    public func unguardedExecute<Statement: PostgresPreparedStatement, Row>(
        _ statement: Statement,
        logger: Logger,
        file: String,
        line: Int
    ) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, Row> where Row == Statement.Row {
        try await self.execute(statement, logger: logger, file: file, line: line)
    }

    /// PostgresNIO's own `copyFrom(table:columns:format:logger:file:line:writeData:)`.
    public func unguardedCopyFrom(
        table: String,
        columns: [String],
        format: PostgresCopyFromFormat,
        logger: Logger,
        file: String,
        line: Int,
        writeData: (PostgresCopyFromWriter) async throws -> Void
    ) async throws {
        try await self.copyFrom(table: table, columns: columns, format: format, logger: logger, file: file, line: line, writeData: writeData)
    }
}
