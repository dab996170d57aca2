import Logging
import PostgresNIO
import RegistryStorageDriver

/// A statement refused because its connection was already closed: nothing was sent.
public struct ConnectionClosed: Error, CustomStringConvertible {
    public var description: String { "the database connection was closed before the statement was sent" }
}

/// Every statement the stores send goes through these: each declaration shadows PostgresNIO's
/// own method of the same name and signature within this module (they are internal, so other
/// modules see PostgresNIO's, unchanged).
///
/// PostgresNIO 1.33 writes a statement to its connection's channel without a promise; on a
/// channel already closed (the server ended the session, or a pool handed out a connection whose
/// close it has not heard of yet) the write is dropped and the statement waits for ever. Here a
/// closed connection is refused instead, before anything is sent, so the caller knows that the
/// statement never ran. (A connection that closes in the instant between this check and the
/// write is still exposed; the server ending a session while a statement runs is answered by
/// PostgresNIO itself.)
extension PostgresConnection {
    func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        guard !isClosed else { throw ConnectionClosed() }
        return try await unguardedQuery(query, logger: logger, file: file, line: line)
    }

    func execute<Statement: PostgresPreparedStatement, Row>(
        _ statement: Statement,
        logger: Logger,
        file: String = #fileID,
        line: Int = #line
    ) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, Row> where Row == Statement.Row {
        guard !isClosed else { throw ConnectionClosed() }
        return try await unguardedExecute(statement, logger: logger, file: file, line: line)
    }

    func copyFrom(
        table: String,
        columns: [String] = [],
        format: PostgresCopyFromFormat = .text(.init()),
        logger: Logger,
        file: String = #fileID,
        line: Int = #line,
        writeData: (PostgresCopyFromWriter) async throws -> Void
    ) async throws {
        guard !isClosed else { throw ConnectionClosed() }
        try await unguardedCopyFrom(table: table, columns: columns, format: format, logger: logger, file: file, line: line, writeData: writeData)
    }
}
