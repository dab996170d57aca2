import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// The recording SMS gateway (Tests/support/sms_gateway.py) on a loopback port, for one test.
final class RecordingGateway: @unchecked Sendable {
    let process = Process()
    let folder: String
    let url: String
    let secret = "test-gateway-secret-0123456789"

    init(failFirst: Int = 0) throws {
        folder = NSTemporaryDirectory() + "sms-gateway-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot + "/Tests/support/sms_gateway.py", "--secret", secret, "--record", folder + "/sms.jsonl",
            "--ready-file", folder + "/port", "--fail-first", String(failFirst),
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
        url = "http://127.0.0.1:\(port)/v1/messages"
    }

    deinit {
        // Not `waitUntilExit()`: on Linux it runs the calling thread's run loop, which a test's
        // thread does not drive, and can wait for ever.
        process.terminate()
        for _ in 0..<10 where process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// What the gateway accepted, oldest first.
    var received: [[String: String]] {
        guard let text = try? String(contentsOfFile: folder + "/sms.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.map { $0.compactMapValues { $0 as? String } }
    }
}

@Suite("SMS through a real gateway on loopback")
struct SMSGatewayTests {
    @Test("texts reach the gateway signed, in the worker's words, each once; while it answers 503 they wait and then go")
    func delivered() async throws {
        let gateway = try RecordingGateway(failFirst: 2)
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            let code = try #require(try await registry.lastCode("consent_code"))
            let phone = try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).phone
            try await registry.setAsideEmail()
            let channel = HTTPGatewayChannel(.init(url: gateway.url, secret: gateway.secret), now: { registry.clock.now })
            let dispatcher = registry.outboxDispatcher(channels: ["sms": channel])
            // The gateway is down for the first two requests: those messages wait for their retry.
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 2)
            #expect(gateway.received.isEmpty)
            try await registry.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'", logger: testLogger)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 2)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0)
            let texts = gateway.received
            #expect(texts.count == 2 && Set(texts.compactMap { $0["id"] }).count == 2)
            #expect(phone != nil && texts.allSatisfy { $0["to"] == phone })
            #expect(Set(texts.compactMap { $0["kind"] }) == ["worker_activation_code", "consent_code"])
            #expect(texts.allSatisfy { $0["text"]?.hasPrefix("【家政信用档案】") == true })
            #expect(texts.contains { $0["text"]?.contains(code) == true })
        }
    }

    @Test("a gateway that does not know the registry's key refuses it: the message is a dead letter at once, not retried for ever")
    func wrongSecret() async throws {
        let gateway = try RecordingGateway()
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            try await registry.setAsideEmail()
            let channel = HTTPGatewayChannel(.init(url: gateway.url, secret: "not-the-gateway-secret"), now: { registry.clock.now })
            #expect(try await registry.outboxDispatcher(channels: ["sms": channel]).dispatchOnce(logger: testLogger) == 2)
            let dead = try await registry.messages.overview(logger: testLogger).dead
            #expect(dead.count == 2 && dead.allSatisfy { $0.lastError == "refused_401" })
            #expect(gateway.received.isEmpty)
        }
    }
}
