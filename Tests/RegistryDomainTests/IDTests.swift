import Foundation
import RegistryDomain
import Testing

@Suite("Typed identifiers")
struct IDTests {
    @Test("an id parses UUID text in any case and keeps the canonical lower-case form; anything else is refused")
    func parsing() {
        let upper = WorkerID("0F8A2C3E-1B4D-4E5F-8A9B-0C1D2E3F4A5B")
        #expect(upper?.text == "0f8a2c3e-1b4d-4e5f-8a9b-0c1d2e3f4a5b")
        #expect(upper == WorkerID("0f8a2c3e-1b4d-4e5f-8a9b-0c1d2e3f4a5b"))
        for bad in [
            "", "x", "0f8a2c3e1b4d4e5f8a9b0c1d2e3f4a5b", "0f8a2c3e-1b4d-4e5f-8a9b-0c1d2e3f4a5g", "0f8a2c3e-1b4d-4e5f-8a9b_0c1d2e3f4a5b",
            "0f8a2c3e-1b4d-4e5f-8a9b-0c1d2e3f4a5b ", "０f8a2c3e-1b4d-4e5f-8a9b-0c1d2e3f4a5b",
        ] {
            #expect(WorkerID(bad) == nil, "\(bad)")
        }
    }

    @Test("in JSON an id is its text; text that is not an id fails to decode")
    func json() throws {
        struct Box: Codable, Equatable {
            var worker: WorkerID
            var agency: AgencyID?
        }
        let box = Box(worker: .n(7), agency: nil)
        let data = try JSONEncoder().encode(box)
        #expect(String(decoding: data, as: UTF8.self) == #"{"worker":"00000000-0000-4000-8000-000000000007"}"#)
        #expect(try JSONDecoder().decode(Box.self, from: data) == box)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Box.self, from: Data(#"{"worker":"7"}"#.utf8)) }
    }
}

@Suite("Message policy")
struct MessagePolicyTests {
    @Test("the wait doubles from the base up to the maximum; jitter spreads it over its upper half; any count is safe")
    func backoff() {
        let p = MessagePolicy(backoffBaseSeconds: 30, backoffMaxSeconds: 3600)
        #expect((1...6).map { p.retryDelay(afterFailures: $0, jitter: 1) } == [30, 60, 120, 240, 480, 960])
        #expect(p.retryDelay(afterFailures: 9, jitter: 1) == 3600 && p.retryDelay(afterFailures: Int.max, jitter: 1) == 3600)
        #expect(p.retryDelay(afterFailures: 1, jitter: 0) == 15 && p.retryDelay(afterFailures: 0, jitter: 0.5) == 22)
        #expect(p.retryDelay(afterFailures: Int.min, jitter: .nan) >= 1)
    }

    @Test("SMS segments: 70 Chinese characters make one, 71 make two; 160 plain letters make one")
    func segments() {
        #expect(SMSText.segments(String(repeating: "家", count: 70)) == 1)
        #expect(SMSText.segments(String(repeating: "家", count: 71)) == 2)
        #expect(SMSText.segments(String(repeating: "家", count: 134)) == 2)
        #expect(SMSText.segments(String(repeating: "a", count: 160)) == 1 && SMSText.segments(String(repeating: "a", count: 161)) == 2)
    }
}
