import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// The stand-in for Alibaba Cloud SMS (Tests/support/aliyun_sms.py) on a loopback port, for one
/// test: it recomputes each request's V3 signature in Python with the secret it was given.
final class FakeAliyun: @unchecked Sendable {
    let process = Process()
    let folder: String
    let endpoint: String
    let keyID = "LTAI5tTestKeyId0123456"
    let secret = "test-aliyun-secret-0123456789abcd"
    let signName = "家政信用档案"

    init(failFirst: Int = 0, failCode: String = "isv.BUSINESS_LIMIT_CONTROL") throws {
        folder = NSTemporaryDirectory() + "aliyun-sms-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot + "/Tests/support/aliyun_sms.py", "--access-key-id", keyID, "--access-key-secret", secret,
            "--sign-name", signName, "--record", folder + "/sms.jsonl", "--ready-file", folder + "/port",
            "--fail-first", String(failFirst), "--fail-code", failCode,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port = ""
        for _ in 0..<100 {
            port = (try? String(contentsOfFile: folder + "/port", encoding: .utf8)) ?? ""
            if !port.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        endpoint = "http://127.0.0.1:\(port)/"
    }

    deinit {
        process.terminate()
        for _ in 0..<50 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The settings the registry would read from REGISTRY_ALIYUN_*, pointed at this stand-in.
    func configure(_ c: inout Configuration, secret: String? = nil) {
        c.smsProvider = .aliyun
        c.aliyunSMS = .init(endpoint: endpoint, accessKeyID: keyID, accessKeySecret: secret ?? self.secret, signName: signName)
    }

    /// What it accepted, oldest first.
    var received: [[String: Any]] {
        guard let text = try? String(contentsOfFile: folder + "/sms.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }
}

extension Registry {
    /// Each message's status and last error, oldest first.
    /// Marks the e-mails the setup queued (agencies told of their approval) as sent, so that only
    /// texts are left for the SMS channel under test.
    func setAsideEmail() async throws {
        try await database.query("UPDATE notifications SET status = 'sent', sent_at = now() WHERE channel = 'email'", logger: testLogger)
    }

    func outboxStates() async throws -> [(kind: String, status: String, error: String?, providerID: String?)] {
        let rows = try await database.query(
            "SELECT template, status, last_error, provider_id FROM notifications WHERE channel = 'sms' ORDER BY id",
            logger: testLogger
        )
        var result: [(kind: String, status: String, error: String?, providerID: String?)] = []
        for try await (kind, status, error, provider) in rows.decode((String, String, String?, String?).self) {
            result.append((kind, status, error, provider))
        }
        return result
    }
}

@Suite("SMS through Alibaba Cloud SMS (a loopback stand-in checking Aliyun's signature)")
struct AliyunSMSTests {
    @Test("the V3 signature of Aliyun's documented example (RunInstances, fixed date and nonce) is the documented one")
    func documentedSignature() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        let authorization = AliyunSMSChannel.authorization(
            method: "POST",
            path: "/",
            query: ["ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"],
            headers: [
                "host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances", "x-acs-version": "2014-05-26",
                "x-acs-date": "2023-10-26T10:22:32Z", "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
                "x-acs-content-sha256": empty,
            ],
            payloadHash: empty,
            accessKeyID: "YourAccessKeyId",
            secret: "YourAccessKeySecret"
        )
        #expect(
            authorization
                == "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        )
        #expect(AliyunSMSChannel.percentEncode("v=a b*c~d/e+f") == "v%3Da%20b%2Ac~d%2Fe%2Bf")
        #expect(AliyunSMSChannel.percentEncode("签名") == "%E7%AD%BE%E5%90%8D")
        #expect(AliyunSMSChannel.canonicalQuery(["b": "2", "a": "1", "A": "0"]) == "A=0&a=1&b=2")
    }

    @Test("answers: OK is sent; throttling, Aliyun's own errors and 5xx wait; refused numbers, templates, signs and keys are final")
    func answers() {
        #expect(AliyunSMSChannel.failure(status: 200, code: "OK") == nil)
        for (status, code) in [
            (200, "isv.BUSINESS_LIMIT_CONTROL"), (400, "Throttling.User"), (503, "ServiceUnavailable"), (500, "InternalError"),
            (200, "isp.SYSTEM_ERROR"), (200, "isv.OUT_OF_SERVICE"),
        ] {
            let failure = AliyunSMSChannel.failure(status: status, code: code)
            #expect(failure?.retryable == true && failure?.reason == code, "\(code)")
        }
        for (status, code) in [
            (200, "isv.MOBILE_NUMBER_ILLEGAL"), (200, "isv.SMS_TEMPLATE_ILLEGAL"), (200, "isv.SMS_SIGNATURE_ILLEGAL"),
            (200, "isv.INVALID_PARAMETERS"), (404, "InvalidAccessKeyId.NotFound"), (400, "InvalidAccessKeyId.Inactive"),
            (400, "SignatureDoesNotMatch"),
        ] {
            let failure = AliyunSMSChannel.failure(status: status, code: code)
            #expect(failure?.retryable == false && failure?.reason == code, "\(code)")
        }
        #expect(AliyunSMSChannel.failure(status: 502, code: nil)?.retryable == true)
        let forbidden = AliyunSMSChannel.failure(status: 403, code: nil)
        #expect(forbidden?.reason == "http_403" && forbidden?.retryable == false)
        // The reason is the code alone, kept to the characters codes are made of.
        #expect(AliyunSMSChannel.failure(status: 200, code: "isv.X <b>\"y\"</b>")?.reason == "isv.Xbyb")
    }

    @Test("template parameters fit Aliyun's variables (1 to 35 characters); long idempotency keys go hashed in OutId")
    func parameterLimits() throws {
        let long = String(repeating: "家", count: 40)
        let json = AliyunSMSChannel.templateParam(["grounds": long, "date": "", "code": "123456"])
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        #expect(decoded["grounds"] == String(repeating: "家", count: 34) + "…")
        #expect(decoded["date"] == "-" && decoded["code"] == "123456")
        #expect(AliyunSMSChannel.outID("case-opened-0c6f") == "case-opened-0c6f")
        let hashed = AliyunSMSChannel.outID(String(repeating: "k", count: 65))
        #expect(hashed.count == 33 && hashed.hasPrefix("k") && hashed != AliyunSMSChannel.outID(String(repeating: "k", count: 66)))
    }

    @Test("texts reach Aliyun signed, as the kind's template code with the parameters its text uses; Aliyun's BizId is kept")
    func delivered() async throws {
        let aliyun = try FakeAliyun()
        try await withTestRegistry(configure: { aliyun.configure(&$0) }) { registry, _ in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            let consent = try #require(try await registry.lastCode("consent_code"))
            let activation = try #require(try await registry.lastCode("worker_activation_code"))
            let phone = try #require(try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).phone)
            try await registry.setAsideEmail()
            let dispatcher = registry.outboxDispatcher()  // the channel the configuration chooses
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 2)
            let texts = aliyun.received
            #expect(texts.count == 2)
            let codes = registry.policies.smsTemplates.templates
            let byTemplate = Dictionary(texts.map { ($0["TemplateCode"] as? String ?? "", $0) }) { first, _ in first }
            let activationCode = try #require(codes["worker_activation_code"])
            let consentCode = try #require(codes["consent_code"])
            let activationText = try #require(byTemplate[activationCode])
            let consentText = try #require(byTemplate[consentCode])
            #expect(
                activationText["TemplateParam"] as? [String: String] == [
                    "code": activation, "minutes": "\(registry.policies.reports.activationCodeMinutes)",
                ]
            )
            #expect(
                consentText["TemplateParam"] as? [String: String] == ["code": consent, "minutes": "\(registry.policies.reports.consentCodeMinutes)"]
            )
            #expect(texts.allSatisfy { $0["PhoneNumbers"] as? String == phone && $0["SignName"] as? String == aliyun.signName })
            #expect(Set(texts.compactMap { $0["OutId"] as? String }).count == 2)
            let states = try await registry.outboxStates()
            #expect(states.allSatisfy { $0.status == "sent" })
            #expect(Set(states.compactMap(\.providerID)) == Set(texts.compactMap { $0["BizId"] as? String }))
        }
    }

    @Test("a wrong AccessKey secret: Aliyun refuses the signature, and the messages are dead letters at once, not retried")
    func wrongSecret() async throws {
        let aliyun = try FakeAliyun()
        try await withTestRegistry(configure: { aliyun.configure(&$0, secret: "not-the-secret-aliyun-knows-000") }) { registry, _ in
            _ = try await Household.make(registry)
            try await registry.setAsideEmail()
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: testLogger) >= 1)
            let dead = try await registry.messages.overview(logger: testLogger).dead
            #expect(!dead.isEmpty && dead.allSatisfy { $0.lastError == "SignatureDoesNotMatch" })
            #expect(aliyun.received.isEmpty)
        }
    }

    @Test("throttled (isv.BUSINESS_LIMIT_CONTROL): the messages wait for their retry, then go")
    func throttled() async throws {
        let aliyun = try FakeAliyun(failFirst: 2)
        try await withTestRegistry(configure: { aliyun.configure(&$0) }) { registry, _ in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            try await registry.setAsideEmail()
            let dispatcher = registry.outboxDispatcher()
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 2)
            #expect(aliyun.received.isEmpty)
            let waiting = try await registry.outboxStates()
            #expect(waiting.count == 2 && waiting.allSatisfy { $0.status == "pending" && $0.error == "isv.BUSINESS_LIMIT_CONTROL" })
            try await registry.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'", logger: testLogger)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 2)
            #expect(aliyun.received.count == 2)
            #expect(try await registry.outboxStates().allSatisfy { $0.status == "sent" && $0.error == nil })
        }
    }

    @Test("a number Aliyun refuses (isv.MOBILE_NUMBER_ILLEGAL) is a dead letter at once")
    func refusedNumber() async throws {
        let aliyun = try FakeAliyun(failFirst: 1, failCode: "isv.MOBILE_NUMBER_ILLEGAL")
        try await withTestRegistry(configure: { aliyun.configure(&$0) }) { registry, _ in
            _ = try await Household.make(registry)
            try await registry.setAsideEmail()
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: testLogger) == 1)
            let states = try await registry.outboxStates()
            #expect(states.count == 1 && states[0].status == "dead" && states[0].error == "isv.MOBILE_NUMBER_ILLEGAL")
        }
    }

    @Test("configuration: REGISTRY_SMS_PROVIDER chooses; each missing or malformed REGISTRY_ALIYUN_* variable is named")
    func configuration() throws {
        let good = [
            "REGISTRY_SMS_PROVIDER": "aliyun", "REGISTRY_ALIYUN_ACCESS_KEY_ID": "LTAI5tAbcdef0123456789",
            "REGISTRY_ALIYUN_ACCESS_KEY_SECRET": "abcdefghijklmnopqrstuvwxyz0123", "REGISTRY_ALIYUN_SIGN_NAME": "家政信用档案",
        ]
        let c = try Configuration.fromEnvironment(good)
        #expect(c.smsProvider == .aliyun && c.hasSMSChannel && c.smsGateway == nil)
        #expect(c.aliyunSMS?.endpoint == "https://dysmsapi.aliyuncs.com/" && c.aliyunSMS?.signName == "家政信用档案")
        let gateway = try Configuration.fromEnvironment([
            "REGISTRY_SMS_GATEWAY_URL": "https://sms.example.cn/v1", "REGISTRY_SMS_GATEWAY_SECRET": "0123456789abcdef",
        ])
        #expect(gateway.smsProvider == .gateway && gateway.hasSMSChannel && gateway.aliyunSMS == nil)
        #expect(try !Configuration.fromEnvironment([:]).hasSMSChannel)
        #expect(
            try Configuration.fromEnvironment(good.merging(["REGISTRY_ALIYUN_ENDPOINT": "http://127.0.0.1:9/"]) { $1 }).aliyunSMS?.endpoint
                == "http://127.0.0.1:9/"
        )
        func refused(_ env: [String: String], naming variable: String) {
            do {
                _ = try Configuration.fromEnvironment(env)
                Issue.record("accepted \(env)")
            } catch {
                #expect(error is ConfigurationError && "\(error)".contains(variable), "\(error)")
            }
        }
        refused(good.merging(["REGISTRY_SMS_PROVIDER": "tencent"]) { $1 }, naming: "REGISTRY_SMS_PROVIDER")
        for name in ["REGISTRY_ALIYUN_ACCESS_KEY_ID", "REGISTRY_ALIYUN_ACCESS_KEY_SECRET", "REGISTRY_ALIYUN_SIGN_NAME"] {
            refused(good.filter { $0.key != name }, naming: name)
            refused(good.merging([name: "   "]) { $1 }, naming: name)
        }
        refused(good.merging(["REGISTRY_ALIYUN_ACCESS_KEY_ID": "LTAI 5t/key"]) { $1 }, naming: "REGISTRY_ALIYUN_ACCESS_KEY_ID")
        refused(good.merging(["REGISTRY_ALIYUN_ACCESS_KEY_SECRET": "short"]) { $1 }, naming: "REGISTRY_ALIYUN_ACCESS_KEY_SECRET")
        refused(good.merging(["REGISTRY_ALIYUN_SIGN_NAME": "【家政信用档案】"]) { $1 }, naming: "REGISTRY_ALIYUN_SIGN_NAME")
        for bad in ["ftp://dysmsapi.aliyuncs.com/", "dysmsapi.aliyuncs.com", "https://user@dysmsapi.aliyuncs.com/", "https://h/?a=1"] {
            refused(good.merging(["REGISTRY_ALIYUN_ENDPOINT": bad]) { $1 }, naming: "REGISTRY_ALIYUN_ENDPOINT")
        }
    }

    @Test("sms-templates.yaml: with Aliyun every SMS kind needs a code, no unknown kind, no placeholder for Aliyun's own endpoint")
    func templatePolicy() async throws {
        let shipped = try PolicySet.load(directory: repositoryRoot + "/Policies")
        let kinds = try MessageTemplates.load(directory: repositoryRoot + "/Web/i18n/messages").kinds
        try shipped.smsTemplates.check(kinds: kinds)
        #expect(shipped.smsTemplates.placeholders.count == shipped.smsTemplates.templates.count)
        func refusal(_ policy: SMSTemplatePolicy, endpoint: String = "http://127.0.0.1:9/") async -> String? {
            var policies = shipped
            policies.smsTemplates = policy
            do {
                try await withTestRegistry(
                    policies: policies,
                    configure: {
                        $0.smsProvider = .aliyun
                        $0.aliyunSMS = .init(
                            endpoint: endpoint,
                            accessKeyID: "LTAI5tAbcdef0123",
                            accessKeySecret: "abcdefghijklmnop",
                            signName: "家政信用档案"
                        )
                    }
                ) { _, _ in }
                return nil
            } catch {
                return "\(error)"
            }
        }
        var missing = shipped.smsTemplates
        missing.templates["case_opened"] = nil
        let noCode = await refusal(missing)
        #expect(noCode?.contains("sms-templates.yaml") == true && noCode?.contains("case_opened") == true, "\(noCode ?? "accepted")")
        var unknown = shipped.smsTemplates
        unknown.templates["no_such_kind"] = "SMS_123"
        #expect(await refusal(unknown)?.contains("no_such_kind") == true)
        let placeholder = await refusal(shipped.smsTemplates, endpoint: AliyunSMSChannel.defaultEndpoint)
        #expect(placeholder?.contains("placeholder") == true && placeholder?.contains("sms-templates.yaml") == true)
        var approved = shipped.smsTemplates
        for kind in approved.templates.keys { approved.templates[kind] = "SMS_4655" + String(kind.count) }
        #expect(await refusal(approved, endpoint: AliyunSMSChannel.defaultEndpoint) == nil)
        // The gateway (the default provider) does not need the codes.
        var gatewayPolicies = shipped
        gatewayPolicies.smsTemplates = missing
        try await withTestRegistry(policies: gatewayPolicies) { _, _ in }
        #expect(throws: PolicyError.self) { try SMSTemplatePolicy(templates: ["consent_code": "SMS_12a"]).validate() }
    }
}
