import Foundation
import Logging

/// Keeps the registry's log lines in memory so a test can read what was logged.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(message: String, metadata: Logger.Metadata)] = []

    func append(_ message: String, _ metadata: Logger.Metadata) {
        lock.withLock { lines.append((message, metadata)) }
    }

    /// The `actor` fields of the "request refused" lines for `path`.
    func refusals(path: String) -> [String] {
        lock.withLock {
            lines.filter { $0.message == "request refused" && $0.metadata["path"]?.description == path }
                .compactMap { $0.metadata["actor"]?.description }
        }
    }

    /// Every line, message and metadata as text (for checking that something never appears).
    var text: String {
        lock.withLock { lines.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n") }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        capture.append(message.description, self.metadata.merging(metadata ?? [:]) { $1 })
    }
}
