import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// The recording SMTP relay (Tests/support/smtp_server.py, aiosmtpd) on a loopback port, for one test.
final class RecordingRelay: @unchecked Sendable {
    let process = Process()
    let folder: String
    let port: Int
    /// The relay's self-signed certificate (nil with `noTLS`).
    let certificate: String?
    let user = "registry-mailer"
    let password = "p@ss:wörd 密码"

    init(
        failFirst: Int = 0,
        failCode: Int = 451,
        noTLS: Bool = false,
        flags: [String] = [],
        mechanisms: String = "PLAIN,LOGIN"
    ) throws {
        folder = NSTemporaryDirectory() + "smtp-relay-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // Debian's interpreter: python3-aiosmtpd installs for it, whichever python3 is first on PATH.
        let debian = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
        process.executableURL = URL(fileURLWithPath: debian ? "/usr/bin/python3" : "/usr/bin/env")
        process.arguments =
            (debian ? [] : ["python3"]) + [
                repositoryRoot + "/Tests/support/smtp_server.py", "--record", folder + "/smtp.jsonl", "--user", user, "--password", password,
                "--ready-file", folder + "/port", "--cert-file", folder + "/cert", "--fail-first", String(failFirst), "--fail-code",
                String(failCode), "--mechanisms", mechanisms,
            ] + (noTLS ? ["--no-tls"] : []) + flags
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port = ""
        for _ in 0..<600 {
            port = (try? String(contentsOfFile: folder + "/port", encoding: .utf8)) ?? ""
            if !port.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        self.port = Int(port) ?? 0
        certificate = noTLS ? nil : try? String(contentsOfFile: folder + "/cert", encoding: .utf8)
    }

    deinit {
        // Python dies at SIGTERM at once. No wait for it: on Linux `isRunning` (like
        // `waitUntilExit()`) is only updated by a run loop that a test's thread does not drive.
        process.terminate()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// How the registry reaches this relay: STARTTLS, its certificate trusted, AUTH as its user.
    func settings(password: String? = nil, caFile: String?? = .none, security: SMTPChannel.Settings.Security = .startTLS) -> SMTPChannel.Settings {
        .init(
            host: "127.0.0.1",
            port: port,
            username: user,
            password: password ?? self.password,
            from: "registry@example.cn",
            security: security,
            caFile: caFile ?? certificate,
            heloName: "registry.test",
            replyTimeout: .seconds(30)
        )
    }

    /// What the relay saw, oldest first: `auth`, `mail` and `message` events.
    var events: [[String: Any]] {
        guard let text = try? String(contentsOfFile: folder + "/smtp.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func events(_ kind: String) -> [[String: Any]] { events.filter { $0["event"] as? String == kind } }
}

/// A received message taken apart: unfolded headers and the body decoded from base64.
struct ReceivedMail {
    var headers: [String: String] = [:]
    var body = ""

    init(_ raw: String) {
        let parts = raw.components(separatedBy: "\r\n\r\n")
        let head = parts[0].replacingOccurrences(of: "\r\n ", with: " ")
        for line in head.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[String(line[..<colon]).lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        let encoded = parts.dropFirst().joined(separator: "\r\n\r\n").replacingOccurrences(of: "\r\n", with: "")
        body = Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// An RFC 2047 header decoded (only the `=?UTF-8?B?…?=` words the registry writes).
    func decoded(_ name: String) -> String {
        (headers[name] ?? "").split(separator: " ").map { word -> String in
            guard word.hasPrefix("=?UTF-8?B?"), word.hasSuffix("?="), let data = Data(base64Encoded: String(word.dropFirst(10).dropLast(2))) else {
                return String(word)
            }
            return String(decoding: data, as: UTF8.self)
        }.joined()
    }
}

@Suite("E-mail through a real SMTP relay on loopback")
struct SMTPTests {
    let recipient = "ops@police.example.cn"

    /// Queues one `flag_retraction_requested` e-mail (the kind that goes by e-mail) and returns its key.
    func queueEmail(_ registry: Registry, note: String = "记录核实有误，请撤回。", key: String = "retraction:flag-1") async throws -> String {
        try await registry.database.transaction(logger: testLogger) { connection in
            try await NotificationStore.enqueue(
                channel: "email",
                recipient: recipient,
                template: "flag_retraction_requested",
                payload: ["reference": "POLICE-2026-000123", "note": note],
                key: key,
                on: connection,
                logger: testLogger
            )
        }
        return key
    }

    func status(_ registry: Registry, key: String) async throws -> (String, String?, String?) {
        let rows = try await registry.database.query(
            "SELECT status, last_error, provider_id FROM notifications WHERE idempotency_key = \(key)",
            logger: testLogger
        )
        var found: [(String, String?, String?)] = []
        for try await row in rows.decode((String, String?, String?).self) { found.append(row) }
        try #require(found.count == 1)
        return found[0]
    }

    func makeDue(_ registry: Registry) async throws {
        try await registry.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'", logger: testLogger)
    }

    /// The DeliveryError `body` throws, if any.
    func failure(_ body: () async throws -> String?) async -> DeliveryError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? DeliveryError
        }
    }

    func message(_ text: String, key: String = "direct-1", to: String? = nil) -> OutgoingMessage {
        OutgoingMessage(id: 1, key: key, channel: "email", recipient: to ?? recipient, kind: "flag_retraction_requested", text: text)
    }

    @Test("an e-mail in Chinese reaches the relay over STARTTLS after AUTH PLAIN, through the configured channel, readable as sent")
    func delivered() async throws {
        let relay = try RecordingRelay()
        #expect(relay.certificate != nil)
        let capture = LogCapture()
        var logger = Logger(label: "smtp-test") { _ in CapturingLogHandler(capture: capture) }
        logger.logLevel = .trace
        try await withTestRegistry(configure: { $0.smtp = relay.settings() }) { registry, _ in
            let key = try await queueEmail(registry)
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: logger) == 1)
            let (status, error, providerID) = try await status(registry, key: key)
            #expect(status == "sent" && error == nil)
            #expect(providerID == "Ok: queued as Q1")
            let auth = relay.events("auth")
            #expect(auth.count == 1 && auth.first?["mechanism"] as? String == "PLAIN" && auth.first?["ok"] as? Bool == true)
            #expect(auth.first?["tls"] as? Bool == true)
            let messages = relay.events("message")
            try #require(messages.count == 1)
            let received = messages[0]
            #expect(received["to"] as? [String] == [recipient])
            #expect(received["from"] as? String == "registry@example.cn")
            #expect(received["tls"] as? Bool == true && received["user"] as? String == relay.user)
            let mail = ReceivedMail(try #require(received["data"] as? String))
            let text = try #require(
                registry.messageTemplates.render(
                    "flag_retraction_requested",
                    language: "zh-CN",
                    ["reference": "POLICE-2026-000123", "note": "记录核实有误，请撤回。"]
                )
            )
            #expect(mail.body == text)
            #expect(mail.headers["message-id"] == "<retraction=3Aflag-1@registry>")
            #expect(mail.headers["message-id"] == SMTPChannel.messageID(key: key))
            #expect(mail.headers["from"] == "<registry@example.cn>" && mail.headers["to"] == "<\(recipient)>")
            #expect(mail.headers["content-type"] == "text/plain; charset=utf-8" && mail.headers["content-transfer-encoding"] == "base64")
            #expect(mail.headers["mime-version"] == "1.0" && mail.headers["date"]?.hasSuffix("+0000") == true)
            #expect(mail.decoded("subject") == SMTPChannel.subject(of: text) && mail.decoded("subject").hasPrefix("家政信用档案"))
            // The log names neither the recipient, the text nor the password.
            let log = capture.text
            #expect(log.contains("message sent") && log.contains("o***@police.example.cn"))
            #expect(!log.contains(recipient) && !log.contains("撤回") && !log.contains(relay.password))
        }
    }

    @Test("a relay offering only AUTH LOGIN is signed in to with LOGIN; several lines, a leading dot and a long subject arrive intact")
    func authLogin() async throws {
        let relay = try RecordingRelay(mechanisms: "LOGIN")
        let channel = SMTPChannel(relay.settings(), now: { Date() })
        let text = "第一行：" + String(repeating: "家政服务", count: 20) + "\n.第二行以点开头\n..\n."
        let id = try await channel.send(message(text), logger: testLogger)
        #expect(id == "Ok: queued as Q1")
        #expect(relay.events("auth").map { $0["mechanism"] as? String } == ["LOGIN"])
        let mail = ReceivedMail(try #require(relay.events("message").first?["data"] as? String))
        #expect(mail.body == text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(mail.decoded("subject") == SMTPChannel.subject(of: text) && mail.decoded("subject").hasSuffix("…"))
    }

    @Test("a wrong password: the relay answers 535, a refusal no retry can mend, so the message is a dead letter at once, not sent")
    func wrongPassword() async throws {
        let relay = try RecordingRelay()
        try await withTestRegistry(configure: { $0.smtp = relay.settings(password: "not-the-password") }) { registry, _ in
            let key = try await queueEmail(registry)
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: testLogger) == 1)
            #expect(try await status(registry, key: key).0 == "dead")
            #expect(try await status(registry, key: key).1 == "smtp_535")
            #expect(relay.events("auth").map { $0["ok"] as? Bool } == [false])
            #expect(relay.events("mail").isEmpty && relay.events("message").isEmpty)
        }
    }

    @Test("a relay answering 451 at the end of DATA: the message waits for its retry, then goes once; 550 makes it a dead letter")
    func temporaryThenPermanent() async throws {
        let relay = try RecordingRelay(failFirst: 1, failCode: 451)
        try await withTestRegistry(configure: { $0.smtp = relay.settings() }) { registry, _ in
            let key = try await queueEmail(registry)
            let dispatcher = registry.outboxDispatcher()
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
            #expect(try await status(registry, key: key).0 == "pending")
            #expect(try await status(registry, key: key).1 == "smtp_451")
            #expect(relay.events("message").isEmpty)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0, "not before its backoff")
            try await makeDue(registry)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
            #expect(try await status(registry, key: key).0 == "sent")
            #expect(relay.events("message").count == 1)
        }
        let refusing = try RecordingRelay(failFirst: 1, failCode: 550)
        let failure = await failure { try await SMTPChannel(refusing.settings(), now: { Date() }).send(message("x"), logger: testLogger) }
        #expect(failure?.reason == "smtp_550" && failure?.retryable == false)
        #expect(refusing.events("message").isEmpty)
    }

    @Test("a relay without STARTTLS is refused before anything is sent: no AUTH, no envelope; the message waits")
    func noStartTLS() async throws {
        let relay = try RecordingRelay(noTLS: true)
        try await withTestRegistry(configure: { $0.smtp = relay.settings() }) { registry, _ in
            let key = try await queueEmail(registry)
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: testLogger) == 1)
            #expect(try await status(registry, key: key).0 == "pending")
            #expect(try await status(registry, key: key).1 == "smtp_no_starttls")
        }
        #expect(relay.events.isEmpty, "the relay saw no AUTH and no MAIL FROM")
        // The same relay is fine for the loopback-only plain mode (a local test relay).
        let plain = SMTPChannel(relay.settings(security: .none), now: { Date() })
        #expect(try await plain.send(message("明文"), logger: testLogger) == "Ok: queued as Q1")
        #expect(relay.events("message").count == 1 && relay.events("message").first?["tls"] as? Bool == false)
    }

    @Test("a relay whose certificate is not trusted: TLS fails, nothing is sent, the password never leaves; tried again later")
    func untrustedCertificate() async throws {
        let relay = try RecordingRelay()
        let channel = SMTPChannel(relay.settings(caFile: .some(nil)), now: { Date() })
        let failure = await failure { try await channel.send(message("x"), logger: testLogger) }
        #expect(failure?.reason == "tls" && failure?.retryable == true)
        #expect(relay.events.isEmpty)
    }

    @Test("smtps: TLS from the first byte, then AUTH and the message")
    func implicitTLS() async throws {
        let relay = try RecordingRelay(flags: ["--implicit-tls"])
        let channel = SMTPChannel(relay.settings(security: .tls), now: { Date() })
        #expect(try await channel.send(message("隐式TLS"), logger: testLogger) == "Ok: queued as Q1")
        #expect(relay.events("auth").map { $0["ok"] as? Bool } == [true])
        let mail = ReceivedMail(try #require(relay.events("message").first?["data"] as? String))
        #expect(mail.body == "隐式TLS")
    }

    @Test("replies injected behind the STARTTLS answer (CVE-2011-0411): the channel stops; nothing more goes out in the clear")
    func startTLSInjection() async throws {
        let relay = try RecordingRelay(flags: ["--inject"])
        let failure = await failure { try await SMTPChannel(relay.settings(), now: { Date() }).send(message("x"), logger: testLogger) }
        // Seen with the 220 (one read): `smtp_protocol`. When the injected bytes arrive in a later
        // segment (a loaded machine), they land inside the TLS handshake instead and fail it: `tls`.
        // Either way the channel stops and nothing more goes out in the clear.
        #expect(["smtp_protocol", "tls"].contains(failure?.reason ?? "") && failure?.retryable == true, "\(String(describing: failure))")
        #expect(relay.events("plaintext").isEmpty)
    }

    @Test("a relay that accepts and never answers: the channel gives up after the reply timeout, to try again later")
    func silentRelay() async throws {
        let relay = try RecordingRelay(flags: ["--silent"])
        var settings = relay.settings()
        settings.replyTimeout = .seconds(1)
        let started = Date()
        let failure = await failure { try await SMTPChannel(settings, now: { Date() }).send(message("x"), logger: testLogger) }
        #expect(failure?.reason == "timeout" && failure?.retryable == true)
        #expect(Date().timeIntervalSince(started) < 20, "well before the default 30 s")
    }

    @Test("nobody listening: unreachable, tried again later; a recipient that is no plain address: refused without connecting")
    func unreachableAndBadRecipient() async throws {
        let closed = SMTPChannel(.init(host: "127.0.0.1", port: 1, from: "registry@example.cn", security: .none), now: { Date() })
        let down = await failure { try await closed.send(message("x"), logger: testLogger) }
        #expect(down?.reason == "unreachable" && down?.retryable == true)
        for bad in ["source:police", "a@b.cn>\r\nRCPT TO:<c@d.cn", "王@例子.cn", "a b@c.cn"] {
            let refused = await failure { try await closed.send(message("x", to: bad), logger: testLogger) }
            #expect(refused?.reason == "smtp_bad_recipient" && refused?.retryable == false, "\(bad)")
        }
    }

    @Test("the message's form: dot-stuffing, CRLF, encoded subject, one Message-ID per key")
    func format() {
        #expect(SMTPChannel.dotStuffed("a\r\n.b\r\n..\r\n") == "a\r\n..b\r\n...\r\n.\r\n")
        #expect(SMTPChannel.messageID(key: "a:b") != SMTPChannel.messageID(key: "a_b"))
        #expect(SMTPChannel.messageID(key: "case-opened-1") == "<case-opened-1@registry>")
        let raw = SMTPChannel.format(message("第一行\n第二行"), from: "registry@example.cn", date: Date(timeIntervalSince1970: 0))
        #expect(raw.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(raw.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 && $0.allSatisfy(\.isASCII) })
        #expect(ReceivedMail(raw).body == "第一行\r\n第二行")
    }

    @Test("REGISTRY_SMTP_URL and its companions: the good forms parsed, each bad one refused naming the variable")
    func configuration() throws {
        let from = ["REGISTRY_SMTP_FROM": "registry@example.cn"]
        func parse(_ env: [String: String]) throws -> SMTPChannel.Settings? { try Configuration.fromEnvironment(env).smtp }

        #expect(try parse([:]) == nil)
        let starttls = try #require(try parse(from.merging(["REGISTRY_SMTP_URL": "smtp://mailer:p%40ss%3Aw%C3%B6rd@relay.example.cn"]) { $1 }))
        #expect(starttls.host == "relay.example.cn" && starttls.port == 587 && starttls.security == .startTLS)
        #expect(starttls.username == "mailer" && starttls.password == "p@ss:wörd" && starttls.from == "registry@example.cn")
        #expect(starttls.caFile == nil)
        let implicit = try #require(try parse(from.merging(["REGISTRY_SMTP_URL": "smtps://u:p@relay.example.cn:2465"]) { $1 }))
        #expect(implicit.security == .tls && implicit.port == 2465)
        #expect(try parse(from.merging(["REGISTRY_SMTP_URL": "smtps://relay.example.cn"]) { $1 })?.port == 465)
        let plain = try #require(try parse(from.merging(["REGISTRY_SMTP_URL": "smtp+plain://127.0.0.1:2525"]) { $1 }))
        #expect(plain.security == .none && plain.port == 2525 && plain.username == nil && plain.password == nil)
        #expect(try parse(from.merging(["REGISTRY_SMTP_URL": "smtp+plain://[::1]:2525"]) { $1 })?.host == "::1")
        let helo = try parse(
            from.merging(["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_PUBLIC_URL": "https://registry.example.cn"]) { $1 }
        )
        #expect(helo?.heloName == "registry.example.cn")

        let relay = try RecordingRelay()
        let ca = try #require(relay.certificate)
        #expect(try parse(from.merging(["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_CA_FILE": ca]) { $1 })?.caFile == ca)

        let bad: [([String: String], String)] = [
            (["REGISTRY_SMTP_URL": "smtp+plain://relay.example.cn:25"], "loopback"),
            (["REGISTRY_SMTP_URL": "smtp+plain://10.0.0.5:25"], "loopback"),
            (["REGISTRY_SMTP_URL": "http://relay.example.cn"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "relay.example.cn:587"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn/path"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn:0"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "smtp://user@relay.example.cn"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "smtp://user:%ZZ@relay.example.cn"], "REGISTRY_SMTP_URL"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_FROM": ""], "REGISTRY_SMTP_FROM"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_FROM": "Registry <registry@example.cn>"], "REGISTRY_SMTP_FROM"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_CA_FILE": "/nonexistent/ca.pem"], "REGISTRY_SMTP_CA_FILE"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_CA_FILE": repositoryRoot + "/README.md"], "REGISTRY_SMTP_CA_FILE"),
            (["REGISTRY_SMTP_URL": "smtp://relay.example.cn", "REGISTRY_SMTP_HELO": "bad name"], "REGISTRY_SMTP_HELO"),
        ]
        for (env, named) in bad {
            let withFrom = env["REGISTRY_SMTP_FROM"] == nil ? from.merging(env) { $1 } : env
            #expect(throws: ConfigurationError.self, "\(env)") { try parse(withFrom) }
            do {
                _ = try parse(withFrom)
            } catch {
                #expect("\(error)".contains(named), "\(env): \(error)")
            }
        }
        #expect(throws: ConfigurationError.self) { try parse(["REGISTRY_SMTP_URL": "smtp://relay.example.cn"]) }
        #expect(throws: ConfigurationError.self) { try parse(from) }
    }
}
