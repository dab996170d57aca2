import Logging
import NIOCore
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
/// statement never ran.
///
/// The check and the write run together on the connection's event loop (the task prefers an
/// executor that runs its jobs there, and PostgresNIO writes without suspending first), where
/// the channel closes: it cannot close between them. What the server ends while a statement
/// runs, PostgresNIO answers itself.
extension PostgresConnection {
    func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        try await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop)) {
            eventLoop.assertInEventLoop()  // debug builds (the tests) prove the premise
            guard !isClosed else { throw ConnectionClosed() }
            return try await unguardedQuery(query, logger: logger, file: file, line: line)
        }
    }

    func execute<Statement: PostgresPreparedStatement, Row>(
        _ statement: Statement,
        logger: Logger,
        file: String = #fileID,
        line: Int = #line
    ) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, Row> where Row == Statement.Row {
        try await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop)) {
            eventLoop.assertInEventLoop()  // debug builds (the tests) prove the premise
            guard !isClosed else { throw ConnectionClosed() }
            return try await unguardedExecute(statement, logger: logger, file: file, line: line)
        }
    }

    /// COPY's writer runs the caller's code (building rows), which must not hold the event loop:
    /// checked first only. It runs inside a transaction, after statements that were checked.

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

/// Runs a task's jobs on one event loop (a task executor preference): the statement's check and
/// PostgresNIO's write, which does not suspend before it, happen there in one go.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
