import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("What the registry tells people")
struct MessageKindsTests {
    func recipients(_ registry: Registry, _ kind: String) async throws -> [String] {
        var all: [String] = []
        let rows = try await registry.database.query(
            "SELECT recipient FROM notifications WHERE template = \(kind) ORDER BY id",
            logger: testLogger
        )
        for try await r in rows.decode(String.self) { all.append(r) }
        return all
    }

    @Test("an agency is told of its approval and suspension; both agencies of a transfer's completion and of a refused request, once each")
    func agencies() async throws {
        try await withTestRegistry { registry, _ in
            let (aID, a) = try await registry.approvedAgency(1)
            let (_, b) = try await registry.approvedAgency(2)
            #expect(try await recipients(registry, "agency_approved") == ["staff1@agency.cn", "staff2@agency.cn"])
            let id = Fixtures.idNumber(serial: 371)
            let w = try await registry.workers.register(Fixtures.registration(id, phone: "13900139071"), caller: a, logger: testLogger)
            _ = w
            // Asked, then refused by an administrator on her word: both agencies are told.
            let first = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer
            let admin = try await registry.adminCaller
            _ = try await registry.transfers.close(
                try #require(UUID(uuidString: first.id)),
                .reject,
                reason: "她不同意",
                caller: admin,
                logger: testLogger
            )
            #expect(try await recipients(registry, "transfer_refused").sorted() == ["staff1@agency.cn", "staff2@agency.cn"])
            // Asked again, consented and sealed: both agencies are told it completed.
            let second = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer
            let tid = try #require(UUID(uuidString: second.id))
            _ = try await registry.transfers.consent(tid, code: try #require(try await registry.lastConsentCode()), caller: b, logger: testLogger)
            _ = try await registry.transfers.seal(tid, final: .init(ethicsRating: 5), caller: a, logger: testLogger)
            #expect(try await recipients(registry, "transfer_completed").sorted() == ["staff1@agency.cn", "staff2@agency.cn"])
            // Suspended: told, with the reason.
            _ = try await registry.agencies.decide(aID, .suspend, reason: "未按规定报送", caller: admin, logger: testLogger)
            #expect(try await recipients(registry, "agency_suspended") == ["staff1@agency.cn"])
            let payload = try await single(
                try await registry.database.query(
                    "SELECT payload->>'reason' FROM notifications WHERE template = 'agency_suspended'",
                    logger: testLogger
                ),
                String.self
            )
            #expect(payload == "未按规定报送")
        }
    }

    @Test(
        "the worker is texted when a flag about her arrives and changes (once per version), when her disputes are answered, and when she is reviewed"
    )
    func worker() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let phone = "13800138001"
            let (sourceID, _, _, police) = try await registry.source("police-m", kind: "police")
            let submitted = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "M-1", "fraud", severity: 1, status: "alleged")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            #expect(try await recipients(registry, "flag_received") == [phone])
            // The same version again: nothing new; a new version: one text.
            _ = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "M-1", "fraud", severity: 1, status: "alleged")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            #expect(try await registry.notificationCount("flag_received") == 1)
            _ = try await registry.flags.change(
                sourceID: sourceID,
                reference: "M-1",
                .init(status: "charged", severity: nil, expiresOn: nil),
                caller: police,
                logger: testLogger
            )
            #expect(try await recipients(registry, "flag_changed") == [phone])
            // Her dispute, answered.
            let flagID = try #require(submitted.first?.flagId.flatMap(UUID.init(uuidString:)))
            let dispute = try await registry.flags.dispute(flagID: flagID, reason: "我从未涉及此事", caller: h.worker, logger: testLogger)
            try await registry.flags.decideDispute(
                dispute,
                decision: "annotate",
                note: "已附注本人说明",
                caller: try await registry.adminCaller,
                logger: testLogger
            )
            #expect(try await recipients(registry, "flag_dispute_annotated") == [phone])
            // An employer reviews her.
            let e = try await registry.engagement(h, confirmedBy: h.employer)
            let review = try await registry.engagements.review(
                engagement: e,
                .init(skillScores: ["punctuality": 2], ethicsScores: ["honesty": 2, "respect": 2, "reliability": 2, "care": 2], comment: "一般"),
                caller: h.employer,
                logger: testLogger
            )
            #expect(try await recipients(registry, "review_received") == [phone])
            let reviewDispute = try await registry.engagements.dispute(review, reason: "评价不实", caller: h.worker, logger: testLogger)
            try await registry.engagements.decideDispute(
                reviewDispute,
                uphold: true,
                note: "证据不足",
                caller: try await registry.adminCaller,
                logger: testLogger
            )
            #expect(try await recipients(registry, "review_dispute_upheld") == [phone])
            // No text carries a code.
            #expect(try await registry.lastCode("flag_received") == nil)
            #expect(try await registry.lastCode("review_received") == nil)
        }
    }
}
