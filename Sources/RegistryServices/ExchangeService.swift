import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Sharing bans with other registries (联合惩戒). This registry publishes every ban that takes
/// effect and every ban lifted as a numbered record, each signed with its Ed25519 key, for
/// integration keys of kind `registry`; and it imports another registry's records, checked
/// against that registry's public key, as flags of a source of kind `registry` — whose effect
/// (a suspension, a case here, with due process) is set by `flags.yaml` like any flag's.
public struct ExchangeService: Sendable {
    let database: Database
    let keys: KeyRing
    let policies: PolicySet
    let flags: FlagService

    /// What a record's signature covers (its `payload`, canonical JSON with sorted keys).
    public struct Payload: Sendable, Codable, Equatable {
        /// The event's number in the issuing registry: pull again with `after` set to the last one.
        public var seq: Int64
        /// `ban`: a ban took effect; `reinstatement`: the ban with this reference was lifted.
        public var kind: String
        public var idNumber: String
        /// The grounds' id and the sectors' ids in the issuing registry's policy.
        public var grounds: String
        public var sectors: [String]
        public var effectiveOn: String
        /// The banned case's public reference: a reinstatement names the ban it lifts.
        public var reference: String
        public var keyId: String
    }

    /// A signed record: Ed25519 over `payload`'s UTF-8 bytes, base64.
    public struct Record: Sendable, Codable, Equatable {
        public var payload: String
        public var signature: String
        public var keyId: String

    }

    public struct Page: Sendable, Codable {
        public var records: [Record]
        /// Ask next with `after` = this (the last record's number, or the one asked for).
        public var next: Int64
        public var more: Bool

        public init(records: [Record], next: Int64, more: Bool) {
            self.records = records
            self.next = next
            self.more = more
        }
    }

    public static let pageMax = 500

    // MARK: Export

    /// The records after `after` for another registry (an integration key of kind `registry`).
    public func export(after: Int64, limit: Int, caller: Caller, logger: Logger) async throws -> Page {
        guard case .integration(let sourceID, _, _) = caller.principal.kind else { throw RegistryError.forbidden }
        let source = try await database.withConnection { try await IntegrationStore.source(id: sourceID.uuid, on: $0, logger: logger) }
        guard source?.kind == SourceKind.registry.rawValue else {
            throw RegistryError(.forbidden, code: "forbidden", message: "Only another registry's key (kind registry) may read the exchange.")
        }
        guard after >= 0 else { throw RegistryError.invalid("after", "after is 0 or more.") }
        guard (1...Self.pageMax).contains(limit) else { throw RegistryError.invalid("limit", "limit is 1 to \(Self.pageMax).") }
        let events = try await ExchangeStore.events(after: after, limit: limit + 1, database: database, logger: logger)
        let page = events.prefix(limit)
        let keyID = ReportService.keyID(keys.signingKey.publicKey)
        var records: [Record] = []
        for event in page {
            let id = try keys.open(Array(event.idCiphertext), context: SealedPlace.workerID(event.workerID))
            let payload = Payload(
                seq: event.seq,
                kind: event.kind,
                idNumber: id,
                grounds: event.grounds,
                sectors: policies.sectors.sectors(of: event.categories.map(ServiceCategory.init(rawValue:))).map(\.id),
                effectiveOn: event.effectiveOn,
                reference: CaseReference.text(year: event.caseYear, number: event.casePublicNo),
                keyId: keyID
            )
            let text = String(decoding: try ReportService.canonicalEncoder.encode(payload), as: UTF8.self)
            let signature = try keys.signingKey.signature(for: Data(text.utf8))
            records.append(Record(payload: text, signature: signature.base64EncodedString(), keyId: keyID))
        }
        return Page(records: records, next: page.last?.seq ?? after, more: events.count > limit)
    }

    // MARK: Import

    /// The payload of a record if its signature checks with `publicKey` and names that key; nil otherwise.
    public static func verify(_ record: Record, publicKey: Curve25519.Signing.PublicKey) -> Payload? {
        guard record.keyId == ReportService.keyID(publicKey), let signature = Data(base64Encoded: record.signature),
            publicKey.isValidSignature(signature, for: Data(record.payload.utf8))
        else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let payload = try? decoder.decode(Payload.self, from: Data(record.payload.utf8)), payload.keyId == record.keyId,
            ["ban", "reinstatement"].contains(payload.kind)
        else { return nil }
        return payload
    }

    public struct ImportSummary: Sendable, Equatable {
        public var records = 0
        public var bans = 0
        public var reinstatements = 0
        public var unchanged = 0
        /// Records refused: a bad signature, or an item the flags refused (with why).
        public var rejected: [String] = []
        /// The last record number read (the cursor kept for the next pull).
        public var cursor: Int64 = 0
    }

    /// Imports one page of another registry's records as flags of source `sourceName` (kind
    /// `registry`): a ban is an adjudicated flag of `flags.yaml`'s exchange category, its
    /// reference the other registry's case reference; a reinstatement retracts it. A record whose
    /// signature fails is refused and stops the import there, so that nothing after it is
    /// skipped; the cursor moves past what was imported.
    public func importPage(
        _ page: Page,
        sourceName: String,
        publicKey: Curve25519.Signing.PublicKey,
        logger: Logger
    ) async throws
        -> ImportSummary
    {
        guard let exchange = policies.flags.exchange else {
            throw RegistryError(.conflict, code: "no_exchange_category", message: "flags.yaml names no exchange category for other registries' bans.")
        }
        let source = try await database.withConnection { try await IntegrationStore.sources(on: $0, logger: logger).first { $0.name == sourceName } }
        guard let source, source.kind == SourceKind.registry.rawValue else {
            throw RegistryError.invalid("source", "No integration source '\(sourceName.prefix(60))' of kind registry.")
        }
        var summary = ImportSummary()
        summary.cursor = try await ExchangeStore.cursor(sourceID: source.id, database: database, logger: logger)
        for record in page.records {
            guard let payload = Self.verify(record, publicKey: publicKey) else {
                summary.rejected.append("a record whose signature does not check with the registry's public key (after \(summary.cursor))")
                break
            }
            guard payload.seq > summary.cursor else { continue }
            summary.records += 1
            switch payload.kind {
            case "ban":
                let result = try await flags.submit(
                    [
                        .init(
                            idNumber: payload.idNumber,
                            reference: payload.reference,
                            category: exchange.category,
                            severity: exchange.severity,
                            status: FlagStatus.adjudicated.rawValue,
                            occurredOn: payload.effectiveOn,
                            expiresOn: nil,
                            narrative: "Barred by another registry (\(payload.grounds), \(payload.reference))."
                        )
                    ],
                    sourceID: source.id,
                    caller: .system,
                    logger: logger
                )
                switch result.first?.outcome {
                case .created, .updated: summary.bans += 1
                case .unchanged: summary.unchanged += 1
                default: summary.rejected.append("\(payload.reference): \(result.first?.reason ?? "rejected")")
                }
            default:
                do {
                    let result = try await flags.change(
                        sourceID: source.id,
                        reference: payload.reference,
                        .init(status: FlagStatus.retracted.rawValue, severity: nil, expiresOn: nil),
                        caller: .system,
                        logger: logger
                    )
                    if result.outcome == .unchanged { summary.unchanged += 1 } else { summary.reinstatements += 1 }
                } catch let error as RegistryError where error.kind == .notFound {
                    // A reinstatement of a ban this registry never received: nothing to retract.
                    summary.unchanged += 1
                }
            }
            summary.cursor = payload.seq
            try await ExchangeStore.setCursor(sourceID: source.id, after: payload.seq, database: database, logger: logger)
        }
        return summary
    }

    /// Pulls every record after the kept cursor from another registry at `baseURL`, with the key
    /// it issued to this one, checking each against its public key (base64 of the 32 raw bytes).
    public func pull(sourceName: String, baseURL: String, apiKey: String, publicKey: String, logger: Logger) async throws -> ImportSummary {
        guard let raw = Data(base64Encoded: publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw RegistryError.invalid("public_key", "The other registry's public key is base64 of 32 bytes (its GET /api/v1/reports/public-key).")
        }
        let source = try await database.withConnection { try await IntegrationStore.sources(on: $0, logger: logger).first { $0.name == sourceName } }
        guard let source else { throw RegistryError.invalid("source", "No integration source '\(sourceName.prefix(60))'.") }
        var total = ImportSummary()
        total.cursor = try await ExchangeStore.cursor(sourceID: source.id, database: database, logger: logger)
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        while true {
            var request = HTTPClientRequest(url: "\(base)/api/v1/exchange/bans?after=\(total.cursor)&limit=\(Self.pageMax)")
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
            guard response.status == .ok else {
                throw RegistryError(.unavailable, code: "exchange_failed", message: "The other registry answered \(response.status.code).")
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let page = try decoder.decode(Page.self, from: Data(body.readableBytesView))
            let summary = try await importPage(page, sourceName: sourceName, publicKey: key, logger: logger)
            total.records += summary.records
            total.bans += summary.bans
            total.reinstatements += summary.reinstatements
            total.unchanged += summary.unchanged
            total.rejected += summary.rejected
            let moved = summary.cursor > total.cursor
            total.cursor = summary.cursor
            guard page.more, moved, summary.rejected.isEmpty else { break }
        }
        return total
    }
}
