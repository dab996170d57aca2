import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

@Suite("Sharing bans with other registries")
struct ExchangeTests {
    func cmd(_ c: String, _ reason: String = "理由", outcome: String? = nil) -> CaseService.Command {
        .init(command: c, reason: reason, outcome: outcome, channel: nil, evidenceId: nil)
    }

    func pull(_ client: some TestClientProtocol, key: String, after: Int64) async throws -> (HTTPResponse.Status, ExchangeService.Page?, TestResponse)
    {
        let response = try await client.execute(
            uri: "/api/v1/exchange/bans?after=\(after)",
            method: .get,
            headers: [.authorization: "Bearer \(key)"],
            body: nil
        )
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (response.status, try? decoder.decode(ExchangeService.Page.self, from: Data(response.body.readableBytesView)), response)
    }

    @Test(
        "registry A publishes its ban and the reinstatement as signed records for registry keys only; registry B imports them as flags with their policy effect, refusing a forged record"
    )
    func exportAndImport() async throws {
        try await withTestRegistry { a, _ in
            let (h, caseID, admins) = try await a.executedBan()
            let (_, exchangeKey, _, _) = try await a.source("national-platform", kind: "registry")
            let (_, policeKey, _, _) = try await a.source("police-a", kind: "police")
            let publicKey = a.keys.signingKey.publicKey
            let (router, _) = buildRouter(a)
            let (banPage, liftPage) = try await Application(router: router, logger: testLogger).test(.router) { client in
                #expect(try await pull(client, key: policeKey, after: 0).0 == .forbidden)
                let (status, page, response) = try await pull(client, key: exchangeKey, after: 0)
                #expect(status == .ok && response.headers[.cacheControl] == "no-store")
                let record = try #require(page?.records.first)
                #expect(page?.records.count == 1 && page?.more == false)
                let payload = try #require(ExchangeService.verify(record, publicKey: publicKey))
                #expect(payload.kind == "ban" && payload.idNumber == Fixtures.idNumber(serial: 101) && payload.grounds == "abuse_of_a_child")
                #expect(payload.sectors == ["domestic_service"] && payload.effectiveOn == a.clock.today.iso)
                #expect(page?.next == payload.seq)
                // Nothing new after it.
                #expect(try await pull(client, key: exchangeKey, after: payload.seq).1?.records.isEmpty == true)

                // Her appeal is upheld there: a reinstatement record naming the same ban.
                _ = try await a.cases.act(caseID, cmd("appeal", "监控里的人不是我"), caller: h.worker, logger: testLogger)
                _ = try await a.cases.act(caseID, cmd("uphold_appeal", "新证据成立"), caller: admins[2], logger: testLogger)
                let lifted = try await pull(client, key: exchangeKey, after: payload.seq).1
                let lift = try #require(lifted?.records.first.flatMap { ExchangeService.verify($0, publicKey: publicKey) })
                #expect(lift.kind == "reinstatement" && lift.reference == payload.reference && lift.seq > payload.seq)
                return (page, lifted)
            }

            // Registry B: the same person registered there, registry A as a source of kind registry.
            try await withTestRegistry { b, _ in
                let there = try await Household.make(b)
                _ = try await b.source("registry-a", kind: "registry")
                let record = try #require(banPage?.records.first)

                // A forged record (her ID number changed), or A's records checked with another key: refused, nothing written.
                var forged = record
                forged.payload = forged.payload.replacingOccurrences(of: Fixtures.idNumber(serial: 101), with: Fixtures.idNumber(serial: 102))
                let refused = try await b.exchange.importPage(
                    .init(records: [forged], next: 1, more: false),
                    sourceName: "registry-a",
                    publicKey: publicKey,
                    logger: testLogger
                )
                #expect(refused.rejected.count == 1 && refused.bans == 0 && refused.cursor == 0)
                let other = Curve25519.Signing.PrivateKey().publicKey
                #expect(
                    try await b.exchange.importPage(try #require(banPage), sourceName: "registry-a", publicKey: other, logger: testLogger).rejected
                        .count == 1
                )
                #expect(try await b.count("SELECT count(*)::int FROM flags WHERE worker_id = $1", there.workerID.uuid) == 0)

                // The genuine record: an adjudicated flag with the effect B's policy gives it.
                let imported = try await b.exchange.importPage(
                    try #require(banPage),
                    sourceName: "registry-a",
                    publicKey: publicKey,
                    logger: testLogger
                )
                #expect(imported.bans == 1 && imported.rejected.isEmpty)
                #expect(try await b.workerStatus(there.workerID) == "suspended")
                #expect(
                    try await b.count("SELECT count(*)::int FROM cases WHERE worker_id = $1 AND grounds = 'barred_elsewhere'", there.workerID.uuid)
                        == 1
                )
                // Importing the same page again changes nothing (the cursor has passed it).
                let again = try await b.exchange.importPage(try #require(banPage), sourceName: "registry-a", publicKey: publicKey, logger: testLogger)
                #expect(again.records == 0 && again.bans == 0)

                // The reinstatement retracts it, and the suspension goes with it.
                let reinstated = try await b.exchange.importPage(
                    try #require(liftPage),
                    sourceName: "registry-a",
                    publicKey: publicKey,
                    logger: testLogger
                )
                #expect(reinstated.reinstatements == 1)
                #expect(try await b.count("SELECT count(*)::int FROM flags WHERE worker_id = $1 AND status = 'retracted'", there.workerID.uuid) == 1)
                #expect(try await b.workerStatus(there.workerID) == "active")
            }
        }
    }

    @Test("a pull over HTTP reads every new record with the key the other registry issued, then nothing more")
    func pullOverHTTP() async throws {
        try await withTestRegistry { a, _ in
            _ = try await a.executedBan()
            let (_, exchangeKey, _, _) = try await a.source("national-platform", kind: "registry")
            let app = Application(router: buildRouter(a).0, logger: testLogger)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                try await withTestRegistry { b, _ in
                    let there = try await Household.make(b)
                    _ = try await b.source("registry-a", kind: "registry")
                    let first = try await b.exchange.pull(
                        sourceName: "registry-a",
                        baseURL: "http://127.0.0.1:\(port)",
                        apiKey: exchangeKey,
                        publicKey: a.reports.publicKey,
                        logger: testLogger
                    )
                    #expect(first.bans == 1 && first.rejected.isEmpty && first.cursor > 0)
                    #expect(try await b.workerStatus(there.workerID) == "suspended")
                    let second = try await b.exchange.pull(
                        sourceName: "registry-a",
                        baseURL: "http://127.0.0.1:\(port)",
                        apiKey: exchangeKey,
                        publicKey: a.reports.publicKey,
                        logger: testLogger
                    )
                    #expect(second.records == 0 && second.cursor == first.cursor)
                    await expectError("exchange_failed") {
                        _ = try await b.exchange.pull(
                            sourceName: "registry-a",
                            baseURL: "http://127.0.0.1:\(port)",
                            apiKey: "wrong-key",
                            publicKey: a.reports.publicKey,
                            logger: testLogger
                        )
                    }
                }
            }
        }
    }
}
