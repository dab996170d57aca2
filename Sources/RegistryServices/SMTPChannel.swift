import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// E-mail through an SMTP relay (RFC 5321), one connection per message:
///
///     220 greeting → EHLO → STARTTLS → 220 → (TLS) → EHLO → AUTH PLAIN|LOGIN → 235
///     → MAIL FROM → RCPT TO → DATA → 354 → message, dot-stuffed → 250 <queue id> → QUIT
///
/// With `starttls` the channel refuses to authenticate or send anything when the relay does not
/// offer STARTTLS; `tls` starts TLS at connect (port 465); `none` is for a relay on loopback
/// only (the configuration refuses it elsewhere). The relay's certificate is checked against the
/// system's trust roots or the configured CA file, and its name against the host.
///
/// A 5xx reply is a refusal (`smtp_550`, `smtp_535`, …: dead letter); a 4xx reply, no answer
/// within the reply timeout, a connection or TLS failure is tried again later. The text after
/// the final 250 (the relay's queue id) is kept as the provider's id. Nothing logged here names
/// the recipient, the text or the password, and the relay's reply texts (which may quote the
/// recipient) are not logged at all.
public struct SMTPChannel: MessageChannel {
    public struct Settings: Sendable {
        public enum Security: String, Sendable {
            /// Plain connection, then STARTTLS before anything else; required.
            case startTLS = "starttls"
            /// TLS from the first byte (port 465).
            case tls
            /// No TLS: a relay on loopback only.
            case none
        }

        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        /// The envelope sender and `From:`.
        public var from: String
        public var security: Security
        /// PEM trust roots for the relay's certificate; nil: the system's.
        public var caFile: String?
        /// The name the registry gives in EHLO.
        public var heloName: String
        public var connectTimeout: TimeAmount
        public var replyTimeout: TimeAmount

        public init(
            host: String,
            port: Int,
            username: String? = nil,
            password: String? = nil,
            from: String,
            security: Security = .startTLS,
            caFile: String? = nil,
            heloName: String = "localhost",
            connectTimeout: TimeAmount = .seconds(10),
            replyTimeout: TimeAmount = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.from = from
            self.security = security
            self.caFile = caFile
            self.heloName = heloName
            self.connectTimeout = connectTimeout
            self.replyTimeout = replyTimeout
        }
    }

    let settings: Settings
    let group: any EventLoopGroup
    let tls: Result<NIOSSLContext, any Error>
    let now: @Sendable () -> Date

    public init(_ settings: Settings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, now: @escaping @Sendable () -> Date) {
        self.settings = settings
        self.group = group
        self.now = now
        self.tls = Result {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caFile = settings.caFile { configuration.trustRoots = .file(caFile) }
            return try NIOSSLContext(configuration: configuration)
        }
    }

    /// The whole conversation may last this long, however slowly the relay trickles its replies.
    static let sessionLimit = TimeAmount.minutes(3)

    public func send(_ message: OutgoingMessage, logger: Logger) async throws -> String? {
        guard Self.isPlainAddress(message.recipient) else { throw DeliveryError("smtp_bad_recipient", retryable: false) }
        let data = Self.dotStuffed(Self.format(message, from: settings.from, date: now()))
        let channel: NIOAsyncChannel<SMTPReply, ByteBuffer>
        do {
            channel = try await connect()
        } catch ChannelError.connectTimeout(_) {
            throw DeliveryError("timeout")
        } catch let error as DeliveryError {
            throw error
        } catch {
            throw DeliveryError("unreachable")
        }
        let deadline = channel.channel.eventLoop.scheduleTask(in: Self.sessionLimit) { [channel = channel.channel] in
            channel.pipeline.fireErrorCaught(SMTPTimeout())
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var conversation = Conversation(channel: channel.channel, replies: inbound.makeAsyncIterator(), outbound: outbound)
                return try await converse(&conversation, envelopeTo: message.recipient, data: data, logger: logger)
            }
        } catch let error as DeliveryError {
            logger.debug("smtp: not sent", metadata: ["reason": "\(error.reason)"])
            throw error
        } catch is SMTPTimeout {
            throw DeliveryError("timeout")
        } catch is NIOSSLError {
            throw DeliveryError("tls")
        } catch is BoringSSLError {
            throw DeliveryError("tls")
        } catch is NIOSSLExtraError {
            throw DeliveryError("tls")
        } catch is SMTPReplyDecoder.Malformed {
            throw DeliveryError("smtp_protocol")
        } catch {
            throw DeliveryError("unreachable")
        }
    }

    func connect() async throws -> NIOAsyncChannel<SMTPReply, ByteBuffer> {
        var implicitTLS: NIOSSLContext?
        if settings.security == .tls { implicitTLS = try tlsContext() }
        let host = settings.host
        let replyTimeout = settings.replyTimeout
        return try await ClientBootstrap(group: group)
            .connectTimeout(settings.connectTimeout)
            .connect(host: host, port: settings.port) { [implicitTLS] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let implicitTLS {
                        try pipeline.addHandler(NIOSSLClientHandler(context: implicitTLS, serverHostname: Self.serverName(host)))
                    }
                    try pipeline.addHandler(IdleStateHandler(readTimeout: replyTimeout))
                    try pipeline.addHandler(SMTPReadTimeoutHandler())
                    try pipeline.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    func tlsContext() throws -> NIOSSLContext {
        do { return try tls.get() } catch { throw DeliveryError("tls_configuration") }
    }

    /// The TLS server name: nil for an address literal (checked against the certificate's IP names).
    static func serverName(_ host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// The conversation after connecting; returns the relay's queue id, if it gave one.
    func converse(_ c: inout Conversation, envelopeTo recipient: String, data: String, logger: Logger) async throws -> String? {
        try await c.expect(220)
        var extensions = try await c.command("EHLO \(settings.heloName)", expect: 250).extensions
        if settings.security == .startTLS {
            guard extensions["STARTTLS"] != nil else { throw DeliveryError("smtp_no_starttls") }
            let ready = try await c.command("STARTTLS", expect: 220)
            guard !ready.followedByMore else { throw DeliveryError("smtp_protocol") }
            let context = try tlsContext()
            let host = settings.host
            let channel = c.channel
            try await channel.eventLoop.submit {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: Self.serverName(host))
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
            extensions = try await c.command("EHLO \(settings.heloName)", expect: 250).extensions
        }
        if let username = settings.username, let password = settings.password {
            let mechanisms = extensions["AUTH"] ?? []
            if mechanisms.contains("PLAIN") {
                let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                try await c.command("AUTH PLAIN " + token, expect: 235)
            } else if mechanisms.contains("LOGIN") {
                try await c.command("AUTH LOGIN", expect: 334)
                try await c.command(Data(username.utf8).base64EncodedString(), expect: 334)
                try await c.command(Data(password.utf8).base64EncodedString(), expect: 235)
            } else {
                throw DeliveryError("smtp_no_auth")
            }
        }
        try await c.command("MAIL FROM:<\(settings.from)>", expect: 250)
        try await c.command("RCPT TO:<\(recipient)>", expect: 250, 251)
        try await c.command("DATA", expect: 354)
        try await c.send(data)
        let accepted = try await c.expect(250)
        try? await c.outbound.write(ByteBuffer(string: "QUIT\r\n"))
        _ = try? await c.replies.next()
        logger.debug("smtp: accepted by the relay")
        let queueID = accepted.text.trimmingCharacters(in: .whitespaces)
        return queueID.isEmpty ? nil : String(queueID.prefix(200))
    }

    /// One side of an open connection: commands out, replies in.
    struct Conversation {
        let channel: any Channel
        var replies: NIOAsyncChannelInboundStream<SMTPReply>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

        @discardableResult
        mutating func command(_ line: String, expect codes: Int...) async throws -> SMTPReply {
            try await send(line + "\r\n")
            return try await expect(codes)
        }

        mutating func send(_ text: String) async throws {
            do {
                try await outbound.write(ByteBuffer(string: text))
            } catch {
                // The connection failed under the write: the reason (TLS, a timeout) is on the inbound side.
                _ = try await replies.next()
                throw error
            }
        }

        @discardableResult
        mutating func expect(_ codes: Int...) async throws -> SMTPReply { try await expect(codes) }

        mutating func expect(_ codes: [Int]) async throws -> SMTPReply {
            guard let reply = try await replies.next() else { throw DeliveryError("smtp_closed") }
            guard codes.contains(reply.code) else {
                switch reply.code {
                case 500..<600: throw DeliveryError("smtp_\(reply.code)", retryable: false)
                case 400..<500: throw DeliveryError("smtp_\(reply.code)")
                default: throw DeliveryError("smtp_protocol")
                }
            }
            return reply
        }
    }
}
