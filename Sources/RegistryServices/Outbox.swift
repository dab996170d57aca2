import Foundation
import Logging
import RegistryDomain
import RegistryStorage
import Yams

/// The texts of the messages the registry sends, in each language (`Web/i18n/messages/`).
public struct MessageTemplates: Sendable {
    public static let languages = ["zh-CN", "en"]
    let texts: [String: [String: String]]

    public init(texts: [String: [String: String]]) { self.texts = texts }

    /// Loads every language's file; the files must name the same kinds.
    public static func load(directory: String) throws -> MessageTemplates {
        var texts: [String: [String: String]] = [:]
        for language in languages {
            let path = directory + "/\(language).yaml"
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("\(path): missing") }
            do {
                texts[language] = try YAMLDecoder().decode([String: String].self, from: data)
            } catch {
                throw ConfigurationError("\(path): \(error)")
            }
        }
        let kinds = Set(texts["zh-CN"]?.keys ?? [:].keys)
        for language in languages where Set(texts[language]?.keys ?? [:].keys) != kinds {
            throw ConfigurationError("\(directory)/\(language).yaml: the message kinds differ from zh-CN.yaml")
        }
        return MessageTemplates(texts: texts)
    }

    public var kinds: Set<String> { Set(texts["zh-CN"]?.keys ?? [:].keys) }

    /// The text of `kind` in `language` (Chinese when that language has none) with its
    /// parameters filled in; nil for an unknown kind.
    public func render(_ kind: String, language: String, _ parameters: [String: String]) -> String? {
        guard let template = texts[language]?[kind] ?? texts["zh-CN"]?[kind] else { return nil }
        var text = template
        for (name, value) in parameters { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// The names of the `{parameters}` the Chinese text of `kind` uses, in order of appearance
    /// (each once): what a provider that sends approved templates instead of text needs.
    public func parameterNames(of kind: String) -> [String] {
        guard let template = texts["zh-CN"]?[kind] else { return [] }
        var names: [String] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            let name = String(rest[rest.index(after: open)..<close])
            if !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !names.contains(name) {
                names.append(name)
            }
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}

/// A message ready to go: its text rendered, its idempotency key for the gateway, and the
/// parameters its kind's text uses (for a provider that sends a template code and parameters).
public struct OutgoingMessage: Sendable {
    public var id: Int64
    public var key: String
    public var channel: String
    public var recipient: String
    public var kind: String
    public var text: String
    /// The parameters of the kind's text (for providers that send a template code and its
    /// parameters rather than the text).
    public var parameters: [String: String] = [:]

    public init(id: Int64, key: String, channel: String, recipient: String, kind: String, text: String, parameters: [String: String] = [:]) {
        self.id = id
        self.key = key
        self.channel = channel
        self.recipient = recipient
        self.kind = kind
        self.text = text
        self.parameters = parameters
    }
}

/// A way to reach people: an SMS gateway, an e-mail relay, the demo mailbox. `send` returns the
/// provider's id for the message; it throws `DeliveryError` when the message did not go.
public protocol MessageChannel: Sendable {
    func send(_ message: OutgoingMessage, logger: Logger) async throws -> String?
}

/// Why a delivery failed, in words that never contain the message.
public struct DeliveryError: Error, CustomStringConvertible {
    /// The class of failure (`timeout`, `http_503`, `refused`, …), stored as the message's last error.
    public var reason: String
    /// False when trying again cannot help (the gateway refused the number or the text).
    public var retryable: Bool

    public init(_ reason: String, retryable: Bool = true) {
        self.reason = reason
        self.retryable = retryable
    }

    public var description: String { reason }
}

/// Demo mode: each message is kept, as its recipient would read it, in the demo mailbox that
/// administrators open at `/demo/outbox`. Never configured outside demo mode.
public struct DemoMailboxChannel: MessageChannel {
    let database: Database

    public init(database: Database) { self.database = database }

    public func send(_ message: OutgoingMessage, logger: Logger) async throws -> String? {
        try await NotificationStore.deliverToDemoMailbox(
            message.id,
            channel: message.channel,
            recipient: message.recipient,
            kind: message.kind,
            body: message.text,
            database: database,
            logger: logger
        )
        return "demo-\(message.id)"
    }
}

/// Delivers the outbox. Each round claims due messages with a lease (no transaction stays open
/// while a message travels), renders each in its recipient's language, hands it to its channel
/// with its idempotency key, and marks it sent, failed (tried again with exponential backoff and
/// jitter) or, after the policy's attempts, dead. Logs name the message's id, kind and a masked
/// recipient: never its text or a code.
///
/// At-least-once, made once: if the node dies after the gateway accepted a message and before it
/// was marked sent, the lease runs out and another dispatcher sends it again with the same key,
/// which the gateway (and the provider, where it keeps idempotency keys) drops as a repeat.
public struct OutboxDispatcher: Sendable {
    let database: Database
    let policy: MessagePolicy
    let templates: MessageTemplates
    let channels: [String: any MessageChannel]
    let jitter: @Sendable () -> Double

    public init(
        database: Database,
        policy: MessagePolicy,
        templates: MessageTemplates,
        channels: [String: any MessageChannel],
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.database = database
        self.policy = policy
        self.templates = templates
        self.channels = channels
        self.jitter = jitter
    }

    /// One round; returns how many messages it claimed.
    @discardableResult
    public func dispatchOnce(logger: Logger) async throws -> Int {
        let due = try await NotificationStore.claimDue(
            limit: policy.batchSize,
            leaseSeconds: policy.leaseSeconds,
            database: database,
            logger: logger
        )
        // Up to `sendConcurrency` messages travel at once; each is marked on its own.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = due.makeIterator()
            for _ in 0..<Self.sendConcurrency {
                guard let message = next.next() else { break }
                group.addTask { try await deliver(message, logger: logger) }
            }
            while try await group.next() != nil {
                if let message = next.next() { group.addTask { try await deliver(message, logger: logger) } }
            }
        }
        return due.count
    }

    /// Messages one dispatcher has in flight at once.
    public static let sendConcurrency = 8

    /// Renders one claimed message, hands it to its channel and marks the outcome.
    func deliver(_ message: NotificationStore.Pending, logger: Logger) async throws {
        let metadata: Logger.Metadata = [
            "message": "\(message.id)", "kind": "\(message.template)", "channel": "\(message.channel)",
            "to": "\(Self.mask(message.recipient))", "attempt": "\(message.attempt)",
        ]
        let providerID: String?
        do {
            guard let channel = channels[message.channel] else { throw DeliveryError("no_\(message.channel)_channel", retryable: false) }
            guard let text = templates.render(message.template, language: message.language, message.payload) else {
                throw DeliveryError("unknown_kind", retryable: false)
            }
            let used = Set(templates.parameterNames(of: message.template))
            let outgoing = OutgoingMessage(
                id: message.id,
                key: message.key,
                channel: message.channel,
                recipient: message.recipient,
                kind: message.template,
                text: text,
                parameters: message.payload.filter { used.contains($0.key) }
            )
            providerID = try await channel.send(outgoing, logger: logger)
        } catch {
            let failure = error as? DeliveryError ?? DeliveryError("error")
            let retry = failure.retryable && message.attempt < policy.maxAttempts
            let delay = retry ? policy.retryDelay(afterFailures: message.attempt, jitter: jitter()) : nil
            try await NotificationStore.markFailed(
                message.id,
                error: failure.reason,
                retryAfterSeconds: delay,
                database: database,
                logger: logger
            )
            var failed = metadata
            failed["reason"] = "\(failure.reason)"
            if let delay {
                failed["retry_in_s"] = "\(delay)"
                logger.warning("message not delivered; will retry", metadata: failed)
            } else {
                logger.error("message not delivered; now a dead letter", metadata: failed)
            }
            return
        }
        // Sent. Should this mark fail (the database gone), the lease runs out and the message
        // goes again with the same key, which the gateway drops as a repeat.
        try await NotificationStore.markSent(message.id, providerID: providerID, database: database, logger: logger)
        logger.info("message sent", metadata: metadata)
    }

    /// A phone number or e-mail address for a log line: enough to tell two apart, not to reach them.
    public static func mask(_ recipient: String) -> String {
        if let at = recipient.firstIndex(of: "@") {
            return String(recipient.prefix(1)) + "***" + String(recipient[at...])
        }
        guard recipient.count > 7 else { return "***" }
        return String(recipient.prefix(3)) + "****" + String(recipient.suffix(4))
    }
}

/// Texts to a worker about her own file, queued in the transaction of the change they announce.
enum WorkerTexts {
    /// Queues an SMS of `kind` to the worker's phone (nothing when she has none). `key` names the
    /// event, so the same event never texts her twice.
    static func send(
        _ kind: String,
        to workerID: UUID,
        _ parameters: [String: String],
        key: String,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        guard let worker = try await WorkerStore.get(workerID, on: connection, logger: logger), let phone = worker.phone else { return }
        try await NotificationStore.enqueue(
            channel: "sms",
            recipient: phone,
            template: kind,
            payload: parameters,
            key: key,
            on: connection,
            logger: logger
        )
    }
}

/// E-mails to agencies, queued in the caller's transaction.
enum AgencyTexts {
    /// Queues an e-mail of `kind` to the agency's contact address (nothing when it has none).
    /// `key` names the event, so the same event never writes to the agency twice.
    static func send(
        _ kind: String,
        to agencyID: UUID,
        _ parameters: [String: String],
        key: String,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        guard let agency = try await AgencyStore.find(id: agencyID, on: connection, logger: logger), let email = agency.contactEmail else {
            return
        }
        try await NotificationStore.enqueue(
            channel: "email",
            recipient: email,
            template: kind,
            payload: parameters,
            key: key,
            on: connection,
            logger: logger
        )
    }
}
